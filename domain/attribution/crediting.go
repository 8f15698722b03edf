package attribution

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/yutang/yutang/domain"
)

// PaidOrder is what attribution reads of a paid order.
type PaidOrder struct {
	ID          int64
	Number      string
	ShopperID   int64
	PlacedAt    time.Time
	PaidAt      time.Time
	Lines       []Line
	ProductOf   map[int64]int64 // line ItemID → product id
	StoreID     int64           // in-store orders
	ClerkID     int64
	NewCustomer bool // the buyer's first paid order
}

// OrderAttribution is an order's attribution under every model, as stored.
type OrderAttribution struct {
	Order        PaidOrder
	Paid         domain.Fen // the paid goods amount attributed
	DefaultModel Model
	InStore      bool
	Models       []ModelAttribution
	At           time.Time
}

// ModelAttribution is one model's result for an order, with the reversals
// made since for refunds.
type ModelAttribution struct {
	Model       Model
	Direct      bool
	Explanation Explanation
	Credits     []Credit
	Reversals   []Credit
}

// --- attributing orders ---

// AttributeOrder attributes a paid order under every model and stores the
// result, the credits and the rollups. st must run in the transaction that
// applies the payment, so the attribution commits with it. The default
// model (from the settings at payment time) is the one reports use unless
// asked for another; every model's credits are stored, so another model
// answers from the same touches without recomputing. Attributing an order
// twice does nothing the second time: the store writes an attribution only
// where there is none (ErrAlreadyAttributed), so no read asks first — a
// payment is applied once, and a second attribution of an order is the
// rare exception, not worth a statement on every payment.
func (s *Service) AttributeOrder(ctx context.Context, st Store, orderID int64) error {
	o, set, err := st.PaidOrder(ctx, orderID)
	if err != nil {
		return fmt.Errorf("attribution: attribute order %d: %w", orderID, err)
	}
	set = set.WithDefaults()
	in := Input{OrderID: o.ID, PlacedAt: o.PlacedAt, Lines: o.Lines}
	if o.ClerkID != 0 {
		clerk, store, err := st.EnsureClerk(ctx, o.ClerkID)
		if err != nil {
			return fmt.Errorf("attribution: attribute order %d: %w", orderID, err)
		}
		if o.StoreID != 0 {
			if store, err = st.EnsureStore(ctx, o.StoreID); err != nil {
				return fmt.Errorf("attribution: attribute order %d: %w", orderID, err)
			}
		}
		in.InStore = &InStore{ClerkID: clerk, StoreID: store}
	} else {
		in.Touches, err = st.BuyerTouches(ctx, o.ShopperID, o.PlacedAt.Add(-set.Lookback), o.PlacedAt)
		if err != nil {
			return fmt.Errorf("attribution: attribute order %d: %w", orderID, err)
		}
	}
	a := OrderAttribution{Order: o, DefaultModel: set.Model, InStore: in.InStore != nil, At: s.now()}
	for _, m := range Models {
		in.Settings = Settings{Model: m, Lookback: set.Lookback, HalfLife: set.HalfLife}
		r, err := Attribute(in)
		if err != nil {
			return fmt.Errorf("attribution: attribute order %d: %w", orderID, err)
		}
		a.Models = append(a.Models, ModelAttribution{Model: m, Direct: r.Direct, Explanation: r.Explanation, Credits: r.Credits})
	}
	if err := st.SaveAttribution(ctx, a); err != nil && !errors.Is(err, ErrAlreadyAttributed) {
		return fmt.Errorf("attribution: attribute order %d: %w", orderID, err)
	}
	return nil
}

// ReverseOrderCredits reverses, under every model, the credits of the
// refunded amounts of some lines (line ItemID → amount refunded now), pro
// rata to what each touch still has on each line. st must run in the
// transaction that records the refund. A direct or unattributed order has
// nothing to reverse.
func (s *Service) ReverseOrderCredits(ctx context.Context, st Store, orderID int64, refunded map[int64]domain.Fen) error {
	a, err := st.Attribution(ctx, orderID, true)
	if errors.Is(err, ErrNotAttributed) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("attribution: reverse order %d: %w", orderID, err)
	}
	now := s.now()
	for _, m := range a.Models {
		all := append(append([]Credit(nil), m.Credits...), m.Reversals...)
		rev, err := Reverse(all, refunded)
		if err != nil {
			return fmt.Errorf("attribution: reverse order %d (%s): %w", orderID, m.Model, err)
		}
		if len(rev) == 0 {
			continue
		}
		if err := st.SaveReversals(ctx, orderID, m.Model, rev, now); err != nil {
			return fmt.Errorf("attribution: reverse order %d: %w", orderID, err)
		}
	}
	return nil
}

// OrderAttribution returns a paid order's attribution by order number.
func (s *Service) OrderAttribution(ctx context.Context, orderNo string) (OrderAttribution, error) {
	return s.Store.AttributionByNumber(ctx, orderNo)
}
