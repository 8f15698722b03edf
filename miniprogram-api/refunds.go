package mpapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/yutang/yutang/domain/cashier"
)

// adminRefundDTO is a refund as the admin queue shows it; failure says why
// a person is needed.
type adminRefundDTO struct {
	ID           int64      `json:"id"`
	OutRefundNo  string     `json:"out_refund_no"`
	OrderNo      string     `json:"order_no"`
	AfterSalesID int64      `json:"after_sales_id,omitempty"`
	Kind         string     `json:"kind"`
	Status       string     `json:"status"`
	NeedsPerson  bool       `json:"needs_person"`
	Failure      string     `json:"failure"`
	AmountFen    int64      `json:"amount_fen"`
	WeChatFen    int64      `json:"wechat_fen"`
	FreightFen   int64      `json:"freight_fen"`
	WxRefundID   string     `json:"wx_refund_id,omitempty"`
	Checks       int        `json:"checks"`
	CreatedAt    time.Time  `json:"created_at"`
	SucceededAt  *time.Time `json:"succeeded_at,omitempty"`
}

func toAdminRefundDTO(r cashier.Refund) adminRefundDTO {
	d := adminRefundDTO{ID: r.ID, OutRefundNo: r.OutRefundNo, OrderNo: r.OrderNumber, AfterSalesID: r.AfterSalesID,
		Kind: string(r.Kind), Status: string(r.Status), NeedsPerson: r.Status.NeedsPerson(), Failure: r.Failure,
		AmountFen: int64(r.Amount), WeChatFen: int64(r.WeChatAmount), FreightFen: int64(r.Freight),
		WxRefundID: r.WxRefundID, Checks: r.Checks, CreatedAt: r.CreatedAt}
	if !r.SucceededAt.IsZero() {
		t := r.SucceededAt
		d.SucceededAt = &t
	}
	return d
}

// GET /api/v1/admin/refunds?status=needs_attention&cursor=&limit=
// (needs_attention: refused refunds and abnormal ones, the admin queue).
func (a *API) listRefunds(c echo.Context) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	rows, next, err := a.deps.Cashier.ListRefunds(c.Request().Context(),
		cashier.RefundFilter{Status: cashier.RefundStatus(c.QueryParam("status")), Page: page})
	if err != nil {
		return err
	}
	out := make([]adminRefundDTO, len(rows))
	for i, r := range rows {
		out[i] = toAdminRefundDTO(r)
	}
	return c.JSON(http.StatusOK, newList(out, next))
}

// POST /api/v1/admin/refunds/{id}/retry: a refused refund goes to WeChat
// Pay again with the same out_refund_no.
func (a *API) retryRefund(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	r, err := a.deps.Cashier.RetryRefund(c.Request().Context(), id, actor(c), requestID(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAdminRefundDTO(r))
}

type applyAbnormalRefundRequest struct {
	Type        string `json:"type" validate:"required,oneof=USER_BANK_CARD MERCHANT_BANK_CARD"`
	BankType    string `json:"bank_type" validate:"required_if=Type USER_BANK_CARD,max=32"`
	BankAccount string `json:"bank_account" validate:"required_if=Type USER_BANK_CARD,max=64"`
	RealName    string `json:"real_name" validate:"required_if=Type USER_BANK_CARD,max=64"`
}

// POST /api/v1/admin/refunds/{id}/apply-abnormal {type, bank_type,
// bank_account, real_name}: an abnormal refund goes out again to a bank card.
func (a *API) applyAbnormalRefund(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var req applyAbnormalRefundRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	r, err := a.deps.Cashier.ApplyAbnormalRefund(c.Request().Context(), cashier.AbnormalRefund{RefundID: id,
		Type: req.Type, BankType: req.BankType, BankAccount: req.BankAccount, RealName: req.RealName,
		By: actor(c), RequestID: requestID(c)})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAdminRefundDTO(r))
}
