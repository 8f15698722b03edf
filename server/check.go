package main

import (
	"context"
	"fmt"
	"io"
)

// check verifies every invariant (storage.Invariants), prints what each
// found, and fails when any is broken.
func (a *app) check(ctx context.Context, out io.Writer) error {
	res, err := a.store.Check(ctx)
	if err != nil {
		return err
	}
	breaches := 0
	for _, b := range res {
		status := "ok"
		if b.Count > 0 {
			status = fmt.Sprintf("BROKEN (%d)", b.Count)
		}
		fmt.Fprintf(out, "%-40s %s\n", b.Invariant, status)
		for _, l := range b.Lines {
			fmt.Fprintln(out, "  "+l)
		}
		if b.Count > len(b.Lines) {
			fmt.Fprintf(out, "  … and %d more\n", b.Count-len(b.Lines))
		}
		breaches += b.Count
	}
	if breaches > 0 {
		return fmt.Errorf("check: %d breaches", breaches)
	}
	return nil
}
