package main

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/attribution"
	"github.com/yutang/yutang/domain/cashier"
	"github.com/yutang/yutang/miniprogram-api/weapp"
	"github.com/yutang/yutang/storage"
)

// wireAttribution builds the attribution service and hooks it in: touches
// move to the shopper at sign-in (an AnonStitcher); every paid order is
// attributed inside the payment-apply transaction, and refunds reverse the
// credits of the refunded lines inside the refund transaction; touch
// partitions are created three months ahead at start-up and daily; old
// ones are dropped; closed months get their distinct counts.
func (a *app) wireAttribution(ctx context.Context, wx any) error {
	st := storage.Attribution{DB: a.db}
	svc := &attribution.Service{Store: st, Reports: st, DecryptGroup: weapp.DecryptGroupInfo,
		Now: func() time.Time { return a.now() }}
	if c, ok := wx.(attribution.WxaCoder); ok {
		svc.WxaCode = c
	}
	a.svc.Attribution = svc
	a.svc.Identity.AnonStitchers = append(a.svc.Identity.AnonStitchers, svc.Stitch)
	if a.pay != nil {
		a.pay.store.OnPaid = append(a.pay.store.OnPaid, func(ctx context.Context, tx sqlx.ExtContext, p cashier.Paid) error {
			return svc.AttributeOrder(ctx, storage.Attribution{DB: tx}, p.OrderID)
		})
		a.pay.store.OnRefunded = append(a.pay.store.OnRefunded, func(ctx context.Context, tx sqlx.ExtContext, r cashier.Refunded) error {
			if len(r.Lines) == 0 {
				return nil
			}
			lines := map[int64]domain.Fen{}
			for _, l := range r.Lines {
				lines[l.ItemID] += l.Amount
			}
			return svc.ReverseOrderCredits(ctx, storage.Attribution{DB: tx}, r.OrderID, lines)
		})
	}
	partitions := func(ctx context.Context) error {
		_, err := st.EnsureTouchPartitions(ctx, a.now().AddDate(0, -1, 0), 5)
		return err
	}
	if err := partitions(ctx); err != nil {
		return err
	}
	a.workers = append(a.workers, every(24*time.Hour, a.log, "attribution.touch_partitions", partitions),
		every(24*time.Hour, a.log, "attribution.touch_retention", func(ctx context.Context) error {
			return a.pruneTouches(ctx, st)
		}),
		every(6*time.Hour, a.log, "attribution.close_months", func(ctx context.Context) error {
			closed, err := st.CloseMonths(ctx, a.now())
			if len(closed) > 0 {
				a.log.Info("attribution: closed months", "months", closed)
			}
			return err
		}))
	return nil
}

// pruneTouches drops the touch partitions older than the retention and
// forgets event ids older than a week.
func (a *app) pruneTouches(ctx context.Context, st storage.Attribution) error {
	dropped, err := st.DropTouchPartitions(ctx, a.now().AddDate(0, -a.cfg.TouchMonths, 0))
	if err != nil {
		return err
	}
	if len(dropped) > 0 {
		a.log.Info("attribution: dropped old touch partitions", "partitions", dropped, "retention_months", a.cfg.TouchMonths)
	}
	for {
		n, err := st.PruneTouchEvents(ctx, a.now().AddDate(0, 0, -7), 10_000)
		if err != nil || n < 10_000 {
			return err
		}
	}
}
