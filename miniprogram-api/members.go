package mpapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/member"
)

type tierDTO struct {
	ID                 int64  `json:"id"`
	Name               string `json:"name"`
	Threshold          int64  `json:"threshold"`
	DiscountBP         int64  `json:"discount_bp"`
	PointsMultiplierBP int64  `json:"points_multiplier_bp"`
	FreeShipping       bool   `json:"free_shipping"`
	BirthdayTemplateID int64  `json:"birthday_coupon_template_id,omitempty"`
}

func toTierDTO(t member.Tier) tierDTO {
	return tierDTO{ID: t.ID, Name: t.Name, Threshold: t.Threshold, DiscountBP: t.DiscountBP,
		PointsMultiplierBP: t.MultiplierBP, FreeShipping: t.FreeShipping, BirthdayTemplateID: t.BirthdayTemplate}
}

type cardDTO struct {
	CardNo       string   `json:"card_no"`
	Tier         tierDTO  `json:"tier"`
	Growth       int64    `json:"growth"`
	Points       int64    `json:"points"`
	PointsFrozen int64    `json:"points_frozen"`
	PointsDebt   int64    `json:"points_debt"`
	BalanceFen   int64    `json:"balance_fen"`
	PrincipalFen int64    `json:"principal_fen"`
	BonusFen     int64    `json:"bonus_fen"`
	Birthday     string   `json:"birthday,omitempty"`
	NextTier     *tierDTO `json:"next_tier"`
	GrowthToNext int64    `json:"growth_to_next"`
	// The redeem rule: how many points pay a fen, and the largest share of
	// the goods points may pay (basis points).
	RedeemPointsPerFen int64     `json:"redeem_points_per_fen"`
	RedeemCapBP        int64     `json:"redeem_cap_bp"`
	ActivatedAt        time.Time `json:"activated_at"`
}

func toCardDTO(v member.View) cardDTO {
	c := v.Card
	out := cardDTO{CardNo: c.Number, Tier: toTierDTO(v.Tier), Growth: c.Growth, Points: c.Points, PointsFrozen: c.PointsFrozen,
		PointsDebt: c.PointsDebt, BalanceFen: int64(c.Balance()), PrincipalFen: int64(c.Principal), BonusFen: int64(c.Bonus),
		GrowthToNext: v.ToNext, RedeemPointsPerFen: v.Settings.RedeemPointsPerFen, RedeemCapBP: v.Settings.RedeemCapBP,
		ActivatedAt: c.ActivatedAt}
	if c.Birthday != nil {
		out.Birthday = c.Birthday.Format(time.DateOnly)
	}
	if v.Next != nil {
		n := toTierDTO(*v.Next)
		out.NextTier = &n
	}
	return out
}

type activateRequest struct {
	Birthday string `json:"birthday" validate:"omitempty,datetime=2006-01-02"`
}

// POST /api/v1/shop/member/activate
func (a *API) activateMember(c echo.Context) error {
	var req activateRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	var birthday *time.Time
	if req.Birthday != "" {
		b, err := time.ParseInLocation(time.DateOnly, req.Birthday, domain.Shanghai)
		if err != nil {
			return domain.Invalid(domain.FieldError{Field: "birthday", Code: "datetime", Message: "must be a date YYYY-MM-DD"})
		}
		birthday = &b
	}
	p, _ := principal(c)
	v, created, err := a.deps.Members.Activate(c.Request().Context(), p.ID, birthday)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.JSON(status, toCardDTO(v))
}

// GET /api/v1/shop/member
func (a *API) getMember(c echo.Context) error {
	p, _ := principal(c)
	v, err := a.deps.Members.Get(c.Request().Context(), p.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toCardDTO(v))
}

// GET /api/v1/shop/member/code
func (a *API) memberCode(c echo.Context) error {
	p, _ := principal(c)
	code, err := a.deps.Members.NewCode(c.Request().Context(), p.ID)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, map[string]any{"code": code.Value, "expires_at": code.ExpiresAt})
}

type ledgerEntryDTO struct {
	ID           int64     `json:"id"`
	Kind         string    `json:"kind"`
	Points       int64     `json:"points,omitempty"`
	Debt         int64     `json:"debt,omitempty"`
	AmountFen    int64     `json:"amount_fen,omitempty"`
	PrincipalFen int64     `json:"principal_fen,omitempty"`
	BonusFen     int64     `json:"bonus_fen,omitempty"`
	OrderNo      string    `json:"order_no,omitempty"`
	Reason       string    `json:"reason"`
	At           time.Time `json:"at"`
}

// GET /api/v1/shop/member/ledger?kind=points|balance&cursor&limit
func (a *API) memberLedger(c echo.Context) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	p, _ := principal(c)
	es, next, err := a.deps.Members.Ledger(c.Request().Context(), p.ID, c.QueryParam("kind"), page)
	if err != nil {
		return err
	}
	out := make([]ledgerEntryDTO, len(es))
	for i, e := range es {
		out[i] = ledgerEntryDTO{ID: e.ID, Kind: string(e.Kind), Points: e.Points, Debt: e.Debt,
			AmountFen: int64(e.Principal + e.Bonus), PrincipalFen: int64(e.Principal), BonusFen: int64(e.Bonus),
			OrderNo: e.OrderNumber, Reason: e.Reason, At: e.At}
	}
	return c.JSON(http.StatusOK, newList(out, next))
}

type packageDTO struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	PayFen   int64  `json:"pay_fen"`
	BonusFen int64  `json:"bonus_fen"`
	Active   bool   `json:"active"`
}

func toPackageDTO(p member.Package) packageDTO {
	return packageDTO{ID: p.ID, Name: p.Name, PayFen: int64(p.Pay), BonusFen: int64(p.Bonus), Active: p.Active}
}

func (a *API) listPackages(activeOnly bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		page, err := pageOf(c)
		if err != nil {
			return err
		}
		ps, next, err := a.deps.Members.Packages(c.Request().Context(), activeOnly, page)
		if err != nil {
			return err
		}
		out := convertAll(ps, toPackageDTO)
		return c.JSON(http.StatusOK, newList(out, next))
	}
}

type topUpRequest struct {
	PackageID int64 `json:"package_id" validate:"required,gt=0"`
}

// POST /api/v1/shop/member/topups
func (a *API) topUp(c echo.Context) error {
	var req topUpRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	p, _ := principal(c)
	t, err := a.deps.Members.TopUp(c.Request().Context(), p.ID, req.PackageID)
	if err != nil {
		return err
	}
	rp := t.Params
	return c.JSON(http.StatusCreated, map[string]any{"out_trade_no": t.OutTradeNo, "principal_fen": int64(t.Principal),
		"bonus_fen": int64(t.Bonus), "status": string(t.Status), "expires_at": t.TimeExpire,
		"request_payment": requestPaymentDTO{TimeStamp: rp.TimeStamp, NonceStr: rp.NonceStr, Package: rp.Package,
			SignType: rp.SignType, PaySign: rp.PaySign}})
}

// GET /api/v1/clerk/members/lookup?code=
func (a *API) lookUpMember(c echo.Context) error {
	l, err := a.deps.Members.LookUp(c.Request().Context(), actor(c), c.QueryParam("code"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"card_no": l.Card.Number, "name": l.Name, "phone": l.Phone,
		"tier": toTierDTO(l.Tier), "points": l.Card.Points, "balance_fen": int64(l.Card.Balance()), "coupons": toHeldCouponDTOs(l.Coupons)})
}

// heldCouponDTO is a member's usable coupon in the clerk's lookup.
type heldCouponDTO struct {
	ID           int64  `json:"id"`
	Name         string `json:"name"`
	Kind         string `json:"kind"`
	ThresholdFen int64  `json:"threshold_fen"`
	AmountOffFen int64  `json:"amount_off_fen,omitempty"`
	PercentOffBP int64  `json:"percent_off_bp,omitempty"`
	ValidUntil   string `json:"valid_until"`
}

func toHeldCouponDTOs(cs []member.HeldCoupon) []heldCouponDTO {
	out := make([]heldCouponDTO, len(cs))
	for i, c := range cs {
		out[i] = heldCouponDTO{ID: c.ID, Name: c.Name, Kind: c.Kind, ThresholdFen: int64(c.Threshold), AmountOffFen: int64(c.AmountOff),
			PercentOffBP: c.PercentOffBP, ValidUntil: c.ValidUntil.UTC().Format(time.RFC3339)}
	}
	return out
}

// GET /api/v1/admin/member-tiers
func (a *API) listTiers(c echo.Context) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	ts, next, err := a.deps.Members.TierPage(c.Request().Context(), page)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newList(convertAll(ts, toTierDTO), next))
}

type tierRequest struct {
	Name               string `json:"name" validate:"required,max=32"`
	Threshold          int64  `json:"threshold" validate:"gte=0"`
	DiscountBP         int64  `json:"discount_bp" validate:"gte=0,lte=9000"`
	PointsMultiplierBP *int64 `json:"points_multiplier_bp" validate:"omitempty,gte=0,lte=100000"`
	FreeShipping       bool   `json:"free_shipping"`
	BirthdayTemplateID int64  `json:"birthday_coupon_template_id" validate:"gte=0"`
}

func (r tierRequest) tier(id int64) member.Tier {
	t := member.Tier{ID: id, Name: r.Name, Threshold: r.Threshold, DiscountBP: r.DiscountBP, MultiplierBP: 10000,
		FreeShipping: r.FreeShipping, BirthdayTemplate: r.BirthdayTemplateID}
	if r.PointsMultiplierBP != nil {
		t.MultiplierBP = *r.PointsMultiplierBP
	}
	return t
}

// POST /api/v1/admin/member-tiers, PUT /api/v1/admin/member-tiers/{id}
func (a *API) saveTier(c echo.Context) error {
	var id int64
	if c.Param("id") != "" {
		var err error
		if id, err = pathID(c, "id"); err != nil {
			return err
		}
	}
	var req tierRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	t, err := a.deps.Members.SaveTier(c.Request().Context(), actor(c), requestID(c), req.tier(id))
	if err != nil {
		return err
	}
	status := http.StatusOK
	if id == 0 {
		status = http.StatusCreated
	}
	return c.JSON(status, toTierDTO(t))
}

type memberSettingsDTO struct {
	PointsPerYuan      int64 `json:"points_per_yuan" validate:"gte=0,lte=1000"`
	RedeemPointsPerFen int64 `json:"redeem_points_per_fen" validate:"gte=1,lte=100000"`
	RedeemCapBP        int64 `json:"redeem_cap_bp" validate:"gte=0,lte=10000"`
	GrowthPerYuan      int64 `json:"growth_per_yuan" validate:"gte=0,lte=1000"`
	PointsLifeYears    int   `json:"points_life_years" validate:"gte=1,lte=10"`
}

func toMemberSettingsDTO(s member.Settings) memberSettingsDTO {
	return memberSettingsDTO{PointsPerYuan: s.PointsPerYuan, RedeemPointsPerFen: s.RedeemPointsPerFen,
		RedeemCapBP: s.RedeemCapBP, GrowthPerYuan: s.GrowthPerYuan, PointsLifeYears: s.PointsLifeYears}
}

// GET /api/v1/admin/member-settings
func (a *API) getMemberSettings(c echo.Context) error {
	s, err := a.deps.Members.GetSettings(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toMemberSettingsDTO(s))
}

// PUT /api/v1/admin/member-settings
func (a *API) putMemberSettings(c echo.Context) error {
	var req memberSettingsDTO
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	s, err := a.deps.Members.PutSettings(c.Request().Context(), actor(c), requestID(c), member.Settings{
		PointsPerYuan: req.PointsPerYuan, RedeemPointsPerFen: req.RedeemPointsPerFen, RedeemCapBP: req.RedeemCapBP,
		GrowthPerYuan: req.GrowthPerYuan, PointsLifeYears: req.PointsLifeYears})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toMemberSettingsDTO(s))
}

type packageRequest struct {
	Name     string `json:"name" validate:"required,max=32"`
	PayFen   int64  `json:"pay_fen" validate:"gte=1,lte=100000000"`
	BonusFen int64  `json:"bonus_fen" validate:"gte=0,lte=100000000"`
}

// POST /api/v1/admin/topup-packages
func (a *API) createPackage(c echo.Context) error {
	var req packageRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	p, err := a.deps.Members.CreatePackage(c.Request().Context(), actor(c), requestID(c),
		member.Package{Name: req.Name, Pay: domain.Fen(req.PayFen), Bonus: domain.Fen(req.BonusFen)})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toPackageDTO(p))
}

type pointsAdjustmentRequest struct {
	Points int64  `json:"points" validate:"required"`
	Reason string `json:"reason" validate:"required,max=200"`
}

// POST /api/v1/admin/members/{shopper_id}/points-adjustments
func (a *API) adjustPoints(c echo.Context) error {
	var req pointsAdjustmentRequest
	id, err := a.bindWithID(c, "shopper_id", &req)
	if err != nil {
		return err
	}
	card, err := a.deps.Members.AdjustPoints(c.Request().Context(), actor(c), requestID(c), id, req.Points, req.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"card_no": card.Number, "points": card.Points, "points_debt": card.PointsDebt})
}

type memberPriceRequest struct {
	MemberPriceFen *int64 `json:"member_price_fen" validate:"omitempty,gte=0,lte=100000000"`
}

// PUT /api/v1/admin/skus/{id}/member-price
func (a *API) setMemberPrice(c echo.Context) error {
	var req memberPriceRequest
	id, err := a.bindWithID(c, "id", &req)
	if err != nil {
		return err
	}
	var price *domain.Fen
	if req.MemberPriceFen != nil {
		f := domain.Fen(*req.MemberPriceFen)
		price = &f
	}
	if err := a.deps.Members.SetSKUPrice(c.Request().Context(), actor(c), requestID(c), id, price); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"sku_id": id, "member_price_fen": req.MemberPriceFen})
}

// memberPrices returns, for a signed-in member, the member price of each
// SKU of list (nil otherwise): product list and detail show it.
func (a *API) memberPrices(c echo.Context, list map[int64]domain.Fen) (map[int64]domain.Fen, error) {
	if !a.memberPricesApply(c) {
		return nil, nil
	}
	p, _ := principal(c)
	return a.deps.Members.MemberPrices(c.Request().Context(), p.ID, list)
}

type topUpRefundRequest struct {
	Reason string `json:"reason" validate:"max=80"`
}

// POST /api/v1/admin/topups/{out_trade_no}/refund
func (a *API) refundTopUp(c echo.Context) error {
	no := c.Param("out_trade_no")
	var req topUpRefundRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	r, err := a.deps.Members.RefundTopUp(c.Request().Context(), actor(c), requestID(c), no, req.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toTopUpRefundResponse(r))
}

type topUpRefundResponse struct {
	OutTradeNo  string     `json:"out_trade_no"`
	OutRefundNo string     `json:"out_refund_no"`
	AmountFen   int64      `json:"amount_fen"`
	ForfeitFen  int64      `json:"forfeit_fen"`
	Status      string     `json:"status"`
	Reason      string     `json:"reason"`
	CreatedAt   time.Time  `json:"created_at"`
	SucceededAt *time.Time `json:"succeeded_at"`
}

func toTopUpRefundResponse(r member.TopUpRefund) topUpRefundResponse {
	out := topUpRefundResponse{OutTradeNo: r.OutTradeNo, OutRefundNo: r.OutRefundNo, AmountFen: int64(r.Amount),
		ForfeitFen: int64(r.Forfeit), Status: string(r.Status), Reason: r.Reason, CreatedAt: r.CreatedAt}
	if !r.SucceededAt.IsZero() {
		t := r.SucceededAt
		out.SucceededAt = &t
	}
	return out
}
