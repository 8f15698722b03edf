package coupon

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/pricing"
)

// Store is what the coupon use cases need from the database. Methods that
// take or change a limit do it with one conditional statement each.
type Store interface {
	InTx(ctx context.Context, fn func(Store) error) error
	Audit(ctx context.Context, e domain.AuditEntry) error

	CreateTemplate(ctx context.Context, t Template, at time.Time) (Template, error)
	// Template returns a template (ErrTemplateNotFound); forUpdate locks it.
	Template(ctx context.Context, id int64, forUpdate bool) (Template, error)
	UpdateTemplate(ctx context.Context, t Template, at time.Time) (Template, error)
	Templates(ctx context.Context, status Status, page domain.Page) ([]Template, string, error)
	// CentreTemplates lists the active, claimable templates visible at now,
	// newest first.
	CentreTemplates(ctx context.Context, now time.Time, page domain.Page) ([]Template, string, error)
	// HeldCounts is how many coupons of each template the shopper holds.
	HeldCounts(ctx context.Context, shopperID int64, templateIDs []int64) (map[int64]int, error)
	// Facts are the audience facts of the shopper for t.
	Facts(ctx context.Context, shopperID int64, t Template) (Facts, error)

	// Issue hands one coupon of t to the shopper, valid from/until: with
	// countClaim it first counts a claim against t.PerShopper
	// (ErrLimitReached at the limit), then takes one from t's total
	// (ErrSoldOut when all are issued). Errors leave the transaction to be
	// rolled back.
	Issue(ctx context.Context, t Template, shopperID int64, src Source, ref int64, countClaim bool, from, until, at time.Time) (Coupon, error)
	// Coupons lists the shopper's coupons in a status at now, newest first.
	Coupons(ctx context.Context, shopperID int64, status CouponStatus, now time.Time, page domain.Page) ([]Coupon, string, error)
	// Usable returns the shopper's coupons stored usable and valid until
	// after now (some may not have started).
	Usable(ctx context.Context, shopperID int64, now time.Time) ([]Coupon, error)

	SettingsStore
}

// Membership is what the tier audience needs of the membership area. It
// runs on its own connection, so it is read before a use case's
// transaction opens (never while one holds a pooled connection).
type Membership interface {
	// TiersOf returns the ids of the tiers the shopper's card is at or
	// above (by growth threshold); none without a card.
	TiersOf(ctx context.Context, shopperID int64) ([]int64, error)
	// TierShoppers returns the shoppers whose card is at tier tierID or
	// above.
	TierShoppers(ctx context.Context, tierID int64) ([]int64, error)
}

// tiersOf is Members.TiersOf, or none without membership.
func (s *Service) tiersOf(ctx context.Context, shopperID int64) ([]int64, error) {
	if s.Members == nil {
		return nil, nil
	}
	ts, err := s.Members.TiersOf(ctx, shopperID)
	if err != nil {
		return nil, fmt.Errorf("coupon: member tiers: %w", err)
	}
	return ts, nil
}

// Service is the coupon use cases.
type Service struct {
	Store Store
	Now   func() time.Time
	// Issuing is the store of codes, bulk jobs and budgets (the same
	// database as Store).
	Issuing IssueStore
	// Members is the membership area, for the tier audience (nil: no
	// tier audience admits anyone, and a tier segment is refused).
	Members Membership
	// KOCs is the KOC programme, for KOCs' grants and budgets (nil: no
	// KOC may be given a budget or grant).
	KOCs KOCs
	// Touches records grants as attribution touches (nil: not recorded).
	Touches GrantToucher
}

func (s *Service) now() time.Time { return domain.Clock(s.Now).Now() }

func audit(by domain.Actor, reqID, action, entity string, id int64, before, after any, at time.Time) domain.AuditEntry {
	return domain.AuditEntry{Actor: by, Action: action, Entity: entity, EntityID: strconv.FormatInt(id, 10),
		Before: before, After: after, RequestID: reqID, At: at}
}

// CreateTemplate adds a template (a draft unless it says active), audited.
func (s *Service) CreateTemplate(ctx context.Context, by domain.Actor, reqID string, t Template) (Template, error) {
	if t.Status == "" {
		t.Status = StatusDraft
	}
	t.Issued = 0
	t.Normalize()
	if fs := t.Validate(); len(fs) > 0 {
		return Template{}, domain.Invalid(fs...)
	}
	if t.Status != StatusDraft && t.Status != StatusActive {
		return Template{}, domain.Invalid(domain.FieldError{Field: "status", Code: "oneof", Message: "must be draft or active"})
	}
	at := s.now()
	var out Template
	err := s.Store.InTx(ctx, func(tx Store) error {
		var err error
		if out, err = tx.CreateTemplate(ctx, t, at); err != nil {
			return err
		}
		return tx.Audit(ctx, audit(by, reqID, "coupon_template.create", "coupon_template", out.ID, nil, out, at))
	})
	if err != nil {
		return Template{}, fmt.Errorf("coupon: create template: %w", err)
	}
	return out, nil
}

// UpdateTemplate changes a template with fn (which gets a copy), audited.
// Its kind and amounts cannot change once coupons of it were issued (held
// coupons follow their template); its total never drops below what was
// issued.
func (s *Service) UpdateTemplate(ctx context.Context, by domain.Actor, reqID string, id int64, fn func(*Template)) (Template, error) {
	at := s.now()
	var out Template
	err := s.Store.InTx(ctx, func(tx Store) error {
		before, err := tx.Template(ctx, id, true)
		if err != nil {
			return err
		}
		t := before
		fn(&t)
		t.ID, t.Issued, t.Status, t.CreatedAt = before.ID, before.Issued, before.Status, before.CreatedAt
		t.Normalize()
		if fs := t.Validate(); len(fs) > 0 {
			return domain.Invalid(fs...)
		}
		if before.Issued > 0 && (t.Kind != before.Kind || t.Threshold != before.Threshold || t.AmountOff != before.AmountOff ||
			t.PercentOffBP != before.PercentOffBP || t.MaxOff != before.MaxOff) {
			return domain.E(domain.KindConflict, "coupon_template_issued",
				"Coupons of this template were handed out; its discount cannot change. Make a new template.")
		}
		if out, err = tx.UpdateTemplate(ctx, t, at); err != nil {
			return err
		}
		return tx.Audit(ctx, audit(by, reqID, "coupon_template.update", "coupon_template", id, before, out, at))
	})
	if err != nil {
		return Template{}, fmt.Errorf("coupon: update template: %w", err)
	}
	return out, nil
}

// SetStatus moves a template to next (draft → active ⇄ paused → ended),
// audited.
func (s *Service) SetStatus(ctx context.Context, by domain.Actor, reqID string, id int64, next Status) (Template, error) {
	if !next.Valid() {
		return Template{}, domain.Invalid(domain.FieldError{Field: "status", Code: "oneof", Message: "must be one of: draft active paused ended"})
	}
	at := s.now()
	var out Template
	err := s.Store.InTx(ctx, func(tx Store) error {
		before, err := tx.Template(ctx, id, true)
		if err != nil {
			return err
		}
		if !before.Status.CanBecome(next) {
			return ErrInvalidStatus.WithMessage("A %s coupon cannot become %s.", before.Status, next)
		}
		t := before
		t.Status = next
		if out, err = tx.UpdateTemplate(ctx, t, at); err != nil {
			return err
		}
		return tx.Audit(ctx, audit(by, reqID, "coupon_template.status", "coupon_template", id,
			map[string]any{"status": before.Status}, map[string]any{"status": next}, at))
	})
	if err != nil {
		return Template{}, fmt.Errorf("coupon: set status: %w", err)
	}
	return out, nil
}

// Template returns one template.
func (s *Service) Template(ctx context.Context, id int64) (Template, error) {
	return s.Store.Template(ctx, id, false)
}

// Templates lists templates, newest first, optionally by status.
func (s *Service) Templates(ctx context.Context, status Status, page domain.Page) ([]Template, string, error) {
	if status != "" && !status.Valid() {
		return nil, "", domain.Invalid(domain.FieldError{Field: "status", Code: "oneof", Message: "must be one of: draft active paused ended"})
	}
	return s.Store.Templates(ctx, status, page)
}

// CentreEntry is a template as the coupon centre shows it to a shopper.
type CentreEntry struct {
	Template Template
	Phase    Phase
	Held     int // how many the shopper holds
}

// Centre lists what the coupon centre shows: templates claimable now and
// upcoming ones (pre-heat: visible, not yet claimable), newest first.
func (s *Service) Centre(ctx context.Context, shopperID int64, page domain.Page) ([]CentreEntry, string, error) {
	now := s.now()
	ts, next, err := s.Store.CentreTemplates(ctx, now, page)
	if err != nil {
		return nil, "", err
	}
	ids := make([]int64, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	held := map[int64]int{}
	if shopperID > 0 && len(ids) > 0 {
		if held, err = s.Store.HeldCounts(ctx, shopperID, ids); err != nil {
			return nil, "", err
		}
	}
	out := make([]CentreEntry, 0, len(ts))
	for _, t := range ts {
		out = append(out, CentreEntry{Template: t, Phase: t.PhaseAt(now), Held: held[t.ID]})
	}
	return out, next, nil
}

// Claim gives the shopper one coupon of a template in the coupon centre:
// it must be claimable now, the shopper in its audience, below the
// per-shopper limit and the total (both settled by the store's conditional
// updates, so any number of concurrent claims issue exactly what the limits
// allow).
func (s *Service) Claim(ctx context.Context, shopperID, templateID int64) (Coupon, error) {
	now := s.now()
	tiers, err := s.tiersOf(ctx, shopperID)
	if err != nil {
		return Coupon{}, err
	}
	var out Coupon
	err = s.Store.InTx(ctx, func(tx Store) error {
		t, err := tx.Template(ctx, templateID, false)
		if err != nil {
			return err
		}
		switch t.PhaseAt(now) {
		case PhaseClaimable:
		case PhaseSoldOut:
			return ErrSoldOut
		case PhaseUpcoming:
			return ErrNotClaimable.WithMessage("This coupon can be claimed from %s.", t.ClaimFrom.In(domain.Shanghai).Format("2006-01-02 15:04"))
		case PhaseHidden:
			return ErrTemplateNotFound
		default:
			return ErrNotClaimable
		}
		out, err = s.issue(ctx, tx, t, shopperID, tiers, SourceClaim, 0, true, now)
		return err
	})
	if err != nil {
		return Coupon{}, fmt.Errorf("coupon: claim: %w", err)
	}
	return out, nil
}

// issue checks the audience (tiers: the shopper's, read before tx) and
// issues one coupon of t in tx.
func (s *Service) issue(ctx context.Context, tx Store, t Template, shopperID int64, tiers []int64, src Source, ref int64, countClaim bool, now time.Time) (Coupon, error) {
	f, err := tx.Facts(ctx, shopperID, t)
	if err != nil {
		return Coupon{}, err
	}
	f.Tiers = tiers
	if ok, why := t.Admits(f); !ok {
		return Coupon{}, ErrAudience.WithMessage("%s", why)
	}
	from, until := t.Validity(now)
	if !now.Before(until) {
		return Coupon{}, ErrNotClaimable.WithMessage("This coupon has expired.")
	}
	return tx.Issue(ctx, t, shopperID, src, ref, countClaim, from, until, now)
}

// Mine lists the shopper's coupons in one status (usable by default).
func (s *Service) Mine(ctx context.Context, shopperID int64, status CouponStatus, page domain.Page) ([]Coupon, string, error) {
	if status == "" {
		status = CouponUsable
	}
	if !status.Valid() {
		return nil, "", domain.Invalid(domain.FieldError{Field: "status", Code: "oneof", Message: "must be one of: usable locked used expired"})
	}
	return s.Store.Coupons(ctx, shopperID, status, s.now(), page)
}

// Checkout returns the shopper's coupons that pricing may consider at now,
// as pricing coupons, and those held but refused for reasons pricing does
// not know (the audience: a new customers' coupon after a first paid order).
func (s *Service) Checkout(ctx context.Context, shopperID int64, now time.Time) ([]pricing.Coupon, []pricing.CouponProblem, error) {
	if shopperID <= 0 {
		return nil, nil, nil
	}
	cs, err := s.Store.Usable(ctx, shopperID, now)
	if err != nil || len(cs) == 0 {
		return nil, nil, err // no coupon: the settings are not needed
	}
	set, err := s.Store.Settings(ctx)
	if err != nil {
		return nil, nil, err
	}
	var ok []pricing.Coupon
	var bad []pricing.CouponProblem
	facts := map[int64]Facts{}
	for _, c := range cs {
		if c.Template.Audience == AudienceNewCustomers {
			f, seen := facts[c.TemplateID]
			if !seen {
				if f, err = s.Store.Facts(ctx, shopperID, c.Template); err != nil {
					return nil, nil, err
				}
				facts[c.TemplateID] = f
			}
			if in, why := c.Template.Admits(f); !in {
				bad = append(bad, pricing.CouponProblem{CouponID: c.ID, Reason: pricing.ReasonAudience, Message: why})
				continue
			}
		}
		ok = append(ok, c.Pricing(set.OnePerKind))
	}
	return ok, bad, nil
}

// GiveBirthday issues the shopper's birthday coupon of a template for a
// year inside the caller's transaction (tx: the coupons store of the
// transaction that records the gift): no audience or per-shopper limit,
// the template's total still holds, and a shopper gets one per year.
func (s *Service) GiveBirthday(ctx context.Context, tx Store, templateID, shopperID int64, year int, at time.Time) (Coupon, error) {
	t, err := tx.Template(ctx, templateID, false)
	if err != nil {
		return Coupon{}, fmt.Errorf("coupon: birthday: %w", err)
	}
	if t.Status != StatusActive {
		return Coupon{}, fmt.Errorf("coupon: birthday: %w", ErrNotClaimable.WithMessage("This coupon is not active."))
	}
	from, until := t.Validity(at)
	c, err := tx.Issue(ctx, t, shopperID, SourceBirthday, int64(year), false, from, until, at)
	if err != nil {
		return Coupon{}, fmt.Errorf("coupon: birthday: %w", err)
	}
	return c, nil
}
