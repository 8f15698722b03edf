package main

import (
	"context"
	"time"

	"github.com/yutang/yutang/domain/reconcile"
)

// reconcileEvery is how often the reconciliation worker looks for a day to
// reconcile: yesterday once WeChat Pay has published its bill (after 10:00
// Beijing time), and any day of the last 7 without a succeeded run. A day
// reconciled is not fetched again; a failed day is retried at this pace.
const reconcileEvery = 10 * time.Minute

// wireReconciliation builds the daily reconciliation against WeChat Pay's
// trade bill (the gateway downloads it; the cashier applies what the mall
// missed) and its worker.
func (a *app) wireReconciliation() {
	a.svc.Reconcile = &reconcile.Service{Store: a.store.Reconciliation(), Bills: a.pay.gw, Cashier: a.svc.Cashier,
		Now: a.now, Log: a.log}
	r := a.svc.Reconcile
	a.workers = append(a.workers, every(reconcileEvery, a.log, "payments.reconcile_bill", func(ctx context.Context) error {
		_, err := r.CatchUp(ctx)
		return err
	}))
}
