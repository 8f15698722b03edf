package member

import (
	"context"
	"errors"
	"fmt"

	"github.com/yutang/yutang/domain"
)

// The yearly and monthly work on cards, each safe with several instances
// (cards are claimed FOR UPDATE SKIP LOCKED) and safe to re-run (each card
// and year is done once, recorded in the same transaction).

// ExpirePoints expires, in batches of up to limit cards per transaction,
// the points of the last year whose points have expired at now
// (ExpiryYear), first in first out (Expiring); each card and year exactly
// once. It returns how many cards it went through.
func (s *Service) ExpirePoints(ctx context.Context, limit int) (int, error) {
	now := s.now()
	set, err := s.Store.Settings(ctx)
	if err != nil {
		return 0, fmt.Errorf("member: expire points: %w", err)
	}
	year := ExpiryYear(now, set.PointsLifeYears)
	start, end := YearEnd(year-1), YearEnd(year)
	n, err := s.inBatches(ctx, func(tx Store) ([]Card, error) { return tx.ExpiryCandidates(ctx, year, limit) },
		func(tx Store, cs []Card) error {
			for _, c := range cs {
				through, ofYear, debits, expired, err := tx.PointsBefore(ctx, c.ID, year, start, end)
				if err != nil {
					return err
				}
				x := Expiring(through, ofYear, expired, debits, c.Points)
				if x > 0 {
					if _, err := tx.AddPoints(ctx, PointsEntry{CardID: c.ID, Kind: KindExpire, Points: -x, Year: year,
						Reason: fmt.Sprintf("points of %d expired", year), Actor: domain.System.String(), At: now}); err != nil {
						return err
					}
				}
				if err := tx.RecordExpiry(ctx, c.ID, year, x, now); err != nil {
					return err
				}
			}
			return nil
		}, limit)
	if err != nil {
		return n, fmt.Errorf("member: expire points: %w", err)
	}
	return n, nil
}

// inBatches claims cards with claim and works on them with work, one
// transaction per batch of up to limit, until a batch comes back short; it
// returns how many cards it went through.
func (s *Service) inBatches(ctx context.Context, claim func(tx Store) ([]Card, error), work func(tx Store, cs []Card) error, limit int) (int, error) {
	total := 0
	for {
		n := 0
		err := s.Store.InTx(ctx, func(tx Store) error {
			cs, err := claim(tx)
			if err != nil {
				return err
			}
			n = len(cs)
			return work(tx, cs)
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < limit {
			return total, nil
		}
	}
}

// ReviewTiers reviews, in batches, the cards whose review period began a
// year or more before now (Review): the tier the period's growth reaches,
// up or down; growth starts again from zero. It returns how many cards it
// reviewed.
func (s *Service) ReviewTiers(ctx context.Context, limit int) (int, error) {
	now := s.now()
	n, err := s.inBatches(ctx, func(tx Store) ([]Card, error) { return tx.ReviewDue(ctx, now.AddDate(-1, 0, 0), limit) },
		func(tx Store, cs []Card) error {
			tiers, err := tx.Tiers(ctx)
			if err != nil {
				return err
			}
			for _, c := range cs {
				t := Review(tiers, c.Growth)
				if err := tx.AddGrowth(ctx, GrowthEntry{CardID: c.ID, Kind: "review", Delta: -c.Growth, TierID: t.ID, At: now}); err != nil {
					return err
				}
				if t.ID != c.TierID {
					if err := tx.SetTier(ctx, c.ID, t.ID, now); err != nil {
						return err
					}
				}
				if err := tx.StartPeriod(ctx, c.ID, now); err != nil {
					return err
				}
			}
			return nil
		}, limit)
	if err != nil {
		return n, fmt.Errorf("member: review tiers: %w", err)
	}
	return n, nil
}

// ErrNoCoupons: the birthday worker has no coupons area to grant through.
var ErrNoCoupons = errors.New("member: no coupon granter (the coupons area is not wired)")

// GrantBirthdays gives each card whose holder is born in the current
// (Asia/Shanghai) month its tier's birthday coupon, once a year, through
// coupons, in batches: the coupon and the card's grant record are written
// in one transaction, so a re-run grants nothing twice. It returns how
// many cards it went through.
func (s *Service) GrantBirthdays(ctx context.Context, coupons CouponGranter, limit int) (int, error) {
	if coupons == nil {
		return 0, ErrNoCoupons
	}
	now := s.now()
	local := now.In(domain.Shanghai)
	n, err := s.inBatches(ctx, func(tx Store) ([]Card, error) { return tx.BirthdayCandidates(ctx, local.Month(), local.Year(), limit) },
		func(tx Store, cs []Card) error {
			tiers, err := tx.Tiers(ctx)
			if err != nil {
				return err
			}
			for _, c := range cs {
				var t Tier
				for _, x := range tiers {
					if x.ID == c.TierID {
						t = x
					}
				}
				ref, err := coupons.Grant(ctx, tx, c.ShopperID, t.BirthdayTemplate, local.Year(), now)
				if err != nil {
					return err
				}
				if err := tx.RecordBirthday(ctx, c.ID, local.Year(), t.ID, t.BirthdayTemplate, ref, now); err != nil {
					return err
				}
			}
			return nil
		}, limit)
	if err != nil {
		return n, fmt.Errorf("member: birthdays: %w", err)
	}
	return n, nil
}
