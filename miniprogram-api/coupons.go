package mpapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/coupon"
	"github.com/yutang/yutang/domain/order"
	"github.com/yutang/yutang/domain/pricing"
)

type scopeDTO struct {
	Kind               string  `json:"kind" validate:"omitempty,oneof=all categories products"`
	IDs                []int64 `json:"ids" validate:"omitempty,max=500"`
	ExcludedProductIDs []int64 `json:"excluded_product_ids" validate:"omitempty,max=500"`
}

// templateDTO is a coupon template as admins write and read it.
type templateDTO struct {
	ID int64 `json:"id"`
	couponTermsDTO
	ValidFrom            *time.Time `json:"valid_from"`
	ValidUntil           *time.Time `json:"valid_until"`
	ValidDays            int        `json:"valid_days"`
	Total                int        `json:"total"`
	Issued               int        `json:"issued"`
	PerShopper           int        `json:"per_shopper"`
	Audience             string     `json:"audience"`
	AudienceTier         int        `json:"audience_tier,omitempty"`
	AudienceTouchpointID int64      `json:"audience_touchpoint_id,omitempty"`
	AudienceSince        *time.Time `json:"audience_since,omitempty"`
	StacksWithCampaign   bool       `json:"stacks_with_campaign"`
	Claimable            bool       `json:"claimable"`
	VisibleFrom          *time.Time `json:"visible_from"`
	ClaimFrom            *time.Time `json:"claim_from"`
	ClaimUntil           *time.Time `json:"claim_until"`
	Status               string     `json:"status"`
	CreatedAt            time.Time  `json:"created_at"`
	UpdatedAt            time.Time  `json:"updated_at"`
}

func toScopeDTO(s pricing.Scope) scopeDTO {
	return scopeDTO{Kind: string(s.Kind), IDs: nonNilIDs(s.IDs), ExcludedProductIDs: nonNilIDs(s.Excluded)}
}

func (s scopeDTO) toScope() pricing.Scope {
	return pricing.Scope{Kind: pricing.ScopeKind(s.Kind), IDs: s.IDs, Excluded: s.ExcludedProductIDs}
}

func nonNilIDs(ids []int64) []int64 {
	if ids == nil {
		return []int64{}
	}
	return ids
}

// couponTermsDTO is what a template gives off, as admins and shoppers both
// see it.
type couponTermsDTO struct {
	Name         string   `json:"name"`
	Description  string   `json:"description"`
	Kind         string   `json:"kind"`
	ThresholdFen int64    `json:"threshold_fen"`
	AmountOffFen int64    `json:"amount_off_fen"`
	PercentOffBP int64    `json:"percent_off_bp"`
	MaxOffFen    int64    `json:"max_off_fen"`
	Scope        scopeDTO `json:"scope"`
}

func toCouponTermsDTO(t coupon.Template) couponTermsDTO {
	return couponTermsDTO{Name: t.Name, Description: t.Description, Kind: string(t.Kind),
		ThresholdFen: int64(t.Threshold), AmountOffFen: int64(t.AmountOff), PercentOffBP: t.PercentOffBP, MaxOffFen: int64(t.MaxOff),
		Scope: toScopeDTO(t.Scope)}
}

func toTemplateDTO(t coupon.Template) templateDTO {
	return templateDTO{ID: t.ID, couponTermsDTO: toCouponTermsDTO(t),
		ValidFrom: optTime(t.ValidFrom), ValidUntil: optTime(t.ValidUntil), ValidDays: t.ValidDays, Total: t.Total, Issued: t.Issued,
		PerShopper: t.PerShopper, Audience: string(t.Audience), AudienceTier: t.AudienceTier,
		AudienceTouchpointID: t.AudienceTouchpoint, AudienceSince: optTime(t.AudienceSince),
		StacksWithCampaign: t.StacksWithCampaign, Claimable: t.Claimable, VisibleFrom: optTime(t.VisibleFrom),
		ClaimFrom: optTime(t.ClaimFrom), ClaimUntil: optTime(t.ClaimUntil), Status: string(t.Status),
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
}

// templateRequest is the body of POST /coupon-templates; PATCH takes the
// same fields, each optional (templatePatch).
type templateRequest struct {
	Name                 string     `json:"name" validate:"required,max=100"`
	Description          string     `json:"description" validate:"max=500"`
	Kind                 string     `json:"kind" validate:"required,oneof=amount_off percent_off no_threshold"`
	ThresholdFen         int64      `json:"threshold_fen" validate:"gte=0"`
	AmountOffFen         int64      `json:"amount_off_fen" validate:"gte=0"`
	PercentOffBP         int64      `json:"percent_off_bp" validate:"gte=0,lte=9999"`
	MaxOffFen            int64      `json:"max_off_fen" validate:"gte=0"`
	Scope                scopeDTO   `json:"scope"`
	ValidFrom            *time.Time `json:"valid_from"`
	ValidUntil           *time.Time `json:"valid_until"`
	ValidDays            int        `json:"valid_days" validate:"gte=0,lte=3650"`
	Total                int        `json:"total" validate:"gte=0,lte=100000000"`
	PerShopper           int        `json:"per_shopper" validate:"omitempty,gte=1,lte=100"`
	Audience             string     `json:"audience" validate:"omitempty,oneof=all tier new_customers touchpoint"`
	AudienceTier         int        `json:"audience_tier" validate:"gte=0"`
	AudienceTouchpointID int64      `json:"audience_touchpoint_id" validate:"gte=0"`
	AudienceSince        *time.Time `json:"audience_since"`
	StacksWithCampaign   bool       `json:"stacks_with_campaign"`
	Claimable            *bool      `json:"claimable"`
	VisibleFrom          *time.Time `json:"visible_from"`
	ClaimFrom            *time.Time `json:"claim_from"`
	ClaimUntil           *time.Time `json:"claim_until"`
	Status               string     `json:"status" validate:"omitempty,oneof=draft active"`
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

func (r templateRequest) toTemplate() coupon.Template {
	t := coupon.Template{Name: r.Name, Description: r.Description, Kind: pricing.CouponKind(r.Kind),
		Threshold: domain.Fen(r.ThresholdFen), AmountOff: domain.Fen(r.AmountOffFen), PercentOffBP: r.PercentOffBP,
		MaxOff:    domain.Fen(r.MaxOffFen),
		Scope:     pricing.Scope{Kind: pricing.ScopeKind(r.Scope.Kind), IDs: r.Scope.IDs, Excluded: r.Scope.ExcludedProductIDs},
		ValidFrom: deref(r.ValidFrom), ValidUntil: deref(r.ValidUntil), ValidDays: r.ValidDays, Total: r.Total,
		PerShopper: r.PerShopper, Audience: coupon.Audience(r.Audience), AudienceTier: r.AudienceTier,
		AudienceTouchpoint: r.AudienceTouchpointID, AudienceSince: deref(r.AudienceSince),
		StacksWithCampaign: r.StacksWithCampaign, Claimable: true, VisibleFrom: deref(r.VisibleFrom),
		ClaimFrom: deref(r.ClaimFrom), ClaimUntil: deref(r.ClaimUntil), Status: coupon.Status(r.Status)}
	if r.Claimable != nil {
		t.Claimable = *r.Claimable
	}
	if t.PerShopper == 0 {
		t.PerShopper = 1
	}
	return t
}

// POST /api/v1/admin/coupon-templates
func (a *API) createCouponTemplate(c echo.Context) error {
	var req templateRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	t, err := a.deps.Coupons.CreateTemplate(c.Request().Context(), actor(c), requestID(c), req.toTemplate())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toTemplateDTO(t))
}

// templatePatch is the body of PATCH /coupon-templates/{id}: nil fields
// stay; a time sent as null clears it (JSON null cannot be told from
// absent here, so clearing uses the zero time "0001-01-01T00:00:00Z").
type templatePatch struct {
	Name                 *string    `json:"name" validate:"omitempty,max=100"`
	Description          *string    `json:"description" validate:"omitempty,max=500"`
	Kind                 *string    `json:"kind" validate:"omitempty,oneof=amount_off percent_off no_threshold"`
	ThresholdFen         *int64     `json:"threshold_fen" validate:"omitempty,gte=0"`
	AmountOffFen         *int64     `json:"amount_off_fen" validate:"omitempty,gte=0"`
	PercentOffBP         *int64     `json:"percent_off_bp" validate:"omitempty,gte=0,lte=9999"`
	MaxOffFen            *int64     `json:"max_off_fen" validate:"omitempty,gte=0"`
	Scope                *scopeDTO  `json:"scope"`
	ValidFrom            *time.Time `json:"valid_from"`
	ValidUntil           *time.Time `json:"valid_until"`
	ValidDays            *int       `json:"valid_days" validate:"omitempty,gte=0,lte=3650"`
	Total                *int       `json:"total" validate:"omitempty,gte=0,lte=100000000"`
	PerShopper           *int       `json:"per_shopper" validate:"omitempty,gte=1,lte=100"`
	Audience             *string    `json:"audience" validate:"omitempty,oneof=all tier new_customers touchpoint"`
	AudienceTier         *int       `json:"audience_tier" validate:"omitempty,gte=0"`
	AudienceTouchpointID *int64     `json:"audience_touchpoint_id" validate:"omitempty,gte=0"`
	StacksWithCampaign   *bool      `json:"stacks_with_campaign"`
	Claimable            *bool      `json:"claimable"`
	VisibleFrom          *time.Time `json:"visible_from"`
	ClaimFrom            *time.Time `json:"claim_from"`
	ClaimUntil           *time.Time `json:"claim_until"`
}

func set[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

func (p templatePatch) apply(t *coupon.Template) {
	set(&t.Name, p.Name)
	set(&t.Description, p.Description)
	if p.Kind != nil {
		t.Kind = pricing.CouponKind(*p.Kind)
	}
	if p.ThresholdFen != nil {
		t.Threshold = domain.Fen(*p.ThresholdFen)
	}
	if p.AmountOffFen != nil {
		t.AmountOff = domain.Fen(*p.AmountOffFen)
	}
	set(&t.PercentOffBP, p.PercentOffBP)
	if p.MaxOffFen != nil {
		t.MaxOff = domain.Fen(*p.MaxOffFen)
	}
	if s := p.Scope; s != nil {
		t.Scope = s.toScope()
	}
	set(&t.ValidFrom, p.ValidFrom)
	set(&t.ValidUntil, p.ValidUntil)
	set(&t.ValidDays, p.ValidDays)
	set(&t.Total, p.Total)
	set(&t.PerShopper, p.PerShopper)
	if p.Audience != nil {
		t.Audience = coupon.Audience(*p.Audience)
	}
	set(&t.AudienceTier, p.AudienceTier)
	set(&t.AudienceTouchpoint, p.AudienceTouchpointID)
	set(&t.StacksWithCampaign, p.StacksWithCampaign)
	set(&t.Claimable, p.Claimable)
	set(&t.VisibleFrom, p.VisibleFrom)
	set(&t.ClaimFrom, p.ClaimFrom)
	set(&t.ClaimUntil, p.ClaimUntil)
}

// PATCH /api/v1/admin/coupon-templates/{id}
func (a *API) patchCouponTemplate(c echo.Context) error {
	var req templatePatch
	id, err := a.bindWithID(c, "id", &req)
	if err != nil {
		return err
	}
	t, err := a.deps.Coupons.UpdateTemplate(c.Request().Context(), actor(c), requestID(c), id, req.apply)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toTemplateDTO(t))
}

type statusRequest struct {
	Status string `json:"status" validate:"required,max=20"`
}

// POST /api/v1/admin/coupon-templates/{id}/status
func (a *API) setCouponTemplateStatus(c echo.Context) error {
	var req statusRequest
	id, err := a.bindWithID(c, "id", &req)
	if err != nil {
		return err
	}
	t, err := a.deps.Coupons.SetStatus(c.Request().Context(), actor(c), requestID(c), id, coupon.Status(req.Status))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toTemplateDTO(t))
}

// GET /api/v1/admin/coupon-templates/{id}
func (a *API) getCouponTemplate(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	t, err := a.deps.Coupons.Template(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toTemplateDTO(t))
}

// GET /api/v1/admin/coupon-templates?status&cursor&limit
func (a *API) listCouponTemplates(c echo.Context) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	ts, next, err := a.deps.Coupons.Templates(c.Request().Context(), coupon.Status(c.QueryParam("status")), page)
	if err != nil {
		return err
	}
	out := convertAll(ts, toTemplateDTO)
	return c.JSON(http.StatusOK, newList(out, next))
}

// couponRuleDTO is what a shopper sees of a template.
type couponRuleDTO struct {
	TemplateID int64 `json:"template_id"`
	couponTermsDTO
	StacksWithCampaign bool `json:"stacks_with_campaign"`
}

func toCouponRuleDTO(t coupon.Template) couponRuleDTO {
	return couponRuleDTO{TemplateID: t.ID, couponTermsDTO: toCouponTermsDTO(t), StacksWithCampaign: t.StacksWithCampaign}
}

type centreEntryDTO struct {
	couponRuleDTO
	Phase      string     `json:"phase"` // claimable, upcoming, sold_out, over
	ClaimFrom  *time.Time `json:"claim_from"`
	ClaimUntil *time.Time `json:"claim_until"`
	ValidUntil *time.Time `json:"valid_until"`
	ValidDays  int        `json:"valid_days"`
	Left       int        `json:"left"`
	Held       int        `json:"held"`
	PerShopper int        `json:"per_shopper"`
}

// GET /api/v1/shop/coupon-center?cursor&limit (anonymous visitors too)
func (a *API) couponCentre(c echo.Context) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	var sid int64
	if p, ok := principal(c); ok && p.Kind == "shopper" {
		sid = p.ID
	}
	es, next, err := a.deps.Coupons.Centre(c.Request().Context(), sid, page)
	if err != nil {
		return err
	}
	out := make([]centreEntryDTO, len(es))
	for i, e := range es {
		t := e.Template
		out[i] = centreEntryDTO{couponRuleDTO: toCouponRuleDTO(t), Phase: string(e.Phase), ClaimFrom: optTime(t.ClaimFrom),
			ClaimUntil: optTime(t.ClaimUntil), ValidUntil: optTime(t.ValidUntil), ValidDays: t.ValidDays,
			Left: max(0, t.Total-t.Issued), Held: e.Held, PerShopper: t.PerShopper}
	}
	return c.JSON(http.StatusOK, newList(out, next))
}

// couponDTO is a coupon a shopper holds.
type couponDTO struct {
	ID         int64         `json:"id"`
	Status     string        `json:"status"`
	ValidFrom  time.Time     `json:"valid_from"`
	ValidUntil time.Time     `json:"valid_until"`
	Source     string        `json:"source"`
	IssuedAt   time.Time     `json:"issued_at"`
	Rule       couponRuleDTO `json:"rule"`
}

func toCouponDTO(cp coupon.Coupon, now time.Time) couponDTO {
	return couponDTO{ID: cp.ID, Status: string(cp.StatusAt(now)), ValidFrom: cp.ValidFrom, ValidUntil: cp.ValidUntil,
		Source: string(cp.Source), IssuedAt: cp.IssuedAt, Rule: toCouponRuleDTO(cp.Template)}
}

type claimRequest struct {
	TemplateID int64 `json:"template_id" validate:"required,gt=0"`
}

// POST /api/v1/shop/coupons/claim
func (a *API) claimCoupon(c echo.Context) error {
	var req claimRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	cp, err := a.deps.Coupons.Claim(c.Request().Context(), shopperID(c), req.TemplateID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toCouponDTO(cp, time.Now()))
}

// GET /api/v1/shop/coupons?status=usable|locked|used|expired&cursor&limit
func (a *API) listMyCoupons(c echo.Context) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	cs, next, err := a.deps.Coupons.Mine(c.Request().Context(), shopperID(c), coupon.CouponStatus(c.QueryParam("status")), page)
	if err != nil {
		return err
	}
	now := time.Now()
	out := make([]couponDTO, len(cs))
	for i, cp := range cs {
		out[i] = toCouponDTO(cp, now)
	}
	return c.JSON(http.StatusOK, newList(out, next))
}

// couponOptionsDTO is the preview's coupon section.
type couponOptionsDTO struct {
	Usable         []usableCouponDTO   `json:"usable"`
	Unusable       []unusableCouponDTO `json:"unusable"`
	BestCouponIDs  []int64             `json:"best_coupon_ids"`
	BestPayableFen int64               `json:"best_payable_fen"`
}

type usableCouponDTO struct {
	CouponID    int64 `json:"coupon_id"`
	DiscountFen int64 `json:"discount_fen"` // what it takes off alone
}

type unusableCouponDTO struct {
	CouponID int64  `json:"coupon_id"`
	Reason   string `json:"reason"`
	Message  string `json:"message"`
	ShortFen int64  `json:"short_fen,omitempty"` // below threshold: how much more to spend in scope
}

func toCouponOptionsDTO(o *order.CouponOptions) *couponOptionsDTO {
	if o == nil {
		return nil
	}
	out := &couponOptionsDTO{Usable: []usableCouponDTO{}, Unusable: []unusableCouponDTO{}, BestCouponIDs: nonNilIDs(o.Best),
		BestPayableFen: int64(o.BestPayable)}
	for _, u := range o.Usable {
		out.Usable = append(out.Usable, usableCouponDTO{CouponID: u.Coupon.ID, DiscountFen: int64(u.Discount)})
	}
	for _, p := range o.Unusable {
		out.Unusable = append(out.Unusable, unusableCouponDTO{CouponID: p.CouponID, Reason: string(p.Reason),
			Message: p.Message, ShortFen: int64(p.Short)})
	}
	return out
}
