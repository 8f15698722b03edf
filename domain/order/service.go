package order

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/pricing"
	"github.com/yutang/yutang/domain/readcache"
)

// Store is what orders need from the database. Every method but InTx may
// run inside a transaction opened by InTx (on the Store passed to fn).
type Store interface {
	// InTx runs fn in one transaction; fn's Store runs in it.
	InTx(ctx context.Context, fn func(Store) error) error
	// Raise runs the handlers of a moment of an order's life in the
	// transaction (see Lifecycle); an error refuses the change.
	Raiser

	// SKUs returns the SKUs with these ids (missing ids are left out).
	SKUs(ctx context.Context, ids []int64) ([]SKU, error)
	// Address returns a live address of the shopper (ErrAddressNotFound).
	Address(ctx context.Context, shopperID, addressID int64) (AddressSnapshot, error)
	// StoreOpen reports whether the store exists and is open.
	StoreOpen(ctx context.Context, storeID int64) (bool, error)
	// SelectedCartLines returns the shopper's selected cart lines.
	SelectedCartLines(ctx context.Context, shopperID int64) ([]LineRequest, error)
	// RemoveCartLines removes the shopper's cart lines of these SKUs.
	RemoveCartLines(ctx context.Context, shopperID int64, skuIDs []int64) error

	// ClaimIdempotencyKey records key for (scope, subject) with the request
	// hash and the number of the order this request will place (the
	// transaction commits the key and the order together, or neither),
	// holding it until the transaction ends; a concurrent claim of the same
	// key waits. When the key was already used it returns the order number
	// recorded with it (replay true), or domain.ErrIdempotencyKeyReused when
	// the hash differs.
	ClaimIdempotencyKey(ctx context.Context, scope, subject, key string, hash []byte, orderNo string) (prevNo string, replay bool, err error)
	// IdempotencyKeyUsed reports whether key was claimed for (scope,
	// subject) by a committed request (a read: it waits for nothing).
	IdempotencyKeyUsed(ctx context.Context, scope, subject, key string) (bool, error)
	// SKUBuyers answers the shoppers of the orders (any status) with a line
	// of any of the SKUs, each with the keys that placed those orders as
	// the shopper (claimed under scope; none for an order a clerk placed),
	// reading at most limit order lines; complete is false when there were
	// more.
	SKUBuyers(ctx context.Context, scope string, skuIDs []int64, limit int) (buyers map[int64][]string, complete bool, err error)

	// ReserveStock moves qty of a SKU from available to reserved with a
	// conditional update and a ledger entry: ErrOutOfStock when fewer are
	// available or the SKU is off sale.
	ReserveStock(ctx context.Context, skuID int64, qty int, ref string, actor domain.Actor, at time.Time) error
	// ReleaseStock moves qty back from reserved to available (ledger entry).
	ReleaseStock(ctx context.Context, skuID int64, qty int, ref string, actor domain.Actor, at time.Time) error

	// CreateOrder writes an order, its items and their adjustments and
	// returns it with its ids (the order's, each item's and adjustment's).
	CreateOrder(ctx context.Context, o Order) (Order, error)
	// Order returns an order by number with its items and their
	// adjustments (ErrOrderNotFound); shopperID > 0 restricts it to that
	// shopper's orders; forUpdate locks the row.
	Order(ctx context.Context, number string, shopperID int64, forUpdate bool) (Order, error)
	// UpdateStatus writes an order's status and the fields that go with it
	// (paid/shipped/completed/cancelled times, carrier, tracking number,
	// cancel reason), taken from o.
	UpdateStatus(ctx context.Context, o Order) error
	// ListOrders lists a shopper's orders, newest first.
	ListOrders(ctx context.Context, shopperID int64, status Status, page domain.Page) ([]Order, string, error)
	// SearchOrders lists orders for the back office, newest first.
	SearchOrders(ctx context.Context, f Filter, page domain.Page) ([]Order, string, error)
	// ShippedBefore locks up to limit shipped orders shipped before cutoff,
	// skipping rows other workers hold (FOR UPDATE SKIP LOCKED).
	ShippedBefore(ctx context.Context, cutoff time.Time, limit int) ([]Order, error)
	// PendingExpired locks up to limit unpaid orders that expired before
	// now (FOR UPDATE SKIP LOCKED).
	PendingExpired(ctx context.Context, now time.Time, limit int) ([]Order, error)
	// Audit records an admin write in the transaction.
	Audit(ctx context.Context, e domain.AuditEntry) error
}

// Service is the use cases of orders.
type Service struct {
	Store   Store
	Now     func() time.Time
	Rand    io.Reader // order numbers; crypto/rand when nil
	Pricing *pricing.Engine
	// Freight is the brand's delivery fee rule.
	Freight pricing.FreightRule
	// TTL is how long an unpaid order holds its stock (default 15 minutes).
	TTL time.Duration
	// AutoConfirmAfter is how long after shipping receipt is confirmed
	// automatically (default 10 days).
	AutoConfirmAfter time.Duration
	// Membership prices a shopper's checkout as a member (tier discount,
	// member prices, points); nil: no member benefits and no points.
	Membership Membership
	// Promotions gives the checkout its campaign prices and the shopper's
	// coupons (nil: none; coupons are refused).
	Promotions Promotions
	// Payments closes an unpaid order's payment attempts at the provider
	// before a shopper's cancel (nil: nothing to close). When it reports the
	// order paid meanwhile, the cancel fails with that error.
	Payments PaymentCloser
	// SoldOut remembers sold-out answers for a moment (soldOut; nil:
	// every check reads): the crowd still trying after a flash sale's last
	// unit is refused without a read each.
	SoldOut *SoldOutMemo
}

// SoldOutMemo keeps what the sold-out check read under the catalog's
// version (see soldOut).
type SoldOutMemo struct {
	kept *readcache.Cache[soldOutView]
}

// NewSoldOutMemo keeps the check's reads while catalog is unchanged.
func NewSoldOutMemo(catalog *readcache.Version) *SoldOutMemo {
	return &SoldOutMemo{kept: readcache.New[soldOutView](catalog, 10_000)}
}

// PaymentCloser closes an order's open payment attempts at the provider and
// confirms it there (cashier.Service.CloseAttempts).
type PaymentCloser interface {
	CloseAttempts(ctx context.Context, number string) error
}

// Membership is what a quote learns of the shopper's membership: their
// tier's price benefits (nil: not a member), the member prices of those
// SKUs that have one, and the points rule for the points they offer (it
// refuses points they do not hold).
type Membership interface {
	Benefits(ctx context.Context, shopperID int64, skuIDs []int64, points int64) (*pricing.Member, map[int64]domain.Fen, pricing.Points, error)
}

// IdempotencyScope is the scope of order placement keys.
const IdempotencyScope = "shop.orders"

func (s *Service) now() time.Time { return domain.Clock(s.Now).Now() }

func (s *Service) engine() *pricing.Engine {
	if s.Pricing != nil {
		return s.Pricing
	}
	return pricing.NewEngine()
}

func (s *Service) ttl() time.Duration {
	if s.TTL > 0 {
		return s.TTL
	}
	return 15 * time.Minute
}

// Preview prices a checkout exactly as Place would, without holding
// anything.
func (s *Service) Preview(ctx context.Context, in PlaceInput) (Quote, error) {
	now := s.now()
	lines, lerr := s.lines(ctx, s.Store, in)
	o, err := s.offers(ctx, in, lines, lerr, true, now)
	if err != nil {
		return Quote{}, err
	}
	q, _, err := s.quote(ctx, s.Store, in, lines, lerr, o, true, now)
	return q, err
}

// Place places an order in one transaction: it prices the checkout, checks
// the payable the shopper saw, reserves the stock (conditional updates and
// ledger entries, in SKU order so concurrent orders cannot deadlock),
// snapshots the lines and the address and writes the order, pending payment
// until its expiry. With an idempotency key, a retry returns the first
// order.
func (s *Service) Place(ctx context.Context, in PlaceInput) (Order, error) {
	if l := len(in.IdempotencyKey); l < 1 || l > 128 {
		return Order{}, ErrIdempotencyKey
	}
	now := s.now()
	number, err := NewNumber(now, s.rand())
	if err != nil {
		return Order{}, err
	}
	if err := in.checkChannel(); err != nil {
		return Order{}, err
	}
	subject := in.subject()
	// The lines as they are now, read once: for the checks before the
	// transaction, the offers and the quote inside it. Reading the cart
	// again inside would lock nothing (the stock's conditional updates
	// decide) and could price lines the offers were not read for.
	lines, lerr := s.lines(ctx, s.Store, in)
	if lerr == nil {
		if err := s.soldOut(ctx, in, lines, subject); err != nil {
			return Order{}, fmt.Errorf("order: place: %w", err)
		}
	}
	offers, err := s.offers(ctx, in, lines, lerr, false, now)
	if err != nil {
		return Order{}, fmt.Errorf("order: place: %w", err)
	}
	var out Order
	err = s.Store.InTx(ctx, func(tx Store) error {
		// The key is claimed with the number of the order it places: one
		// statement, no completing update (a rollback takes both away).
		prev, replay, err := tx.ClaimIdempotencyKey(ctx, IdempotencyScope, subject.String(), in.IdempotencyKey, in.Hash(), number)
		if err != nil {
			return err
		}
		if replay {
			out, err = tx.Order(ctx, prev, in.ShopperID, false)
			return err
		}
		q, addr, err := s.quote(ctx, tx, in, lines, lerr, offers, false, now)
		if err != nil {
			return err
		}
		if in.ExpectedPayable != nil && *in.ExpectedPayable != q.Breakdown.Payable {
			return ErrPriceChanged.WithMessage("The total is now ¥%s (you saw ¥%s); please check it and confirm again.",
				q.Breakdown.Payable.Yuan(), in.ExpectedPayable.Yuan()).WithDetails(q)
		}
		o := newOrder(number, in, q, addr, now, now.Add(s.ttl()))
		o, err = tx.CreateOrder(ctx, o)
		if err != nil {
			return err
		}
		e := o.event(MomentPlaced, "", subject, now)
		e.Balance, e.Placed = in.Balance, &o
		if err := tx.Raise(ctx, e); err != nil {
			return err
		}
		if in.FromCart {
			ids := make([]int64, len(q.Lines))
			for i, l := range q.Lines {
				ids[i] = l.SKU.ID
			}
			if err := tx.RemoveCartLines(ctx, in.ShopperID, ids); err != nil {
				return err
			}
		}
		// Stock last (lifecycle.go): the SKU rows every buyer of an item
		// shares stay locked only from here to the commit.
		byID := slices.Clone(q.Lines)
		slices.SortFunc(byID, func(a, b QuoteLine) int { return compareInt64(a.SKU.ID, b.SKU.ID) })
		for _, l := range byID {
			if err := tx.ReserveStock(ctx, l.SKU.ID, l.Quantity, number, subject, now); err != nil {
				if errors.Is(err, ErrOutOfStock) {
					return outOfStock(l.SKU, l.Quantity)
				}
				return err
			}
		}
		out = o
		return nil
	})
	if err != nil {
		return Order{}, fmt.Errorf("order: place: %w", err)
	}
	return out, nil
}

func (s *Service) rand() io.Reader {
	if s.Rand != nil {
		return s.Rand
	}
	return rand.Reader
}

func compareInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// soldOut answers ErrOutOfStock when a line asks for more than its SKU has
// left, before any offer is read or transaction begun: the crowd of a flash
// sale after its last unit gets its answer from a read or two instead of a
// placing transaction. A key already used goes the whole way, so a retry of
// a placed order still answers that order. Anything else this check cannot
// decide is left to the transaction, which decides everything again under
// its locks.
//
// With a SoldOut memo, the SKUs read are kept under the catalog's version
// (a SKU row changes only with it), and, when one was short, with the
// shoppers who have ever ordered any of them and the keys those orders were
// placed with. Only those keys can replay an order of these SKUs, so a
// shopper's try is answered with no read at all: a retry of one of their
// orders goes on to the transaction, anything else is sold out (a key
// reused for a different request is then refused as sold out rather than as
// reused: both refuse). A clerk's key is still looked up. Like the shop's
// pages, what is kept shows a write through this server at once and one
// through another within the version's Fresh (plus Grace); it never sells
// anything.
func (s *Service) soldOut(ctx context.Context, in PlaceInput, lines []LineRequest, subject domain.Actor) error {
	ids := make([]int64, len(lines))
	for i, l := range lines {
		ids[i] = l.SKUID
	}
	read := func(ctx context.Context) (soldOutView, time.Time, error) {
		ks, err := s.Store.SKUs(ctx, ids)
		v := soldOutView{skus: ks}
		if _, _, short := shortLine(lines, ks); err == nil && short && s.SoldOut != nil {
			// The buyers are worth a read only when they will be kept.
			v.buyers, v.complete, err = s.Store.SKUBuyers(ctx, IdempotencyScope, ids, maxKeptBuyerLines)
		}
		return v, time.Time{}, err
	}
	var v soldOutView
	var err error
	if s.SoldOut != nil {
		v, err = s.SoldOut.kept.Get(ctx, skuSetKey(ids), read)
	} else {
		v, _, err = read(ctx)
	}
	if err != nil {
		return err
	}
	k, want, short := shortLine(lines, v.skus)
	if !short {
		return nil
	}
	if subject.Kind == "shopper" && v.complete {
		keys, bought := v.buyers[subject.ID]
		if !bought || !slices.Contains(keys, in.IdempotencyKey) {
			return outOfStock(k, want)
		}
		return nil // a retry of an order of these SKUs: the transaction answers it
	}
	used, err := s.Store.IdempotencyKeyUsed(ctx, IdempotencyScope, subject.String(), in.IdempotencyKey)
	if err != nil || used {
		return err
	}
	return outOfStock(k, want)
}

// soldOutView is what the sold-out check reads: the SKUs, and when one was
// short, the shoppers who had ordered any of them with the keys that placed
// those orders (complete false when they were not read or were too many to
// keep).
type soldOutView struct {
	skus     []SKU
	buyers   map[int64][]string
	complete bool
}

// maxKeptBuyerLines bounds the order lines read for a sold-out answer: a
// flash sale's few hundred; past it every try's key is looked up.
const maxKeptBuyerLines = 2000

// skuSetKey names a set of SKUs, whatever their order.
func skuSetKey(ids []int64) string {
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	key := make([]byte, 0, 8*len(sorted))
	for _, id := range sorted {
		key = strconv.AppendInt(append(key, ','), id, 10)
	}
	return string(key)
}

// shortLine finds the first line asking for more than its SKU has left.
func shortLine(lines []LineRequest, ks []SKU) (SKU, int, bool) {
	for _, l := range lines {
		for _, k := range ks {
			if k.ID == l.SKUID && k.Stock < l.Quantity {
				return k, l.Quantity, true
			}
		}
	}
	return SKU{}, 0, false
}

func outOfStock(k SKU, want int) error {
	return ErrOutOfStock.WithMessage("Sorry, %s is sold out or has fewer than %d left.", k.Title, want).
		WithDetails(StockProblem{SKUID: k.ID, Requested: want, Available: k.Stock})
}

// quote loads and checks the SKUs of the lines (as s.lines resolved them,
// or its error), the fulfillment and the benefits, and prices the checkout.
func (s *Service) quote(ctx context.Context, st Store, in PlaceInput, lines []LineRequest, linesErr error, offers offers, preview bool, now time.Time) (Quote, *AddressSnapshot, error) {
	if linesErr != nil {
		return Quote{}, nil, linesErr
	}
	if in.Points < 0 || in.Balance < 0 {
		return Quote{}, nil, domain.Invalid(domain.FieldError{Field: "points", Code: "gte", Message: "points and balance must not be negative"})
	}
	member := s.Membership != nil && in.ShopperID > 0
	if in.Points > 0 && !member {
		return Quote{}, nil, ErrPointsUnavail
	}
	if in.Balance > 0 && !member {
		return Quote{}, nil, ErrBalanceUnavail
	}
	if len([]rune(in.Note)) > MaxNoteLen {
		return Quote{}, nil, domain.Invalid(domain.FieldError{Field: "note", Code: "max", Message: "must have at most 200 characters"})
	}
	ids := make([]int64, len(lines))
	for i, l := range lines {
		ids[i] = l.SKUID
	}
	skus, err := st.SKUs(ctx, ids)
	if err != nil {
		return Quote{}, nil, err
	}
	byID := make(map[int64]SKU, len(skus))
	for _, k := range skus {
		byID[k.ID] = k
	}
	q := Quote{Fulfillment: in.Fulfillment.Type, Lines: make([]QuoteLine, len(lines))}
	pin := pricing.Input{Fulfillment: pricing.Fulfillment{Type: pricing.FulfillmentType(in.Fulfillment.Type)},
		Freight: s.Freight, Now: now, Lines: make([]pricing.Line, len(lines))}
	// Read before the transaction (see offers).
	memberPrices := offers.memberPrices
	pin.Member, pin.Points = offers.member, offers.points
	for i, l := range lines {
		k, ok := byID[l.SKUID]
		if !ok {
			return Quote{}, nil, ErrSKUNotFound.WithDetails(StockProblem{SKUID: l.SKUID, Requested: l.Quantity})
		}
		if !k.OnSale {
			return Quote{}, nil, ErrSKUOffSale.WithMessage("%s is no longer on sale.", k.Title).
				WithDetails(StockProblem{SKUID: k.ID, Requested: l.Quantity})
		}
		if limit := LineLimit(k); l.Quantity > limit {
			return Quote{}, nil, ErrOverLimit.WithMessage("You can buy at most %d of %s in one order.", limit, k.Title).
				WithDetails(StockProblem{SKUID: k.ID, Requested: l.Quantity, Available: limit})
		}
		if k.Stock < l.Quantity {
			return Quote{}, nil, outOfStock(k, l.Quantity)
		}
		q.Lines[i] = QuoteLine{SKU: k, Quantity: l.Quantity}
		pin.Lines[i] = pricing.Line{SKUID: k.ID, ProductID: k.ProductID, CategoryID: k.CategoryID,
			Quantity: l.Quantity, UnitPrice: k.Price}
		if mp, ok := memberPrices[k.ID]; ok {
			pin.Lines[i].MemberPrice = &mp
		}
	}
	var addr *AddressSnapshot
	switch in.Fulfillment.Type {
	case FulfillmentDelivery:
		if in.Fulfillment.AddressID <= 0 {
			return Quote{}, nil, domain.Invalid(domain.FieldError{Field: "fulfillment.address_id", Code: "required", Message: "is required for delivery"})
		}
		a, err := st.Address(ctx, in.ShopperID, in.Fulfillment.AddressID)
		if err != nil {
			return Quote{}, nil, err
		}
		addr = &a
	case FulfillmentInStore:
		if in.Channel != ChannelInStore {
			return Quote{}, nil, domain.Invalid(domain.FieldError{Field: "fulfillment.type", Code: "oneof", Message: "must be one of: delivery pickup"})
		}
		ok, err := st.StoreOpen(ctx, in.StoreID)
		if err != nil {
			return Quote{}, nil, err
		}
		if !ok {
			return Quote{}, nil, ErrStoreNotFound
		}
	case FulfillmentPickup:
		if in.Fulfillment.StoreID <= 0 {
			return Quote{}, nil, domain.Invalid(domain.FieldError{Field: "fulfillment.store_id", Code: "required", Message: "is required for pickup"})
		}
		ok, err := st.StoreOpen(ctx, in.Fulfillment.StoreID)
		if err != nil {
			return Quote{}, nil, err
		}
		if !ok {
			return Quote{}, nil, ErrStoreNotFound
		}
	default:
		return Quote{}, nil, domain.Invalid(domain.FieldError{Field: "fulfillment.type", Code: "oneof", Message: "must be one of: delivery pickup"})
	}
	if err := offers.campaignPrices(pin.Lines); err != nil {
		return Quote{}, nil, err
	}
	if pin.Coupons, q.Coupons, err = s.coupons(offers, in, pin, preview); err != nil {
		return Quote{}, nil, err
	}
	b, err := s.engine().Price(pin)
	if err != nil {
		return Quote{}, nil, err
	}
	q.Breakdown = b
	for i := range q.Lines {
		q.Lines[i].Breakdown = b.Lines[i]
	}
	return q, addr, nil
}

// LineLimit is the most units of k one order may hold.
func LineLimit(k SKU) int {
	if k.PerOrderLimit > 0 && k.PerOrderLimit < MaxLineQuantity {
		return k.PerOrderLimit
	}
	return MaxLineQuantity
}

// lines returns the requested lines, or the cart's selected lines, with
// repeated SKUs merged.
func (s *Service) lines(ctx context.Context, st Store, in PlaceInput) ([]LineRequest, error) {
	src := in.Items
	if in.FromCart {
		if len(in.Items) > 0 {
			return nil, domain.Invalid(domain.FieldError{Field: "items", Code: "excluded_with", Message: "send either items or from_cart, not both"})
		}
		var err error
		if src, err = st.SelectedCartLines(ctx, in.ShopperID); err != nil {
			return nil, err
		}
		if len(src) == 0 {
			return nil, ErrCartEmpty
		}
	}
	if len(src) == 0 {
		return nil, pricing.ErrEmptyOrder
	}
	var out []LineRequest
	at := map[int64]int{}
	for i, l := range src {
		if l.SKUID <= 0 || l.Quantity < 1 || l.Quantity > MaxLineQuantity {
			return nil, domain.Invalid(domain.FieldError{Field: fmt.Sprintf("items[%d]", i), Code: "range",
				Message: fmt.Sprintf("needs a sku_id and a quantity from 1 to %d", MaxLineQuantity)})
		}
		if j, ok := at[l.SKUID]; ok {
			out[j].Quantity += l.Quantity
			continue
		}
		at[l.SKUID] = len(out)
		out = append(out, l)
	}
	if len(out) > MaxLines {
		return nil, domain.Invalid(domain.FieldError{Field: "items", Code: "max", Message: fmt.Sprintf("at most %d different items in one order", MaxLines)})
	}
	return out, nil
}

func newOrder(number string, in PlaceInput, q Quote, addr *AddressSnapshot, now, expires time.Time) Order {
	b := q.Breakdown
	o := Order{
		Number: number, ShopperID: in.ShopperID, Status: StatusPendingPayment, Fulfillment: in.Fulfillment.Type,
		Channel: in.channel(), StoreID: in.StoreID, ClerkID: in.ClerkID,
		Address: addr, Subtotal: b.Subtotal, Discount: b.DiscountTotal(), Freight: b.Freight, Payable: b.Payable,
		PointsUsed: b.PointsUsed, Note: in.Note, PlacedAt: now, ExpiresAt: expires,
	}
	if in.Fulfillment.Type == FulfillmentPickup {
		o.PickupStore = in.Fulfillment.StoreID
	}
	for i, l := range q.Lines {
		lb := l.Breakdown
		it := Item{
			LineNo: i + 1, SKUID: l.SKU.ID, ProductID: l.SKU.ProductID, SKUCode: l.SKU.Code, Title: l.SKU.Title,
			Specs: l.SKU.Specs, Image: l.SKU.Image, UnitPrice: lb.UnitPrice, Quantity: lb.Quantity,
			ListTotal: lb.ListTotal, Discount: lb.Discounts.Total(), Paid: lb.Paid, RefundStatus: LineRefundNone,
		}
		for _, d := range lb.Discounts {
			it.Adjustments = append(it.Adjustments, Adjustment{LineNo: i + 1, Source: d.Source, SourceID: d.Ref, Amount: d.Amount})
		}
		o.Items = append(o.Items, it)
	}
	return o
}

// event is the order's moment m.
func (o Order) event(m Moment, c Cause, by domain.Actor, at time.Time) Event {
	return Event{Moment: m, Cause: c, OrderID: o.ID, OrderNumber: o.Number, ShopperID: o.ShopperID,
		Channel: o.Channel, StoreID: o.StoreID, ClerkID: o.ClerkID, Payable: o.Payable, At: at, By: by}
}

// Get returns one of the shopper's orders; another shopper's order is not
// found.
func (s *Service) Get(ctx context.Context, shopperID int64, number string) (Order, error) {
	if !ValidNumber(number) {
		return Order{}, ErrOrderNotFound
	}
	return s.Store.Order(ctx, number, shopperID, false)
}

// List lists the shopper's orders, newest first, optionally by status.
func (s *Service) List(ctx context.Context, shopperID int64, status Status, page domain.Page) ([]Order, string, error) {
	if status != "" && !status.Valid() {
		return nil, "", domain.Invalid(domain.FieldError{Field: "status", Code: "oneof", Message: "must be one of: pending_payment paid shipped completed cancelled"})
	}
	return s.Store.ListOrders(ctx, shopperID, status, page)
}

// Cancel cancels one of the shopper's unpaid orders and releases its stock.
func (s *Service) Cancel(ctx context.Context, shopperID int64, number, reason string) (Order, error) {
	if !ValidNumber(number) {
		return Order{}, ErrOrderNotFound
	}
	if reason == "" {
		reason = "cancelled by shopper"
	}
	by := domain.Actor{Kind: "shopper", ID: shopperID}
	if shopperID <= 0 {
		return Order{}, ErrOrderNotFound
	}
	if s.Payments != nil {
		// Close at WeChat Pay first: a payment that lands meanwhile pays the
		// order (the cancel then fails) rather than a cancelled one.
		o, err := s.Store.Order(ctx, number, shopperID, false)
		if err != nil {
			return Order{}, fmt.Errorf("order: cancel: %w", err)
		}
		if o.Status == StatusPendingPayment {
			if err := s.Payments.CloseAttempts(ctx, number); err != nil {
				return Order{}, fmt.Errorf("order: cancel: %w", err)
			}
		}
	}
	var out Order
	err := s.Store.InTx(ctx, func(tx Store) error {
		o, err := tx.Order(ctx, number, shopperID, true)
		if err != nil {
			return err
		}
		out, err = s.cancel(ctx, tx, o, CauseShopper, reason, by, s.now())
		return err
	})
	if err != nil {
		return Order{}, fmt.Errorf("order: cancel: %w", err)
	}
	return out, nil
}

// cancel moves a locked order to cancelled and releases its reserved stock.
func (s *Service) cancel(ctx context.Context, tx Store, o Order, cause Cause, reason string, by domain.Actor, now time.Time) (Order, error) {
	if err := o.Status.Transition(StatusCancelled, o.Fulfillment); err != nil {
		return Order{}, err
	}
	o.Status, o.CancelledAt, o.CancelReason = StatusCancelled, now, reason
	if err := tx.UpdateStatus(ctx, o); err != nil {
		return Order{}, err
	}
	if err := tx.Raise(ctx, o.event(MomentCancelled, cause, by, now)); err != nil {
		return Order{}, err
	}
	// Stock last (lifecycle.go).
	items := slices.Clone(o.Items)
	slices.SortFunc(items, func(a, b Item) int { return compareInt64(a.SKUID, b.SKUID) })
	for _, it := range items {
		if err := tx.ReleaseStock(ctx, it.SKUID, it.Quantity, o.Number, by, now); err != nil {
			return Order{}, err
		}
	}
	return o, nil
}

// Confirm confirms receipt of one of the shopper's shipped orders.
func (s *Service) Confirm(ctx context.Context, shopperID int64, number string) (Order, error) {
	if !ValidNumber(number) {
		return Order{}, ErrOrderNotFound
	}
	var out Order
	err := s.Store.InTx(ctx, func(tx Store) error {
		o, err := tx.Order(ctx, number, shopperID, true)
		if err != nil {
			return err
		}
		if o.Fulfillment != FulfillmentDelivery {
			return ErrInvalidTransition.WithMessage("A pickup order is completed when the store hands it over.")
		}
		out, err = s.complete(ctx, tx, o, CauseConfirmed, domain.Actor{Kind: "shopper", ID: shopperID})
		return err
	})
	if err != nil {
		return Order{}, fmt.Errorf("order: confirm: %w", err)
	}
	return out, nil
}

// complete moves a locked order to completed and raises the moment.
func (s *Service) complete(ctx context.Context, tx Store, o Order, cause Cause, by domain.Actor) (Order, error) {
	if err := o.Status.Transition(StatusCompleted, o.Fulfillment); err != nil {
		return Order{}, err
	}
	o.Status, o.CompletedAt = StatusCompleted, s.now()
	if err := tx.UpdateStatus(ctx, o); err != nil {
		return Order{}, err
	}
	return o, tx.Raise(ctx, o.event(MomentCompleted, cause, by, o.CompletedAt))
}

// ShipMethod is how a delivery order is sent.
type ShipMethod string

// The ship methods. Express needs a carrier and a tracking number; a
// same-city courier or virtual goods need neither.
const (
	ShipExpress  ShipMethod = "express"
	ShipSameCity ShipMethod = "same_city"
	ShipVirtual  ShipMethod = "virtual"
)

// ShipInput is the back office marking an order shipped.
type ShipInput struct {
	Number     string
	Method     ShipMethod // default express
	Carrier    string
	TrackingNo string
	By         domain.Actor
	RequestID  string
}

// Ship marks a paid delivery order shipped, audited.
func (s *Service) Ship(ctx context.Context, in ShipInput) (Order, error) {
	var fe []domain.FieldError
	if in.Method == "" {
		in.Method = ShipExpress
	}
	switch in.Method {
	case ShipExpress, ShipSameCity, ShipVirtual:
	default:
		fe = append(fe, domain.FieldError{Field: "method", Code: "oneof", Message: "must be one of: express same_city virtual"})
	}
	optional := in.Method != ShipExpress && in.Carrier == "" && in.TrackingNo == ""
	if l := len([]rune(in.Carrier)); !optional && (l < 1 || l > 50) {
		fe = append(fe, domain.FieldError{Field: "carrier", Code: "range", Message: "must have 1 to 50 characters"})
	}
	if l := len(in.TrackingNo); !optional && (l < 4 || l > 40 || !trackingOK(in.TrackingNo)) {
		fe = append(fe, domain.FieldError{Field: "tracking_no", Code: "format", Message: "must be 4 to 40 letters, digits or -"})
	}
	if len(fe) > 0 {
		return Order{}, domain.Invalid(fe...)
	}
	if !ValidNumber(in.Number) {
		return Order{}, ErrOrderNotFound
	}
	if optional {
		// A same-city courier or virtual goods may have neither: the order
		// names the method, and "-" stands for no tracking number.
		in.Carrier, in.TrackingNo = string(in.Method), "-"
	}
	now := s.now()
	var out Order
	err := s.Store.InTx(ctx, func(tx Store) error {
		o, err := tx.Order(ctx, in.Number, 0, true)
		if err != nil {
			return err
		}
		if err := o.Status.Transition(StatusShipped, o.Fulfillment); err != nil {
			return err
		}
		before := map[string]any{"status": o.Status}
		o.Status, o.ShippedAt, o.Carrier, o.TrackingNo = StatusShipped, now, in.Carrier, in.TrackingNo
		if err := tx.UpdateStatus(ctx, o); err != nil {
			return err
		}
		out = o
		if err := tx.Audit(ctx, domain.AuditEntry{Actor: in.By, Action: "order.ship", Entity: "order", EntityID: o.Number,
			Before: before, After: map[string]any{"status": o.Status, "method": in.Method, "carrier": o.Carrier, "tracking_no": o.TrackingNo},
			RequestID: in.RequestID, At: now}); err != nil {
			return err
		}
		e := o.event(MomentShipped, "", in.By, now)
		e.ShipMethod, e.Carrier, e.TrackingNo = in.Method, o.Carrier, o.TrackingNo
		return tx.Raise(ctx, e)
	})
	if err != nil {
		return Order{}, fmt.Errorf("order: ship: %w", err)
	}
	return out, nil
}

func trackingOK(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '-') {
			return false
		}
	}
	return true
}

// ConfirmedAtWeChat completes a shipped delivery order whose receipt the
// shopper confirmed at WeChat (the platform's confirm-receipt notification):
// like Confirm, by the system. An order already completed is answered as
// it is, so a repeated notification changes nothing.
func (s *Service) ConfirmedAtWeChat(ctx context.Context, number string) (Order, error) {
	if !ValidNumber(number) {
		return Order{}, ErrOrderNotFound
	}
	var out Order
	err := s.Store.InTx(ctx, func(tx Store) error {
		o, err := tx.Order(ctx, number, 0, true)
		if err != nil {
			return err
		}
		out = o
		if o.Status == StatusCompleted {
			return nil
		}
		out, err = s.complete(ctx, tx, o, CauseConfirmed, domain.System)
		return err
	})
	if err != nil {
		return Order{}, fmt.Errorf("order: confirmed at wechat: %w", err)
	}
	return out, nil
}

// AdminGet returns any order by number.
func (s *Service) AdminGet(ctx context.Context, number string) (Order, error) {
	if !ValidNumber(number) {
		return Order{}, ErrOrderNotFound
	}
	return s.Store.Order(ctx, number, 0, false)
}

// Search lists orders for the back office.
func (s *Service) Search(ctx context.Context, f Filter, page domain.Page) ([]Order, string, error) {
	if f.Status != "" && !f.Status.Valid() {
		return nil, "", domain.Invalid(domain.FieldError{Field: "status", Code: "oneof", Message: "must be one of: pending_payment paid shipped completed cancelled"})
	}
	return s.Store.SearchOrders(ctx, f, page)
}

// AutoConfirm completes up to limit orders shipped more than
// AutoConfirmAfter ago and returns how many it completed. Several workers
// may run it at once: each takes different orders.
func (s *Service) AutoConfirm(ctx context.Context, limit int) (int, error) {
	after := s.AutoConfirmAfter
	if after <= 0 {
		after = 10 * 24 * time.Hour
	}
	now := s.now()
	n := 0
	err := s.Store.InTx(ctx, func(tx Store) error {
		os, err := tx.ShippedBefore(ctx, now.Add(-after), limit)
		if err != nil {
			return err
		}
		for _, o := range os {
			if o.Status.Transition(StatusCompleted, o.Fulfillment) != nil {
				continue
			}
			o.Status, o.CompletedAt = StatusCompleted, now
			if err := tx.UpdateStatus(ctx, o); err != nil {
				return err
			}
			if err := tx.Raise(ctx, o.event(MomentCompleted, CauseAutoConfirmed, domain.System, now)); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("order: auto-confirm: %w", err)
	}
	return n, nil
}

// CancelExpired cancels up to limit unpaid orders past their expiry,
// releasing their stock, and returns how many. (The payments area wraps this
// with closing the WeChat Pay order first.)
func (s *Service) CancelExpired(ctx context.Context, limit int) (int, error) {
	now := s.now()
	n := 0
	// One order per transaction, so a cancellation never holds the locks of
	// several orders' SKUs at once.
	for n < limit {
		found := false
		err := s.Store.InTx(ctx, func(tx Store) error {
			os, err := tx.PendingExpired(ctx, now, 1)
			if err != nil || len(os) == 0 {
				return err
			}
			found = true
			_, err = s.cancel(ctx, tx, os[0], CauseExpiry, "expired unpaid", domain.System, now)
			return err
		})
		if err != nil {
			return n, fmt.Errorf("order: cancel expired: %w", err)
		}
		if !found {
			break
		}
		n++
	}
	return n, nil
}

// StaffCancelInput is staff cancelling an unpaid order.
type StaffCancelInput struct {
	Number    string
	Reason    string
	By        domain.Actor
	RequestID string
}

// StaffCancel cancels an unpaid order by staff (CauseStaff), releasing its
// stock, audited. Whoever calls it has closed the order's payment attempts
// at WeChat Pay first (a payment arriving later is refunded).
func (s *Service) StaffCancel(ctx context.Context, in StaffCancelInput) (Order, error) {
	if !ValidNumber(in.Number) {
		return Order{}, ErrOrderNotFound
	}
	if len([]rune(in.Reason)) > MaxNoteLen {
		return Order{}, domain.Invalid(domain.FieldError{Field: "reason", Code: "max", Message: "must have at most 200 characters"})
	}
	now := s.now()
	var out Order
	err := s.Store.InTx(ctx, func(tx Store) error {
		o, err := tx.Order(ctx, in.Number, 0, true)
		if err != nil {
			return err
		}
		before := o.Status
		if out, err = s.cancel(ctx, tx, o, CauseStaff, in.Reason, in.By, now); err != nil {
			return err
		}
		return tx.Audit(ctx, domain.AuditEntry{Actor: in.By, Action: "order.cancel", Entity: "order", EntityID: o.Number,
			Before: map[string]any{"status": before}, After: map[string]any{"status": out.Status, "reason": in.Reason},
			RequestID: in.RequestID, At: now})
	})
	if err != nil {
		return Order{}, fmt.Errorf("order: staff cancel: %w", err)
	}
	return out, nil
}
