package main

import (
	"context"
	"net/http"

	"github.com/yutang/yutang/domain/payment"
	mpapi "github.com/yutang/yutang/miniprogram-api"
	"github.com/yutang/yutang/payments"
)

// The payments metrics (payments.Metrics) on the program's registry, served
// on /metrics: notifications by outcome, queries by result, refund states,
// worker failures, reconciliation discrepancies (a.pay.metrics.
// ReconciliationDiscrepancy is the hook for the reconciler) and the platform
// certificates' expiry. The domain knows nothing of them: the gateway and
// the notification parser are wrapped here, the webhooks report outcomes
// through meteredNotices.NoticeHandled, and every worker's failures arrive
// through the workers' context (withWorkerFailures).

// wirePayMetrics registers the metrics and wraps the gateway's notification
// parser; it returns the metrics and the gateway the cashier should use.
func (a *app) wirePayMetrics(gw *payments.Gateway) (*payments.Metrics, payment.Gateway) {
	m := payments.NewMetrics(a.reg)
	m.WatchCertificates(gw)
	a.svc.PayNotices = meteredNotices{gw: gw, m: m}
	return m, m.Gateway(gw)
}

// meteredNotices counts the notifications the gateway refuses (why) and,
// through NoticeHandled, what became of those it verified.
type meteredNotices struct {
	gw mpapi.PayNotifications
	m  *payments.Metrics
}

func (n meteredNotices) ParsePaymentNotification(ctx context.Context, r *http.Request) (payment.PaymentNotice, error) {
	p, err := n.gw.ParsePaymentNotification(ctx, r)
	if err != nil {
		n.m.Notification("payment", payments.NotificationFailure(err))
	}
	return p, err
}

func (n meteredNotices) ParseRefundNotification(ctx context.Context, r *http.Request) (payment.RefundNotice, error) {
	rn, err := n.gw.ParseRefundNotification(ctx, r)
	if err != nil {
		n.m.Notification("refund", payments.NotificationFailure(err))
		return rn, err
	}
	n.m.RefundState("notification", string(rn.Status))
	return rn, nil
}

// NoticeHandled counts the outcome of a verified notification (mpapi's
// webhooks call it).
func (n meteredNotices) NoticeHandled(kind, outcome string) { n.m.Notification(kind, outcome) }

type workerFailuresKey struct{}

// withWorkerFailures gives the workers run under ctx a counter of their
// failures (every reports them).
func withWorkerFailures(ctx context.Context, failed func(worker string)) context.Context {
	return context.WithValue(ctx, workerFailuresKey{}, failed)
}

// workerFailed reports a worker's failed run to the counter in ctx, if any.
func workerFailed(ctx context.Context, worker string) {
	if f, ok := ctx.Value(workerFailuresKey{}).(func(string)); ok {
		f(worker)
	}
}
