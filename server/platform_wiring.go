package main

import (
	"context"
	"net/http"
	"time"

	"github.com/yutang/yutang/domain/identity"
	"github.com/yutang/yutang/domain/order"
	"github.com/yutang/yutang/domain/platform"
	"github.com/yutang/yutang/miniprogram-api/weapp"
	"github.com/yutang/yutang/storage"
)

// weappClient is the mini-program client: WeChat with an AppSecret, else
// the stand-in (development and tests), reached through the same Client so
// that tokens, error codes and bodies take the path that talks to WeChat.
// The stand-in's records and switches are served under /_dev/weapp/.
func (a *app) weappClient() *weapp.Client {
	if a.cfg.WeAppSecret != "" {
		return &weapp.Client{AppID: a.cfg.WeAppID, Secret: a.cfg.WeAppSecret, EnvVersion: a.cfg.WeAppEnv}
	}
	a.weappStandin = &weapp.Standin{AppID: a.cfg.WeAppID, QR: qrPNG, Now: a.now}
	dev := a.weappStandin.DevHandler("/_dev/weapp")
	mux := http.NewServeMux()
	if a.dev != nil {
		mux.Handle("/", a.dev)
	}
	mux.Handle("/_dev/weapp/", dev)
	a.dev = mux
	return a.weappStandin.Client(a.cfg.WeAppEnv)
}

// wirePlatform builds the platform's duties and hooks them in: the moments
// that call for a shipping-information upload (shipped, picked up,
// completed in store) or a subscribe message (paid, shipped, lines
// refunded) record it in their own transaction; two workers upload and
// send with backoff.
func (a *app) wirePlatform(wx *weapp.Client) {
	svc := &platform.Service{Store: a.store.Platform(), WeChat: wx, Orders: a.svc.Orders,
		Templates: a.cfg.WeAppTemplates, Now: a.now}
	a.svc.Platform = svc
	svc.PushToken = a.cfg.WeAppPushToken
	if a.weappStandin != nil && svc.PushToken == "" {
		svc.PushToken = weapp.StandinPushToken
	}
	on := func(ctx context.Context, tx *storage.Tx, e order.Event) error {
		return svc.OnMoment(ctx, tx.Platform(), e)
	}
	for _, m := range []order.Moment{order.MomentPaid, order.MomentShipped, order.MomentRefunded, order.MomentCompleted} {
		a.store.Lifecycle.On(m, "platform", on)
	}
	a.workers = append(a.workers,
		every(10*time.Second, a.log, "platform.shipping_uploads", func(ctx context.Context) error {
			_, err := svc.UploadDue(ctx, 100)
			return err
		}),
		every(5*time.Second, a.log, "platform.messages", func(ctx context.Context) error {
			_, err := svc.SendDue(ctx, 100)
			return err
		}))
}

var _ identity.WeChat = (*weapp.Client)(nil)
