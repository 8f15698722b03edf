package mpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/coupon"
)

type generateCodesRequest struct {
	Count int `json:"count" validate:"required,gte=1,lte=10000"`
}

// POST /api/v1/admin/coupon-templates/{id}/codes
func (a *API) generateCodes(c echo.Context) error {
	var req generateCodesRequest
	id, err := a.bindWithID(c, "id", &req)
	if err != nil {
		return err
	}
	batch, err := a.deps.Coupons.GenerateCodes(c.Request().Context(), actor(c), requestID(c), id, req.Count)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{"template_id": id, "batch": batch, "count": req.Count})
}

type codeDTO struct {
	Code       string     `json:"code"`
	Batch      int        `json:"batch"`
	RedeemedBy int64      `json:"redeemed_by,omitempty"`
	RedeemedAt *time.Time `json:"redeemed_at,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
}

// GET /api/v1/admin/coupon-templates/{id}/codes?batch&cursor&limit
// (Accept: text/csv with a batch: the whole batch as CSV)
func (a *API) listCodes(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	batch := 0
	if s := c.QueryParam("batch"); s != "" {
		if batch, err = strconv.Atoi(s); err != nil || batch < 1 {
			return domain.Invalid(domain.FieldError{Field: "batch", Code: "format", Message: "must be a positive integer"})
		}
	}
	csv := wantsCSV(c)
	if csv {
		if batch == 0 {
			return domain.Invalid(domain.FieldError{Field: "batch", Code: "required", Message: "is required for a CSV export"})
		}
		page = domain.Page{Limit: coupon.MaxCodesPerBatch}
	}
	cs, next, err := a.deps.Coupons.Codes(c.Request().Context(), id, batch, page)
	if err != nil {
		return err
	}
	if csv {
		rows := make([][]string, len(cs))
		for i, k := range cs {
			redeemed := ""
			if !k.RedeemedAt.IsZero() {
				redeemed = k.RedeemedAt.Format(time.RFC3339)
			}
			rows[i] = []string{k.Code, strconv.Itoa(k.Batch), redeemed}
		}
		return writeCSV(c, "coupon-codes-"+strconv.FormatInt(id, 10)+"-"+strconv.Itoa(batch)+".csv",
			[]string{"code", "batch", "redeemed_at"}, rows)
	}
	out := make([]codeDTO, len(cs))
	for i, k := range cs {
		out[i] = codeDTO{Code: k.Code, Batch: k.Batch, RedeemedBy: k.RedeemedBy, RedeemedAt: optTime(k.RedeemedAt), CreatedAt: k.CreatedAt}
	}
	return c.JSON(http.StatusOK, newList(out, next))
}

type redeemRequest struct {
	Code string `json:"code" validate:"required,max=32"`
}

// POST /api/v1/shop/coupons/redeem
func (a *API) redeemCode(c echo.Context) error {
	var req redeemRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	cp, err := a.deps.Coupons.Redeem(c.Request().Context(), shopperID(c), req.Code)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toCouponDTO(cp, time.Now()))
}

type bulkIssueRequest struct {
	ShopperIDs   []int64    `json:"shopper_ids" validate:"omitempty,max=100000,dive,gt=0"`
	NewCustomers bool       `json:"new_customers"`
	TouchpointID int64      `json:"touchpoint_id" validate:"gte=0"`
	From         *time.Time `json:"from"`
	To           *time.Time `json:"to"`
	Tier         int        `json:"tier" validate:"gte=0"`
}

type jobDTO struct {
	ID         int64      `json:"id"`
	Kind       string     `json:"kind"`
	State      string     `json:"state"`
	TemplateID int64      `json:"template_id"`
	Total      int        `json:"total"`
	Done       int        `json:"done"`
	Failed     int        `json:"failed"`
	Error      string     `json:"error,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

func toJobDTO(j coupon.Job) jobDTO {
	return jobDTO{ID: j.ID, Kind: j.Kind, State: string(j.State), TemplateID: j.TemplateID, Total: j.Total, Done: j.Done,
		Failed: j.Failed, Error: j.Error, CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt, FinishedAt: optTime(j.FinishedAt)}
}

// POST /api/v1/admin/coupon-templates/{id}/bulk-issue
func (a *API) bulkIssue(c echo.Context) error {
	var req bulkIssueRequest
	id, err := a.bindWithID(c, "id", &req)
	if err != nil {
		return err
	}
	j, err := a.deps.Coupons.StartBulkIssue(c.Request().Context(), actor(c), requestID(c), id, coupon.Segment{
		ShopperIDs: req.ShopperIDs, NewCustomers: req.NewCustomers, TouchpointID: req.TouchpointID, From: deref(req.From),
		To: deref(req.To), Tier: req.Tier})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, toJobDTO(j))
}

// GET /api/v1/admin/jobs/{id}
func (a *API) getJob(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	j, err := a.deps.Coupons.Job(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toJobDTO(j))
}

type budgetRequest struct {
	TemplateID int64  `json:"template_id" validate:"required,gt=0"`
	HolderKind string `json:"holder_kind" validate:"required,oneof=store clerk koc"`
	HolderID   int64  `json:"holder_id" validate:"required,gt=0"`
	Total      int    `json:"total" validate:"required,gte=1,lte=100000000"`
}

type budgetDTO struct {
	ID         int64     `json:"id"`
	TemplateID int64     `json:"template_id"`
	HolderKind string    `json:"holder_kind"`
	HolderID   int64     `json:"holder_id"`
	Total      int       `json:"total"`
	Used       int       `json:"used"`
	CreatedAt  time.Time `json:"created_at"`
}

func toBudgetDTO(b coupon.Budget) budgetDTO {
	return budgetDTO{ID: b.ID, TemplateID: b.TemplateID, HolderKind: b.HolderKind, HolderID: b.HolderID, Total: b.Total,
		Used: b.Used, CreatedAt: b.CreatedAt}
}

// POST /api/v1/admin/coupon-budgets
func (a *API) createBudget(c echo.Context) error {
	var req budgetRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	b, err := a.deps.Coupons.CreateBudget(c.Request().Context(), actor(c), requestID(c), coupon.Budget{TemplateID: req.TemplateID,
		HolderKind: req.HolderKind, HolderID: req.HolderID, Total: req.Total})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toBudgetDTO(b))
}

// GET /api/v1/admin/coupon-budgets?template_id&cursor&limit
func (a *API) listBudgets(c echo.Context) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	var tid int64
	if s := c.QueryParam("template_id"); s != "" {
		if tid, err = strconv.ParseInt(s, 10, 64); err != nil || tid < 1 {
			return domain.Invalid(domain.FieldError{Field: "template_id", Code: "format", Message: "must be a positive integer"})
		}
	}
	bs, next, err := a.deps.Coupons.Budgets(c.Request().Context(), tid, page)
	if err != nil {
		return err
	}
	out := convertAll(bs, toBudgetDTO)
	return c.JSON(http.StatusOK, newList(out, next))
}

type grantRequest struct {
	TemplateID int64 `json:"template_id" validate:"required,gt=0"`
	ShopperID  int64 `json:"shopper_id" validate:"required,gt=0"`
}

// POST /api/v1/clerk/coupon-grants
func (a *API) grantCoupon(c echo.Context) error {
	var req grantRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	p, _ := principal(c)
	g, err := a.deps.Coupons.GrantCoupon(c.Request().Context(), actor(c), requestID(c), p.ID, p.StoreID, req.TemplateID, req.ShopperID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toGrantDTO(g))
}

// POST /api/v1/shop/koc/coupon-grants
func (a *API) kocGrantCoupon(c echo.Context) error {
	var req grantRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	p, _ := principal(c)
	g, err := a.deps.Coupons.GrantAsKOC(c.Request().Context(), actor(c), requestID(c), p.ID, req.TemplateID, req.ShopperID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toGrantDTO(g))
}

type grantDTO struct {
	ID        int64     `json:"id"`
	BudgetID  int64     `json:"budget_id"`
	ShopperID int64     `json:"shopper_id"`
	GrantedBy int64     `json:"granted_by,omitempty"` // staff
	KOCID     int64     `json:"koc_id,omitempty"`
	GrantedAt time.Time `json:"granted_at"`
	Coupon    couponDTO `json:"coupon"`
}

func toGrantDTO(g coupon.Grant) grantDTO {
	return grantDTO{ID: g.ID, BudgetID: g.BudgetID, ShopperID: g.ShopperID, GrantedBy: g.GrantedBy, KOCID: g.KOCID,
		GrantedAt: g.GrantedAt, Coupon: toCouponDTO(g.Coupon, time.Now())}
}
