package mpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/yutang/yutang/domain/cashier"
	"github.com/yutang/yutang/domain/payment"
)

// PayNotifications verifies and decrypts WeChat Pay notifications (the
// payments adapter). It must be handed the request before anything reads
// its body.
type PayNotifications interface {
	ParsePaymentNotification(ctx context.Context, r *http.Request) (payment.PaymentNotice, error)
	ParseRefundNotification(ctx context.Context, r *http.Request) (payment.RefundNotice, error)
}

// requestPaymentDTO is exactly what wx.requestPayment takes; Paid alone
// says the order's other tenders (stored value) paid it whole, with nothing
// for wx.requestPayment to do.
type requestPaymentDTO struct {
	TimeStamp string `json:"timeStamp,omitempty"`
	NonceStr  string `json:"nonceStr,omitempty"`
	Package   string `json:"package,omitempty"`
	SignType  string `json:"signType,omitempty"`
	PaySign   string `json:"paySign,omitempty"`
	Paid      bool   `json:"paid,omitempty"`
}

// POST /api/v1/shop/orders/{no}/pay
func (a *API) payOrder(c echo.Context) error {
	p, _ := principal(c)
	rp, err := a.deps.Cashier.Pay(c.Request().Context(), p.ID, c.Param("no"))
	if errors.Is(err, cashier.ErrNothingDue) {
		// Nothing through WeChat Pay: the other tenders settle it.
		if err := a.deps.Cashier.Settle(c.Request().Context(), p.ID, c.Param("no")); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, requestPaymentDTO{Paid: true})
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, requestPaymentDTO{TimeStamp: rp.TimeStamp, NonceStr: rp.NonceStr,
		Package: rp.Package, SignType: rp.SignType, PaySign: rp.PaySign})
}

// paymentCheckDTO answers POST /api/v1/shop/orders/{no}/pay/check.
type paymentCheckDTO struct {
	OrderNo string `json:"order_no"`
	Status  string `json:"status"`
	Paid    bool   `json:"paid"`
	Queried bool   `json:"queried"`
}

// POST /api/v1/shop/orders/{no}/pay/check
//
// The shopper is back from wx.requestPayment: WeChat Pay is asked about the
// order's open payment attempts now (at most once per attempt every 2 s;
// otherwise the answer is the database's), a payment it reports is applied
// exactly once, and the order's payment state is the answer.
func (a *API) checkPayment(c echo.Context) error {
	p, _ := principal(c)
	pc, err := a.deps.Cashier.CheckPayment(c.Request().Context(), p.ID, c.Param("no"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, paymentCheckDTO{OrderNo: pc.Number, Status: string(pc.Status),
		Paid: pc.Paid, Queried: pc.Queried})
}

// noticeObserver is implemented by a PayNotifications that counts what
// became of the notifications it verified (the program's metrics).
type noticeObserver interface {
	NoticeHandled(kind, outcome string)
}

// noticeHandled reports a verified notification's outcome ("error" when it
// was not applied and WeChat Pay will retry).
func (a *API) noticeHandled(kind, outcome string, err error) {
	o, ok := a.deps.PayNotices.(noticeObserver)
	if !ok {
		return
	}
	if err != nil {
		outcome = "error"
	}
	o.NoticeHandled(kind, outcome)
}
