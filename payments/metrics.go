package payments

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/yutang/yutang/domain/payment"
)

// Metrics is what a payments on-call reads on /metrics. Its methods are
// safe on a nil *Metrics (they do nothing), so code that may run without
// metrics needs no check. The domain stays free of Prometheus: the program
// wraps the gateway (Gateway) and the notification parser, and counts what
// the webhooks and workers report.
type Metrics struct {
	notifications  *prometheus.CounterVec
	queries        *prometheus.CounterVec
	refunds        *prometheus.CounterVec
	workerFailures *prometheus.CounterVec
	discrepancies  *prometheus.CounterVec
	certs          *certCollector
}

// The notification outcomes counted before the cashier sees a notification
// (NotificationFailure); after it, the cashier's Outcome ("applied",
// "duplicate", "refund_due", "ignored", "alert_amount_mismatch" …) or
// "error" (not applied; WeChat Pay retries).
const (
	NotifyBadSignature = "bad_signature" // signature, serial or headers do not verify
	NotifyExpired      = "expired"       // timestamp more than 5 minutes off: stale or replayed
	NotifySignTest     = "signtest"      // WeChat Pay's WECHATPAY/SIGNTEST/ probe
	NotifyDecryptError = "decrypt_error" // verified, but the resource does not decrypt
	NotifyInvalid      = "invalid"       // verified and decrypted, but not for this merchant or unreadable
	NotifyError        = "error"         // the cashier could not apply it now
)

// NewMetrics registers the payments metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yutang_wxpay_notifications_total",
			Help: "WeChat Pay notifications received, by kind (payment, refund) and outcome.",
		}, []string{"kind", "outcome"}),
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yutang_wxpay_queries_total",
			Help: "Payment queries by out_trade_no, by result: the trade state (SUCCESS, NOTPAY, CLOSED, REFUND …), not_found or error.",
		}, []string{"result"}),
		refunds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yutang_wxpay_refund_states_total",
			Help: "Refund states WeChat Pay reported, by source (create, query, abnormal, notification) and status (PROCESSING, SUCCESS, ABNORMAL, CLOSED, error …).",
		}, []string{"source", "status"}),
		workerFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yutang_worker_failures_total",
			Help: "Runs of a background worker that ended in an error, by worker.",
		}, []string{"worker"}),
		discrepancies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yutang_wxpay_reconciliation_discrepancies_total",
			Help: "Trade-bill lines that reconciliation could not match, by kind.",
		}, []string{"kind"}),
		certs: &certCollector{desc: prometheus.NewDesc("yutang_wxpay_platform_certificate_expiry_timestamp_seconds",
			"When each platform certificate the gateway trusts expires (unix seconds); certificate and combined modes.",
			[]string{"serial"}, nil)},
	}
	reg.MustRegister(m.notifications, m.queries, m.refunds, m.workerFailures, m.discrepancies, m.certs)
	return m
}

// Notification counts a notification of kind ("payment", "refund") with
// its outcome.
func (m *Metrics) Notification(kind, outcome string) {
	if m != nil {
		m.notifications.WithLabelValues(kind, outcome).Inc()
	}
}

// Query counts a payment query's result.
func (m *Metrics) Query(result string) {
	if m != nil {
		m.queries.WithLabelValues(result).Inc()
	}
}

// RefundState counts a refund status WeChat Pay reported.
func (m *Metrics) RefundState(source, status string) {
	if m != nil {
		m.refunds.WithLabelValues(source, status).Inc()
	}
}

// WorkerFailed counts a failed run of a background worker.
func (m *Metrics) WorkerFailed(worker string) {
	if m != nil {
		m.workerFailures.WithLabelValues(worker).Inc()
	}
}

// ReconciliationDiscrepancy counts a trade-bill line reconciliation could
// not match (kind: "missing_here", "amount_mismatch", "unknown_trade" …):
// the hook for the daily reconciliation.
func (m *Metrics) ReconciliationDiscrepancy(kind string) {
	if m != nil {
		m.discrepancies.WithLabelValues(kind).Inc()
	}
}

// WatchCertificates shows the expiry of g's platform certificates.
func (m *Metrics) WatchCertificates(g *Gateway) {
	if m != nil {
		m.certs.set(g)
	}
}

// NotificationFailure names why ParsePaymentNotification or
// ParseRefundNotification refused a notification (a Notify… constant).
func NotificationFailure(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "SIGNTEST"):
		return NotifySignTest
	case errors.Is(err, payment.ErrNotificationUnverified) && strings.Contains(msg, "expires"):
		return NotifyExpired
	case errors.Is(err, payment.ErrNotificationUnverified):
		return NotifyBadSignature
	case strings.Contains(msg, "decrypt error"):
		return NotifyDecryptError
	}
	return NotifyInvalid
}

// Gateway wraps g so that its queries and refund answers are counted.
func (m *Metrics) Gateway(g payment.Gateway) payment.Gateway {
	if m == nil {
		return g
	}
	return meteredGateway{Gateway: g, m: m}
}

type meteredGateway struct {
	payment.Gateway
	m *Metrics
}

func (g meteredGateway) QueryByOutTradeNo(ctx context.Context, outTradeNo string) (payment.Transaction, error) {
	t, err := g.Gateway.QueryByOutTradeNo(ctx, outTradeNo)
	switch {
	case errors.Is(err, payment.ErrOrderNotExist):
		g.m.Query("not_found")
	case err != nil:
		g.m.Query("error")
	default:
		g.m.Query(string(t.TradeState))
	}
	return t, err
}

func (g meteredGateway) Refund(ctx context.Context, req payment.RefundRequest) (payment.Refund, error) {
	r, err := g.Gateway.Refund(ctx, req)
	g.m.refundResult("create", r, err)
	return r, err
}

func (g meteredGateway) QueryRefund(ctx context.Context, outRefundNo string) (payment.Refund, error) {
	r, err := g.Gateway.QueryRefund(ctx, outRefundNo)
	g.m.refundResult("query", r, err)
	return r, err
}

func (g meteredGateway) ApplyAbnormalRefund(ctx context.Context, req payment.AbnormalRefundRequest) (payment.Refund, error) {
	r, err := g.Gateway.ApplyAbnormalRefund(ctx, req)
	g.m.refundResult("abnormal", r, err)
	return r, err
}

func (m *Metrics) refundResult(source string, r payment.Refund, err error) {
	if err != nil {
		m.RefundState(source, "error")
		return
	}
	m.RefundState(source, string(r.Status))
}

// certCollector reports the platform certificates' expiry at scrape time.
type certCollector struct {
	desc *prometheus.Desc
	gw   atomic.Pointer[Gateway]
}

func (c *certCollector) set(g *Gateway) { c.gw.Store(g) }

func (c *certCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *certCollector) Collect(ch chan<- prometheus.Metric) {
	g := c.gw.Load()
	if g == nil {
		return
	}
	for _, pc := range g.PlatformCertificates() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(pc.Expires.Unix()), pc.Serial)
	}
}
