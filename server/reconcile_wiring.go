package main

import (
	"context"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/yutang/yutang/domain/reconcile"
)

// reconcileEvery is how often the reconciliation worker looks for a day to
// reconcile: yesterday once WeChat Pay has published its bill (after 10:00
// Beijing time), and any day of the last 7 without a succeeded run. A day
// reconciled is not fetched again; a failed day is retried at this pace.
const reconcileEvery = 10 * time.Minute

// wireReconciliation builds the daily reconciliation against WeChat Pay's
// trade bill (the gateway downloads it; the cashier applies what the mall
// missed), its worker, and two gauges on /metrics: open discrepancies and
// days whose last run failed.
func (a *app) wireReconciliation() {
	st := a.store.Reconciliation()
	a.svc.Reconcile = &reconcile.Service{Store: st, Bills: a.pay.gw, Cashier: a.svc.Cashier, Now: a.now, Log: a.log,
		Found: a.pay.metrics.ReconciliationDiscrepancy} // yutang_wxpay_reconciliation_discrepancies_total
	r := a.svc.Reconcile
	a.workers = append(a.workers, every(reconcileEvery, a.log, "payments.reconcile_bill", func(ctx context.Context) error {
		_, err := r.CatchUp(ctx)
		return err
	}))
	health := func(pick func(open, failed int) int) func() float64 {
		return func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			open, failed, err := st.Health(ctx)
			if err != nil {
				return math.NaN()
			}
			return float64(pick(open, failed))
		}
	}
	a.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "yutang_reconciliation_open_discrepancies",
			Help: "Discrepancies between WeChat Pay's trade bill and the mall that no one has resolved yet."},
			health(func(open, _ int) int { return open })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "yutang_reconciliation_failed_days",
			Help: "Bill days whose last reconciliation run failed (the worker retries the last 7)."},
			health(func(_, failed int) int { return failed })))
}
