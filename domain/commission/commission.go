// Package commission is the KOC programme: who is a KOC (joining, levels,
// at most two levels of recruitment), who a customer is bound to (锁客),
// what a KOC earns on each paid order line, and how earnings move through
// an immutable ledger — pending → settleable → settled → paid, with
// reversals on refunds — into settlement batches paid by WeChat Pay
// merchant transfers.
//
// The rules here are pure and table-tested; Service holds the use cases.
package commission

import (
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/attribution"
)

// Status is a KOC's standing in the programme.
type Status string

// The statuses.
const (
	StatusPending   Status = "pending"   // applied, waiting for an admin
	StatusActive    Status = "active"    // earns commission
	StatusRejected  Status = "rejected"  // may apply again
	StatusSuspended Status = "suspended" // earns nothing until resumed
)

// Decision is an admin's action on a KOC.
type Decision string

// The decisions.
const (
	Approve Decision = "approve"
	Reject  Decision = "reject"
	Suspend Decision = "suspend"
	Resume  Decision = "resume"
)

// Next is the status a decision leads to from s, or an error when the
// decision does not apply to a KOC in s.
func (d Decision) Next(s Status) (Status, error) {
	switch {
	case d == Approve && s == StatusPending:
		return StatusActive, nil
	case d == Reject && s == StatusPending:
		return StatusRejected, nil
	case d == Suspend && s == StatusActive:
		return StatusSuspended, nil
	case d == Resume && s == StatusSuspended:
		return StatusActive, nil
	}
	return s, domain.Errorf(domain.KindConflict, "koc_wrong_status", "A %s KOC cannot be given %q.", s, string(d))
}

// MaxDepth is the deepest a KOC can sit: depth 1 joined on their own, depth
// 2 was recruited by a depth-1 KOC. There is no third level: the schema
// cannot store one and Recruitable refuses one. Only a KOC's direct
// recruiter earns an override; a recruiter's recruiter earns nothing.
const MaxDepth = 2

// KOC is a member of the programme.
type KOC struct {
	ShopperID    int64
	TouchpointID int64
	Status       Status
	LevelID      int64
	Depth        int
	RecruiterID  int64 // shopper id of the recruiting KOC (depth 2)
	RealName     string
	Note         string
	AppliedAt    time.Time
	DecidedAt    time.Time
	Nickname     string
	Balances     Balances
}

// Balances are a KOC's ledger sums by bucket; Reversed is everything taken
// back by refunds (a positive number). Settleable may be negative while
// a carried-forward reversal waits for the next settlement.
type Balances struct {
	Pending, Settleable, Settled, Paid, Reversed domain.Fen
}

// Errors of the programme.
var (
	ErrNotKOC     = domain.E(domain.KindNotFound, "koc_not_found", "No such KOC.")
	ErrThirdLevel = domain.E(domain.KindConflict, "koc_third_level",
		"The recruiter was recruited by another KOC: the programme has at most two levels.")
	ErrRecruiterInactive = domain.E(domain.KindConflict, "koc_recruiter_inactive", "The recruiter is not an active KOC.")
	ErrSelfRecruit       = domain.E(domain.KindInvalid, "koc_self_recruit", "A KOC cannot recruit themselves.")
	ErrAlreadyKOC        = domain.E(domain.KindConflict, "koc_already_applied", "You have already applied or joined.")
	ErrLevelNotFound     = domain.E(domain.KindNotFound, "koc_level_not_found", "No such KOC level.")
	ErrLevelRequired     = domain.E(domain.KindInvalid, "koc_level_required", "Approving a KOC needs a level.")
	ErrBatchNotFound     = domain.E(domain.KindNotFound, "settlement_batch_not_found", "No such settlement batch.")
	ErrBatchStatus       = domain.E(domain.KindConflict, "settlement_batch_status", "The batch is not in a state that allows this.")
	ErrNothingToSettle   = domain.E(domain.KindConflict, "nothing_to_settle", "No KOC has a positive settleable balance in the period.")
	ErrNotBound          = domain.E(domain.KindNotFound, "binding_not_found", "The customer is not bound.")
	ErrReferrer          = domain.E(domain.KindInvalid, "binding_referrer", "The referrer must be a KOC or clerk touchpoint.")
	ErrOrderNotHeld      = domain.E(domain.KindNotFound, "commission_order_not_held", "The order's commission is not held for review.")
)

// Recruitable checks that recruiter may recruit applicant: an active KOC
// who was not recruited themselves (so the applicant sits at depth 2).
func Recruitable(applicant int64, recruiter KOC) error {
	switch {
	case recruiter.ShopperID == applicant:
		return ErrSelfRecruit
	case recruiter.Depth >= MaxDepth || recruiter.RecruiterID != 0:
		return ErrThirdLevel
	case recruiter.Status != StatusActive:
		return ErrRecruiterInactive
	}
	return nil
}

// Level is a KOC level: the KOC's own rate and their direct recruiter's
// override rate, in basis points, with per-category and per-product rates
// that replace the level's own rate (a product's beats its category's).
type Level struct {
	ID         int64
	Name       string
	RateBP     int
	OverrideBP int
	Categories map[int64]int // category id → rate
	Products   map[int64]int // product id → rate
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Bounds of rates.
const (
	MaxRateBP     = 5000
	MaxOverrideBP = 2000
)

// Validate reports every field out of bounds.
func (l Level) Validate() error {
	var fe []domain.FieldError
	if l.Name == "" || len([]rune(l.Name)) > 50 {
		fe = append(fe, domain.FieldError{Field: "name", Code: "length", Message: "must be 1 to 50 characters"})
	}
	if l.RateBP < 0 || l.RateBP > MaxRateBP {
		fe = append(fe, domain.FieldError{Field: "rate_bp", Code: "out_of_range", Message: "must be 0 to 5000"})
	}
	if l.OverrideBP < 0 || l.OverrideBP > MaxOverrideBP {
		fe = append(fe, domain.FieldError{Field: "override_bp", Code: "out_of_range", Message: "must be 0 to 2000"})
	}
	if len(fe) > 0 {
		return domain.Invalid(fe...)
	}
	return nil
}

// RateFor is the level's rate for a product in a category.
func (l Level) RateFor(productID, categoryID int64) int {
	if r, ok := l.Products[productID]; ok {
		return r
	}
	if r, ok := l.Categories[categoryID]; ok {
		return r
	}
	return l.RateBP
}

// Line is an order line as commission sees it.
type Line struct {
	ItemID     int64
	ProductID  int64
	CategoryID int64
	Paid       domain.Fen // paid goods amount, freight excluded
}

// Accrual is what one KOC earns on one order line at one level (1: their
// own commission; 2: their recruit's, as the direct recruiter's override).
type Accrual struct {
	KOCID    int64
	Level    int
	ItemID   int64
	LinePaid domain.Fen
	Base     domain.Fen
	RateBP   int
	Amount   domain.Fen
}

// AccrueInput is a paid order and what decides its commission.
type AccrueInput struct {
	BuyerID int64
	Lines   []Line
	Earners []attribution.Earner // from attribution.CommissionReferrer
	KOCs    map[int64]KOC        // the earners' KOCs by touchpoint id
	// Recruiters are the earners' recruiters by shopper id.
	Recruiters map[int64]KOC
	Levels     map[int64]Level
	Cap        domain.Fen // per order; 0: none
}

// Accrue computes an order's commission, line by line:
//
//   - each earner that is an active KOC earns its level's rate for the line
//     (product, then category, then level rate) on its credited amount of
//     the line; earners that are not active KOCs (clerks, shoppers who never
//     joined, suspended KOCs) earn nothing;
//   - nothing is earned on a KOC's own purchase (buyer = the KOC), and no
//     override either;
//   - the earner's direct recruiter, when active and not the buyer, earns
//     their level's override rate on the same base (level 2); never further;
//   - when the order's total exceeds Cap, the total is cut to Cap and shared
//     by largest remainder in proportion to each accrual.
//
// Zero amounts are dropped. The result is in earner, line order.
func Accrue(in AccrueInput) []Accrual {
	lineOf := make(map[int64]Line, len(in.Lines))
	for _, l := range in.Lines {
		lineOf[l.ItemID] = l
	}
	var out []Accrual
	for _, e := range in.Earners {
		k, ok := in.KOCs[e.Referrer.ID]
		if e.Referrer.Kind != attribution.KindKOC || !ok || k.Status != StatusActive || k.ShopperID == in.BuyerID {
			continue
		}
		lvl := in.Levels[k.LevelID]
		var rec *KOC
		if r, ok := in.Recruiters[k.RecruiterID]; ok && k.RecruiterID != 0 && r.Status == StatusActive && r.ShopperID != in.BuyerID {
			rec = &r
		}
		for _, la := range e.Lines {
			l, ok := lineOf[la.ItemID]
			if !ok || la.Amount <= 0 {
				continue
			}
			rate := lvl.RateFor(l.ProductID, l.CategoryID)
			out = append(out, Accrual{KOCID: k.ShopperID, Level: 1, ItemID: l.ItemID, LinePaid: l.Paid, Base: la.Amount,
				RateBP: rate, Amount: la.Amount.MulRat(int64(rate), 10_000)})
			if rec != nil {
				ov := in.Levels[rec.LevelID].OverrideBP
				out = append(out, Accrual{KOCID: rec.ShopperID, Level: 2, ItemID: l.ItemID, LinePaid: l.Paid, Base: la.Amount,
					RateBP: ov, Amount: la.Amount.MulRat(int64(ov), 10_000)})
			}
		}
	}
	var total domain.Fen
	for _, a := range out {
		total += a.Amount
	}
	if in.Cap > 0 && total > in.Cap {
		ws := make([]domain.Fen, len(out))
		for i, a := range out {
			ws[i] = a.Amount
		}
		for i, f := range domain.AllocateFen(in.Cap, ws) {
			out[i].Amount = f
		}
	}
	kept := out[:0]
	for _, a := range out {
		if a.Amount > 0 {
			kept = append(kept, a)
		}
	}
	return kept
}

// LineReversal is how much of commission c, earned on a line that paid
// paid, a refund of now reverses when before had been refunded already:
// the commission is reversed in proportion to what is refunded, counted on
// the cumulative refund so that a full refund reverses exactly c.
func LineReversal(c, paid, before, now domain.Fen) domain.Fen {
	if paid <= 0 || c <= 0 || now <= 0 {
		return 0
	}
	after := min(before+now, paid)
	return c.MulRat(int64(after), int64(paid)) - c.MulRat(int64(min(before, paid)), int64(paid))
}

// Split says where a reversal of r comes from, given what the line has in
// pending and settleable: pending first, then settleable, and the rest
// (already settled or paid) is carried as a negative settleable entry,
// netted in the next settlement.
type Split struct {
	FromPending, FromSettleable, Carry domain.Fen
}

// SplitReversal splits r (≥ 0) over the line's buckets.
func SplitReversal(r, pending, settleable domain.Fen) Split {
	var s Split
	s.FromPending = min(r, max(pending, 0))
	r -= s.FromPending
	s.FromSettleable = min(r, max(settleable, 0))
	s.Carry = r - s.FromSettleable
	return s
}

// SettleableAfter is when an order completed at completed becomes
// settleable: after its after-sales window of days.
func SettleableAfter(completed time.Time, days int) time.Time {
	return completed.Add(time.Duration(days) * 24 * time.Hour)
}

// Settings are the programme's settings.
type Settings struct {
	BindingDays      int        // 0: binding off
	BindingNewOnly   bool       // bind only customers with no paid order yet
	OrderCap         domain.Fen // 0: no cap
	AfterSalesDays   int        // default 7
	FraudSharedLimit int        // new customers of one KOC sharing one address before flagging
}

// Validate reports every field out of bounds.
func (s Settings) Validate() error {
	var fe []domain.FieldError
	if s.BindingDays < 0 || s.BindingDays > 3650 {
		fe = append(fe, domain.FieldError{Field: "binding_days", Code: "out_of_range", Message: "must be 0 (off) to 3650"})
	}
	if s.OrderCap < 0 || s.OrderCap > 100_000_000 {
		fe = append(fe, domain.FieldError{Field: "order_cap_fen", Code: "out_of_range", Message: "must be 0 (none) to 100000000"})
	}
	if s.AfterSalesDays < 0 || s.AfterSalesDays > 90 {
		fe = append(fe, domain.FieldError{Field: "aftersales_days", Code: "out_of_range", Message: "must be 0 to 90"})
	}
	if s.FraudSharedLimit < 1 || s.FraudSharedLimit > 100 {
		fe = append(fe, domain.FieldError{Field: "fraud_shared_limit", Code: "out_of_range", Message: "must be 1 to 100"})
	}
	if len(fe) > 0 {
		return domain.Invalid(fe...)
	}
	return nil
}

// Fraud facts about a paid order with commission.
type FraudFacts struct {
	// SharesAddressWithKOC: the order ships to a phone number or address the
	// earning KOC keeps in their own address book.
	SharesAddressWithKOC bool
	// CustomersAtAddress: how many distinct buyers (this one included) of
	// orders earning this KOC commission shipped to this order's phone.
	CustomersAtAddress int
}

// Flag says why an order's commission waits for an admin ("" when it does
// not): an address shared with the KOC, or at least limit of the KOC's
// customers shipping to one phone number.
func Flag(f FraudFacts, limit int) string {
	switch {
	case f.SharesAddressWithKOC:
		return "address_shared_with_koc"
	case limit > 0 && f.CustomersAtAddress >= limit:
		return "many_customers_one_address"
	}
	return ""
}

// MaskName shows a customer's nickname with all but its first character
// hidden.
func MaskName(s string) string {
	r := []rune(s)
	if len(r) == 0 {
		return "*"
	}
	return string(r[0]) + "**"
}
