package mpapi

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/order"
	"github.com/yutang/yutang/domain/pricing"
)

type orderLineRequest struct {
	SKUID    int64 `json:"sku_id" validate:"required,gt=0"`
	Quantity int   `json:"quantity" validate:"required,gte=1,lte=999"`
}

type fulfillmentRequest struct {
	Type      string `json:"type" validate:"required,oneof=delivery pickup"`
	AddressID int64  `json:"address_id" validate:"omitempty,gt=0"`
	StoreID   int64  `json:"store_id" validate:"omitempty,gt=0"`
}

// checkoutRequest is the body of POST /checkout/preview and POST /orders.
type checkoutRequest struct {
	Items              []orderLineRequest `json:"items" validate:"omitempty,max=50,dive"`
	FromCart           bool               `json:"from_cart"`
	Fulfillment        fulfillmentRequest `json:"fulfillment" validate:"required"`
	CouponIDs          []int64            `json:"coupon_ids" validate:"omitempty,max=20,dive,gt=0"`
	Points             int64              `json:"points" validate:"gte=0"`
	BalanceFen         int64              `json:"balance_fen" validate:"gte=0,lte=100000000"`
	ExpectedPayableFen *int64             `json:"expected_payable_fen" validate:"omitempty,gte=0"`
	Note               string             `json:"note" validate:"max=200"`
}

func (r checkoutRequest) toInput(shopperID int64, key string) order.PlaceInput {
	in := order.PlaceInput{ShopperID: shopperID, FromCart: r.FromCart, CouponIDs: r.CouponIDs, Points: r.Points,
		Balance: domain.Fen(r.BalanceFen), Note: strings.TrimSpace(r.Note), IdempotencyKey: key,
		Fulfillment: order.FulfillmentRequest{Type: order.FulfillmentType(r.Fulfillment.Type),
			AddressID: r.Fulfillment.AddressID, StoreID: r.Fulfillment.StoreID}}
	for _, it := range r.Items {
		in.Items = append(in.Items, order.LineRequest{SKUID: it.SKUID, Quantity: it.Quantity})
	}
	in.ExpectedPayable = fenOf(r.ExpectedPayableFen)
	return in
}

func (r checkoutRequest) expectedPayable() *int64 { return r.ExpectedPayableFen }

type discountDTO struct {
	Source    string `json:"source"`
	Ref       int64  `json:"ref,omitempty"`
	AmountFen int64  `json:"amount_fen"`
}

// lineDTO is what a priced line and an order line have in common: the SKU
// as sold and the money of the line, its discounts by source.
type lineDTO struct {
	SKUID        int64             `json:"sku_id"`
	ProductID    int64             `json:"product_id"`
	Title        string            `json:"title"`
	Specs        map[string]string `json:"specs"`
	Image        string            `json:"image"`
	UnitPriceFen int64             `json:"unit_price_fen"`
	Quantity     int               `json:"quantity"`
	ListTotalFen int64             `json:"list_total_fen"`
	DiscountFen  int64             `json:"discount_fen"`
	Adjustments  []adjustmentDTO   `json:"adjustments"`
	PaidFen      int64             `json:"paid_fen"`
}

// adjustmentDTO is one discount on one line, by source (campaign, member,
// coupon, points …) and the source's id (0 when it has none).
type adjustmentDTO struct {
	Source    string `json:"source"`
	SourceID  int64  `json:"source_id"`
	AmountFen int64  `json:"amount_fen"`
}

// quoteDTO is a price breakdown: the preview's answer, and the details of a
// price_changed error.
type quoteDTO struct {
	SubtotalFen int64         `json:"subtotal_fen"`
	DiscountFen int64         `json:"discount_fen"`
	Discounts   []discountDTO `json:"discounts"`
	FreightFen  int64         `json:"freight_fen"`
	PayableFen  int64         `json:"payable_fen"`
	PointsUsed  int64         `json:"points_used"`
	Fulfillment string        `json:"fulfillment"`
	Lines       []lineDTO     `json:"lines"`
	// Coupons: the preview's coupon options (absent elsewhere).
	Coupons *couponOptionsDTO `json:"coupons,omitempty"`
}

func toQuoteDTO(q order.Quote) quoteDTO {
	b := q.Breakdown
	out := quoteDTO{SubtotalFen: int64(b.Subtotal), DiscountFen: int64(b.DiscountTotal()), FreightFen: int64(b.Freight),
		PayableFen: int64(b.Payable), PointsUsed: b.PointsUsed, Fulfillment: string(q.Fulfillment),
		Discounts: []discountDTO{}, Lines: make([]lineDTO, len(q.Lines)), Coupons: toCouponOptionsDTO(q.Coupons)}
	for _, d := range b.Discounts {
		out.Discounts = append(out.Discounts, discountDTO{Source: string(d.Source), Ref: d.Ref, AmountFen: int64(d.Amount)})
	}
	for i, l := range q.Lines {
		lb := l.Breakdown
		adj := make([]order.Adjustment, len(lb.Discounts))
		for k, d := range lb.Discounts {
			adj[k] = order.Adjustment{Source: d.Source, SourceID: d.Ref, Amount: d.Amount}
		}
		out.Lines[i] = toLineDTO(order.Item{SKUID: l.SKU.ID, ProductID: l.SKU.ProductID, Title: l.SKU.Title,
			Specs: l.SKU.Specs, Image: l.SKU.Image, UnitPrice: lb.UnitPrice, Quantity: lb.Quantity,
			ListTotal: lb.ListTotal, Discount: lb.Discounts.Total(), Adjustments: adj, Paid: lb.Paid})
	}
	return out
}

// toLineDTO converts a line (an order's, or a priced one as an item).
func toLineDTO(it order.Item) lineDTO {
	l := lineDTO{SKUID: it.SKUID, ProductID: it.ProductID, Title: it.Title, Specs: nonNilSpecs(it.Specs), Image: it.Image,
		UnitPriceFen: int64(it.UnitPrice), Quantity: it.Quantity, ListTotalFen: int64(it.ListTotal),
		DiscountFen: int64(it.Discount), Adjustments: make([]adjustmentDTO, len(it.Adjustments)), PaidFen: int64(it.Paid)}
	for k, a := range it.Adjustments {
		l.Adjustments[k] = adjustmentDTO{Source: string(a.Source), SourceID: a.SourceID, AmountFen: int64(a.Amount)}
	}
	return l
}

func nonNilSpecs(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

type addressSnapshotDTO struct {
	AddressID int64  `json:"address_id"`
	Name      string `json:"name"`
	Phone     string `json:"phone"`
	Province  string `json:"province"`
	City      string `json:"city"`
	District  string `json:"district"`
	Detail    string `json:"detail"`
}

type fulfillmentDTO struct {
	Type    string              `json:"type"`
	Address *addressSnapshotDTO `json:"address,omitempty"`
	StoreID int64               `json:"store_id,omitempty"`
}

type orderItemDTO struct {
	ID      int64  `json:"id"`
	SKUCode string `json:"sku_code"`
	lineDTO
	RefundStatus     string `json:"refund_status"`
	RefundedQuantity int    `json:"refunded_quantity"`
	RefundedFen      int64  `json:"refunded_fen"`
}

type orderDTO struct {
	OrderNo      string         `json:"order_no"`
	Status       string         `json:"status"`
	ShopperID    int64          `json:"shopper_id,omitempty"` // admin views only
	Channel      string         `json:"channel"`
	Fulfillment  fulfillmentDTO `json:"fulfillment"`
	SubtotalFen  int64          `json:"subtotal_fen"`
	DiscountFen  int64          `json:"discount_fen"`
	Discounts    []discountDTO  `json:"discounts"` // by source, summed over the lines
	FreightFen   int64          `json:"freight_fen"`
	PayableFen   int64          `json:"payable_fen"`
	PointsUsed   int64          `json:"points_used"`
	Note         string         `json:"note"`
	PlacedAt     time.Time      `json:"placed_at"`
	ExpiresAt    time.Time      `json:"expires_at"`
	PaidAt       *time.Time     `json:"paid_at,omitempty"`
	ShippedAt    *time.Time     `json:"shipped_at,omitempty"`
	Carrier      string         `json:"carrier,omitempty"`
	TrackingNo   string         `json:"tracking_no,omitempty"`
	CompletedAt  *time.Time     `json:"completed_at,omitempty"`
	CancelledAt  *time.Time     `json:"cancelled_at,omitempty"`
	CancelReason string         `json:"cancel_reason,omitempty"`
	Items        []orderItemDTO `json:"items"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func toOrderDTO(o order.Order, admin bool) orderDTO {
	out := orderDTO{OrderNo: o.Number, Status: string(o.Status), Channel: string(o.Channel),
		Fulfillment: fulfillmentDTO{Type: string(o.Fulfillment), StoreID: o.PickupStore},
		SubtotalFen: int64(o.Subtotal), DiscountFen: int64(o.Discount), Discounts: []discountDTO{},
		FreightFen: int64(o.Freight), PayableFen: int64(o.Payable), PointsUsed: o.PointsUsed,
		Note: o.Note, PlacedAt: o.PlacedAt, ExpiresAt: o.ExpiresAt, PaidAt: optTime(o.PaidAt), ShippedAt: optTime(o.ShippedAt),
		Carrier: o.Carrier, TrackingNo: o.TrackingNo, CompletedAt: optTime(o.CompletedAt), CancelledAt: optTime(o.CancelledAt),
		CancelReason: o.CancelReason, Items: make([]orderItemDTO, len(o.Items))}
	if admin {
		out.ShopperID = o.ShopperID
	}
	if a := o.Address; a != nil {
		out.Fulfillment.Address = &addressSnapshotDTO{AddressID: a.AddressID, Name: a.Name, Phone: a.Phone,
			Province: a.Province, City: a.City, District: a.District, Detail: a.Detail}
	}
	for i, it := range o.Items {
		out.Items[i] = orderItemDTO{ID: it.ID, SKUCode: it.SKUCode, lineDTO: toLineDTO(it), RefundStatus: string(it.RefundStatus),
			RefundedQuantity: it.RefundedQuantity, RefundedFen: int64(it.RefundedFen)}
		for _, a := range it.Adjustments {
			k := slices.IndexFunc(out.Discounts, func(d discountDTO) bool { return d.Source == string(a.Source) && d.Ref == a.SourceID })
			if k < 0 {
				out.Discounts = append(out.Discounts, discountDTO{Source: string(a.Source), Ref: a.SourceID})
				k = len(out.Discounts) - 1
			}
			out.Discounts[k].AmountFen += int64(a.Amount)
		}
	}
	return out
}

type stockProblemDTO struct {
	SKUID     int64 `json:"sku_id"`
	Requested int   `json:"requested"`
	Available int   `json:"available"`
}

// orderErr converts the details of order errors to their wire shapes.
func orderErr(err error) error {
	de, ok := domain.AsError(err)
	if !ok {
		return err
	}
	switch d := de.Details.(type) {
	case order.Quote:
		return de.WithDetails(toQuoteDTO(d))
	case order.StockProblem:
		return de.WithDetails(stockProblemDTO{SKUID: d.SKUID, Requested: d.Requested, Available: d.Available})
	case pricing.CouponProblem:
		return de.WithDetails(map[string]any{"coupon_id": d.CouponID, "reason": d.Reason, "message": d.Message, "short_fen": int64(d.Short)})
	}
	return err
}

// shopperID is the signed-in shopper (routes behind shopperOnly).
func shopperID(c echo.Context) int64 {
	p, _ := principal(c)
	return p.ID
}

// POST /api/v1/shop/checkout/preview
func (a *API) previewCheckout(c echo.Context) error {
	var req checkoutRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	q, err := a.deps.Orders.Preview(c.Request().Context(), req.toInput(shopperID(c), ""))
	if err != nil {
		return orderErr(err)
	}
	return c.JSON(http.StatusOK, toQuoteDTO(q))
}

// POST /api/v1/shop/orders (Idempotency-Key)
func (a *API) placeOrder(c echo.Context) error {
	var req checkoutRequest
	key, err := a.bindPlacement(c, &req)
	if err != nil {
		return err
	}
	o, err := a.deps.Orders.Place(c.Request().Context(), req.toInput(shopperID(c), key))
	if err != nil {
		return orderErr(err)
	}
	return c.JSON(http.StatusCreated, toOrderDTO(o, false))
}

// placement is a request that places an order: it names the payable its
// buyer saw.
type placement interface{ expectedPayable() *int64 }

// bindPlacement binds a placement into req and returns its Idempotency-Key.
func (a *API) bindPlacement(c echo.Context, req placement) (string, error) {
	if err := a.bindJSON(c, req); err != nil {
		return "", err
	}
	return placingKey(c, req.expectedPayable())
}

// fenOf is an optional amount in fen as domain money.
func fenOf(fen *int64) *domain.Fen {
	if fen == nil {
		return nil
	}
	f := domain.Fen(*fen)
	return &f
}

// placingKey checks that a placement names the payable its buyer saw and
// returns its Idempotency-Key (checked by order.Service.Place).
func placingKey(c echo.Context, expected *int64) (string, error) {
	if expected == nil {
		return "", domain.Invalid(domain.FieldError{Field: "expected_payable_fen", Code: "required",
			Message: "is required: send the payable_fen of the preview the buyer confirmed"})
	}
	return strings.TrimSpace(c.Request().Header.Get("Idempotency-Key")), nil
}

// GET /api/v1/shop/orders?status&cursor&limit
func (a *API) listOrders(c echo.Context) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	os, next, err := a.deps.Orders.List(c.Request().Context(), shopperID(c), order.Status(c.QueryParam("status")), page)
	if err != nil {
		return err
	}
	out := make([]orderDTO, len(os))
	for i, o := range os {
		out[i] = toOrderDTO(o, false)
	}
	return c.JSON(http.StatusOK, newList(out, next))
}

// GET /api/v1/shop/orders/{no}
func (a *API) getOrder(c echo.Context) error {
	o, err := a.deps.Orders.Get(c.Request().Context(), shopperID(c), c.Param("no"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toOrderDTO(o, false))
}

type cancelOrderRequest struct {
	Reason string `json:"reason" validate:"max=200"`
}

// POST /api/v1/shop/orders/{no}/cancel (body optional: {reason})
func (a *API) cancelOrder(c echo.Context) error {
	var req cancelOrderRequest
	if c.Request().ContentLength != 0 {
		if err := a.bindJSON(c, &req); err != nil {
			return err
		}
	}
	o, err := a.deps.Orders.Cancel(c.Request().Context(), shopperID(c), c.Param("no"), strings.TrimSpace(req.Reason))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toOrderDTO(o, false))
}

// POST /api/v1/shop/orders/{no}/confirm
func (a *API) confirmOrder(c echo.Context) error {
	o, err := a.deps.Orders.Confirm(c.Request().Context(), shopperID(c), c.Param("no"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toOrderDTO(o, false))
}

// GET /api/v1/admin/orders?no&status&shopper_id&from&to&cursor&limit
func (a *API) adminListOrders(c echo.Context) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	f := order.Filter{Number: strings.TrimSpace(c.QueryParam("no")), Status: order.Status(c.QueryParam("status"))}
	var fe []domain.FieldError
	if s := c.QueryParam("shopper_id"); s != "" {
		if f.ShopperID, err = strconv.ParseInt(s, 10, 64); err != nil || f.ShopperID <= 0 {
			fe = append(fe, domain.FieldError{Field: "shopper_id", Code: "format", Message: "must be a positive integer"})
		}
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		t, bad := dateParam(c, p.name, time.RFC3339)
		if bad != nil {
			fe = append(fe, *bad)
		}
		*p.dst = t
	}
	if len(fe) > 0 {
		return invalidFields(fe)
	}
	os, next, err := a.deps.Orders.Search(c.Request().Context(), f, page)
	if err != nil {
		return err
	}
	out := make([]orderDTO, len(os))
	for i, o := range os {
		out[i] = toOrderDTO(o, true)
	}
	return c.JSON(http.StatusOK, newList(out, next))
}

// GET /api/v1/admin/orders/{no}
func (a *API) adminGetOrder(c echo.Context) error {
	o, err := a.deps.Orders.AdminGet(c.Request().Context(), c.Param("no"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toOrderDTO(o, true))
}

type shipOrderRequest struct {
	// Method: express (default: carrier is a delivery_id of
	// GET /admin/delivery-companies), same_city or virtual (carrier and
	// tracking number optional).
	Method     string `json:"method" validate:"omitempty,oneof=express same_city virtual"`
	Carrier    string `json:"carrier" validate:"max=50"`
	TrackingNo string `json:"tracking_no" validate:"max=40"`
}

// POST /api/v1/admin/orders/{no}/ship
func (a *API) shipOrder(c echo.Context) error {
	var req shipOrderRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	o, err := a.deps.Orders.Ship(c.Request().Context(), order.ShipInput{Number: c.Param("no"),
		Method: order.ShipMethod(req.Method), Carrier: strings.TrimSpace(req.Carrier), TrackingNo: strings.TrimSpace(req.TrackingNo),
		By: actor(c), RequestID: requestID(c)})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toOrderDTO(o, true))
}
