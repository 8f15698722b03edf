// Package cart keeps a shopper's (or an anonymous visitor's) cart: lines of
// SKUs with quantities, selected or not. A line whose SKU went off sale or
// sold out stays in the cart and is shown as such.
package cart

import (
	"context"
	"fmt"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/identity"
	"github.com/yutang/yutang/domain/order"
)

// Owner is whose cart it is: a signed-in shopper or an anonymous visitor.
// Exactly one field is set.
type Owner struct {
	ShopperID int64
	AnonID    string
}

// Valid reports whether exactly one owner is set.
func (o Owner) Valid() bool { return (o.ShopperID > 0) != (o.AnonID != "") }

// LineState is whether a cart line can be bought as it is.
type LineState string

// The line states.
const (
	StateAvailable LineState = "available"  // on sale, enough stock
	StateShort     LineState = "short"      // on sale, fewer left than the line wants
	StateSoldOut   LineState = "sold_out"   // on sale, none left
	StateOffSale   LineState = "off_sale"   // no longer sold
	StateOverLimit LineState = "over_limit" // more than one order may hold
)

// Stored is a cart line as stored.
type Stored struct {
	SKUID    int64
	Quantity int
	Selected bool
	AddedAt  time.Time
}

// Line is a cart line with what the shopper needs to see of its SKU.
type Line struct {
	Stored
	SKU   order.SKU
	State LineState
	Limit int // most units one order may hold
}

// Cart is a cart as shown: its lines (newest first) and the list-price
// subtotal of the selected lines that can be bought. The exact price is
// POST /checkout/preview's.
type Cart struct {
	Lines            []Line
	SelectedCount    int // units
	SelectedSubtotal domain.Fen
}

// Store is what the cart needs from the database.
type Store interface {
	SKUs(ctx context.Context, ids []int64) ([]order.SKU, error)
	CartLines(ctx context.Context, o Owner) ([]Stored, error)
	// AddCartLine adds qty of a SKU, merging with the line already there;
	// it fails with order.ErrOverLimit when the merged quantity would exceed
	// maxQty and with ErrCartFull when a new line would make more than
	// maxLines.
	AddCartLine(ctx context.Context, o Owner, skuID int64, qty, maxQty, maxLines int, at time.Time) error
	// SetCartLine changes a line's quantity and/or selection (nil: keep);
	// ErrLineNotFound when the cart has no such line.
	SetCartLine(ctx context.Context, o Owner, skuID int64, qty *int, selected *bool, at time.Time) error
	RemoveCartLine(ctx context.Context, o Owner, skuID int64) error
	// MergeCart moves an anonymous visitor's lines into a shopper's cart,
	// adding quantities (at most maxQty per line).
	MergeCart(ctx context.Context, anonID string, shopperID int64, maxQty int, at time.Time) error
	// PruneAnonymousCarts looks at up to limit anonymous carts after the
	// visitor after (in anon id order; "" the first) and deletes those
	// untouched since before. It answers the last visitor it looked at
	// ("" when there were none) and how many carts it deleted.
	PruneAnonymousCarts(ctx context.Context, before time.Time, after string, limit int) (last string, deleted int, err error)
}

// MaxLines is the most lines a cart holds.
const MaxLines = 100

// Errors of the cart.
var (
	ErrNoOwner      = domain.E(domain.KindUnauthorized, "cart_owner_missing", "Sign in, or send an X-Anon-Id header, to use a cart.")
	ErrCartFull     = domain.E(domain.KindConflict, "cart_full", "Your cart is full; remove something first.")
	ErrLineNotFound = domain.E(domain.KindNotFound, "cart_item_not_found", "This item is not in your cart.")
)

// Service is the cart's use cases.
type Service struct {
	Store Store
	Now   func() time.Time
}

func (s *Service) now() time.Time { return domain.Clock(s.Now).Now() }

// Get returns the cart with every line's current state.
func (s *Service) Get(ctx context.Context, o Owner) (Cart, error) {
	return s.get(ctx, o)
}

// get is Get, with SKUs the caller has just read (they are not read again).
func (s *Service) get(ctx context.Context, o Owner, known ...order.SKU) (Cart, error) {
	if !o.Valid() {
		return Cart{}, ErrNoOwner
	}
	stored, err := s.Store.CartLines(ctx, o)
	if err != nil {
		return Cart{}, fmt.Errorf("cart: get: %w", err)
	}
	byID := make(map[int64]order.SKU, len(stored))
	for _, k := range known {
		byID[k.ID] = k
	}
	var ids []int64
	for _, l := range stored {
		if _, ok := byID[l.SKUID]; !ok {
			ids = append(ids, l.SKUID)
		}
	}
	if len(ids) > 0 {
		skus, err := s.Store.SKUs(ctx, ids)
		if err != nil {
			return Cart{}, fmt.Errorf("cart: get: %w", err)
		}
		for _, k := range skus {
			byID[k.ID] = k
		}
	}
	var c Cart
	for _, st := range stored {
		k, ok := byID[st.SKUID]
		if !ok {
			k = order.SKU{ID: st.SKUID}
		}
		l := Line{Stored: st, SKU: k, Limit: order.LineLimit(k), State: StateOf(k, st.Quantity)}
		if l.Selected && l.State == StateAvailable {
			c.SelectedCount += l.Quantity
			c.SelectedSubtotal += k.Price * domain.Fen(l.Quantity)
		}
		c.Lines = append(c.Lines, l)
	}
	return c, nil
}

// StateOf says whether qty units of k can be bought now.
func StateOf(k order.SKU, qty int) LineState {
	switch {
	case !k.OnSale:
		return StateOffSale
	case k.Stock <= 0:
		return StateSoldOut
	case qty > order.LineLimit(k):
		return StateOverLimit
	case k.Stock < qty:
		return StateShort
	}
	return StateAvailable
}

// Add adds qty units of a SKU (merging with the line already there).
func (s *Service) Add(ctx context.Context, o Owner, skuID int64, qty int) (Cart, error) {
	if !o.Valid() {
		return Cart{}, ErrNoOwner
	}
	k, err := s.sku(ctx, skuID)
	if err != nil {
		return Cart{}, err
	}
	if !k.OnSale {
		return Cart{}, order.ErrSKUOffSale
	}
	limit := order.LineLimit(k)
	if qty < 1 || qty > limit {
		return Cart{}, order.ErrOverLimit.WithMessage("You can buy at most %d of this item in one order.", limit)
	}
	if err := s.Store.AddCartLine(ctx, o, skuID, qty, limit, MaxLines, s.now()); err != nil {
		if de, ok := domain.AsError(err); ok && de.Code == order.ErrOverLimit.Code {
			return Cart{}, order.ErrOverLimit.WithMessage("You can buy at most %d of this item in one order.", limit)
		}
		return Cart{}, fmt.Errorf("cart: add: %w", err)
	}
	return s.get(ctx, o, k) // k was read a moment ago, for this request
}

// Update changes a line's quantity and/or selection.
func (s *Service) Update(ctx context.Context, o Owner, skuID int64, qty *int, selected *bool) (Cart, error) {
	if !o.Valid() {
		return Cart{}, ErrNoOwner
	}
	if qty != nil {
		k, err := s.sku(ctx, skuID)
		if err != nil {
			return Cart{}, err
		}
		if limit := order.LineLimit(k); *qty < 1 || *qty > limit {
			return Cart{}, order.ErrOverLimit.WithMessage("The quantity must be between 1 and %d.", limit)
		}
	}
	if err := s.Store.SetCartLine(ctx, o, skuID, qty, selected, s.now()); err != nil {
		return Cart{}, fmt.Errorf("cart: update: %w", err)
	}
	return s.Get(ctx, o)
}

// Remove removes a line (removing a line that is not there is not an error).
func (s *Service) Remove(ctx context.Context, o Owner, skuID int64) (Cart, error) {
	if !o.Valid() {
		return Cart{}, ErrNoOwner
	}
	if err := s.Store.RemoveCartLine(ctx, o, skuID); err != nil {
		return Cart{}, fmt.Errorf("cart: remove: %w", err)
	}
	return s.Get(ctx, o)
}

// Stitch moves an anonymous visitor's cart into the shopper's when they
// sign in (an identity.SignedIn handler; st runs in the sign-in
// transaction).
func Stitch(ctx context.Context, st Store, e identity.SignedIn) error {
	if err := st.MergeCart(ctx, e.AnonID, e.ShopperID, order.MaxLineQuantity, e.At); err != nil {
		return fmt.Errorf("cart: stitch: %w", err)
	}
	return nil
}

func (s *Service) sku(ctx context.Context, id int64) (order.SKU, error) {
	ks, err := s.Store.SKUs(ctx, []int64{id})
	if err != nil {
		return order.SKU{}, fmt.Errorf("cart: %w", err)
	}
	if len(ks) == 0 {
		return order.SKU{}, order.ErrSKUNotFound
	}
	return ks[0], nil
}

// AnonymousRetention is how long an anonymous visitor's cart is kept after
// its last change (a visitor who signs in brings theirs along: Stitch).
const AnonymousRetention = 30 * 24 * time.Hour

// PruneAnonymous deletes the anonymous carts untouched for
// AnonymousRetention (they would otherwise be kept forever), looking at
// every anonymous cart in turn, and answers how many it deleted.
func (s *Service) PruneAnonymous(ctx context.Context) (int, error) {
	before := s.now().Add(-AnonymousRetention)
	total, after := 0, ""
	for {
		last, n, err := s.Store.PruneAnonymousCarts(ctx, before, after, 1000)
		total += n
		if err != nil {
			return total, fmt.Errorf("cart: prune anonymous carts: %w", err)
		}
		if last == "" {
			return total, nil
		}
		after = last
	}
}
