// Package member is the membership card: tiers and growth, points, stored
// value (储值) and the dynamic member code a clerk scans.
//
// Points and stored value are ledgers of immutable entries; the card caches
// their sums (points, debt, principal, bonus), updated in the same
// transaction as the entry. The order's life drives them (handlers in
// lifecycle.go, subscribed by the program): points and stored value offered
// at checkout are taken when the order is placed (points frozen, stored
// value recorded as a tender), spent when it is paid and given back when it
// is cancelled; payment earns points and growth on the goods paid (not
// freight); refunds reverse both pro rata by line and give stored value back
// to principal and bonus as they were spent.
//
// Stated rules where the brief leaves a choice:
//   - Points earned: per order line, floor(paid fen × points per yuan ×
//     tier multiplier / 100); whatever paid the line (WeChat Pay, stored
//     value) counts, freight never does.
//   - A reversal that finds too few points takes what there is and records
//     the rest as debt; every later credit (earn, return, adjustment) pays
//     the debt first.
//   - Stored value is spent principal first, bonus after; a refund gives
//     back to bonus in proportion to the bonus the tender used (rounding fen
//     to principal).
//   - Growth: per line, floor(paid fen × growth per yuan / 100); refunds
//     reverse it pro rata (never below zero) without downgrading. The yearly
//     review (a year after the card's period began) sets the tier that the
//     period's growth reaches, up or down, and starts a new period at zero.
package member

import (
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/order"
	"github.com/yutang/yutang/domain/payment"
)

// TenderStoredValue is an order's payable settled from a card's stored
// value. Its Ref is "sv-" and the spending entry's id.
const TenderStoredValue order.TenderKind = "stored_value"

// Tier is a level of membership.
type Tier struct {
	ID           int64
	Name         string
	Threshold    int64 // growth that reaches it
	DiscountBP   int64 // off the price, basis points (500 = 5% off)
	MultiplierBP int64 // points multiplier, basis points (10000 = 1×)
	FreeShipping bool
	// BirthdayTemplate is the coupon template granted in the birthday
	// month (0: none).
	BirthdayTemplate int64
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Card is a shopper's membership card.
type Card struct {
	ID           int64
	ShopperID    int64
	Number       string
	TierID       int64
	Growth       int64
	Points       int64 // available
	PointsFrozen int64 // offered to unpaid orders
	PointsDebt   int64 // owed by reversals that found too few points
	Principal    domain.Fen
	Bonus        domain.Fen
	Birthday     *time.Time // a date (Asia/Shanghai); nil: unknown
	ActivatedAt  time.Time
	PeriodStart  time.Time
}

// Balance is the card's stored value.
func (c Card) Balance() domain.Fen { return c.Principal + c.Bonus }

// Settings are the brand's membership rules.
type Settings struct {
	PointsPerYuan      int64 // points earned per yuan of goods paid, at 1×
	RedeemPointsPerFen int64 // points that pay one fen (1: 100 points = ¥1)
	RedeemCapBP        int64 // the largest share of the goods points may pay
	GrowthPerYuan      int64 // growth per yuan of goods paid
	PointsLifeYears    int   // points earned in a year expire at the end of the year this many years later
}

// EntryKind is the kind of a ledger entry.
type EntryKind string

// The ledger entry kinds. Points: earn, reverse, redeem, return, repay,
// expire, adjust. Stored value: topup, spend, return, refund, adjust.
const (
	KindEarn    EntryKind = "earn"
	KindReverse EntryKind = "reverse"
	KindRedeem  EntryKind = "redeem"
	KindReturn  EntryKind = "return"
	KindRepay   EntryKind = "repay"
	KindExpire  EntryKind = "expire"
	KindAdjust  EntryKind = "adjust"
	KindTopUp   EntryKind = "topup"
	KindSpend   EntryKind = "spend"
	KindRefund  EntryKind = "refund"
)

// PointsEntry is one change of a card's points. Points changes the
// balance, Debt the debt; Frozen (not kept on the entry) changes the
// card's frozen points with it.
type PointsEntry struct {
	ID       int64
	CardID   int64
	Kind     EntryKind
	Points   int64
	Debt     int64
	Frozen   int64
	OrderID  int64
	ItemID   int64
	RefundID int64
	Year     int
	Reason   string
	Actor    string
	At       time.Time
}

// BalanceEntry is one change of a card's stored value.
type BalanceEntry struct {
	ID        int64
	CardID    int64
	Kind      EntryKind
	Principal domain.Fen
	Bonus     domain.Fen
	TopUpID   int64
	OrderID   int64
	RefundID  int64
	// TopUpRefundID is the top-up refund of a topup_refund, forfeit or
	// restore entry.
	TopUpRefundID int64
	Reason        string
	Actor         string
	At            time.Time
}

// GrowthEntry is one change of a card's growth.
type GrowthEntry struct {
	CardID   int64
	Kind     EntryKind
	Delta    int64
	OrderID  int64
	ItemID   int64
	RefundID int64
	TierID   int64
	At       time.Time
}

// LedgerEntry is one line of a card's points or stored-value ledger as the
// shopper reads it.
type LedgerEntry struct {
	ID          int64
	Kind        EntryKind
	Points      int64
	Debt        int64
	Principal   domain.Fen
	Bonus       domain.Fen
	OrderNumber string
	Reason      string
	At          time.Time
}

// Ledger kinds a shopper reads.
const (
	LedgerPoints  = "points"
	LedgerBalance = "balance"
)

// Package is a top-up package: pay Pay, get Pay + Bonus.
type Package struct {
	ID        int64
	Name      string
	Pay       domain.Fen
	Bonus     domain.Fen
	Active    bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TopUpStatus is where a top-up is.
type TopUpStatus string

// The top-up statuses.
const (
	TopUpPending TopUpStatus = "pending"
	TopUpPaid    TopUpStatus = "paid"
	TopUpClosed  TopUpStatus = "closed"
)

// TopUp is one top-up: a WeChat Pay trade of its own (out_trade_no TU…).
type TopUp struct {
	ID               int64
	CardID           int64
	PackageID        int64
	OutTradeNo       string
	Principal        domain.Fen
	Bonus            domain.Fen
	OpenID           string
	Status           TopUpStatus
	Params           payment.RequestPayment
	PrepayValidUntil time.Time
	TransactionID    string
	TimeExpire       time.Time
	CreatedAt        time.Time
	PaidAt           time.Time
}

// View is a card as its holder sees it: the tier's benefits and the way to
// the next tier.
type View struct {
	Card     Card
	Tier     Tier
	Next     *Tier
	ToNext   int64 // growth still needed for Next
	Settings Settings
}

// Code is a dynamic member code: shown as a barcode, valid ExpiresAt, once.
type Code struct {
	Value     string
	ExpiresAt time.Time
}

// CodeTTL is how long a member code is valid.
const CodeTTL = 60 * time.Second

// Lookup is what a clerk learns by scanning a member code.
type Lookup struct {
	Card    Card
	Tier    Tier
	Name    string       // masked
	Phone   string       // masked
	Coupons []HeldCoupon // usable now
}

// HeldCoupon is a coupon a member holds, as the clerk's lookup shows it.
type HeldCoupon struct {
	ID           int64
	Name         string
	Kind         string
	Threshold    domain.Fen
	AmountOff    domain.Fen
	PercentOffBP int64
	ValidUntil   time.Time
}

// Errors of membership.
var (
	ErrNoCard          = domain.E(domain.KindNotFound, "member_card_not_found", "You have no membership card yet; activate one first.")
	ErrPhoneRequired   = domain.E(domain.KindConflict, "phone_required", "Bind your phone number before activating the card.")
	ErrNotMember       = domain.E(domain.KindConflict, "not_a_member", "Points and stored value need a membership card.")
	ErrNotEnoughPoints = domain.E(domain.KindConflict, "insufficient_points", "You do not have that many points.")
	ErrNotEnoughValue  = domain.E(domain.KindConflict, "insufficient_balance", "Your card's balance is not enough.")
	ErrCodeInvalid     = domain.E(domain.KindNotFound, "member_code_invalid", "This member code is not valid.")
	ErrCodeExpired     = domain.E(domain.KindConflict, "member_code_expired", "This member code has expired; ask for a fresh one.")
	ErrCodeUsed        = domain.E(domain.KindConflict, "member_code_used", "This member code was already used; ask for a fresh one.")
	ErrTierNotFound    = domain.E(domain.KindNotFound, "member_tier_not_found", "No such tier.")
	ErrBaseTier        = domain.E(domain.KindConflict, "base_tier_threshold", "The base tier's threshold stays 0.")
	ErrPackageNotFound = domain.E(domain.KindNotFound, "topup_package_not_found", "No such top-up package.")
	ErrTopUpNotFound   = domain.E(domain.KindNotFound, "topup_not_found", "No such top-up.")
	ErrDuplicate       = domain.E(domain.KindConflict, "member_entry_exists", "This entry is recorded already.")
	ErrBadLedger       = domain.Invalid(domain.FieldError{Field: "kind", Code: "oneof", Message: "must be one of: points balance"})
)
