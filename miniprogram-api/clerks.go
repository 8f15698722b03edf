package mpapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/clerk"
	"github.com/yutang/yutang/domain/order"
)

// desk is the signed-in staff member at the clerk's desk.
func desk(c echo.Context) clerk.Staff {
	p, _ := principal(c)
	return clerk.Staff{ID: p.ID, Name: p.Name, Role: p.Role, StoreID: p.StoreID}
}

// queryIDs reads optional positive integer query parameters (0 when absent).
func queryIDs(c echo.Context, names ...string) ([]int64, error) {
	out := make([]int64, len(names))
	var fe []domain.FieldError
	for i, name := range names {
		s := c.QueryParam(name)
		if s == "" {
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			fe = append(fe, domain.FieldError{Field: name, Code: "format", Message: "must be a positive integer"})
			continue
		}
		out[i] = n
	}
	if len(fe) > 0 {
		return nil, domain.Invalid(fe...)
	}
	return out, nil
}

// clerkOrderRequest is the body of POST /clerk/orders and its preview.
type clerkOrderRequest struct {
	Items []orderLineRequest `json:"items" validate:"required,min=1,max=50,dive"`
	// MemberPhone is the phone number bound to the member's account; empty
	// for a walk-in.
	MemberPhone string `json:"member_phone" validate:"omitempty,min=5,max=20"`
	// MemberCode is the member's dynamic code (GET /shop/member/code),
	// scanned: the alternative to member_phone. Placing uses it up.
	MemberCode         string  `json:"member_code" validate:"omitempty,max=32"`
	CouponIDs          []int64 `json:"coupon_ids" validate:"omitempty,max=20,dive,gt=0"`
	Points             int64   `json:"points" validate:"gte=0"`
	ExpectedPayableFen *int64  `json:"expected_payable_fen" validate:"omitempty,gte=0"`
	Note               string  `json:"note" validate:"max=200"`
}

func (r clerkOrderRequest) toInput(key string) clerk.OrderInput {
	in := clerk.OrderInput{MemberPhone: r.MemberPhone, MemberCode: r.MemberCode, CouponIDs: r.CouponIDs, Points: r.Points, Note: r.Note, IdempotencyKey: key}
	for _, it := range r.Items {
		in.Items = append(in.Items, order.LineRequest{SKUID: it.SKUID, Quantity: it.Quantity})
	}
	in.ExpectedPayable = fenOf(r.ExpectedPayableFen)
	return in
}

func (r clerkOrderRequest) expectedPayable() *int64 { return r.ExpectedPayableFen }

// clerkOrderDTO is an order as the clerk's desk sees it: the shopper's view
// plus where and by whom it was taken, and whether a member is attached.
type clerkOrderDTO struct {
	orderDTO
	StoreID   int64 `json:"store_id,omitempty"`
	ClerkID   int64 `json:"clerk_id,omitempty"`
	HasMember bool  `json:"has_member"`
}

func toClerkOrderDTO(o order.Order) clerkOrderDTO {
	return clerkOrderDTO{orderDTO: toOrderDTO(o, false), StoreID: o.StoreID, ClerkID: o.ClerkID, HasMember: o.ShopperID != 0}
}

// POST /api/v1/clerk/orders/preview
func (a *API) previewClerkOrder(c echo.Context) error {
	var req clerkOrderRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	q, err := a.deps.Clerks.Preview(c.Request().Context(), desk(c), req.toInput(""))
	if err != nil {
		return orderErr(err)
	}
	return c.JSON(http.StatusOK, toQuoteDTO(q))
}

// POST /api/v1/clerk/orders (Idempotency-Key)
func (a *API) placeClerkOrder(c echo.Context) error {
	var req clerkOrderRequest
	key, err := a.bindPlacement(c, &req)
	if err != nil {
		return err
	}
	o, err := a.deps.Clerks.Place(c.Request().Context(), desk(c), req.toInput(key))
	if err != nil {
		return orderErr(err)
	}
	return c.JSON(http.StatusCreated, toClerkOrderDTO(o))
}

// GET /api/v1/clerk/orders?status&store_id&cursor&limit
func (a *API) listClerkOrders(c echo.Context) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	ids, err := queryIDs(c, "store_id")
	if err != nil {
		return err
	}
	os, next, err := a.deps.Clerks.List(c.Request().Context(), desk(c),
		clerk.ListFilter{StoreID: ids[0], Status: order.Status(c.QueryParam("status"))}, page)
	if err != nil {
		return err
	}
	out := convertAll(os, toClerkOrderDTO)
	return c.JSON(http.StatusOK, newList(out, next))
}

// GET /api/v1/clerk/orders/{no} (the desk polls it until paid)
func (a *API) getClerkOrder(c echo.Context) error {
	o, err := a.deps.Clerks.Get(c.Request().Context(), desk(c), c.Param("no"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toClerkOrderDTO(o))
}

type collectRequest struct {
	Method string `json:"method" validate:"required,oneof=native_qr push"`
}

type collectionDTO struct {
	Method     string        `json:"method"`
	Order      clerkOrderDTO `json:"order"`
	CodeURL    string        `json:"code_url,omitempty"`
	QRPath     string        `json:"qr_path,omitempty"`
	OutTradeNo string        `json:"out_trade_no,omitempty"`
	ValidUntil *time.Time    `json:"valid_until,omitempty"`
}

// POST /api/v1/clerk/orders/{no}/collect {method: native_qr | push}
func (a *API) collectClerkOrder(c echo.Context) error {
	var req collectRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	col, err := a.deps.Clerks.Collect(c.Request().Context(), desk(c), c.Param("no"), clerk.Method(req.Method))
	if err != nil {
		return err
	}
	out := collectionDTO{Method: string(col.Method), Order: toClerkOrderDTO(col.Order), CodeURL: col.CodeURL,
		OutTradeNo: col.OutTradeNo, ValidUntil: optTime(col.ValidUntil)}
	if col.CodeURL != "" {
		out.QRPath = "/api/v1/clerk/orders/" + col.Order.Number + "/qr"
	}
	return c.JSON(http.StatusOK, out)
}

// GET /api/v1/clerk/orders/{no}/qr (image/png)
func (a *API) clerkOrderQR(c echo.Context) error {
	png, err := a.deps.Clerks.QRCode(c.Request().Context(), desk(c), c.Param("no"))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Blob(http.StatusOK, "image/png", png)
}

// POST /api/v1/clerk/orders/{no}/cancel (body optional: {reason})
func (a *API) cancelClerkOrder(c echo.Context) error {
	var req cancelOrderRequest
	if c.Request().ContentLength != 0 {
		if err := a.bindJSON(c, &req); err != nil {
			return err
		}
	}
	o, err := a.deps.Clerks.Cancel(c.Request().Context(), desk(c),
		clerk.CancelInput{Number: c.Param("no"), Reason: req.Reason, RequestID: requestID(c)})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toClerkOrderDTO(o))
}

type verifyPickupRequest struct {
	Code string `json:"code" validate:"required,max=32"`
}

// POST /api/v1/clerk/pickups/verify {code} (Idempotency-Key: a double tap
// with the same key answers the same)
func (a *API) verifyPickup(c echo.Context) error {
	var req verifyPickupRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	o, err := a.deps.Clerks.VerifyPickup(c.Request().Context(), desk(c), clerk.VerifyInput{Code: req.Code,
		IdempotencyKey: strings.TrimSpace(c.Request().Header.Get("Idempotency-Key")), RequestID: requestID(c)})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toClerkOrderDTO(o))
}

type deskStatsDTO struct {
	Orders      int64 `json:"orders"`
	GMVFen      int64 `json:"gmv_fen"`
	RefundedFen int64 `json:"refunded_fen"`
	NetGMVFen   int64 `json:"net_gmv_fen"`
	Customers   int64 `json:"customers"`
	Pickups     int64 `json:"pickups"`
	Visitors    int64 `json:"share_link_visitors"`
}

func toDeskStatsDTO(s clerk.Stats) deskStatsDTO {
	return deskStatsDTO{Orders: s.Orders, GMVFen: int64(s.GMV), RefundedFen: int64(s.Refunded),
		NetGMVFen: int64(s.GMV - s.Refunded), Customers: s.Customers, Pickups: s.Pickups, Visitors: s.Visitors}
}

type deskDayDTO struct {
	Day string `json:"day"`
	deskStatsDTO
}

type performanceDTO struct {
	From    string       `json:"from"`
	To      string       `json:"to"`
	StoreID int64        `json:"store_id,omitempty"`
	ClerkID int64        `json:"clerk_id,omitempty"`
	Total   deskStatsDTO `json:"total"`
	Days    []deskDayDTO `json:"days"`
}

// periodQuery reads from and to (dates, Asia/Shanghai), store_id and clerk_id.
func periodQuery(c echo.Context) (clerk.PeriodQuery, error) {
	rq, err := reportQuery(c)
	if err != nil {
		return clerk.PeriodQuery{}, err
	}
	ids, err := queryIDs(c, "store_id", "clerk_id")
	if err != nil {
		return clerk.PeriodQuery{}, err
	}
	return clerk.PeriodQuery{From: rq.From, To: rq.To, StoreID: ids[0], ClerkID: ids[1]}, nil
}

// GET /api/v1/clerk/performance?from&to&store_id&clerk_id
func (a *API) clerkPerformance(c echo.Context) error {
	q, err := periodQuery(c)
	if err != nil {
		return err
	}
	p, err := a.deps.Clerks.Performance(c.Request().Context(), desk(c), q)
	if err != nil {
		return err
	}
	out := performanceDTO{From: p.Query.From.Format(time.DateOnly), To: p.Query.To.Format(time.DateOnly),
		StoreID: p.Query.StoreID, ClerkID: p.Query.ClerkID, Total: toDeskStatsDTO(p.Total), Days: make([]deskDayDTO, len(p.Days))}
	for i, d := range p.Days {
		out.Days[i] = deskDayDTO{Day: d.Day.Format(time.DateOnly), deskStatsDTO: toDeskStatsDTO(d.Stats)}
	}
	return c.JSON(http.StatusOK, out)
}

type clerkStatsDTO struct {
	ClerkID  int64  `json:"clerk_id"`
	Username string `json:"username"`
	StoreID  int64  `json:"store_id"`
	deskStatsDTO
}

// GET /api/v1/clerk/store/performance?from&to&store_id&clerk_id&cursor&limit
func (a *API) storePerformance(c echo.Context) error {
	q, err := periodQuery(c)
	if err != nil {
		return err
	}
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	rows, next, err := a.deps.Clerks.StorePerformance(c.Request().Context(), desk(c), q, page)
	if err != nil {
		return err
	}
	out := make([]clerkStatsDTO, len(rows))
	for i, r := range rows {
		out[i] = clerkStatsDTO{ClerkID: r.ClerkID, Username: r.Username, StoreID: r.StoreID, deskStatsDTO: toDeskStatsDTO(r.Stats)}
	}
	return c.JSON(http.StatusOK, newList(out, next))
}

type customerDTO struct {
	ShopperID   int64     `json:"shopper_id"`
	Nickname    string    `json:"nickname"`
	Phone       string    `json:"phone"` // masked: 138****8000
	Orders      int64     `json:"orders"`
	GMVFen      int64     `json:"gmv_fen"`
	LastOrderAt time.Time `json:"last_order_at"`
}

// GET /api/v1/clerk/customers?store_id&clerk_id&cursor&limit
func (a *API) clerkCustomers(c echo.Context) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	ids, err := queryIDs(c, "store_id", "clerk_id")
	if err != nil {
		return err
	}
	cs, next, err := a.deps.Clerks.Customers(c.Request().Context(), desk(c), clerk.CustomerQuery{StoreID: ids[0], ClerkID: ids[1]}, page)
	if err != nil {
		return err
	}
	out := make([]customerDTO, len(cs))
	for i, x := range cs {
		out[i] = customerDTO{ShopperID: x.ShopperID, Nickname: x.Nickname, Phone: x.MaskedPhone, Orders: x.Orders,
			GMVFen: int64(x.GMV), LastOrderAt: x.LastOrderAt}
	}
	return c.JSON(http.StatusOK, newList(out, next))
}

type pickupDTO struct {
	OrderNo    string     `json:"order_no"`
	StoreID    int64      `json:"store_id"`
	Status     string     `json:"status"`
	Code       string     `json:"code,omitempty"`
	QRPath     string     `json:"qr_path,omitempty"`
	VerifiedAt *time.Time `json:"verified_at,omitempty"`
}

// GET /api/v1/shop/orders/{no}/pickup: the pickup code, once paid
func (a *API) shopPickup(c echo.Context) error {
	v, err := a.deps.Clerks.ShopperPickup(c.Request().Context(), shopperID(c), c.Param("no"))
	if err != nil {
		return err
	}
	out := pickupDTO{OrderNo: v.OrderNumber, StoreID: v.StoreID, Status: string(v.Status), Code: v.Code,
		VerifiedAt: optTime(v.VerifiedAt)}
	if v.Code != "" {
		out.QRPath = "/api/v1/shop/orders/" + v.OrderNumber + "/pickup/qr"
	}
	return c.JSON(http.StatusOK, out)
}

// GET /api/v1/shop/orders/{no}/pickup/qr (image/png)
func (a *API) shopPickupQR(c echo.Context) error {
	png, err := a.deps.Clerks.ShopperPickupQR(c.Request().Context(), shopperID(c), c.Param("no"))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "private, no-store")
	return c.Blob(http.StatusOK, "image/png", png)
}
