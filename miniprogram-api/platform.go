package mpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/platform"
)

// --- subscribe messages (shoppers) ---

type subscriptionsRequest struct {
	// ReportID identifies one wx.requestSubscribeMessage answer: a retried
	// report with the same id is counted once.
	ReportID string            `json:"report_id" validate:"required,min=1,max=64"`
	Results  map[string]string `json:"results" validate:"required,min=1,max=20"`
}

// POST /api/v1/shop/subscriptions
func (a *API) recordSubscriptions(c echo.Context) error {
	var req subscriptionsRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	p, _ := principal(c)
	n, err := a.deps.Platform.Accept(c.Request().Context(), p.ID, req.ReportID, req.Results)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]int{"recorded": n})
}

type messageTemplateDTO struct {
	Kind       string `json:"kind"`
	TemplateID string `json:"template_id"`
}

// GET /api/v1/shop/subscriptions/templates
func (a *API) subscriptionTemplates(c echo.Context) error {
	out := []messageTemplateDTO{}
	for _, k := range platform.Kinds {
		if t, ok := a.deps.Platform.Templates[k]; ok {
			out = append(out, messageTemplateDTO{Kind: k, TemplateID: t.ID})
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"items": out})
}

// --- shipping information (back office) ---

type shippingUploadDTO struct {
	State      string     `json:"state"`
	Logistics  string     `json:"logistics"`
	Carrier    string     `json:"carrier,omitempty"`
	TrackingNo string     `json:"tracking_no,omitempty"`
	Attempts   int        `json:"attempts"`
	NextAt     *time.Time `json:"next_at,omitempty"`
	LastError  string     `json:"last_error,omitempty"`
	UploadedAt *time.Time `json:"uploaded_at,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
}

func toShippingUploadDTO(u platform.Upload) shippingUploadDTO {
	d := shippingUploadDTO{State: u.State, Logistics: u.Shipment.Logistics.String(), Carrier: u.Shipment.Carrier,
		TrackingNo: u.Shipment.TrackingNo, Attempts: u.Attempts, LastError: u.LastError, CreatedAt: u.CreatedAt}
	if u.State == platform.UploadPending {
		d.NextAt = &u.NextAt
	}
	if !u.UploadedAt.IsZero() {
		d.UploadedAt = &u.UploadedAt
	}
	return d
}

// GET /api/v1/admin/orders/{no}/shipping-upload
func (a *API) getShippingUpload(c echo.Context) error {
	u, err := a.deps.Platform.UploadOf(c.Request().Context(), c.Param("no"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toShippingUploadDTO(u))
}

// POST /api/v1/admin/orders/{no}/shipping-upload/retry
func (a *API) retryShippingUpload(c echo.Context) error {
	u, err := a.deps.Platform.RetryUpload(c.Request().Context(), c.Param("no"), actor(c), requestID(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toShippingUploadDTO(u))
}

// GET /api/v1/admin/delivery-companies
func (a *API) listDeliveryCompanies(c echo.Context) error {
	ds, err := a.deps.Platform.Carriers(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]map[string]string, len(ds))
	for i, d := range ds {
		out[i] = map[string]string{"id": d.ID, "name": d.Name}
	}
	return c.JSON(http.StatusOK, map[string]any{"items": out})
}

// --- message push (webhook) ---

// pushSignatureOK checks the message push's signature (query parameters).
func (a *API) pushSignatureOK(c echo.Context) bool {
	q := c.QueryParams()
	return a.deps.Platform.PushSigned(q.Get("timestamp"), q.Get("nonce"), q.Get("signature"))
}

// GET /webhooks/weapp — WeChat's check of the push URL: echo echostr.
func (a *API) weappPushVerify(c echo.Context) error {
	if !a.pushSignatureOK(c) {
		return platform.ErrPushSignature
	}
	echostr := c.QueryParam("echostr")
	if len(echostr) > 128 {
		return domain.ErrInvalid
	}
	return c.String(http.StatusOK, echostr)
}

type weappPush struct {
	Event              string `json:"Event"`
	TransactionID      string `json:"transaction_id"`
	MerchantTradeNo    string `json:"merchant_trade_no"`
	ConfirmReceiveTime int64  `json:"confirm_receive_time"`
	SettlementTime     int64  `json:"settlement_time"`
}

// POST /webhooks/weapp — message pushes (JSON). trade_manage_order_settlement
// with a confirm_receive_time completes the order; every other event is
// acknowledged and ignored.
func (a *API) weappPush(c echo.Context) error {
	if !a.pushSignatureOK(c) {
		return platform.ErrPushSignature
	}
	b, err := io.ReadAll(io.LimitReader(c.Request().Body, 64<<10))
	if err != nil {
		return domain.ErrInvalid
	}
	var p weappPush
	if err := json.Unmarshal(b, &p); err != nil {
		return domain.ErrInvalid.WithMessage("The push is not JSON (configure the JSON data format).")
	}
	if p.Event == "trade_manage_order_settlement" {
		if _, err := a.deps.Platform.Settled(c.Request().Context(), platform.Settlement{TransactionID: p.TransactionID,
			MerchantTradeNo: p.MerchantTradeNo, ConfirmReceiveTime: p.ConfirmReceiveTime, SettlementTime: p.SettlementTime}); err != nil {
			return err
		}
	}
	return c.String(http.StatusOK, "success")
}
