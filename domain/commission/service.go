package commission

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/attribution"
)

// Binding is a customer's binding with where it came from.
type Binding struct {
	ShopperID     int64
	Nickname      string
	Binding       attribution.Binding
	OriginTouchID int64
	OriginCode    string
	Reason        string // set by an admin's rebind
}

// PaidOrder is what commission reads of a paid order.
type PaidOrder struct {
	ID      int64
	BuyerID int64 // 0: a walk-in
	PaidAt  time.Time
	Lines   []Line
}

// CommissionOrder is a paid order with commission, as booked.
type CommissionOrder struct {
	OrderID int64
	BuyerID int64
	PaidAt  time.Time
	Bound   bool
	Flag    string
	Held    bool
}

// LineState is one KOC's commission on one order line, with what its
// ledger holds in pending and settleable now.
type LineState struct {
	OrderID, ItemID, KOCID int64
	Level                  int
	LinePaid, Amount       domain.Fen
	Refunded               domain.Fen
	Pending, Settleable    domain.Fen
}

// Entry is one ledger entry.
type Entry struct {
	ID          int64
	KOCID       int64
	OrderID     int64
	OrderNumber string
	ItemID      int64
	Level       int
	Kind        string
	Bucket      string
	Amount      domain.Fen
	Customer    string // masked
	At          time.Time
}

// Batch is a settlement batch.
type Batch struct {
	ID         int64
	From, To   time.Time
	Status     string
	Total      domain.Fen
	KOCs       int
	CreatedBy  string
	ReviewedBy string
	CreatedAt  time.Time
	Items      []BatchItem
}

// BatchItem is one KOC's part of a batch.
type BatchItem struct {
	ID        int64
	KOCID     int64
	Nickname  string
	RealName  string
	Amount    domain.Fen
	Status    string
	OutBillNo string
}

// Dashboard is a KOC's numbers for one period.
type Dashboard struct {
	Days     int
	Visitors int
	Orders   int
	GMV      domain.Fen // the credited paid goods amount of orders they earned on
	Earned   domain.Fen // accrued in the period (level 1 and 2), before reversals
}

// Customer is a customer bound to a KOC, masked.
type Customer struct {
	Name   string
	From   time.Time
	Until  time.Time
	Active bool
	Orders int
}

// Store is what the programme's use cases need of storage. Handlers call
// the Service with the store of the transaction that changes the order.
type Store interface {
	InTx(ctx context.Context, fn func(Store) error) error
	WriteAudit(ctx context.Context, e domain.AuditEntry) error

	Settings(ctx context.Context) (Settings, error)
	SaveSettings(ctx context.Context, s Settings) error

	KOC(ctx context.Context, shopperID int64, forUpdate bool) (KOC, error)
	SaveApplication(ctx context.Context, k KOC) error
	SetStatus(ctx context.Context, shopperID int64, s Status, levelID int64, at time.Time) error
	KOCs(ctx context.Context, status Status, page domain.Page) ([]KOC, string, error)
	KOCsByTouchpoint(ctx context.Context, tpIDs []int64) (map[int64]KOC, error)
	KOCsByShopper(ctx context.Context, ids []int64) (map[int64]KOC, error)

	Levels(ctx context.Context) (map[int64]Level, error)
	SaveLevel(ctx context.Context, l Level) (Level, error)
	SetLevelRate(ctx context.Context, levelID, categoryID, productID int64, rateBP int, remove bool) error

	Binding(ctx context.Context, shopperID int64) (*Binding, error)
	// BindingSettings returns the customer's binding (nil: none) and the
	// programme's settings, in one statement.
	BindingSettings(ctx context.Context, shopperID int64) (*Binding, Settings, error)
	SaveBinding(ctx context.Context, b Binding) error
	FirstReferrerTouches(ctx context.Context, shopperID int64, until time.Time) ([]attribution.Touch, error)
	HasPaidOrderBefore(ctx context.Context, shopperID int64, before time.Time) (bool, error)
	TouchpointKind(ctx context.Context, id int64) (attribution.TouchpointKind, error)
	Bindings(ctx context.Context, referrerTP int64, page domain.Page) ([]Customer, string, error)

	Fraud(ctx context.Context, orderID, kocID int64) (FraudFacts, error)
	SaveAccruals(ctx context.Context, o CommissionOrder, as []Accrual, at time.Time) error
	LineStates(ctx context.Context, orderID int64) ([]LineState, error)
	SaveReversal(ctx context.Context, refunded map[LineKey]domain.Fen, es []Entry) error
	OrderCompleted(ctx context.Context, orderID int64, settleableAfter time.Time) error
	Mature(ctx context.Context, now time.Time, limit int) (int, error)
	Release(ctx context.Context, orderID int64) error

	Entries(ctx context.Context, kocID int64, page domain.Page) ([]Entry, string, error)
	Dashboard(ctx context.Context, k KOC, since time.Time) (Dashboard, error)
	LinkStats(ctx context.Context, kocID int64, from, to time.Time, page domain.Page) ([]LinkStats, string, error)
	PostStats(ctx context.Context, kocID int64, from, to time.Time) ([]PostStats, error)

	CreateBatch(ctx context.Context, b Batch, at time.Time) (Batch, error)
	Batch(ctx context.Context, id int64, forUpdate bool) (Batch, error)
	Batches(ctx context.Context, page domain.Page) ([]Batch, string, error)
	SetBatchStatus(ctx context.Context, id int64, status, by string, at time.Time) error
}

// LineKey names one KOC's commission on one order line.
type LineKey struct {
	OrderID, ItemID, KOCID int64
	Level                  int
}

// Attributions is what commission reads of attribution: an order's credits.
type Attributions interface {
	Attribution(ctx context.Context, orderID int64, forUpdate bool) (attribution.OrderAttribution, error)
}

// Touchpoints makes sure a shopper has their KOC touchpoint.
type Touchpoints interface {
	EnsureKOC(ctx context.Context, shopperID int64) (int64, error)
}

// Service holds the programme's use cases.
type Service struct {
	Store       Store
	Touchpoints Touchpoints
	Now         func() time.Time
}

func (s *Service) now() time.Time { return domain.Clock(s.Now).Now() }

// --- joining ---

// Apply makes the shopper a pending KOC; recruiterID (0: none) must be an
// active KOC who was not recruited themselves. A rejected KOC may apply
// again.
func (s *Service) Apply(ctx context.Context, shopperID, recruiterID int64, realName, note string) (KOC, error) {
	if !domain.ValidText(realName) || !domain.ValidText(note) {
		return KOC{}, domain.InvalidText("real_name", "note")
	}
	tp, err := s.Touchpoints.EnsureKOC(ctx, shopperID)
	if err != nil {
		return KOC{}, fmt.Errorf("commission: apply: %w", err)
	}
	k := KOC{ShopperID: shopperID, TouchpointID: tp, Status: StatusPending, Depth: 1, RealName: realName, Note: note, AppliedAt: s.now()}
	err = s.Store.InTx(ctx, func(st Store) error {
		if cur, err := st.KOC(ctx, shopperID, true); err == nil && cur.Status != StatusRejected {
			return ErrAlreadyKOC
		} else if err != nil && !errors.Is(err, ErrNotKOC) {
			return err
		}
		if recruiterID != 0 {
			r, err := st.KOC(ctx, recruiterID, true)
			if errors.Is(err, ErrNotKOC) {
				return ErrRecruiterInactive
			} else if err != nil {
				return err
			}
			if err := Recruitable(shopperID, r); err != nil {
				return err
			}
			k.Depth, k.RecruiterID = 2, recruiterID
		}
		return st.SaveApplication(ctx, k)
	})
	if err != nil {
		return KOC{}, fmt.Errorf("commission: apply: %w", err)
	}
	return s.Store.KOC(ctx, shopperID, false)
}

// Decide applies an admin's decision (audited); approving needs a level
// and may change it.
func (s *Service) Decide(ctx context.Context, by domain.Actor, reqID string, shopperID int64, d Decision, levelID int64) (KOC, error) {
	now := s.now()
	err := s.Store.InTx(ctx, func(st Store) error {
		k, err := st.KOC(ctx, shopperID, true)
		if err != nil {
			return err
		}
		next, err := d.Next(k.Status)
		if err != nil {
			return err
		}
		lvl := k.LevelID
		if levelID != 0 {
			lvl = levelID
		}
		if d == Approve {
			if lvl == 0 {
				return ErrLevelRequired
			}
			ls, err := st.Levels(ctx)
			if err != nil {
				return err
			}
			if _, ok := ls[lvl]; !ok {
				return ErrLevelNotFound
			}
		}
		if err := st.SetStatus(ctx, shopperID, next, lvl, now); err != nil {
			return err
		}
		return st.WriteAudit(ctx, domain.AuditEntry{Actor: by, Action: "koc." + string(d), Entity: "koc",
			EntityID: fmt.Sprint(shopperID), Before: map[string]any{"status": k.Status, "level_id": k.LevelID},
			After: map[string]any{"status": next, "level_id": lvl}, RequestID: reqID, At: now})
	})
	if err != nil {
		return KOC{}, fmt.Errorf("commission: %s: %w", d, err)
	}
	return s.Store.KOC(ctx, shopperID, false)
}

// KOC returns one KOC.
func (s *Service) KOC(ctx context.Context, shopperID int64) (KOC, error) {
	return s.Store.KOC(ctx, shopperID, false)
}

// KOCs lists KOCs, newest first, optionally by status.
func (s *Service) KOCs(ctx context.Context, status Status, page domain.Page) ([]KOC, string, error) {
	return s.Store.KOCs(ctx, status, page)
}

// --- levels and settings ---

// Levels lists the levels.
func (s *Service) Levels(ctx context.Context) (map[int64]Level, error) { return s.Store.Levels(ctx) }

// SaveLevel creates (ID 0) or updates a level (audited).
func (s *Service) SaveLevel(ctx context.Context, by domain.Actor, reqID string, l Level) (Level, error) {
	if err := l.Validate(); err != nil {
		return Level{}, err
	}
	l.UpdatedAt = s.now()
	var out Level
	err := s.Store.InTx(ctx, func(st Store) error {
		var err error
		if out, err = st.SaveLevel(ctx, l); err != nil {
			return err
		}
		return st.WriteAudit(ctx, domain.AuditEntry{Actor: by, Action: "koc_level.save", Entity: "koc_level",
			EntityID: fmt.Sprint(out.ID), After: map[string]any{"name": l.Name, "rate_bp": l.RateBP, "override_bp": l.OverrideBP},
			RequestID: reqID, At: l.UpdatedAt})
	})
	return out, err
}

// SetLevelRate sets (or, with remove, removes) a level's rate for one
// category or one product (audited).
func (s *Service) SetLevelRate(ctx context.Context, by domain.Actor, reqID string, levelID, categoryID, productID int64, rateBP int, remove bool) error {
	if (categoryID == 0) == (productID == 0) {
		return domain.Invalid(domain.FieldError{Field: "category_id", Code: "one_of", Message: "give exactly one of category_id and product_id"})
	}
	if rateBP < 0 || rateBP > MaxRateBP {
		return domain.OutOfRange(domain.FieldError{Field: "rate_bp", Code: "out_of_range", Message: "must be 0 to 5000"})
	}
	return s.Store.InTx(ctx, func(st Store) error {
		if err := st.SetLevelRate(ctx, levelID, categoryID, productID, rateBP, remove); err != nil {
			return err
		}
		return st.WriteAudit(ctx, domain.AuditEntry{Actor: by, Action: "koc_level.rate", Entity: "koc_level",
			EntityID: fmt.Sprint(levelID), After: map[string]any{"category_id": categoryID, "product_id": productID,
				"rate_bp": rateBP, "removed": remove}, RequestID: reqID, At: s.now()})
	})
}

// Settings returns the programme's settings.
func (s *Service) Settings(ctx context.Context) (Settings, error) { return s.Store.Settings(ctx) }

// SaveSettings replaces the settings (audited).
func (s *Service) SaveSettings(ctx context.Context, by domain.Actor, reqID string, set Settings) error {
	if err := set.Validate(); err != nil {
		return err
	}
	return s.Store.InTx(ctx, func(st Store) error {
		before, err := st.Settings(ctx)
		if err != nil {
			return err
		}
		if err := st.SaveSettings(ctx, set); err != nil {
			return err
		}
		return st.WriteAudit(ctx, domain.AuditEntry{Actor: by, Action: "koc.settings", Entity: "koc_settings", EntityID: "1",
			Before: before, After: set, RequestID: reqID, At: s.now()})
	})
}

// --- binding ---

// Bind binds the shopper to the referrer of their first KOC or clerk touch
// when binding is on and they are not bound yet (and, with the new-only
// setting, have no paid order). It runs at sign-in and when a payment is
// applied, with the store of that transaction, and returns the binding
// (nil: none).
func (s *Service) Bind(ctx context.Context, st Store, shopperID int64, now time.Time) (*Binding, error) {
	return s.bind(ctx, st, &settingsMemo{st: st}, shopperID, now)
}

// settingsMemo reads the programme's settings at most once (one accrual
// needs them for the binding and for the cap and fraud limit).
type settingsMemo struct {
	st  Store
	set Settings
	ok  bool
}

func (m *settingsMemo) get(ctx context.Context) (Settings, error) {
	if !m.ok {
		set, err := m.st.Settings(ctx)
		if err != nil {
			return Settings{}, err
		}
		m.set, m.ok = set, true
	}
	return m.set, nil
}

func (s *Service) bind(ctx context.Context, st Store, sm *settingsMemo, shopperID int64, now time.Time) (*Binding, error) {
	// The settings come with the binding: a customer not bound yet needs
	// them, and an accrual needs them for its cap and fraud limit.
	cur, set, err := st.BindingSettings(ctx, shopperID)
	if err != nil {
		return nil, err
	}
	sm.set, sm.ok = set, true
	if cur != nil || set.BindingDays <= 0 {
		return cur, nil
	}
	if set.BindingNewOnly {
		if paid, err := st.HasPaidOrderBefore(ctx, shopperID, now); err != nil || paid {
			return nil, err
		}
	}
	ts, err := st.FirstReferrerTouches(ctx, shopperID, now)
	if err != nil {
		return nil, err
	}
	b := attribution.ResolveBinding(nil, ts, now, set.BindingDays)
	if b == nil {
		return nil, nil
	}
	nb := Binding{ShopperID: shopperID, Binding: *b}
	for _, t := range ts {
		if t.At.Equal(b.From) {
			nb.OriginTouchID, nb.OriginCode = t.ID, t.Code
			break
		}
	}
	if err := st.SaveBinding(ctx, nb); err != nil {
		return nil, err
	}
	return &nb, nil
}

// Binding returns the customer's binding.
func (s *Service) Binding(ctx context.Context, shopperID int64) (Binding, error) {
	b, err := s.Store.Binding(ctx, shopperID)
	if err != nil {
		return Binding{}, err
	}
	if b == nil {
		return Binding{}, ErrNotBound
	}
	return *b, nil
}

// Rebind binds the customer to another KOC or clerk touchpoint from now for
// the binding length (audited, with a reason).
func (s *Service) Rebind(ctx context.Context, by domain.Actor, reqID string, shopperID, referrerTP int64, reason string) (Binding, error) {
	if reason == "" || len([]rune(reason)) > 200 || !domain.ValidText(reason) {
		return Binding{}, domain.Invalid(domain.FieldError{Field: "reason", Code: "required", Message: "must be 1 to 200 characters"})
	}
	now := s.now()
	err := s.Store.InTx(ctx, func(st Store) error {
		kind, err := st.TouchpointKind(ctx, referrerTP)
		if err != nil {
			return err
		}
		if kind != attribution.KindKOC && kind != attribution.KindClerk {
			return ErrReferrer
		}
		set, err := st.Settings(ctx)
		if err != nil {
			return err
		}
		days := max(set.BindingDays, 1)
		before, err := st.Binding(ctx, shopperID)
		if err != nil {
			return err
		}
		nb := Binding{ShopperID: shopperID, Reason: reason, Binding: attribution.Binding{
			Referrer: attribution.Touchpoint{Kind: kind, ID: referrerTP}, From: now, Until: now.Add(time.Duration(days) * 24 * time.Hour)}}
		if err := st.SaveBinding(ctx, nb); err != nil {
			return err
		}
		var was any
		if before != nil {
			was = map[string]any{"referrer": before.Binding.Referrer.String(), "until": before.Binding.Until}
		}
		return st.WriteAudit(ctx, domain.AuditEntry{Actor: by, Action: "koc.rebind", Entity: "binding", EntityID: fmt.Sprint(shopperID),
			Before: was, After: map[string]any{"referrer": nb.Binding.Referrer.String(), "until": nb.Binding.Until, "reason": reason},
			RequestID: reqID, At: now})
	})
	if err != nil {
		return Binding{}, fmt.Errorf("commission: rebind: %w", err)
	}
	return s.Binding(ctx, shopperID)
}

// --- the ledger, driven by the order's life ---

// Accrue books the commission of a paid order: it binds the buyer if they
// should be, asks attribution who earns (CommissionReferrer, with the
// credits of the default model) and books Accrue's result as pending,
// held for an admin when the order is flagged. st and at must run in the
// payment-apply transaction, after attribution has attributed the order.
// o is the order as the paid moment carries it; o.PaidAt must be its
// paid_at as stored (to the microsecond).
func (s *Service) Accrue(ctx context.Context, st Store, at Attributions, o PaidOrder) error {
	orderID := o.ID
	if o.BuyerID == 0 {
		return nil
	}
	sm := &settingsMemo{st: st}
	b, err := s.bind(ctx, st, sm, o.BuyerID, o.PaidAt)
	if err != nil {
		return fmt.Errorf("commission: accrue order %d: bind: %w", orderID, err)
	}
	var credits []attribution.Credit
	a, err := at.Attribution(ctx, orderID, false)
	switch {
	case errors.Is(err, attribution.ErrNotAttributed):
	case err != nil:
		return fmt.Errorf("commission: accrue order %d: %w", orderID, err)
	default:
		for _, m := range a.Models {
			if m.Model == a.DefaultModel {
				credits = m.Credits
			}
		}
	}
	lines := make([]attribution.Line, len(o.Lines))
	for i, l := range o.Lines {
		lines[i] = attribution.Line{ItemID: l.ItemID, Paid: l.Paid}
	}
	var bb *attribution.Binding
	if b != nil {
		bb = &b.Binding
	}
	earners := attribution.CommissionReferrer(bb, lines, credits, o.PaidAt)
	var tps []int64
	for _, e := range earners {
		if e.Referrer.Kind == attribution.KindKOC {
			tps = append(tps, e.Referrer.ID)
		}
	}
	if len(tps) == 0 {
		return nil
	}
	kocs, err := st.KOCsByTouchpoint(ctx, tps)
	if err != nil || len(kocs) == 0 {
		return err
	}
	var recIDs []int64
	for _, k := range kocs {
		if k.RecruiterID != 0 {
			recIDs = append(recIDs, k.RecruiterID)
		}
	}
	recs, err := st.KOCsByShopper(ctx, recIDs)
	if err != nil {
		return err
	}
	levels, err := st.Levels(ctx)
	if err != nil {
		return err
	}
	set, err := sm.get(ctx)
	if err != nil {
		return err
	}
	as := Accrue(AccrueInput{BuyerID: o.BuyerID, Lines: o.Lines, Earners: earners, KOCs: kocs, Recruiters: recs, Levels: levels, Cap: set.OrderCap})
	if len(as) == 0 {
		return nil
	}
	co := CommissionOrder{OrderID: orderID, BuyerID: o.BuyerID, PaidAt: o.PaidAt, Bound: bb.Active(o.PaidAt)}
	for _, ac := range as {
		if ac.Level != 1 || co.Flag != "" {
			continue
		}
		f, err := st.Fraud(ctx, orderID, ac.KOCID)
		if err != nil {
			return err
		}
		co.Flag = Flag(f, set.FraudSharedLimit)
	}
	co.Held = co.Flag != ""
	if err := st.SaveAccruals(ctx, co, as, s.now()); err != nil {
		return fmt.Errorf("commission: accrue order %d: %w", orderID, err)
	}
	return nil
}

// Reverse takes back the commission of refunded lines (line ItemID → the
// amount refunded now), pro rata on the cumulative refund: from pending,
// then settleable, and what was settled already as a negative settleable
// entry carried into the next settlement. st must run in the refund's
// transaction.
func (s *Service) Reverse(ctx context.Context, st Store, orderID int64, refunded map[int64]domain.Fen) error {
	ls, err := st.LineStates(ctx, orderID)
	if err != nil || len(ls) == 0 {
		return err
	}
	now := s.now()
	upd := map[LineKey]domain.Fen{}
	var es []Entry
	for _, l := range ls {
		r := refunded[l.ItemID]
		if r <= 0 {
			continue
		}
		k := LineKey{OrderID: l.OrderID, ItemID: l.ItemID, KOCID: l.KOCID, Level: l.Level}
		upd[k] = min(r, l.LinePaid-l.Refunded)
		rev := LineReversal(l.Amount, l.LinePaid, l.Refunded, r)
		sp := SplitReversal(rev, l.Pending, l.Settleable)
		add := func(kind, bucket string, f domain.Fen) {
			if f > 0 {
				es = append(es, Entry{KOCID: l.KOCID, OrderID: l.OrderID, ItemID: l.ItemID, Level: l.Level, Kind: kind, Bucket: bucket, Amount: -f, At: now})
			}
		}
		add("reverse", "pending", sp.FromPending)
		add("reverse", "settleable", sp.FromSettleable)
		add("carry", "settleable", sp.Carry)
	}
	if len(upd) == 0 {
		return nil
	}
	if err := st.SaveReversal(ctx, upd, es); err != nil {
		return fmt.Errorf("commission: reverse order %d: %w", orderID, err)
	}
	return nil
}

// Completed starts the order's after-sales window: its commission becomes
// settleable when the window has passed (Mature). st must run in the
// completing transaction.
func (s *Service) Completed(ctx context.Context, st Store, orderID int64, at time.Time) error {
	set, err := st.Settings(ctx)
	if err != nil {
		return err
	}
	return st.OrderCompleted(ctx, orderID, SettleableAfter(at, set.AfterSalesDays))
}

// Mature moves to settleable the pending commission of orders whose
// after-sales window has passed and that are not held (a worker); it
// returns how many orders it matured.
func (s *Service) Mature(ctx context.Context, limit int) (int, error) {
	return s.Store.Mature(ctx, s.now(), limit)
}

// Release lets a flagged order's commission mature (audited).
func (s *Service) Release(ctx context.Context, by domain.Actor, reqID string, orderID int64) error {
	return s.Store.InTx(ctx, func(st Store) error {
		if err := st.Release(ctx, orderID); err != nil {
			return err
		}
		return st.WriteAudit(ctx, domain.AuditEntry{Actor: by, Action: "commission.release", Entity: "order",
			EntityID: fmt.Sprint(orderID), RequestID: reqID, At: s.now()})
	})
}

// --- the KOC's own view ---

// Entries lists a KOC's ledger entries, newest first.
func (s *Service) Entries(ctx context.Context, kocID int64, page domain.Page) ([]Entry, string, error) {
	if _, err := s.Store.KOC(ctx, kocID, false); err != nil {
		return nil, "", err
	}
	return s.Store.Entries(ctx, kocID, page)
}

// Dashboard is the KOC with their numbers for today, 7 and 30 days.
func (s *Service) Dashboard(ctx context.Context, kocID int64) (KOC, []Dashboard, error) {
	k, err := s.Store.KOC(ctx, kocID, false)
	if err != nil {
		return KOC{}, nil, err
	}
	now := s.now().In(domain.Shanghai)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, domain.Shanghai)
	var out []Dashboard
	for _, days := range []int{1, 7, 30} {
		d, err := s.Store.Dashboard(ctx, k, today.AddDate(0, 0, 1-days))
		if err != nil {
			return KOC{}, nil, err
		}
		d.Days = days
		out = append(out, d)
	}
	return k, out, nil
}

// Customers lists the customers bound to the KOC, masked.
func (s *Service) Customers(ctx context.Context, kocID int64, page domain.Page) ([]Customer, string, error) {
	k, err := s.Store.KOC(ctx, kocID, false)
	if err != nil {
		return nil, "", err
	}
	cs, next, err := s.Store.Bindings(ctx, k.TouchpointID, page)
	now := s.now()
	for i := range cs {
		cs[i].Name = MaskName(cs[i].Name)
		cs[i].Active = !now.Before(cs[i].From) && now.Before(cs[i].Until)
	}
	return cs, next, err
}

// --- settlement ---

// CreateBatch settles, per active KOC, every settleable entry made before
// to, net of carried negatives; KOCs whose net is not positive are left for
// a later batch (audited).
func (s *Service) CreateBatch(ctx context.Context, by domain.Actor, reqID string, from, to time.Time) (Batch, error) {
	if !to.After(from) {
		return Batch{}, domain.Invalid(domain.FieldError{Field: "to", Code: "after", Message: "must be after from"})
	}
	var b Batch
	err := s.Store.InTx(ctx, func(st Store) error {
		var err error
		b, err = st.CreateBatch(ctx, Batch{From: from, To: to, Status: "draft", CreatedBy: by.String()}, s.now())
		if err != nil {
			return err
		}
		return st.WriteAudit(ctx, domain.AuditEntry{Actor: by, Action: "settlement.create", Entity: "settlement_batch",
			EntityID: fmt.Sprint(b.ID), After: map[string]any{"total_fen": b.Total, "kocs": b.KOCs}, RequestID: reqID, At: s.now()})
	})
	if err != nil {
		return Batch{}, fmt.Errorf("commission: create batch: %w", err)
	}
	return s.Store.Batch(ctx, b.ID, false)
}

// Batch returns a batch with its items.
func (s *Service) Batch(ctx context.Context, id int64) (Batch, error) {
	return s.Store.Batch(ctx, id, false)
}

// Batches lists batches, newest first.
func (s *Service) Batches(ctx context.Context, page domain.Page) ([]Batch, string, error) {
	return s.Store.Batches(ctx, page)
}

// Review marks a draft batch reviewed (audited): only a reviewed batch is
// paid.
func (s *Service) Review(ctx context.Context, by domain.Actor, reqID string, id int64) (Batch, error) {
	err := s.Store.InTx(ctx, func(st Store) error {
		b, err := st.Batch(ctx, id, true)
		if err != nil {
			return err
		}
		if b.Status != "draft" {
			return ErrBatchStatus
		}
		if err := st.SetBatchStatus(ctx, id, "reviewed", by.String(), s.now()); err != nil {
			return err
		}
		return st.WriteAudit(ctx, domain.AuditEntry{Actor: by, Action: "settlement.review", Entity: "settlement_batch",
			EntityID: fmt.Sprint(id), RequestID: reqID, At: s.now()})
	})
	if err != nil {
		return Batch{}, err
	}
	return s.Store.Batch(ctx, id, false)
}
