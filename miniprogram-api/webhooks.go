package mpapi

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/yutang/yutang/domain/payment"
)

// wechatFail is WeChat Pay's answer shape for a notification it should
// retry (or that did not verify).
type wechatFail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// POST /webhooks/wechatpay/transactions
//
// The body is handed untouched to the SDK, which verifies the signature,
// serial and timestamp and decrypts the resource; the cashier then checks it
// against the order and applies it once. 204 when applied, already applied,
// or recorded as an alert (see cashier.Service.HandlePaymentNotice);
// 401 FAIL when it does not verify (SIGNTEST probes included); 500 FAIL when
// it cannot be read or applied now, so WeChat Pay retries.
func (a *API) wechatPayTransactions(c echo.Context) error {
	ctx := c.Request().Context()
	n, err := a.deps.PayNotices.ParsePaymentNotification(ctx, c.Request())
	if err != nil {
		return a.notifyRejected(c, "payment", err)
	}
	out, err := a.deps.Cashier.HandlePaymentNotice(ctx, n)
	a.noticeHandled("payment", string(out), err)
	if err != nil {
		a.log.ErrorContext(ctx, "payment notification not applied", "request_id", requestID(c),
			"event_id", n.EventID, "out_trade_no", n.OutTradeNo, "err", err)
		return notifyFail(c, http.StatusInternalServerError, "not applied; retry later")
	}
	a.log.InfoContext(ctx, "payment notification", "request_id", requestID(c), "event_id", n.EventID,
		"out_trade_no", n.OutTradeNo, "transaction_id", n.TransactionID, "outcome", string(out))
	return c.NoContent(http.StatusNoContent)
}

// POST /webhooks/wechatpay/refunds
func (a *API) wechatPayRefunds(c echo.Context) error {
	ctx := c.Request().Context()
	n, err := a.deps.PayNotices.ParseRefundNotification(ctx, c.Request())
	if err != nil {
		return a.notifyRejected(c, "refund", err)
	}
	out, err := a.deps.Cashier.HandleRefundNotice(ctx, n)
	a.noticeHandled("refund", string(out), err)
	if err != nil {
		a.log.ErrorContext(ctx, "refund notification not applied", "request_id", requestID(c),
			"event_id", n.EventID, "out_refund_no", n.OutRefundNo, "err", err)
		return notifyFail(c, http.StatusInternalServerError, "not applied; retry later")
	}
	a.log.InfoContext(ctx, "refund notification", "request_id", requestID(c), "event_id", n.EventID,
		"out_refund_no", n.OutRefundNo, "status", string(n.Status), "outcome", string(out))
	return c.NoContent(http.StatusNoContent)
}

// notifyRejected answers a notification that did not verify (401) or could
// not be read (500), and logs why.
func (a *API) notifyRejected(c echo.Context, kind string, err error) error {
	status, msg := http.StatusInternalServerError, "cannot read the notification"
	if errors.Is(err, payment.ErrNotificationUnverified) {
		status, msg = http.StatusUnauthorized, "signature verification failed"
	}
	a.log.WarnContext(c.Request().Context(), "notification rejected", "request_id", requestID(c),
		"kind", kind, "status", status, "err", err)
	return notifyFail(c, status, msg)
}

func notifyFail(c echo.Context, status int, msg string) error {
	return c.JSON(status, wechatFail{Code: "FAIL", Message: msg})
}
