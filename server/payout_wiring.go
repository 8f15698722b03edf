package main

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/yutang/yutang/domain/commission"
	"github.com/yutang/yutang/payments"
	"github.com/yutang/yutang/payments/wxpaysim"
)

// wirePayout builds the KOC payout on the WeChat Pay gateway (merchant
// transfers), its worker (transfers whose outcome is unknown or open are
// queried) and, with the simulator, POST
// /_dev/wechatpay/transfers/{out_bill_no}/confirm, which confirms a transfer
// as the KOC would in wx.requestMerchantTransfer. Call after wireWxPay.
func (a *app) wirePayout() error {
	notify := a.cfg.PublicURL + "/webhooks/wechatpay/transfers"
	if !a.cfg.WxPay.Simulated() {
		notify = strings.TrimSuffix(a.cfg.WxPay.NotifyURL, "/transactions") + "/transfers"
	}
	tr, err := a.pay.gw.Transfers(payments.DefaultTransferConfig(notify))
	if err != nil {
		return err
	}
	p := &commission.Payout{Store: a.store.KOCs(), Transfers: tr, MchID: tr.MchID(), AppID: tr.AppID(),
		Now: func() time.Time { return a.now() }, Log: a.log}
	a.svc.Payout = p
	a.svc.TransferNotices = a.pay.gw
	a.workers = append(a.workers, every(time.Minute, a.log, "koc.transfers", func(ctx context.Context) error {
		_, err := p.Sync(ctx, 200)
		return err
	}))
	if sim := a.pay.sim; sim != nil {
		prev := a.dev
		mux := http.NewServeMux()
		if prev != nil {
			mux.Handle("/", prev)
		}
		mux.HandleFunc("POST /_dev/wechatpay/transfers/{out_bill_no}/confirm", func(w http.ResponseWriter, r *http.Request) {
			no := r.PathValue("out_bill_no")
			err := sim.ConfirmTransfer(no)
			switch {
			case errors.Is(err, wxpaysim.ErrNotFound):
				writeDevJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
				return
			case err != nil:
				writeDevJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
				return
			}
			t, _ := sim.TransferBill(no)
			writeDevJSON(w, http.StatusOK, t)
		})
		a.dev = mux
	}
	return nil
}
