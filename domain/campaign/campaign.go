// Package campaign is the brand's timed promotions: flash sales (秒杀: a
// campaign price per SKU with its own allotment, a per-shopper limit and a
// window) and member days (a tier-discount boost on a weekday or a date).
//
// A campaign moves draft → scheduled → running → ended; a worker (Advance)
// moves scheduled and running campaigns on time, admins may pause, resume
// and end early. The campaign stage of pricing applies a flash-sale price
// only while its campaign runs and its window is open; the allotment and
// the per-shopper limit are taken when an order is placed (the placed
// moment), with conditional updates, and given back when it is cancelled.
//
// A member day running on today's Shanghai date adds its boost to the
// member tier discount at checkout (MemberDayBoost; the checkout reads it
// through order.Promotions, and the member stage applies the boosted
// discount as the member adjustment).
package campaign

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/yutang/yutang/domain"
)

// Kind is what a campaign does.
type Kind string

// The kinds.
const (
	KindFlashSale Kind = "flash_sale"
	KindMemberDay Kind = "member_day"
)

// Status is where a campaign is in its life.
type Status string

// The statuses.
const (
	StatusDraft     Status = "draft"
	StatusScheduled Status = "scheduled"
	StatusRunning   Status = "running"
	StatusPaused    Status = "paused"
	StatusEnded     Status = "ended"
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	switch s {
	case StatusDraft, StatusScheduled, StatusRunning, StatusPaused, StatusEnded:
		return true
	}
	return false
}

// CanBecome reports whether an admin may move a campaign from s to next:
// schedule a draft, pause a running campaign, resume a paused one (it
// becomes scheduled and the worker starts it when due), end any that has
// not ended.
func (s Status) CanBecome(next Status) bool {
	switch next {
	case StatusScheduled:
		return s == StatusDraft || s == StatusPaused
	case StatusPaused:
		return s == StatusRunning || s == StatusScheduled
	case StatusEnded:
		return s != StatusEnded
	}
	return false
}

// SKU is one SKU of a flash sale: its campaign price and allotment; Taken
// is how many units orders hold or bought.
type SKU struct {
	SKUID     int64
	Price     domain.Fen
	Allotment int
	Taken     int
}

// Campaign is one campaign.
type Campaign struct {
	ID       int64
	Kind     Kind
	Name     string
	Status   Status
	StartsAt time.Time
	EndsAt   time.Time
	// PerShopperLimit is how many units one shopper may buy at campaign
	// prices in this campaign (0: no limit).
	PerShopperLimit int
	SKUs            []SKU

	// Member day: the weekday (0 Sunday) or day of the month it falls on,
	// and the boost to the tier discount in basis points.
	Weekday  *int
	MonthDay *int
	BoostBP  int

	CreatedAt time.Time
	UpdatedAt time.Time
}

// Limits.
const (
	MaxSKUs      = 200
	MaxAllotment = 10_000_000
)

// Validate checks a campaign's fields by their wire names.
func (c Campaign) Validate() []domain.FieldError {
	var fs []domain.FieldError
	bad := func(field, code, msg string) {
		fs = append(fs, domain.FieldError{Field: field, Code: code, Message: msg})
	}
	if n := utf8.RuneCountInString(c.Name); n < 1 || n > 100 {
		bad("name", "range", "must have 1 to 100 characters")
	}
	if c.StartsAt.IsZero() {
		bad("starts_at", "required", "is required")
	}
	if c.EndsAt.IsZero() || !c.StartsAt.Before(c.EndsAt) {
		bad("ends_at", "gtfield", "must be after starts_at")
	}
	if c.PerShopperLimit < 0 || c.PerShopperLimit > 999 {
		bad("per_shopper_limit", "range", "must be between 0 and 999")
	}
	switch c.Kind {
	case KindFlashSale:
		if len(c.SKUs) == 0 || len(c.SKUs) > MaxSKUs {
			bad("skus", "range", fmt.Sprintf("must list 1 to %d SKUs", MaxSKUs))
		}
		seen := map[int64]bool{}
		for i, k := range c.SKUs {
			p := fmt.Sprintf("skus[%d].", i)
			if k.SKUID <= 0 || seen[k.SKUID] {
				bad(p+"sku_id", "unique", "must be a distinct positive SKU id")
			}
			seen[k.SKUID] = true
			if k.Price < 1 || k.Price > 10_000_000_000 {
				bad(p+"price_fen", "range", "must be between 1 and 10000000000")
			}
			if k.Allotment < 0 || k.Allotment > MaxAllotment {
				bad(p+"allotment", "range", fmt.Sprintf("must be between 0 and %d", MaxAllotment))
			}
			if k.Allotment < k.Taken {
				bad(p+"allotment", "min", fmt.Sprintf("must be at least the %d already taken", k.Taken))
			}
		}
		if c.Weekday != nil || c.MonthDay != nil || c.BoostBP != 0 {
			bad("kind", "excluded", "weekday, month_day and boost_bp are for member days")
		}
	case KindMemberDay:
		if len(c.SKUs) > 0 {
			bad("skus", "excluded", "is for flash sales")
		}
		if (c.Weekday == nil) == (c.MonthDay == nil) {
			bad("weekday", "required", "send either weekday or month_day")
		}
		if c.Weekday != nil && (*c.Weekday < 0 || *c.Weekday > 6) {
			bad("weekday", "range", "must be between 0 (Sunday) and 6")
		}
		if c.MonthDay != nil && (*c.MonthDay < 1 || *c.MonthDay > 31) {
			bad("month_day", "range", "must be between 1 and 31")
		}
		if c.BoostBP < 1 || c.BoostBP > 10000 {
			bad("boost_bp", "range", "must be between 1 and 10000")
		}
	default:
		bad("kind", "oneof", "must be one of: flash_sale member_day")
	}
	return fs
}

// LiveAt reports whether the campaign's prices apply at now: it runs and
// now is inside its window.
func (c Campaign) LiveAt(now time.Time) bool {
	return c.Status == StatusRunning && !now.Before(c.StartsAt) && now.Before(c.EndsAt)
}

// MemberDayAt reports whether a member day campaign falls on now's
// Shanghai date (and is live).
func (c Campaign) MemberDayAt(now time.Time) bool {
	if c.Kind != KindMemberDay || !c.LiveAt(now) {
		return false
	}
	d := now.In(domain.Shanghai)
	return c.Weekday != nil && int(d.Weekday()) == *c.Weekday || c.MonthDay != nil && d.Day() == *c.MonthDay
}

// MemberDayBoost is the boost, in basis points, of the member days among cs
// that fall on now: the largest (member days do not add up).
func MemberDayBoost(cs []Campaign, now time.Time) int64 {
	var bp int64
	for _, c := range cs {
		if c.MemberDayAt(now) {
			bp = max(bp, int64(c.BoostBP))
		}
	}
	return bp
}

// Due is the status the worker moves a campaign to at now, and whether it
// moves: scheduled campaigns run from StartsAt, scheduled, running and
// paused ones end at EndsAt.
func (c Campaign) Due(now time.Time) (Status, bool) {
	switch {
	case (c.Status == StatusScheduled || c.Status == StatusRunning || c.Status == StatusPaused) && !now.Before(c.EndsAt):
		return StatusEnded, true
	case c.Status == StatusScheduled && !now.Before(c.StartsAt):
		return StatusRunning, true
	}
	return c.Status, false
}

// Price is a SKU's campaign price as the catalog shows it: running now, or
// the next one with its start time.
type Price struct {
	CampaignID int64
	SKUID      int64
	ProductID  int64
	Price      domain.Fen
	Left       int // allotment left
	StartsAt   time.Time
	EndsAt     time.Time
	Running    bool
	// PerShopperLimit is the campaign's (0: none).
	PerShopperLimit int
}

// Errors.
var (
	ErrNotFound      = domain.E(domain.KindNotFound, "campaign_not_found", "No such campaign.")
	ErrInvalidStatus = domain.E(domain.KindConflict, "invalid_status_change", "This status change is not allowed.")
	ErrNotEditable   = domain.E(domain.KindConflict, "campaign_not_editable", "An ended campaign cannot change.")
	ErrSoldOut       = domain.E(domain.KindConflict, "campaign_sold_out", "The campaign price has sold out; please check the new total.")
	ErrLimitReached  = domain.E(domain.KindConflict, "campaign_limit_reached", "You have bought as many as allowed at the campaign price.")
	ErrSKUNotFound   = domain.E(domain.KindInvalid, "reference_not_found", "A SKU of this campaign does not exist.")
)

// Store is what campaigns need from the database.
type Store interface {
	InTx(ctx context.Context, fn func(Store) error) error
	Audit(ctx context.Context, e domain.AuditEntry) error
	Create(ctx context.Context, c Campaign, at time.Time) (Campaign, error)
	Get(ctx context.Context, id int64, forUpdate bool) (Campaign, error)
	Update(ctx context.Context, c Campaign, at time.Time) (Campaign, error)
	List(ctx context.Context, status Status, page domain.Page) ([]Campaign, string, error)
	// DueCampaigns locks up to limit campaigns whose status is due to move
	// at now (FOR UPDATE SKIP LOCKED).
	DueCampaigns(ctx context.Context, now time.Time, limit int) ([]Campaign, error)
	// Prices returns the running and upcoming flash-sale prices of the SKUs
	// or of the products' SKUs.
	Prices(ctx context.Context, skuIDs, productIDs []int64, now time.Time) ([]Price, error)
	// Running returns the running campaigns of a kind.
	Running(ctx context.Context, kind Kind) ([]Campaign, error)
	// ShopperTaken is how many units the shopper took in each campaign.
	ShopperTaken(ctx context.Context, shopperID int64, campaignIDs []int64) (map[int64]int, error)
}

// Service is the campaigns' use cases.
type Service struct {
	Store Store
	Now   func() time.Time
}

func (s *Service) now() time.Time { return domain.Clock(s.Now).Now() }

func entry(by domain.Actor, reqID, action string, id int64, before, after any, at time.Time) domain.AuditEntry {
	return domain.AuditEntry{Actor: by, Action: action, Entity: "campaign", EntityID: strconv.FormatInt(id, 10),
		Before: before, After: after, RequestID: reqID, At: at}
}

// Create adds a campaign as a draft (or scheduled when it says so), audited.
func (s *Service) Create(ctx context.Context, by domain.Actor, reqID string, c Campaign) (Campaign, error) {
	c.Name = strings.TrimSpace(c.Name)
	if c.Status == "" {
		c.Status = StatusDraft
	}
	if c.Status != StatusDraft && c.Status != StatusScheduled {
		return Campaign{}, domain.Invalid(domain.FieldError{Field: "status", Code: "oneof", Message: "must be draft or scheduled"})
	}
	for i := range c.SKUs {
		c.SKUs[i].Taken = 0
	}
	if fs := c.Validate(); len(fs) > 0 {
		return Campaign{}, domain.Invalid(fs...)
	}
	at := s.now()
	var out Campaign
	err := s.Store.InTx(ctx, func(tx Store) error {
		var err error
		if out, err = tx.Create(ctx, c, at); err != nil {
			return err
		}
		return tx.Audit(ctx, entry(by, reqID, "campaign.create", out.ID, nil, out, at))
	})
	if err != nil {
		return Campaign{}, fmt.Errorf("campaign: create: %w", err)
	}
	return out, nil
}

// Update changes a campaign that has not ended with fn, audited. Its kind
// and status do not change here; allotments never drop below what is taken.
func (s *Service) Update(ctx context.Context, by domain.Actor, reqID string, id int64, fn func(*Campaign)) (Campaign, error) {
	at := s.now()
	var out Campaign
	err := s.Store.InTx(ctx, func(tx Store) error {
		before, err := tx.Get(ctx, id, true)
		if err != nil {
			return err
		}
		if before.Status == StatusEnded {
			return ErrNotEditable
		}
		c := before
		c.SKUs = append([]SKU(nil), before.SKUs...)
		fn(&c)
		c.ID, c.Kind, c.Status, c.CreatedAt = before.ID, before.Kind, before.Status, before.CreatedAt
		c.Name = strings.TrimSpace(c.Name)
		taken := map[int64]int{}
		for _, k := range before.SKUs {
			taken[k.SKUID] = k.Taken
		}
		for i := range c.SKUs {
			c.SKUs[i].Taken = taken[c.SKUs[i].SKUID]
			delete(taken, c.SKUs[i].SKUID)
		}
		for sku, n := range taken {
			if n > 0 {
				return domain.Invalid(domain.FieldError{Field: "skus", Code: "required",
					Message: fmt.Sprintf("SKU %d has units taken and cannot leave the campaign", sku)})
			}
		}
		if fs := c.Validate(); len(fs) > 0 {
			return domain.Invalid(fs...)
		}
		if out, err = tx.Update(ctx, c, at); err != nil {
			return err
		}
		return tx.Audit(ctx, entry(by, reqID, "campaign.update", id, before, out, at))
	})
	if err != nil {
		return Campaign{}, fmt.Errorf("campaign: update: %w", err)
	}
	return out, nil
}

// SetStatus is an admin's status change (schedule, pause, resume, end
// early), audited.
func (s *Service) SetStatus(ctx context.Context, by domain.Actor, reqID string, id int64, next Status) (Campaign, error) {
	if !next.Valid() {
		return Campaign{}, domain.Invalid(domain.FieldError{Field: "status", Code: "oneof", Message: "must be one of: scheduled paused ended"})
	}
	at := s.now()
	var out Campaign
	err := s.Store.InTx(ctx, func(tx Store) error {
		before, err := tx.Get(ctx, id, true)
		if err != nil {
			return err
		}
		if !before.Status.CanBecome(next) {
			return ErrInvalidStatus.WithMessage("A %s campaign cannot become %s.", before.Status, next)
		}
		c := before
		c.Status = next
		if next == StatusScheduled {
			if due, ok := c.Due(at); ok {
				c.Status = due
			}
		}
		if out, err = tx.Update(ctx, c, at); err != nil {
			return err
		}
		return tx.Audit(ctx, entry(by, reqID, "campaign.status", id,
			map[string]any{"status": before.Status}, map[string]any{"status": out.Status}, at))
	})
	if err != nil {
		return Campaign{}, fmt.Errorf("campaign: set status: %w", err)
	}
	return out, nil
}

// Get returns a campaign with its SKUs.
func (s *Service) Get(ctx context.Context, id int64) (Campaign, error) {
	return s.Store.Get(ctx, id, false)
}

// List lists campaigns, newest first, optionally by status.
func (s *Service) List(ctx context.Context, status Status, page domain.Page) ([]Campaign, string, error) {
	if status != "" && !status.Valid() {
		return nil, "", domain.Invalid(domain.FieldError{Field: "status", Code: "oneof", Message: "must be one of: draft scheduled running paused ended"})
	}
	return s.Store.List(ctx, status, page)
}

// Advance moves the campaigns that are due (scheduled → running at their
// start, → ended at their end) and returns how many moved. Several workers
// may run it: each takes different campaigns.
func (s *Service) Advance(ctx context.Context, limit int) (int, error) {
	now := s.now()
	n := 0
	err := s.Store.InTx(ctx, func(tx Store) error {
		cs, err := tx.DueCampaigns(ctx, now, limit)
		if err != nil {
			return err
		}
		for _, c := range cs {
			next, ok := c.Due(now)
			if !ok {
				continue
			}
			before := c.Status
			c.Status = next
			if _, err := tx.Update(ctx, c, now); err != nil {
				return err
			}
			if err := tx.Audit(ctx, entry(domain.System, "", "campaign.status", c.ID,
				map[string]any{"status": before}, map[string]any{"status": next}, now)); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("campaign: advance: %w", err)
	}
	return n, nil
}

// Offer is a SKU's running campaign price for one shopper: how many units
// are left and how many more the shopper may take (-1: no limit).
type Offer struct {
	CampaignID  int64
	Price       domain.Fen
	Left        int
	ShopperLeft int
}

// MemberDay is the member-day boost to the tier discount at now, in basis
// points (0: no member day today).
func (s *Service) MemberDay(ctx context.Context, now time.Time) (int64, error) {
	cs, err := s.Store.Running(ctx, KindMemberDay)
	if err != nil {
		return 0, fmt.Errorf("campaign: member day: %w", err)
	}
	return MemberDayBoost(cs, now), nil
}

// Offers returns the running flash-sale offer of each SKU at now for the
// shopper (the lowest price when two campaigns overlap).
func (s *Service) Offers(ctx context.Context, shopperID int64, skuIDs []int64, now time.Time) (map[int64]Offer, error) {
	ps, err := s.Store.Prices(ctx, skuIDs, nil, now)
	if err != nil {
		return nil, err
	}
	out := map[int64]Offer{}
	limit := map[int64]int{}
	var ids []int64
	for _, p := range ps {
		if !p.Running || p.Left <= 0 {
			continue
		}
		if o, ok := out[p.SKUID]; ok && o.Price <= p.Price {
			continue
		}
		out[p.SKUID] = Offer{CampaignID: p.CampaignID, Price: p.Price, Left: p.Left, ShopperLeft: -1}
		limit[p.CampaignID] = p.PerShopperLimit
		ids = append(ids, p.CampaignID)
	}
	if len(out) == 0 || shopperID <= 0 {
		return out, nil
	}
	taken, err := s.Store.ShopperTaken(ctx, shopperID, ids)
	if err != nil {
		return nil, err
	}
	for sku, o := range out {
		if l := limit[o.CampaignID]; l > 0 {
			o.ShopperLeft = max(0, l-taken[o.CampaignID])
			out[sku] = o
		}
	}
	return out, nil
}

// ProductPrices returns, per product, the running and upcoming flash-sale
// prices of its SKUs (for the catalog's list and detail).
func (s *Service) ProductPrices(ctx context.Context, productIDs []int64) (map[int64][]Price, error) {
	ps, err := s.Store.Prices(ctx, nil, productIDs, s.now())
	if err != nil {
		return nil, err
	}
	out := map[int64][]Price{}
	for _, p := range ps {
		out[p.ProductID] = append(out[p.ProductID], p)
	}
	return out, nil
}
