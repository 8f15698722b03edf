package member

import (
	"cmp"
	"math/big"
	"slices"
	"time"

	"github.com/yutang/yutang/domain"
)

// The rules of membership, as pure functions (table-tested in
// rules_test.go).

// TierFor is the highest tier whose threshold growth reaches. tiers must
// hold a tier with threshold 0 (the base tier).
func TierFor(tiers []Tier, growth int64) Tier {
	var best Tier
	found := false
	for _, t := range tiers {
		if t.Threshold <= growth && (!found || t.Threshold > best.Threshold) {
			best, found = t, true
		}
	}
	return best
}

// Upgrade is the tier a card holds after its growth changed: the tier its
// growth reaches when that is above the current one (an upgrade takes effect
// at once), else the current tier. Growth going down never downgrades: only
// the yearly review does (Review).
func Upgrade(tiers []Tier, current Tier, growth int64) Tier {
	if t := TierFor(tiers, growth); t.Threshold > current.Threshold {
		return t
	}
	return current
}

// Review is the yearly review's rule: a card keeps the tier that the growth
// of the period under review (the year since its last review) reaches, up
// or down, and its growth starts again from zero for the next period.
func Review(tiers []Tier, periodGrowth int64) Tier { return TierFor(tiers, periodGrowth) }

// ReviewDue reports whether a card whose period began at start is due for
// its yearly review at now.
func ReviewDue(start, now time.Time) bool { return !now.Before(start.AddDate(1, 0, 0)) }

// Next is the tier after current (by threshold), and how much growth is
// still needed to reach it; ok false at the top tier.
func Next(tiers []Tier, current Tier, growth int64) (next Tier, need int64, ok bool) {
	sorted := slices.Clone(tiers)
	slices.SortFunc(sorted, func(a, b Tier) int { return cmp.Compare(a.Threshold, b.Threshold) })
	for _, t := range sorted {
		if t.Threshold > current.Threshold {
			return t, max(0, t.Threshold-growth), true
		}
	}
	return Tier{}, 0, false
}

// mulDiv is floor(a × b / c) for a, b ≥ 0 and c > 0, exactly.
func mulDiv(a, b, c int64) int64 {
	if c <= 0 || a <= 0 || b <= 0 {
		return 0
	}
	var x big.Int
	x.Mul(big.NewInt(a), big.NewInt(b))
	x.Quo(&x, big.NewInt(c))
	return x.Int64()
}

// EarnedPoints is what a line whose goods were paid earns: points per yuan ×
// the tier's multiplier (basis points, 10000 = 1×), rounded down per line.
// Freight never earns (it is not on a line).
func EarnedPoints(paid domain.Fen, perYuan, multiplierBP int64) int64 {
	return mulDiv(int64(paid), perYuan*multiplierBP, 100*10000)
}

// EarnedGrowth is the growth a line whose goods were paid earns: growth per
// yuan, rounded down per line.
func EarnedGrowth(paid domain.Fen, perYuan int64) int64 {
	return mulDiv(int64(paid), perYuan, 100)
}

// ProRata is how much more of total (points earned or redeemed on a line,
// growth …) goes back when a line that was paid paid has had refunded of it
// refunded in all (this refund included) and already went back before:
// floor(total × refunded / paid) − already, all of total once the line is
// refunded whole. Counting on the cumulative refund makes many partial
// refunds add up to one refund of their sum.
func ProRata(total int64, paid, refunded domain.Fen, already int64) int64 {
	var target int64
	switch {
	case total <= 0 || refunded <= 0:
		target = 0
	case refunded >= paid:
		target = total
	default:
		target = mulDiv(total, int64(refunded), int64(paid))
	}
	return max(0, target-already)
}

// Debit splits taking amount points from a card holding balance: what the
// balance gives (never below zero) and the rest, recorded as debt.
func Debit(balance, amount int64) (take, debt int64) {
	take = min(max(balance, 0), amount)
	return take, amount - take
}

// Repay is how much of a credit of amount points pays a debt first.
func Repay(amount, debt int64) int64 { return min(max(amount, 0), max(debt, 0)) }

// ExpiryYear is the last year whose points have expired at now: points
// earned in a year expire at the end of the year lifeYears later
// (Asia/Shanghai), so at now the years up to year(now) − lifeYears − 1 are
// gone.
func ExpiryYear(now time.Time, lifeYears int) int {
	return now.In(domain.Shanghai).Year() - lifeYears - 1
}

// YearEnd is the first instant after year (Asia/Shanghai).
func YearEnd(year int) time.Time { return time.Date(year+1, 1, 1, 0, 0, 0, 0, domain.Shanghai) }

// Expiring is how many points of a year expire, first in first out: the
// credits of that year and before (creditsThrough), less what earlier
// expiries took (expiredBefore) and every debit so far (debits, positive),
// never more than the year's own credits (creditsOfYear) nor the balance.
func Expiring(creditsThrough, creditsOfYear, expiredBefore, debits, balance int64) int64 {
	left := creditsThrough - expiredBefore - debits
	return max(0, min(left, creditsOfYear, balance))
}

// SpendBalance takes amount from a card's stored value: principal first,
// then bonus (the stated rule: bonus is spent after principal). It fails
// when the card holds less.
func SpendBalance(principal, bonus, amount domain.Fen) (p, b domain.Fen, ok bool) {
	if amount < 0 || principal+bonus < amount {
		return 0, 0, false
	}
	p = min(principal, amount)
	return p, amount - p, true
}

// ReturnBalance splits what a refund gives back to a stored-value tender
// into principal and bonus, in the proportion the tender was paid
// (spentP principal, spentB bonus), counted on the cumulative refund so
// partial refunds add up: bonus gets floor(spentB × refunded / spent) −
// bonus already back, principal the rest (the rounding fen go to principal).
// refunded includes part; alreadyB is the bonus that went back before.
func ReturnBalance(spentP, spentB, refunded, part, alreadyB domain.Fen) (p, b domain.Fen) {
	spent := spentP + spentB
	target := domain.Fen(mulDiv(int64(spentB), int64(min(refunded, spent)), int64(spent)))
	b = min(part, max(0, target-alreadyB))
	return part - b, b
}

// MaskPhone shows the first three and last four digits of a phone number.
func MaskPhone(phone string) string {
	r := []rune(phone)
	if len(r) < 8 {
		return "****"
	}
	return string(r[:3]) + "****" + string(r[len(r)-4:])
}

// MaskName shows the first character of a name.
func MaskName(name string) string {
	r := []rune(name)
	switch len(r) {
	case 0:
		return ""
	case 1:
		return "*"
	}
	return string(r[:1]) + "**"
}
