package mpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/commission"
)

// TransferNotifications parses WeChat Pay's merchant-transfer
// notifications (payments.Gateway).
type TransferNotifications interface {
	ParseTransferNotification(ctx context.Context, r *http.Request) (commission.TransferNotice, error)
}

// --- the KOC's transfers ---

// merchantTransferDTO is what wx.requestMerchantTransfer takes (mchId,
// appId, package), with the transfer it confirms.
type merchantTransferDTO struct {
	OutBillNo   string    `json:"out_bill_no"`
	BatchID     int64     `json:"batch_id"`
	AmountFen   int64     `json:"amount_fen"`
	State       string    `json:"state"`
	AskedAt     time.Time `json:"asked_at"`
	MchID       string    `json:"mch_id"`
	AppID       string    `json:"app_id"`
	PackageInfo string    `json:"package_info"`
}

// GET /api/v1/shop/koc/transfers
func (a *API) kocTransfers(c echo.Context) error {
	p, _ := principal(c)
	ctx := c.Request().Context()
	if _, err := a.deps.KOC.KOC(ctx, p.ID); err != nil {
		return err
	}
	items, err := a.deps.Payout.PendingTransfers(ctx, p.ID)
	if err != nil {
		return err
	}
	out := make([]merchantTransferDTO, len(items))
	for i, it := range items {
		out[i] = merchantTransferDTO{OutBillNo: it.OutBillNo, BatchID: it.BatchID, AmountFen: int64(it.Amount),
			State: string(it.WxState), AskedAt: it.AskedAt, MchID: a.deps.Payout.MchID, AppID: a.deps.Payout.AppID,
			PackageInfo: it.PackageInfo}
	}
	return c.JSON(http.StatusOK, map[string]any{"items": out})
}

// --- admin ---

type payResultDTO struct {
	Asked    int      `json:"asked"`
	Returned int      `json:"returned"`
	Deferred int      `json:"deferred"`
	Batch    batchDTO `json:"batch"`
}

// POST /api/v1/admin/settlements/{id}/pay
func (a *API) paySettlement(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	res, err := a.deps.Payout.PayBatch(ctx, actor(c), requestID(c), id)
	if err != nil {
		return err
	}
	b, err := a.deps.KOC.Batch(ctx, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, payResultDTO{Asked: res.Asked, Returned: res.Returned, Deferred: res.Deferred, Batch: toBatchDTO(b)})
}

type payoutSettingsDTO struct {
	TransferLimitFen int64 `json:"transfer_limit_fen" validate:"gte=1,lte=100000000"`
	DailyLimitFen    int64 `json:"daily_limit_fen" validate:"gte=1,lte=1000000000"`
	RealNameFromFen  int64 `json:"real_name_from_fen" validate:"gte=1,lte=200000"`
}

// GET /api/v1/admin/koc/payout-settings
func (a *API) payoutSettings(c echo.Context) error {
	s, err := a.deps.Payout.Settings(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, payoutSettingsDTO{TransferLimitFen: int64(s.TransferLimit), DailyLimitFen: int64(s.DailyLimit),
		RealNameFromFen: int64(s.RealNameFrom)})
}

// PUT /api/v1/admin/koc/payout-settings
func (a *API) putPayoutSettings(c echo.Context) error {
	var req payoutSettingsDTO
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	s := commission.PayoutSettings{TransferLimit: domain.Fen(req.TransferLimitFen), DailyLimit: domain.Fen(req.DailyLimitFen),
		RealNameFrom: domain.Fen(req.RealNameFromFen)}
	if err := a.deps.Payout.SaveSettings(c.Request().Context(), actor(c), requestID(c), s); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, req)
}

// --- webhook ---

// POST /webhooks/wechatpay/transfers
//
// MCHTRANSFER.BILL.FINISHED: verified and decrypted by the SDK, then
// applied once (paid, or failed and returned to settleable). 204 when
// applied or ignored; 401 FAIL when it does not verify; 500 FAIL when it
// cannot be applied now, so WeChat Pay retries.
func (a *API) wechatPayTransfers(c echo.Context) error {
	ctx := c.Request().Context()
	n, err := a.deps.TransferNotices.ParseTransferNotification(ctx, c.Request())
	if err != nil {
		return a.notifyRejected(c, "transfer", err)
	}
	if err := a.deps.Payout.HandleNotice(ctx, n); err != nil {
		a.log.ErrorContext(ctx, "transfer notification not applied", "request_id", requestID(c),
			"event_id", n.EventID, "out_bill_no", n.OutBillNo, "err", err)
		return notifyFail(c, http.StatusInternalServerError, "not applied; retry later")
	}
	a.log.InfoContext(ctx, "transfer notification", "request_id", requestID(c), "event_id", n.EventID,
		"out_bill_no", n.OutBillNo, "state", string(n.State))
	return c.NoContent(http.StatusNoContent)
}
