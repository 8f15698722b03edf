package member

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/payment"
	"github.com/yutang/yutang/domain/pricing"
)

// Store is what membership needs from the database. Every method but InTx
// may run inside a transaction opened by InTx (on the Store given to fn).
type Store interface {
	InTx(ctx context.Context, fn func(Store) error) error

	// Contact returns the shopper's bound phone, nickname and openid.
	Contact(ctx context.Context, shopperID int64) (phone, name, openID string, err error)
	// CreateCard writes a new card (a unique card number is the caller's);
	// domain conflict "already_exists" when the shopper has one.
	CreateCard(ctx context.Context, c Card) (Card, error)
	// Card returns the shopper's card (ErrNoCard); forUpdate locks it.
	Card(ctx context.Context, shopperID int64, forUpdate bool) (Card, error)
	// CardByID is Card by the card's id.
	CardByID(ctx context.Context, id int64, forUpdate bool) (Card, error)
	// SetTier moves a card to a tier.
	SetTier(ctx context.Context, cardID, tierID int64, at time.Time) error

	Settings(ctx context.Context) (Settings, error)
	PutSettings(ctx context.Context, s Settings, at time.Time) error
	Tiers(ctx context.Context) ([]Tier, error)
	// Rules returns the tiers (as Tiers) and the settings, in one statement.
	Rules(ctx context.Context) ([]Tier, Settings, error)
	// TierPage lists the tiers by id, a page at a time (the back office).
	TierPage(ctx context.Context, page domain.Page) ([]Tier, string, error)
	CreateTier(ctx context.Context, t Tier) (Tier, error)
	UpdateTier(ctx context.Context, t Tier) (Tier, error)

	// AddPoints writes a points entry and applies it to the card's cached
	// points, debt and frozen points; ErrDuplicate when an entry of the
	// same source is recorded already.
	AddPoints(ctx context.Context, e PointsEntry) (PointsEntry, error)
	// Unfreeze lowers a card's frozen points (an order's redeemed points
	// are spent).
	Unfreeze(ctx context.Context, cardID, points int64) error
	// OrderPoints returns the points entries of an order.
	OrderPoints(ctx context.Context, orderID int64) ([]PointsEntry, error)
	// AddBalance writes a stored-value entry and applies it to the card's
	// principal and bonus; ErrDuplicate as AddPoints.
	AddBalance(ctx context.Context, e BalanceEntry) (BalanceEntry, error)
	// OrderBalance returns the stored-value entries of an order.
	OrderBalance(ctx context.Context, orderID int64) ([]BalanceEntry, error)
	// AddGrowth writes a growth entry and applies it to the card.
	AddGrowth(ctx context.Context, e GrowthEntry) error
	// OrderGrowth returns the growth entries of an order.
	OrderGrowth(ctx context.Context, orderID int64) ([]GrowthEntry, error)
	// Ledger lists a card's points or stored-value entries, newest first.
	Ledger(ctx context.Context, cardID int64, kind string, page domain.Page) ([]LedgerEntry, string, error)

	// SKUPrices returns the member prices of those SKUs that have one.
	SKUPrices(ctx context.Context, skuIDs []int64) (map[int64]domain.Fen, error)
	SetSKUPrice(ctx context.Context, skuID int64, price *domain.Fen, at time.Time) error

	// SaveCode records a member code by its hash.
	SaveCode(ctx context.Context, hash []byte, cardID int64, expires, now time.Time) error
	// UseCode marks a live, unused code used and returns its card id;
	// ErrCodeInvalid, ErrCodeExpired or ErrCodeUsed otherwise.
	UseCode(ctx context.Context, hash []byte, by string, now time.Time) (int64, error)
	// LiveCode returns the card of a live, unused code without using it;
	// the same errors as UseCode.
	LiveCode(ctx context.Context, hash []byte, now time.Time) (int64, error)

	Packages(ctx context.Context, activeOnly bool, page domain.Page) ([]Package, string, error)
	Package(ctx context.Context, id int64) (Package, error)
	CreatePackage(ctx context.Context, p Package) (Package, error)
	CreateTopUp(ctx context.Context, t TopUp) (TopUp, error)
	SavePrepay(ctx context.Context, id int64, rp payment.RequestPayment, validUntil time.Time) error
	// LockTopUp returns the top-up with this out_trade_no, locked
	// (ErrTopUpNotFound).
	LockTopUp(ctx context.Context, outTradeNo string) (TopUp, error)
	// MarkTopUpPaid marks a top-up paid by a transaction.
	MarkTopUpPaid(ctx context.Context, id int64, transactionID string, at time.Time) error
	// ClaimTopUps leases up to limit pending top-ups due for a query
	// (FOR UPDATE SKIP LOCKED, next check moved on by lease).
	ClaimTopUps(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]TopUp, error)
	CloseTopUp(ctx context.Context, id int64, at time.Time) error

	// ExpiryCandidates locks up to limit cards that hold points and have
	// not been through the expiry of year (FOR UPDATE SKIP LOCKED).
	ExpiryCandidates(ctx context.Context, year int, limit int) ([]Card, error)
	// PointsBefore sums a card's points entries before the end of year:
	// credits up to it, credits within it, debits (positive) and what
	// expiries took.
	PointsBefore(ctx context.Context, cardID int64, year int, yearStart, yearEnd time.Time) (creditsThrough, creditsOfYear, debits, expired int64, err error)
	// RecordExpiry marks (card, year) done with the points it expired.
	RecordExpiry(ctx context.Context, cardID int64, year int, points int64, at time.Time) error
	// ReviewDue locks up to limit cards whose period began before cutoff.
	ReviewDue(ctx context.Context, cutoff time.Time, limit int) ([]Card, error)
	// StartPeriod starts a card's new review period.
	StartPeriod(ctx context.Context, cardID int64, at time.Time) error
	// BirthdayCandidates locks up to limit cards born in month whose tier
	// has a birthday coupon and that got none in year.
	BirthdayCandidates(ctx context.Context, month time.Month, year int, limit int) ([]Card, error)
	// RecordBirthday records the year's birthday grant (once: a conflict
	// otherwise).
	RecordBirthday(ctx context.Context, cardID int64, year int, tierID, templateID int64, couponRef string, at time.Time) error

	Audit(ctx context.Context, e domain.AuditEntry) error
}

// CouponGranter gives a shopper their birthday coupon of a template for a
// year (the coupons area), inside the transaction of tx — the Store the
// birthday worker's transaction gave it — so that the coupon and the
// card's grant record commit or roll back together. It returns a
// reference to what it granted; an error rolls the batch back.
type CouponGranter interface {
	Grant(ctx context.Context, tx Store, shopperID, templateID int64, year int, at time.Time) (string, error)
}

// CouponLister lists a member's usable coupons for the clerk's lookup (the
// coupons area).
type CouponLister interface {
	Usable(ctx context.Context, shopperID int64) ([]HeldCoupon, error)
}

// Service is membership's use cases.
type Service struct {
	Store Store
	// Coupons lists a looked-up member's usable coupons (nil: none).
	Coupons CouponLister
	Gateway payment.Gateway
	// MchID and AppID are checked against every top-up payment.
	MchID, AppID string
	Now          func() time.Time
	Rand         io.Reader
	// TopUpTTL is how long a top-up may be paid (default 15 minutes).
	TopUpTTL time.Duration
}

func (s *Service) now() time.Time { return domain.Clock(s.Now).Now() }

func (s *Service) rand() io.Reader {
	if s.Rand != nil {
		return s.Rand
	}
	return rand.Reader
}

// digits returns n random decimal digits.
func (s *Service) digits(n int) (string, error) {
	var b strings.Builder
	ten := big.NewInt(10)
	for i := 0; i < n; i++ {
		d, err := rand.Int(s.rand(), ten)
		if err != nil {
			return "", err
		}
		b.WriteByte(byte('0' + d.Int64()))
	}
	return b.String(), nil
}

// Activate issues the shopper's card (the phone number must be bound); a
// shopper who has one gets it back (created false).
func (s *Service) Activate(ctx context.Context, shopperID int64, birthday *time.Time) (View, bool, error) {
	if birthday != nil {
		if b := birthday.In(domain.Shanghai); b.After(s.now()) || b.Year() < 1900 {
			return View{}, false, domain.Invalid(domain.FieldError{Field: "birthday", Code: "range", Message: "must be a past date"})
		}
	}
	created := false
	err := s.Store.InTx(ctx, func(tx Store) error {
		if _, err := tx.Card(ctx, shopperID, false); err == nil {
			return nil
		} else if !errors.Is(err, ErrNoCard) {
			return err
		}
		phone, _, _, err := tx.Contact(ctx, shopperID)
		if err != nil {
			return err
		}
		if phone == "" {
			return ErrPhoneRequired
		}
		tiers, err := tx.Tiers(ctx)
		if err != nil {
			return err
		}
		no, err := s.digits(15)
		if err != nil {
			return err
		}
		now := s.now()
		_, err = tx.CreateCard(ctx, Card{ShopperID: shopperID, Number: "8" + no, TierID: TierFor(tiers, 0).ID,
			Birthday: birthday, ActivatedAt: now, PeriodStart: now})
		created = err == nil
		return err
	})
	if err != nil {
		return View{}, false, fmt.Errorf("member: activate: %w", err)
	}
	v, err := s.Get(ctx, shopperID)
	return v, created, err
}

// Get returns the shopper's card with its tier's benefits and the progress
// to the next tier.
func (s *Service) Get(ctx context.Context, shopperID int64) (View, error) {
	c, err := s.Store.Card(ctx, shopperID, false)
	if err != nil {
		return View{}, err
	}
	return s.view(ctx, s.Store, c)
}

func (s *Service) view(ctx context.Context, st Store, c Card) (View, error) {
	tiers, set, err := st.Rules(ctx)
	if err != nil {
		return View{}, err
	}
	v := View{Card: c, Settings: set}
	for _, t := range tiers {
		if t.ID == c.TierID {
			v.Tier = t
		}
	}
	if n, need, ok := Next(tiers, v.Tier, c.Growth); ok {
		v.Next, v.ToNext = &n, need
	}
	return v, nil
}

func hashCode(v string) []byte {
	h := sha256.Sum256([]byte("member-code:" + v))
	return h[:]
}

// NewCode issues a dynamic member code for the shopper's card: 18 random
// digits (a barcode), valid CodeTTL and once; only its hash is kept, so it
// cannot be forged or derived from the card number.
func (s *Service) NewCode(ctx context.Context, shopperID int64) (Code, error) {
	c, err := s.Store.Card(ctx, shopperID, false)
	if err != nil {
		return Code{}, err
	}
	v, err := s.digits(16)
	if err != nil {
		return Code{}, err
	}
	v = "66" + v
	now := s.now()
	code := Code{Value: v, ExpiresAt: now.Add(CodeTTL)}
	if err := s.Store.SaveCode(ctx, hashCode(v), c.ID, code.ExpiresAt, now); err != nil {
		return Code{}, fmt.Errorf("member: code: %w", err)
	}
	return code, nil
}

// LookUp resolves a member code a clerk scanned, using it up.
func (s *Service) LookUp(ctx context.Context, by domain.Actor, code string) (Lookup, error) {
	if !codeShape(code) {
		return Lookup{}, ErrCodeInvalid
	}
	var out Lookup
	err := s.Store.InTx(ctx, func(tx Store) error {
		id, err := tx.UseCode(ctx, hashCode(code), by.String(), s.now())
		if err != nil {
			return err
		}
		c, err := tx.CardByID(ctx, id, false)
		if err != nil {
			return err
		}
		v, err := s.view(ctx, tx, c)
		if err != nil {
			return err
		}
		phone, name, _, err := tx.Contact(ctx, c.ShopperID)
		if err != nil {
			return err
		}
		out = Lookup{Card: c, Tier: v.Tier, Name: MaskName(name), Phone: MaskPhone(phone), Coupons: []HeldCoupon{}}
		return nil
	})
	if err != nil {
		return Lookup{}, fmt.Errorf("member: look up: %w", err)
	}
	if s.Coupons != nil {
		if out.Coupons, err = s.Coupons.Usable(ctx, out.Card.ShopperID); err != nil {
			return Lookup{}, fmt.Errorf("member: look up coupons: %w", err)
		}
	}
	return out, nil
}

func codeShape(code string) bool { return len(code) == 18 && strings.Trim(code, "0123456789") == "" }

// CodeShopper resolves a member code to its card holder, for an in-store
// order: with use, the code is used up by by (as LookUp does); without, it
// is only checked live (a preview, before the order that uses it).
func (s *Service) CodeShopper(ctx context.Context, by domain.Actor, code string, use bool) (int64, error) {
	if !codeShape(code) {
		return 0, ErrCodeInvalid
	}
	var shopper int64
	err := s.Store.InTx(ctx, func(tx Store) error {
		var id int64
		var err error
		if use {
			id, err = tx.UseCode(ctx, hashCode(code), by.String(), s.now())
		} else {
			id, err = tx.LiveCode(ctx, hashCode(code), s.now())
		}
		if err != nil {
			return err
		}
		c, err := tx.CardByID(ctx, id, false)
		shopper = c.ShopperID
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("member: code: %w", err)
	}
	return shopper, nil
}

// Ledger lists the shopper's points or stored-value entries, newest first.
func (s *Service) Ledger(ctx context.Context, shopperID int64, kind string, page domain.Page) ([]LedgerEntry, string, error) {
	if kind != LedgerPoints && kind != LedgerBalance {
		return nil, "", ErrBadLedger
	}
	c, err := s.Store.Card(ctx, shopperID, false)
	if err != nil {
		return nil, "", err
	}
	return s.Store.Ledger(ctx, c.ID, kind, page)
}

// Benefits is what the shopper's membership bears on an order's price:
// their tier (nil for a non-member), the member prices of those SKUs that
// have one, and the points rule when they offer points (refused when they
// hold fewer than they offer).
func (s *Service) Benefits(ctx context.Context, shopperID int64, skuIDs []int64, points int64) (*pricing.Member, map[int64]domain.Fen, pricing.Points, error) {
	c, err := s.Store.Card(ctx, shopperID, false)
	if errors.Is(err, ErrNoCard) {
		if points > 0 {
			return nil, nil, pricing.Points{}, ErrNotMember
		}
		return nil, nil, pricing.Points{}, nil
	}
	if err != nil {
		return nil, nil, pricing.Points{}, err
	}
	v, err := s.view(ctx, s.Store, c)
	if err != nil {
		return nil, nil, pricing.Points{}, err
	}
	prices, err := s.Store.SKUPrices(ctx, skuIDs)
	if err != nil {
		return nil, nil, pricing.Points{}, err
	}
	var pts pricing.Points
	if points > 0 {
		if points > c.Points {
			return nil, nil, pricing.Points{}, ErrNotEnoughPoints.WithMessage("You have %d points.", c.Points)
		}
		pts = pricing.Points{Requested: points, PerFen: v.Settings.RedeemPointsPerFen, CapBP: v.Settings.RedeemCapBP}
	}
	return &pricing.Member{DiscountBP: v.Tier.DiscountBP, FreeShipping: v.Tier.FreeShipping}, prices, pts, nil
}

// MemberPrices returns, for a shopper who holds a card, the member price of
// each SKU: its explicit member price, else the list price less the tier's
// discount (what the member stage charges). Nil for a non-member.
func (s *Service) MemberPrices(ctx context.Context, shopperID int64, list map[int64]domain.Fen) (map[int64]domain.Fen, error) {
	if shopperID <= 0 || len(list) == 0 {
		return nil, nil
	}
	ids := make([]int64, 0, len(list))
	for id := range list {
		ids = append(ids, id)
	}
	m, prices, _, err := s.Benefits(ctx, shopperID, ids, 0)
	if err != nil || m == nil {
		return nil, err
	}
	out := make(map[int64]domain.Fen, len(list))
	for id, p := range list {
		if mp, ok := prices[id]; ok && mp < p {
			out[id] = mp
		} else {
			out[id] = p - p.MulBasisPoints(m.DiscountBP)
		}
	}
	return out, nil
}

// --- administration (every write audited) ---

// Tiers lists the tiers by threshold.
func (s *Service) Tiers(ctx context.Context) ([]Tier, error) { return s.Store.Tiers(ctx) }

// TierPage lists the tiers for the back office, a page at a time.
func (s *Service) TierPage(ctx context.Context, page domain.Page) ([]Tier, string, error) {
	return s.Store.TierPage(ctx, page)
}

func checkTier(t Tier) error {
	var fe []domain.FieldError
	if n := utf8.RuneCountInString(t.Name); n < 1 || n > 32 {
		fe = append(fe, domain.FieldError{Field: "name", Code: "range", Message: "must have 1 to 32 characters"})
	}
	if t.Threshold < 0 || t.Threshold > 1e12 {
		fe = append(fe, domain.FieldError{Field: "threshold", Code: "range", Message: "must be from 0 to 10^12"})
	}
	if t.DiscountBP < 0 || t.DiscountBP > 9000 {
		fe = append(fe, domain.FieldError{Field: "discount_bp", Code: "range", Message: "must be from 0 to 9000"})
	}
	if t.MultiplierBP < 0 || t.MultiplierBP > 100000 {
		fe = append(fe, domain.FieldError{Field: "points_multiplier_bp", Code: "range", Message: "must be from 0 to 100000"})
	}
	if t.BirthdayTemplate < 0 {
		fe = append(fe, domain.FieldError{Field: "birthday_coupon_template_id", Code: "range", Message: "must be positive"})
	}
	if len(fe) > 0 {
		return domain.Invalid(fe...)
	}
	return nil
}

// SaveTier creates (t.ID 0) or updates a tier, audited. The base tier keeps
// threshold 0. Cards move up at their next growth or at the review.
func (s *Service) SaveTier(ctx context.Context, by domain.Actor, requestID string, t Tier) (Tier, error) {
	if err := checkTier(t); err != nil {
		return Tier{}, err
	}
	now := s.now()
	t.UpdatedAt = now
	var out Tier
	err := s.Store.InTx(ctx, func(tx Store) error {
		tiers, err := tx.Tiers(ctx)
		if err != nil {
			return err
		}
		var before any
		action := "member_tier.create"
		if t.ID == 0 {
			t.CreatedAt = now
			if out, err = tx.CreateTier(ctx, t); err != nil {
				return err
			}
		} else {
			var old *Tier
			for i := range tiers {
				if tiers[i].ID == t.ID {
					old = &tiers[i]
				}
			}
			if old == nil {
				return ErrTierNotFound
			}
			if old.Threshold == 0 && t.Threshold != 0 {
				return ErrBaseTier
			}
			before, action = *old, "member_tier.update"
			if out, err = tx.UpdateTier(ctx, t); err != nil {
				return err
			}
		}
		return tx.Audit(ctx, domain.AuditEntry{Actor: by, Action: action, Entity: "member_tier",
			EntityID: fmt.Sprint(out.ID), Before: before, After: out, RequestID: requestID, At: now})
	})
	if err != nil {
		return Tier{}, fmt.Errorf("member: save tier: %w", err)
	}
	return out, nil
}

// GetSettings returns the membership rules.
func (s *Service) GetSettings(ctx context.Context) (Settings, error) { return s.Store.Settings(ctx) }

// PutSettings replaces the membership rules, audited.
func (s *Service) PutSettings(ctx context.Context, by domain.Actor, requestID string, n Settings) (Settings, error) {
	var fe []domain.FieldError
	rng := func(field string, v, lo, hi int64) {
		if v < lo || v > hi {
			fe = append(fe, domain.FieldError{Field: field, Code: "range", Message: fmt.Sprintf("must be from %d to %d", lo, hi)})
		}
	}
	rng("points_per_yuan", n.PointsPerYuan, 0, 1000)
	rng("redeem_points_per_fen", n.RedeemPointsPerFen, 1, 100000)
	rng("redeem_cap_bp", n.RedeemCapBP, 0, 10000)
	rng("growth_per_yuan", n.GrowthPerYuan, 0, 1000)
	rng("points_life_years", int64(n.PointsLifeYears), 1, 10)
	if len(fe) > 0 {
		return Settings{}, domain.Invalid(fe...)
	}
	now := s.now()
	err := s.Store.InTx(ctx, func(tx Store) error {
		old, err := tx.Settings(ctx)
		if err != nil {
			return err
		}
		if err := tx.PutSettings(ctx, n, now); err != nil {
			return err
		}
		return tx.Audit(ctx, domain.AuditEntry{Actor: by, Action: "member_settings.update", Entity: "member_settings",
			EntityID: "1", Before: old, After: n, RequestID: requestID, At: now})
	})
	if err != nil {
		return Settings{}, fmt.Errorf("member: settings: %w", err)
	}
	return n, nil
}

// SetSKUPrice sets (or with nil clears) a SKU's member price, audited.
func (s *Service) SetSKUPrice(ctx context.Context, by domain.Actor, requestID string, skuID int64, price *domain.Fen) error {
	if price != nil && (*price < 0 || *price > 100_000_000) {
		return domain.Invalid(domain.FieldError{Field: "member_price_fen", Code: "range", Message: "must be from 0 to 100000000"})
	}
	now := s.now()
	return s.Store.InTx(ctx, func(tx Store) error {
		if err := tx.SetSKUPrice(ctx, skuID, price, now); err != nil {
			return err
		}
		return tx.Audit(ctx, domain.AuditEntry{Actor: by, Action: "member_price.set", Entity: "sku",
			EntityID: fmt.Sprint(skuID), After: map[string]any{"member_price_fen": price}, RequestID: requestID, At: now})
	})
}

// AdjustPoints adds (or with a negative delta takes) points on a shopper's
// card by hand, with a reason, audited. Taking more than the card holds is
// refused; adding pays any debt first.
func (s *Service) AdjustPoints(ctx context.Context, by domain.Actor, requestID string, shopperID, delta int64, reason string) (Card, error) {
	reason = strings.TrimSpace(reason)
	var fe []domain.FieldError
	if delta == 0 || delta > 1e9 || delta < -1e9 {
		fe = append(fe, domain.FieldError{Field: "points", Code: "range", Message: "must be non-zero, at most 10^9 either way"})
	}
	if n := utf8.RuneCountInString(reason); n < 1 || n > 200 {
		fe = append(fe, domain.FieldError{Field: "reason", Code: "range", Message: "must have 1 to 200 characters"})
	}
	if len(fe) > 0 {
		return Card{}, domain.Invalid(fe...)
	}
	now := s.now()
	var out Card
	err := s.Store.InTx(ctx, func(tx Store) error {
		c, err := tx.Card(ctx, shopperID, true)
		if err != nil {
			return err
		}
		before := c.Points
		e := PointsEntry{CardID: c.ID, Kind: KindAdjust, Points: delta, Reason: reason, Actor: by.String(), At: now}
		if delta < 0 {
			if c.Points+delta < 0 {
				return ErrNotEnoughPoints.WithMessage("The card holds %d points.", c.Points)
			}
			if _, err := tx.AddPoints(ctx, e); err != nil {
				return err
			}
			c.Points += delta
		} else if c, err = credit(ctx, tx, c, e); err != nil {
			return err
		}
		out = c
		return tx.Audit(ctx, domain.AuditEntry{Actor: by, Action: "member_points.adjust", Entity: "member_card",
			EntityID: c.Number, Before: map[string]any{"points": before},
			After: map[string]any{"points": c.Points, "delta": delta, "reason": reason}, RequestID: requestID, At: now})
	})
	if err != nil {
		return Card{}, fmt.Errorf("member: adjust points: %w", err)
	}
	return out, nil
}

// credit adds e's points (> 0) to a locked card and pays its debt first
// with a repay entry; it returns the card as it now is.
func credit(ctx context.Context, st Store, c Card, e PointsEntry) (Card, error) {
	if _, err := st.AddPoints(ctx, e); err != nil {
		return c, err
	}
	c.Points += e.Points
	c.PointsFrozen += e.Frozen
	if r := Repay(e.Points, c.PointsDebt); r > 0 {
		if _, err := st.AddPoints(ctx, PointsEntry{CardID: c.ID, Kind: KindRepay, Points: -r, Debt: -r,
			OrderID: e.OrderID, ItemID: e.ItemID, RefundID: e.RefundID, Reason: "repays points debt", Actor: e.Actor, At: e.At}); err != nil {
			return c, err
		}
		c.Points -= r
		c.PointsDebt -= r
	}
	return c, nil
}

// debit takes n points from a locked card; what it does not hold becomes
// debt (recorded on the same entry).
func debit(ctx context.Context, st Store, c Card, e PointsEntry, n int64) (Card, error) {
	take, debt := Debit(c.Points, n)
	e.Points, e.Debt = -take, debt
	if _, err := st.AddPoints(ctx, e); err != nil {
		return c, err
	}
	c.Points -= take
	c.PointsDebt += debt
	return c, nil
}
