package mpapi

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/yutang/yutang/domain/payment"
)

// PayNotifications verifies and decrypts WeChat Pay notifications (the
// payments adapter). It must be handed the request before anything reads
// its body.
type PayNotifications interface {
	ParsePaymentNotification(ctx context.Context, r *http.Request) (payment.PaymentNotice, error)
	ParseRefundNotification(ctx context.Context, r *http.Request) (payment.RefundNotice, error)
}

// requestPaymentDTO is exactly what wx.requestPayment takes.
type requestPaymentDTO struct {
	TimeStamp string `json:"timeStamp"`
	NonceStr  string `json:"nonceStr"`
	Package   string `json:"package"`
	SignType  string `json:"signType"`
	PaySign   string `json:"paySign"`
}

// POST /api/v1/shop/orders/{no}/pay
func (a *API) payOrder(c echo.Context) error {
	p, _ := principal(c)
	rp, err := a.deps.Cashier.Pay(c.Request().Context(), p.ID, c.Param("no"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, requestPaymentDTO{TimeStamp: rp.TimeStamp, NonceStr: rp.NonceStr,
		Package: rp.Package, SignType: rp.SignType, PaySign: rp.PaySign})
}
