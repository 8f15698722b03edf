package mpapi

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/commission"
)

// --- KOCs ---

type kocDTO struct {
	ShopperID     int64      `json:"shopper_id"`
	TouchpointID  int64      `json:"touchpoint_id"`
	Nickname      string     `json:"nickname"`
	Status        string     `json:"status"`
	LevelID       int64      `json:"level_id,omitempty"`
	Depth         int        `json:"depth"`
	RecruiterID   int64      `json:"recruiter_id,omitempty"`
	RealName      string     `json:"real_name"`
	AppliedAt     time.Time  `json:"applied_at"`
	DecidedAt     *time.Time `json:"decided_at,omitempty"`
	PendingFen    int64      `json:"pending_fen"`
	SettleableFen int64      `json:"settleable_fen"`
	SettledFen    int64      `json:"settled_fen"`
	PaidFen       int64      `json:"paid_fen"`
	ReversedFen   int64      `json:"reversed_fen"`
}

func toKOCDTO(k commission.KOC) kocDTO {
	d := kocDTO{ShopperID: k.ShopperID, TouchpointID: k.TouchpointID, Nickname: k.Nickname, Status: string(k.Status),
		LevelID: k.LevelID, Depth: k.Depth, RecruiterID: k.RecruiterID, RealName: k.RealName, AppliedAt: k.AppliedAt,
		PendingFen: int64(k.Balances.Pending), SettleableFen: int64(k.Balances.Settleable), SettledFen: int64(k.Balances.Settled),
		PaidFen: int64(k.Balances.Paid), ReversedFen: int64(k.Balances.Reversed)}
	if !k.DecidedAt.IsZero() {
		d.DecidedAt = &k.DecidedAt
	}
	return d
}

type kocApplyRequest struct {
	RecruiterID int64  `json:"recruiter_id" validate:"gte=0"`
	RealName    string `json:"real_name" validate:"max=50"`
	Note        string `json:"note" validate:"max=200"`
}

// POST /api/v1/shop/koc/apply
func (a *API) kocApply(c echo.Context) error {
	var req kocApplyRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	p, _ := principal(c)
	k, err := a.deps.KOC.Apply(c.Request().Context(), p.ID, req.RecruiterID, req.RealName, req.Note)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toKOCDTO(k))
}

type kocPeriodDTO struct {
	Days      int   `json:"days"`
	Visitors  int   `json:"visitors"`
	Orders    int   `json:"orders"`
	GMVFen    int64 `json:"gmv_fen"`
	EarnedFen int64 `json:"earned_fen"`
}

type kocDashboardDTO struct {
	KOC     kocDTO         `json:"koc"`
	Periods []kocPeriodDTO `json:"periods"`
}

// GET /api/v1/shop/koc/dashboard
func (a *API) kocDashboard(c echo.Context) error {
	p, _ := principal(c)
	k, ds, err := a.deps.KOC.Dashboard(c.Request().Context(), p.ID)
	if err != nil {
		return err
	}
	out := kocDashboardDTO{KOC: toKOCDTO(k)}
	for _, d := range ds {
		out.Periods = append(out.Periods, kocPeriodDTO{Days: d.Days, Visitors: d.Visitors, Orders: d.Orders, GMVFen: int64(d.GMV), EarnedFen: int64(d.Earned)})
	}
	return c.JSON(http.StatusOK, out)
}

type commissionEntryDTO struct {
	ID        int64     `json:"id"`
	OrderNo   string    `json:"order_no"`
	ItemID    int64     `json:"item_id"`
	Level     int       `json:"level"`
	Kind      string    `json:"kind"`
	Bucket    string    `json:"bucket"`
	AmountFen int64     `json:"amount_fen"`
	Customer  string    `json:"customer"`
	At        time.Time `json:"at"`
}

// GET /api/v1/shop/koc/commissions
func (a *API) kocCommissions(c echo.Context) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	p, _ := principal(c)
	es, next, err := a.deps.KOC.Entries(c.Request().Context(), p.ID, page)
	if err != nil {
		return err
	}
	out := make([]commissionEntryDTO, len(es))
	for i, e := range es {
		out[i] = commissionEntryDTO{ID: e.ID, OrderNo: e.OrderNumber, ItemID: e.ItemID, Level: e.Level, Kind: e.Kind, Bucket: e.Bucket,
			AmountFen: int64(e.Amount), Customer: commission.MaskName(e.Customer), At: e.At}
	}
	return c.JSON(http.StatusOK, newList(out, next))
}

type kocCustomerDTO struct {
	Name   string    `json:"name"`
	From   time.Time `json:"bound_from"`
	Until  time.Time `json:"bound_until"`
	Active bool      `json:"active"`
	Orders int       `json:"orders"`
}

// GET /api/v1/shop/koc/customers
func (a *API) kocCustomers(c echo.Context) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	p, _ := principal(c)
	cs, next, err := a.deps.KOC.Customers(c.Request().Context(), p.ID, page)
	if err != nil {
		return err
	}
	out := make([]kocCustomerDTO, len(cs))
	for i, x := range cs {
		out[i] = kocCustomerDTO{Name: x.Name, From: x.From, Until: x.Until, Active: x.Active, Orders: x.Orders}
	}
	return c.JSON(http.StatusOK, newList(out, next))
}

// GET /api/v1/admin/kocs
func (a *API) adminKOCs(c echo.Context) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	st := commission.Status(c.QueryParam("status"))
	if st != "" && !slices.Contains([]commission.Status{commission.StatusPending, commission.StatusActive, commission.StatusRejected, commission.StatusSuspended}, st) {
		return domain.Invalid(domain.FieldError{Field: "status", Code: "one_of", Message: "must be pending, active, rejected or suspended"})
	}
	ks, next, err := a.deps.KOC.KOCs(c.Request().Context(), st, page)
	if err != nil {
		return err
	}
	out := make([]kocDTO, len(ks))
	for i, k := range ks {
		out[i] = toKOCDTO(k)
	}
	return c.JSON(http.StatusOK, newList(out, next))
}

// GET /api/v1/admin/kocs/{id}
func (a *API) adminKOC(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	k, err := a.deps.KOC.KOC(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toKOCDTO(k))
}

type kocDecisionRequest struct {
	LevelID int64 `json:"level_id" validate:"gte=0"`
}

// kocDecide serves POST /api/v1/admin/kocs/{id}/{approve,reject,suspend,resume}.
func (a *API) kocDecide(d commission.Decision) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := pathID(c, "id")
		if err != nil {
			return err
		}
		var req kocDecisionRequest
		if err := a.bindJSON(c, &req); err != nil {
			return err
		}
		k, err := a.deps.KOC.Decide(c.Request().Context(), actor(c), requestID(c), id, d, req.LevelID)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, toKOCDTO(k))
	}
}

// --- levels and settings ---

type kocLevelDTO struct {
	ID         int64         `json:"id"`
	Name       string        `json:"name"`
	RateBP     int           `json:"rate_bp"`
	OverrideBP int           `json:"override_bp"`
	Categories map[int64]int `json:"category_rates_bp"`
	Products   map[int64]int `json:"product_rates_bp"`
}

func toKOCLevelDTO(l commission.Level) kocLevelDTO {
	return kocLevelDTO{ID: l.ID, Name: l.Name, RateBP: l.RateBP, OverrideBP: l.OverrideBP, Categories: l.Categories, Products: l.Products}
}

type kocLevelRequest struct {
	Name       string `json:"name" validate:"required,max=50"`
	RateBP     int    `json:"rate_bp" validate:"gte=0,lte=5000"`
	OverrideBP int    `json:"override_bp" validate:"gte=0,lte=2000"`
}

// GET /api/v1/admin/koc-levels
func (a *API) kocLevels(c echo.Context) error {
	ls, err := a.deps.KOC.Levels(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]kocLevelDTO, 0, len(ls))
	for _, l := range ls {
		out = append(out, toKOCLevelDTO(l))
	}
	slices.SortFunc(out, func(x, y kocLevelDTO) int { return int(x.ID - y.ID) })
	return c.JSON(http.StatusOK, newList(out, ""))
}

// POST /api/v1/admin/koc-levels and PUT /api/v1/admin/koc-levels/{id}
func (a *API) saveKOCLevel(c echo.Context) error {
	var id int64
	if c.Param("id") != "" {
		var err error
		if id, err = pathID(c, "id"); err != nil {
			return err
		}
	}
	var req kocLevelRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	l, err := a.deps.KOC.SaveLevel(c.Request().Context(), actor(c), requestID(c),
		commission.Level{ID: id, Name: req.Name, RateBP: req.RateBP, OverrideBP: req.OverrideBP})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if id == 0 {
		status = http.StatusCreated
	}
	return c.JSON(status, toKOCLevelDTO(l))
}

type kocLevelRateRequest struct {
	CategoryID int64 `json:"category_id" validate:"gte=0"`
	ProductID  int64 `json:"product_id" validate:"gte=0"`
	RateBP     int   `json:"rate_bp" validate:"gte=0,lte=5000"`
	Remove     bool  `json:"remove"`
}

// PUT /api/v1/admin/koc-levels/{id}/rates
func (a *API) setKOCLevelRate(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var req kocLevelRateRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	if err := a.deps.KOC.SetLevelRate(c.Request().Context(), actor(c), requestID(c), id, req.CategoryID, req.ProductID, req.RateBP, req.Remove); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type kocSettingsDTO struct {
	BindingDays      int   `json:"binding_days" validate:"gte=0,lte=3650"`
	BindingNewOnly   bool  `json:"binding_new_only"`
	OrderCapFen      int64 `json:"order_cap_fen" validate:"gte=0,lte=100000000"`
	AfterSalesDays   int   `json:"aftersales_days" validate:"gte=0,lte=90"`
	FraudSharedLimit int   `json:"fraud_shared_limit" validate:"gte=1,lte=100"`
}

// GET /api/v1/admin/koc/settings
func (a *API) kocSettings(c echo.Context) error {
	s, err := a.deps.KOC.Settings(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, kocSettingsDTO{BindingDays: s.BindingDays, BindingNewOnly: s.BindingNewOnly, OrderCapFen: int64(s.OrderCap),
		AfterSalesDays: s.AfterSalesDays, FraudSharedLimit: s.FraudSharedLimit})
}

// PUT /api/v1/admin/koc/settings
func (a *API) putKOCSettings(c echo.Context) error {
	var req kocSettingsDTO
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	s := commission.Settings{BindingDays: req.BindingDays, BindingNewOnly: req.BindingNewOnly, OrderCap: domain.Fen(req.OrderCapFen),
		AfterSalesDays: req.AfterSalesDays, FraudSharedLimit: req.FraudSharedLimit}
	if err := a.deps.KOC.SaveSettings(c.Request().Context(), actor(c), requestID(c), s); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, req)
}

// --- bindings ---

type bindingDTO struct {
	ShopperID     int64     `json:"shopper_id"`
	Nickname      string    `json:"nickname"`
	ReferrerKind  string    `json:"referrer_kind"`
	ReferrerTPID  int64     `json:"referrer_touchpoint_id"`
	OriginTouchID int64     `json:"origin_touch_id,omitempty"`
	OriginCode    string    `json:"origin_code,omitempty"`
	From          time.Time `json:"bound_from"`
	Until         time.Time `json:"bound_until"`
	Active        bool      `json:"active"`
	ReboundReason string    `json:"rebound_reason,omitempty"`
}

func toBindingDTO(b commission.Binding) bindingDTO {
	return bindingDTO{ShopperID: b.ShopperID, Nickname: b.Nickname, ReferrerKind: string(b.Binding.Referrer.Kind), ReferrerTPID: b.Binding.Referrer.ID,
		OriginTouchID: b.OriginTouchID, OriginCode: b.OriginCode, From: b.Binding.From, Until: b.Binding.Until,
		Active: b.Binding.Active(time.Now()), ReboundReason: b.Reason}
}

// GET /api/v1/admin/bindings/{shopper_id}
func (a *API) adminBinding(c echo.Context) error {
	id, err := pathID(c, "shopper_id")
	if err != nil {
		return err
	}
	b, err := a.deps.KOC.Binding(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toBindingDTO(b))
}

type rebindRequest struct {
	ReferrerTPID int64  `json:"referrer_touchpoint_id" validate:"required,gt=0"`
	Reason       string `json:"reason" validate:"required,max=200"`
}

// POST /api/v1/admin/bindings/{shopper_id}/rebind
func (a *API) rebind(c echo.Context) error {
	id, err := pathID(c, "shopper_id")
	if err != nil {
		return err
	}
	var req rebindRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	b, err := a.deps.KOC.Rebind(c.Request().Context(), actor(c), requestID(c), id, req.ReferrerTPID, req.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toBindingDTO(b))
}

// POST /api/v1/admin/commission-orders/{order_id}/release
func (a *API) releaseCommission(c echo.Context) error {
	id, err := pathID(c, "order_id")
	if err != nil {
		return err
	}
	if err := a.deps.KOC.Release(c.Request().Context(), actor(c), requestID(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// --- settlement ---

type batchItemDTO struct {
	ID        int64  `json:"id"`
	KOCID     int64  `json:"koc_id"`
	Nickname  string `json:"nickname"`
	AmountFen int64  `json:"amount_fen"`
	Status    string `json:"status"`
	OutBillNo string `json:"out_bill_no"`
}

type batchDTO struct {
	ID         int64          `json:"id"`
	From       time.Time      `json:"from"`
	To         time.Time      `json:"to"`
	Status     string         `json:"status"`
	TotalFen   int64          `json:"total_fen"`
	KOCs       int            `json:"kocs"`
	CreatedBy  string         `json:"created_by"`
	ReviewedBy string         `json:"reviewed_by,omitempty"`
	CreatedAt  time.Time      `json:"created_at"`
	Items      []batchItemDTO `json:"items,omitempty"`
}

func toBatchDTO(b commission.Batch) batchDTO {
	d := batchDTO{ID: b.ID, From: b.From, To: b.To, Status: b.Status, TotalFen: int64(b.Total), KOCs: b.KOCs, CreatedBy: b.CreatedBy,
		ReviewedBy: b.ReviewedBy, CreatedAt: b.CreatedAt}
	for _, it := range b.Items {
		d.Items = append(d.Items, batchItemDTO{ID: it.ID, KOCID: it.KOCID, Nickname: it.Nickname, AmountFen: int64(it.Amount),
			Status: it.Status, OutBillNo: it.OutBillNo})
	}
	return d
}

type createBatchRequest struct {
	From time.Time `json:"from" validate:"required"`
	To   time.Time `json:"to" validate:"required"`
}

// POST /api/v1/admin/settlements
func (a *API) createSettlement(c echo.Context) error {
	var req createBatchRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	var fe []domain.FieldError
	for name, t := range map[string]time.Time{"from": req.From, "to": req.To} {
		if !domain.InRangeYear(t) {
			fe = append(fe, domain.FieldError{Field: name, Code: "out_of_range",
				Message: fmt.Sprintf("must be within the years %d to %d", domain.MinYear, domain.MaxYear)})
		}
	}
	if len(fe) > 0 {
		return invalidFields(fe)
	}
	b, err := a.deps.KOC.CreateBatch(c.Request().Context(), actor(c), requestID(c), req.From, req.To)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toBatchDTO(b))
}

// GET /api/v1/admin/settlements
func (a *API) listSettlements(c echo.Context) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	bs, next, err := a.deps.KOC.Batches(c.Request().Context(), page)
	if err != nil {
		return err
	}
	out := make([]batchDTO, len(bs))
	for i, b := range bs {
		out[i] = toBatchDTO(b)
	}
	return c.JSON(http.StatusOK, newList(out, next))
}

// GET /api/v1/admin/settlements/{id} (JSON, or CSV with Accept: text/csv)
func (a *API) getSettlement(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	b, err := a.deps.KOC.Batch(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if !wantsCSV(c) {
		return c.JSON(http.StatusOK, toBatchDTO(b))
	}
	rows := make([][]string, len(b.Items))
	for i, it := range b.Items {
		rows[i] = []string{strconv.FormatInt(b.ID, 10), strconv.FormatInt(it.KOCID, 10), it.Nickname, it.RealName,
			strconv.FormatInt(int64(it.Amount), 10), fmt.Sprintf("%d.%02d", it.Amount/100, it.Amount%100), it.OutBillNo, it.Status}
	}
	return writeCSV(c, fmt.Sprintf("settlement-%d", b.ID),
		[]string{"batch_id", "koc_id", "nickname", "real_name", "amount_fen", "amount_yuan", "out_bill_no", "status"}, rows)
}

// POST /api/v1/admin/settlements/{id}/review
func (a *API) reviewSettlement(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	b, err := a.deps.KOC.Review(c.Request().Context(), actor(c), requestID(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toBatchDTO(b))
}

// kocPeriod reads from and to (dates, YYYY-MM-DD, Asia/Shanghai; empty: the
// last 30 days).
func kocPeriod(c echo.Context) (time.Time, time.Time, error) {
	from, bad := dateParam(c, "from", time.DateOnly)
	to, bad2 := dateParam(c, "to", time.DateOnly)
	var fe []domain.FieldError
	for _, b := range []*domain.FieldError{bad, bad2} {
		if b != nil {
			fe = append(fe, *b)
		}
	}
	if len(fe) > 0 {
		return from, to, invalidFields(fe)
	}
	return from, to, nil
}

type kocShareLinkDTO struct {
	Code             string    `json:"code"`
	Path             string    `json:"path"`
	PostID           int64     `json:"post_id,omitempty"`
	PostName         string    `json:"post_name,omitempty"`
	ProductID        int64     `json:"product_id,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
	Touches          int64     `json:"touches"`
	UniqueVisitors   int64     `json:"unique_visitors"`
	AttributedOrders int64     `json:"attributed_orders"`
	CreditedGMVFen   int64     `json:"credited_gmv_fen"`
}

// GET /api/v1/shop/koc/share-links
func (a *API) kocShareLinks(c echo.Context) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	from, to, err := kocPeriod(c)
	if err != nil {
		return err
	}
	p, _ := principal(c)
	ls, next, err := a.deps.KOC.LinkStats(c.Request().Context(), p.ID, from, to, page)
	if err != nil {
		return err
	}
	out := make([]kocShareLinkDTO, len(ls))
	for i, l := range ls {
		out[i] = kocShareLinkDTO{Code: l.Code, Path: l.Path, PostID: l.PostID, PostName: l.PostName, ProductID: l.ProductID, CreatedAt: l.CreatedAt,
			Touches: l.Touches, UniqueVisitors: l.Visitors, AttributedOrders: l.Orders, CreditedGMVFen: int64(l.Credited)}
	}
	return c.JSON(http.StatusOK, newList(out, next))
}

type kocPostDTO struct {
	PostID           int64  `json:"post_id"`
	Name             string `json:"name"`
	Touches          int64  `json:"touches"`
	UniqueVisitors   int64  `json:"unique_visitors"`
	AttributedOrders int64  `json:"attributed_orders"`
	CreditedGMVFen   int64  `json:"credited_gmv_fen"`
	EarnedFen        int64  `json:"earned_fen"`
}

// GET /api/v1/shop/koc/performance
func (a *API) kocPerformance(c echo.Context) error {
	from, to, err := kocPeriod(c)
	if err != nil {
		return err
	}
	p, _ := principal(c)
	ps, err := a.deps.KOC.PostStats(c.Request().Context(), p.ID, from, to)
	if err != nil {
		return err
	}
	out := make([]kocPostDTO, len(ps))
	for i, x := range ps {
		out[i] = kocPostDTO{PostID: x.PostID, Name: x.Name, Touches: x.Touches, UniqueVisitors: x.Visitors, AttributedOrders: x.Orders,
			CreditedGMVFen: int64(x.Credited), EarnedFen: int64(x.Earned)}
	}
	return c.JSON(http.StatusOK, newList(out, ""))
}
