package pricing

import "github.com/yutang/yutang/domain"

// CampaignStage lowers each line with a campaign price below its list price
// to that price: the discount is (UnitPrice − CampaignPrice) × Quantity,
// booked per campaign (Discount.Ref = Line.CampaignID). A campaign price at
// or above the list price is ignored.
type CampaignStage struct{}

// Name implements Stage.
func (CampaignStage) Name() string { return "campaign" }

// Apply implements Stage.
func (CampaignStage) Apply(s *State) error {
	// One Discount per campaign, in order of first appearance.
	var order []int64
	per := map[int64][]domain.Fen{}
	for i, l := range s.Lines {
		if l.CampaignPrice == nil || *l.CampaignPrice >= l.UnitPrice {
			continue
		}
		parts, ok := per[l.CampaignID]
		if !ok {
			parts = make([]domain.Fen, len(s.Lines))
			per[l.CampaignID] = parts
			order = append(order, l.CampaignID)
		}
		parts[i] = min(l.Amount, (l.UnitPrice-*l.CampaignPrice)*domain.Fen(l.Quantity))
	}
	for _, id := range order {
		if err := s.Discount(SourceCampaign, id, per[id]); err != nil {
			return err
		}
	}
	return nil
}

// MemberStage gives a member their price on every line the campaign did not
// lower: the SKU's explicit MemberPrice when it has one below the list price
// ((UnitPrice − MemberPrice) × Quantity off), otherwise the tier's rate
// (Member.DiscountBP of the line's amount, rounded half up). Non-members
// (Input.Member nil) get nothing.
type MemberStage struct{}

// Name implements Stage.
func (MemberStage) Name() string { return "member" }

// Apply implements Stage.
func (MemberStage) Apply(s *State) error {
	m := s.Input.Member
	if m == nil {
		return nil
	}
	parts := make([]domain.Fen, len(s.Lines))
	some := false
	for i, l := range s.Lines {
		if l.DiscountBy(SourceCampaign) > 0 {
			continue
		}
		var d domain.Fen
		if l.MemberPrice != nil {
			if *l.MemberPrice < l.UnitPrice {
				d = (l.UnitPrice - *l.MemberPrice) * domain.Fen(l.Quantity)
			}
		} else if m.DiscountBP > 0 {
			d = l.Amount.MulBasisPoints(m.DiscountBP)
		}
		parts[i] = max(0, min(d, l.Amount))
		some = some || parts[i] > 0
	}
	if !some {
		return nil
	}
	return s.Discount(SourceMember, 0, parts)
}

// PointsStage lets points pay part of the goods: at most
// Points.Requested / Points.PerFen fen, at most Points.CapBP of the goods
// amount after coupons (rounded half up), and never more than that amount.
// Only whole fen are paid, so PointsUsed = fen × PerFen ≤ Requested: the
// shopper never spends more points than needed. The points discount is
// spread across all lines by their running amounts.
type PointsStage struct{}

// Name implements Stage.
func (PointsStage) Name() string { return "points" }

// Apply implements Stage.
func (PointsStage) Apply(s *State) error {
	p := s.Input.Points
	if p.Requested <= 0 || p.PerFen <= 0 || p.CapBP <= 0 {
		return nil
	}
	goods := s.Goods()
	fen := min(domain.Fen(p.Requested/p.PerFen), goods.MulBasisPoints(p.CapBP), goods)
	if fen <= 0 {
		return nil
	}
	took, err := s.Spread(SourcePoints, 0, fen, nil)
	if err != nil {
		return err
	}
	s.PointsUsed = int64(took) * p.PerFen
	return nil
}

// FreightStage sets the delivery fee: zero for pickup or a tier with free
// shipping, zero when the goods payable (after every discount) reaches
// Freight.FreeAbove (> 0), else Freight.Flat (delivery only). Freight is never discounted
// and never allocated to lines.
type FreightStage struct{}

// Name implements Stage.
func (FreightStage) Name() string { return "freight" }

// Apply implements Stage.
func (FreightStage) Apply(s *State) error {
	in := s.Input
	switch {
	case in.Fulfillment.Type != Delivery,
		in.Member != nil && in.Member.FreeShipping,
		in.Freight.FreeAbove > 0 && s.Goods() >= in.Freight.FreeAbove:
		s.Freight = 0
	default:
		s.Freight = in.Freight.Flat
	}
	return nil
}
