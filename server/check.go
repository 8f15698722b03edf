package main

import (
	"context"
	"fmt"
	"io"
)

// invariant is one named query that returns the rows breaking a rule.
type invariant struct {
	name  string
	query string // returns one text column describing each breach
}

// invariants are checked by `yutang check`; each area adds its own.
var invariants = []invariant{
	{"stock equals its ledger", `
SELECT 'sku ' || s.id || ': stock ' || s.stock || ' reserved ' || s.reserved || ' sold ' || s.sold ||
       ' but ledger says ' || COALESCE(l.d, 0) || '/' || COALESCE(l.r, 0) || '/' || COALESCE(l.s, 0)
FROM skus s LEFT JOIN (SELECT sku_id, sum(delta) d, sum(reserved_delta) r, sum(sold_delta) s
                       FROM stock_ledger GROUP BY sku_id) l ON l.sku_id = s.id
WHERE s.stock <> COALESCE(l.d, 0) OR s.reserved <> COALESCE(l.r, 0) OR s.sold <> COALESCE(l.s, 0)`},
}

// check verifies every invariant and fails when any is broken.
func (a *app) check(ctx context.Context, out io.Writer) error {
	breaches := 0
	for _, inv := range invariants {
		var rows []string
		if err := a.db.SelectContext(ctx, &rows, inv.query); err != nil {
			return fmt.Errorf("check %q: %w", inv.name, err)
		}
		status := "ok"
		if len(rows) > 0 {
			status = fmt.Sprintf("BROKEN (%d)", len(rows))
		}
		fmt.Fprintf(out, "%-40s %s\n", inv.name, status)
		for i, r := range rows {
			if i == 20 {
				fmt.Fprintf(out, "  … and %d more\n", len(rows)-20)
				break
			}
			fmt.Fprintln(out, "  "+r)
		}
		breaches += len(rows)
	}
	if breaches > 0 {
		return fmt.Errorf("check: %d breaches", breaches)
	}
	return nil
}
