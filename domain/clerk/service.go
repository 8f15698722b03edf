package clerk

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/attribution"
	"github.com/yutang/yutang/domain/cashier"
	"github.com/yutang/yutang/domain/identity"
	"github.com/yutang/yutang/domain/order"
)

// Service is the clerk's desk.
type Service struct {
	Store   Store
	Members MemberCodes
	Orders  *order.Service
	Cashier *cashier.Service
	// QR draws a QR code as a PNG (the Native code_url, a pickup code).
	QR   func(content string) ([]byte, error)
	Now  func() time.Time
	Rand io.Reader // pickup codes; crypto/rand when nil
}

// MemberCodes resolves a member's dynamic code (the membership area): with
// use it is used up by the clerk, without only checked live.
type MemberCodes interface {
	CodeShopper(ctx context.Context, by domain.Actor, code string, use bool) (int64, error)
}

// ErrMemberTwice: an order names its member by code or by phone, not both.
var ErrMemberTwice = domain.Invalid(domain.FieldError{Field: "member_code", Code: "excluded_with", Message: "send member_code or member_phone, not both"})

func (s *Service) now() time.Time { return domain.Clock(s.Now).Now() }

// input is the in-store order of in, taken by st; placing uses the member
// code up (a preview only checks it).
func (s *Service) input(ctx context.Context, st Staff, in OrderInput, placing bool) (order.PlaceInput, error) {
	if !st.Role.StoreBound() || st.StoreID == 0 {
		return order.PlaceInput{}, ErrStoreStaffOnly
	}
	p := order.PlaceInput{Channel: order.ChannelInStore, StoreID: st.StoreID, ClerkID: st.ID, Items: in.Items,
		Fulfillment: order.FulfillmentRequest{Type: order.FulfillmentInStore}, CouponIDs: in.CouponIDs,
		Points: in.Points, ExpectedPayable: in.ExpectedPayable, Note: strings.TrimSpace(in.Note),
		IdempotencyKey: in.IdempotencyKey}
	code, phone := strings.TrimSpace(in.MemberCode), strings.TrimSpace(in.MemberPhone)
	if code != "" && phone != "" {
		return order.PlaceInput{}, ErrMemberTwice
	}
	if code != "" {
		if s.Members == nil {
			return order.PlaceInput{}, ErrMemberNotFound
		}
		id, err := s.Members.CodeShopper(ctx, st.Actor(), code, placing)
		if err != nil {
			return order.PlaceInput{}, err
		}
		p.ShopperID = id
	}
	if phone != "" {
		id, err := s.Store.ShopperByPhone(ctx, phone)
		if err != nil {
			return order.PlaceInput{}, err
		}
		p.ShopperID = id
	}
	return p, nil
}

// Preview prices an in-store order exactly as Place would.
func (s *Service) Preview(ctx context.Context, st Staff, in OrderInput) (order.Quote, error) {
	p, err := s.input(ctx, st, in, false)
	if err != nil {
		return order.Quote{}, err
	}
	p.ExpectedPayable = nil
	return s.Orders.Preview(ctx, p)
}

// Place places an in-store order for a member or a walk-in, taken by st in
// their store (idempotent by in.IdempotencyKey, the payable checked).
func (s *Service) Place(ctx context.Context, st Staff, in OrderInput) (order.Order, error) {
	p, err := s.input(ctx, st, in, true)
	if err != nil {
		return order.Order{}, err
	}
	return s.Orders.Place(ctx, p)
}

// Get returns an order of st's store (anything else is not found).
func (s *Service) Get(ctx context.Context, st Staff, number string) (order.Order, error) {
	o, err := s.Orders.AdminGet(ctx, number)
	if err != nil {
		return order.Order{}, err
	}
	if !st.seesOrder(o) {
		return order.Order{}, order.ErrOrderNotFound
	}
	return o, nil
}

// storeScope is the store st reads when asking for storeID (0: not said):
// store staff read theirs (another store is not found), admins any (0:
// every store).
func (st Staff) storeScope(storeID int64) (int64, error) {
	if st.admin() {
		return storeID, nil
	}
	if !st.Role.StoreBound() || (storeID != 0 && storeID != st.StoreID) {
		return 0, ErrStoreNotFound
	}
	return st.StoreID, nil
}

// List lists the in-store and pickup orders of st's store, newest first.
func (s *Service) List(ctx context.Context, st Staff, f ListFilter, page domain.Page) ([]order.Order, string, error) {
	if f.Status != "" && !f.Status.Valid() {
		return nil, "", domain.Invalid(domain.FieldError{Field: "status", Code: "oneof", Message: "must be one of: pending_payment paid shipped completed cancelled"})
	}
	var err error
	if f.StoreID, err = st.storeScope(f.StoreID); err != nil {
		return nil, "", err
	}
	page.Limit = domain.BoundLimit(page.Limit)
	return s.Store.StoreOrders(ctx, f, page)
}

// inStore returns an unpaid-or-not in-store order of st's store.
func (s *Service) inStore(ctx context.Context, st Staff, number string) (order.Order, error) {
	o, err := s.Get(ctx, st, number)
	if err != nil {
		return order.Order{}, err
	}
	if o.Channel != order.ChannelInStore {
		return order.Order{}, ErrNotInStore
	}
	return o, nil
}

// Collect starts collecting an in-store order's payment: a Native QR code
// for the customer to scan (a valid one is handed out again), or a push to
// the member, who pays it in their mini-program (the order is among their
// orders, paid with the JSAPI pay route). Both may be open at once;
// whichever is paid first pays the order.
func (s *Service) Collect(ctx context.Context, st Staff, number string, m Method) (Collection, error) {
	if m != MethodNativeQR && m != MethodPush {
		return Collection{}, ErrBadMethod
	}
	o, err := s.inStore(ctx, st, number)
	if err != nil {
		return Collection{}, err
	}
	if m == MethodPush {
		if o.ShopperID == 0 {
			return Collection{}, ErrNoMember
		}
		if o.Status != order.StatusPendingPayment {
			return Collection{}, cashier.ErrAlreadyPaid
		}
		return Collection{Method: m, Order: o}, nil
	}
	a, err := s.Cashier.Collect(ctx, o.StoreID, o.Number)
	if err != nil {
		return Collection{}, err
	}
	return Collection{Method: m, Order: o, CodeURL: a.CodeURL, OutTradeNo: a.OutTradeNo, ValidUntil: a.PrepayValidUntil}, nil
}

// QRCode draws the QR code of an in-store order's current Native payment.
func (s *Service) QRCode(ctx context.Context, st Staff, number string) ([]byte, error) {
	o, err := s.inStore(ctx, st, number)
	if err != nil {
		return nil, err
	}
	if o.Status != order.StatusPendingPayment {
		return nil, cashier.ErrAlreadyPaid
	}
	a, err := s.Cashier.OpenAttempt(ctx, o.Number, cashier.TradeNative)
	if errors.Is(err, cashier.ErrNoAttempt) || (err == nil && (a.CodeURL == "" || !s.now().Before(a.PrepayValidUntil))) {
		return nil, ErrNoQRCode
	}
	if err != nil {
		return nil, err
	}
	return s.QR(a.CodeURL)
}

// CancelInput is a clerk cancelling an unpaid in-store order.
type CancelInput struct {
	Number    string
	Reason    string
	RequestID string
}

// Cancel cancels an unpaid in-store order of st's store: its payment
// attempts are closed at WeChat Pay first (a payment WeChat Pay reports
// instead is applied, and the order is then paid, not cancelled), then the
// order is cancelled by staff, its stock released, audited.
func (s *Service) Cancel(ctx context.Context, st Staff, in CancelInput) (order.Order, error) {
	o, err := s.inStore(ctx, st, in.Number)
	if err != nil {
		return order.Order{}, err
	}
	if o.Status == order.StatusPendingPayment {
		if err := s.Cashier.CloseAttempts(ctx, o.Number); err != nil {
			return order.Order{}, fmt.Errorf("clerk: cancel: %w", err)
		}
	}
	reason := strings.TrimSpace(in.Reason)
	if reason == "" {
		reason = "cancelled by the clerk"
	}
	return s.Orders.StaffCancel(ctx, order.StaffCancelInput{Number: o.Number, Reason: reason, By: st.Actor(), RequestID: in.RequestID})
}

// --- pickup ---

const pickupCodeLen = 12

// newPickupCode is 12 random decimal digits (about 40 bits): short enough
// to read out at the counter, and only ever accepted from staff of the
// pickup store.
func (s *Service) newPickupCode() (string, error) {
	r := s.Rand
	if r == nil {
		r = rand.Reader
	}
	var b [pickupCodeLen]byte
	out := make([]byte, pickupCodeLen)
	for i := 0; i < pickupCodeLen; {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return "", fmt.Errorf("clerk: pickup code: %w", err)
		}
		for _, c := range b {
			if c < 250 && i < pickupCodeLen { // 250 = 25 × 10: no modulo bias
				out[i] = '0' + c%10
				i++
			}
		}
	}
	return string(out), nil
}

// IssuePickupCode gives a just-placed pickup order its hand-over code; other
// orders get none. It runs in the placing transaction (a placed handler).
func (s *Service) IssuePickupCode(ctx context.Context, tx Store, e order.Event) error {
	o, err := e.PlacedOrder()
	if err != nil {
		return err
	}
	storeID := o.PickupStore
	if o.Fulfillment != order.FulfillmentPickup || storeID == 0 {
		return nil
	}
	for try := 0; try < 5; try++ {
		code, err := s.newPickupCode()
		if err != nil {
			return err
		}
		ok, err := tx.IssuePickupCode(ctx, Pickup{OrderID: e.OrderID, StoreID: storeID, Code: code, CreatedAt: e.At})
		if err != nil || ok {
			return err
		}
	}
	return fmt.Errorf("clerk: pickup code: %w", domain.ErrUnavailable)
}

// VerifyInput is a clerk handing over a pickup order by its code.
type VerifyInput struct {
	Code           string
	IdempotencyKey string // a repeat with the same key answers the same
	RequestID      string
}

// VerifyPickup hands over a paid pickup order of st's store by its code:
// the order is completed (picked up) through its lifecycle, audited. A code
// of another store, of an unpaid or cancelled order, or already used is
// refused; a repeat of the same request (same Idempotency-Key) answers the
// completed order again.
func (s *Service) VerifyPickup(ctx context.Context, st Staff, in VerifyInput) (order.Order, error) {
	if !st.Role.StoreBound() || st.StoreID == 0 {
		return order.Order{}, ErrStoreStaffOnly
	}
	code := strings.TrimSpace(in.Code)
	if len(code) != pickupCodeLen || strings.Trim(code, "0123456789") != "" {
		return order.Order{}, domain.Invalid(domain.FieldError{Field: "code", Code: "format", Message: "must be the 12 digits of a pickup code"})
	}
	if len(in.IdempotencyKey) > 128 {
		return order.Order{}, order.ErrIdempotencyKey
	}
	now := s.now()
	var out order.Order
	err := s.Store.InTx(ctx, func(tx Store) error {
		p, err := tx.Pickup(ctx, code)
		if err != nil {
			return err
		}
		if p.StoreID != st.StoreID {
			return ErrPickupOtherStore
		}
		o, err := tx.Order(ctx, p.OrderNumber, true)
		if err != nil {
			return err
		}
		if !p.VerifiedAt.IsZero() {
			if in.IdempotencyKey != "" && in.IdempotencyKey == p.VerifyKey && p.VerifiedBy == st.ID {
				out = o
				return nil
			}
			return ErrPickupUsed.WithMessage("This pickup code was already used at %s: the order was handed over.",
				p.VerifiedAt.In(domain.Shanghai).Format("2006-01-02 15:04"))
		}
		switch o.Status {
		case order.StatusPendingPayment:
			return ErrPickupUnpaid
		case order.StatusCancelled:
			return ErrPickupCancelled
		}
		if err := o.Status.Transition(order.StatusCompleted, o.Fulfillment); err != nil {
			return err
		}
		before := o.Status
		o.Status, o.CompletedAt = order.StatusCompleted, now
		if err := tx.UpdateStatus(ctx, o); err != nil {
			return err
		}
		if err := tx.MarkPickupVerified(ctx, o.ID, st.ID, in.IdempotencyKey, now); err != nil {
			return err
		}
		if err := tx.Raise(ctx, order.Event{Moment: order.MomentCompleted, Cause: order.CausePickedUp, OrderID: o.ID,
			OrderNumber: o.Number, ShopperID: o.ShopperID, Channel: o.Channel, StoreID: o.StoreID, ClerkID: o.ClerkID,
			Payable: o.Payable, At: now, By: st.Actor()}); err != nil {
			return err
		}
		out = o
		return tx.Audit(ctx, domain.AuditEntry{Actor: st.Actor(), Action: "order.pickup_verify", Entity: "order",
			EntityID: o.Number, Before: map[string]any{"status": before},
			After: map[string]any{"status": o.Status, "store_id": st.StoreID}, RequestID: in.RequestID, At: now})
	})
	if err != nil {
		return order.Order{}, fmt.Errorf("clerk: verify pickup: %w", err)
	}
	return out, nil
}

// ShopperPickup is what a shopper is shown of their pickup order: the code
// once it is paid.
func (s *Service) ShopperPickup(ctx context.Context, shopperID int64, number string) (PickupView, error) {
	o, err := s.Orders.Get(ctx, shopperID, number)
	if err != nil {
		return PickupView{}, err
	}
	if o.Fulfillment != order.FulfillmentPickup {
		return PickupView{}, ErrNotPickup
	}
	p, err := s.Store.PickupOf(ctx, o.ID)
	if err != nil {
		return PickupView{}, err
	}
	v := PickupView{OrderNumber: o.Number, StoreID: p.StoreID, VerifiedAt: p.VerifiedAt}
	switch {
	case !p.VerifiedAt.IsZero():
		v.Status = PickupPickedUp
	case o.Status == order.StatusCancelled:
		v.Status = PickupCancelled
	case o.Status == order.StatusPendingPayment:
		v.Status = PickupAwaitingPayment
	default:
		v.Status, v.Code = PickupReady, p.Code
	}
	return v, nil
}

// ShopperPickupQR draws the QR code of a shopper's ready pickup code.
func (s *Service) ShopperPickupQR(ctx context.Context, shopperID int64, number string) ([]byte, error) {
	v, err := s.ShopperPickup(ctx, shopperID, number)
	if err != nil {
		return nil, err
	}
	if v.Code == "" {
		return nil, domain.E(domain.KindConflict, "pickup_not_ready", "The pickup code is shown once the order is paid.")
	}
	return s.QR(v.Code)
}

// --- numbers ---

// MaxPeriodDays bounds a performance period.
const MaxPeriodDays = 366

func (s *Service) period(q *PeriodQuery) error {
	now := s.now().In(domain.Shanghai)
	if q.To.IsZero() {
		q.To = now
	}
	if q.From.IsZero() {
		q.From = q.To.AddDate(0, 0, -29)
	}
	q.From, q.To = attribution.Day(q.From), attribution.Day(q.To)
	if q.To.Before(q.From) {
		return domain.Invalid(domain.FieldError{Field: "to", Code: "gtefield", Message: "must not be before from"})
	}
	if q.To.Sub(q.From) > MaxPeriodDays*24*time.Hour {
		return domain.Invalid(domain.FieldError{Field: "from", Code: "range", Message: "the period is at most 366 days"})
	}
	return nil
}

// clerkScope is the clerk st reads when asking for clerkID (0: not said): a
// clerk reads only their own numbers; a store manager any clerk of the
// store (0: all); an admin any clerk.
func (s *Service) clerkScope(ctx context.Context, st Staff, storeID, clerkID int64) (int64, error) {
	if st.Role == identity.RoleClerk {
		if clerkID != 0 && clerkID != st.ID {
			return 0, ErrClerkNotFound
		}
		return st.ID, nil
	}
	if clerkID == 0 {
		return 0, nil
	}
	at, err := s.Store.StaffStore(ctx, clerkID)
	if err != nil {
		return 0, err
	}
	if (storeID != 0 && at != storeID) || !st.sees(at) {
		return 0, ErrClerkNotFound
	}
	return clerkID, nil
}

func (s *Service) scope(ctx context.Context, st Staff, storeID, clerkID int64) (int64, int64, error) {
	storeID, err := st.storeScope(storeID)
	if err != nil {
		return 0, 0, err
	}
	clerkID, err = s.clerkScope(ctx, st, storeID, clerkID)
	return storeID, clerkID, err
}

// Performance answers the numbers of st (a clerk), or of a clerk or the
// whole store (a store manager, an admin), over a period, by day.
func (s *Service) Performance(ctx context.Context, st Staff, q PeriodQuery) (Performance, error) {
	if err := s.period(&q); err != nil {
		return Performance{}, err
	}
	var err error
	if q.StoreID, q.ClerkID, err = s.scope(ctx, st, q.StoreID, q.ClerkID); err != nil {
		return Performance{}, err
	}
	days, err := s.Store.Performance(ctx, q)
	if err != nil {
		return Performance{}, fmt.Errorf("clerk: performance: %w", err)
	}
	p := Performance{Query: q, Days: days}
	for _, d := range days {
		p.Total.Orders += d.Orders
		p.Total.GMV += d.GMV
		p.Total.Refunded += d.Refunded
		p.Total.Pickups += d.Pickups
		p.Total.Visitors += d.Visitors
	}
	// Distinct customers over the period are not the sum of the days'.
	if p.Total.Customers, err = s.Store.DistinctCustomers(ctx, q); err != nil {
		return Performance{}, fmt.Errorf("clerk: performance: %w", err)
	}
	return p, nil
}

// StorePerformance answers a store's numbers by clerk (store managers and
// admins).
func (s *Service) StorePerformance(ctx context.Context, st Staff, q PeriodQuery, page domain.Page) ([]ClerkStats, string, error) {
	if st.Role == identity.RoleClerk {
		return nil, "", ErrManagerOnly
	}
	if err := s.period(&q); err != nil {
		return nil, "", err
	}
	var err error
	if q.StoreID, q.ClerkID, err = s.scope(ctx, st, q.StoreID, q.ClerkID); err != nil {
		return nil, "", err
	}
	page.Limit = domain.BoundLimit(page.Limit)
	return s.Store.ClerkPerformance(ctx, q, page)
}

// Customers lists the members who bought in store from st (a clerk), or
// from the store's clerks (a store manager; an admin: any store), phones
// masked.
func (s *Service) Customers(ctx context.Context, st Staff, q CustomerQuery, page domain.Page) ([]Customer, string, error) {
	var err error
	if q.StoreID, q.ClerkID, err = s.scope(ctx, st, q.StoreID, q.ClerkID); err != nil {
		return nil, "", err
	}
	page.Limit = domain.BoundLimit(page.Limit)
	return s.Store.Customers(ctx, q, page)
}
