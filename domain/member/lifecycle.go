package member

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/order"
	"github.com/yutang/yutang/domain/pricing"
)

// How membership takes part in an order's life. The program subscribes
// these to order.Lifecycle; each runs in the transaction of the change,
// with the Store and Orders of that transaction, and refuses the change by
// returning an error.

// Orders is what membership needs of the orders area in a transaction.
type Orders interface {
	// Order returns an order with its items and adjustments.
	Order(ctx context.Context, number string, shopperID int64, forUpdate bool) (order.Order, error)
	// AddTender records a tender settling part of the order's payable.
	AddTender(ctx context.Context, orderID int64, t order.Tender, at time.Time) (order.Tender, error)
	// RenameAdjustments names the row an adjustment came from (the points
	// stage's discount names its ledger entry).
	RenameAdjustments(ctx context.Context, r order.AdjustmentRename) error
}

// Placed freezes the points the order redeems (one redeem entry per line,
// named by the line's points adjustment) and takes the stored value the
// shopper offered (at most the payable) as a stored-value tender: WeChat
// Pay is then asked only for the rest. No card: refused.
func (s *Service) Placed(ctx context.Context, st Store, os Orders, e order.Event) error {
	if e.ShopperID == 0 {
		return nil
	}
	o, err := e.PlacedOrder()
	if err != nil {
		return err
	}
	if o.PointsUsed == 0 && e.Balance <= 0 {
		return nil
	}
	c, err := st.Card(ctx, e.ShopperID, true)
	if errors.Is(err, ErrNoCard) {
		return ErrNotMember
	}
	if err != nil {
		return err
	}
	if o.PointsUsed > 0 {
		if c.Points < o.PointsUsed {
			return ErrNotEnoughPoints.WithMessage("You have %d points; this order needs %d.", c.Points, o.PointsUsed)
		}
		var fen int64
		for _, it := range o.Items {
			fen += int64(adjustmentOf(it, pricing.SourcePoints))
		}
		perFen := o.PointsUsed / max(fen, 1) // PointsUsed = fen × points per fen, exactly
		for _, it := range o.Items {
			n := int64(adjustmentOf(it, pricing.SourcePoints)) * perFen
			if n == 0 {
				continue
			}
			pe, err := st.AddPoints(ctx, PointsEntry{CardID: c.ID, Kind: KindRedeem, Points: -n, Frozen: n,
				OrderID: o.ID, ItemID: it.ID, Reason: "redeemed on order " + o.Number, Actor: e.By.String(), At: e.At})
			if err != nil {
				return err
			}
			if err := os.RenameAdjustments(ctx, order.AdjustmentRename{OrderID: o.ID, ItemID: it.ID, Source: pricing.SourcePoints, To: pe.ID}); err != nil {
				return err
			}
		}
	}
	if e.Balance > 0 {
		amount := min(e.Balance, o.Payable)
		p, b, ok := SpendBalance(c.Principal, c.Bonus, amount)
		if !ok {
			return ErrNotEnoughValue.WithMessage("Your card holds ¥%s.", c.Balance().Yuan())
		}
		be, err := st.AddBalance(ctx, BalanceEntry{CardID: c.ID, Kind: KindSpend, Principal: -p, Bonus: -b,
			OrderID: o.ID, Reason: "paid order " + o.Number, Actor: e.By.String(), At: e.At})
		if err != nil {
			return err
		}
		if _, err := os.AddTender(ctx, o.ID, order.Tender{Kind: TenderStoredValue, Ref: "sv-" + strconv.FormatInt(be.ID, 10), Amount: amount}, e.At); err != nil {
			return err
		}
	}
	return nil
}

// orderLedgers returns an order's points and stored-value entries.
func orderLedgers(ctx context.Context, st Store, orderID int64) ([]PointsEntry, []BalanceEntry, error) {
	pts, err := st.OrderPoints(ctx, orderID)
	if err != nil {
		return nil, nil, err
	}
	bal, err := st.OrderBalance(ctx, orderID)
	return pts, bal, err
}

func adjustmentOf(it order.Item, src pricing.Source) domain.Fen {
	var s domain.Fen
	for _, a := range it.Adjustments {
		if a.Source == src {
			s += a.Amount
		}
	}
	return s
}

// Cancelled returns the points the order froze and the stored value it
// took.
func (s *Service) Cancelled(ctx context.Context, st Store, e order.Event) error {
	if e.ShopperID == 0 {
		return nil
	}
	pts, bal, err := orderLedgers(ctx, st, e.OrderID)
	if err != nil || len(pts) == 0 && len(bal) == 0 {
		return err
	}
	c, err := st.Card(ctx, e.ShopperID, true)
	if err != nil {
		return err
	}
	for _, p := range pts {
		if p.Kind != KindRedeem {
			continue
		}
		if c, err = credit(ctx, st, c, PointsEntry{CardID: c.ID, Kind: KindReturn, Points: -p.Points, Frozen: p.Points,
			OrderID: e.OrderID, ItemID: p.ItemID, Reason: "order " + e.OrderNumber + " cancelled", Actor: e.By.String(), At: e.At}); err != nil {
			return err
		}
	}
	for _, b := range bal {
		if b.Kind != KindSpend {
			continue
		}
		if _, err := st.AddBalance(ctx, BalanceEntry{CardID: c.ID, Kind: KindReturn, Principal: -b.Principal, Bonus: -b.Bonus,
			OrderID: e.OrderID, Reason: "order " + e.OrderNumber + " cancelled", Actor: e.By.String(), At: e.At}); err != nil {
			return err
		}
	}
	return nil
}

// Paid spends the frozen points and earns points and growth on each line's
// goods paid (the tier's multiplier); growth that reaches a higher tier
// upgrades the card at once.
func (s *Service) Paid(ctx context.Context, st Store, e order.Event) error {
	if e.ShopperID == 0 {
		return nil
	}
	c, err := st.Card(ctx, e.ShopperID, true)
	if errors.Is(err, ErrNoCard) {
		return nil
	}
	if err != nil {
		return err
	}
	// The lines and points the paid moment carries (read under the
	// order's lock).
	lines, err := e.PaidOrderLines()
	if err != nil {
		return err
	}
	pointsUsed := e.PointsUsed
	tiers, set, err := st.Rules(ctx)
	if err != nil {
		return err
	}
	var tier Tier
	for _, t := range tiers {
		if t.ID == c.TierID {
			tier = t
		}
	}
	if pointsUsed > 0 {
		if err := st.Unfreeze(ctx, c.ID, pointsUsed); err != nil {
			return err
		}
	}
	growth := c.Growth
	for _, it := range lines {
		if n := EarnedPoints(it.Paid, set.PointsPerYuan, tier.MultiplierBP); n > 0 {
			if c, err = credit(ctx, st, c, PointsEntry{CardID: c.ID, Kind: KindEarn, Points: n, OrderID: e.OrderID, ItemID: it.ItemID,
				Reason: "earned on order " + e.OrderNumber, Actor: domain.System.String(), At: e.At}); err != nil {
				return err
			}
		}
		if g := EarnedGrowth(it.Paid, set.GrowthPerYuan); g > 0 {
			if err := st.AddGrowth(ctx, GrowthEntry{CardID: c.ID, Kind: KindEarn, Delta: g, OrderID: e.OrderID, ItemID: it.ItemID, At: e.At}); err != nil {
				return err
			}
			growth += g
		}
	}
	if up := Upgrade(tiers, tier, growth); up.ID != tier.ID {
		return st.SetTier(ctx, c.ID, up.ID, e.At)
	}
	return nil
}

// Refunded reverses, for each refunded line, its earned points and growth
// and returns its redeemed points, pro rata to what of the line is refunded
// so far (ProRata); a reversal beyond the card's points becomes debt. The
// stored-value tender's part goes back to principal and bonus
// (ReturnBalance).
func (s *Service) Refunded(ctx context.Context, st Store, os Orders, e order.Event) error {
	if e.ShopperID == 0 || len(e.Lines) == 0 {
		return nil
	}
	pts, bal, err := orderLedgers(ctx, st, e.OrderID)
	if err != nil {
		return err
	}
	grw, err := st.OrderGrowth(ctx, e.OrderID)
	if err != nil {
		return err
	}
	if len(pts) == 0 && len(bal) == 0 && len(grw) == 0 {
		return nil
	}
	c, err := st.Card(ctx, e.ShopperID, true)
	if err != nil {
		return err
	}
	o, err := os.Order(ctx, e.OrderNumber, 0, false)
	if err != nil {
		return err
	}
	items := map[int64]order.Item{}
	for _, it := range o.Items {
		items[it.ID] = it
	}
	for _, l := range e.Lines {
		it := items[l.ItemID]
		var earned, reversed, redeemed, returned int64
		for _, p := range pts {
			if p.ItemID != l.ItemID {
				continue
			}
			switch {
			case p.Kind == KindEarn:
				earned += p.Points
			case p.Kind == KindReverse:
				reversed += -p.Points + p.Debt
			case p.Kind == KindRedeem:
				redeemed += -p.Points
			case p.Kind == KindReturn && p.RefundID != 0:
				returned += p.Points
			}
		}
		base := PointsEntry{CardID: c.ID, OrderID: o.ID, ItemID: l.ItemID, RefundID: e.RefundID,
			Reason: "refund " + e.OutRefundNo, Actor: domain.System.String(), At: e.At}
		if n := ProRata(earned, it.Paid, it.RefundedFen, reversed); n > 0 {
			r := base
			r.Kind = KindReverse
			if c, err = debit(ctx, st, c, r, n); err != nil {
				return err
			}
		}
		if n := ProRata(redeemed, it.Paid, it.RefundedFen, returned); n > 0 {
			r := base
			r.Kind, r.Points = KindReturn, n
			if c, err = credit(ctx, st, c, r); err != nil {
				return err
			}
		}
		var grown, ungrown int64
		for _, g := range grw {
			if g.ItemID == l.ItemID {
				if g.Kind == KindEarn {
					grown += g.Delta
				} else if g.Kind == KindReverse {
					ungrown += -g.Delta
				}
			}
		}
		if g := min(ProRata(grown, it.Paid, it.RefundedFen, ungrown), c.Growth); g > 0 {
			if err := st.AddGrowth(ctx, GrowthEntry{CardID: c.ID, Kind: KindReverse, Delta: -g, OrderID: o.ID,
				ItemID: l.ItemID, RefundID: e.RefundID, At: e.At}); err != nil {
				return err
			}
			c.Growth -= g
		}
	}
	for _, t := range e.Tenders {
		if t.Kind != TenderStoredValue {
			continue
		}
		var spentP, spentB, backP, backB domain.Fen
		for _, b := range bal {
			switch {
			case b.Kind == KindSpend && "sv-"+strconv.FormatInt(b.ID, 10) == t.Ref:
				spentP, spentB = -b.Principal, -b.Bonus
			case b.Kind == KindRefund:
				backP += b.Principal
				backB += b.Bonus
			}
		}
		if spentP+spentB == 0 {
			return fmt.Errorf("member: refund %s: no stored-value spending %s", e.OutRefundNo, t.Ref)
		}
		p, b := ReturnBalance(spentP, spentB, backP+backB+t.Amount, t.Amount, backB)
		if _, err := st.AddBalance(ctx, BalanceEntry{CardID: c.ID, Kind: KindRefund, Principal: p, Bonus: b, OrderID: o.ID,
			RefundID: e.RefundID, Reason: "refund " + e.OutRefundNo, Actor: domain.System.String(), At: e.At}); err != nil {
			return err
		}
	}
	return nil
}
