package storage

import "strconv"

// stmtArgs are a statement's arguments, collected as its text is built:
// add appends one and answers its placeholder. A list whose filters are
// optional puts only the filters given in its text (every list: the
// catalog, order, store order, desk, audit, touchpoint, KOC, redeem code,
// campaign and reconciliation lists, among others): a catch-all
// "($1 = <empty> OR col = $1)" (<empty>: the empty string) has one generic
// plan (driver.go) for every combination of filters, as a rule a walk of
// the whole table.
type stmtArgs []any

func (a *stmtArgs) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}
