package main

import (
	"context"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/attribution"
	"github.com/yutang/yutang/domain/identity"
	"github.com/yutang/yutang/domain/order"
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
	st := a.store.Attribution()
	svc := &attribution.Service{Store: st, Reports: st, DecryptGroup: weapp.GroupDecrypter(a.cfg.WeAppID),
		Now: func() time.Time { return a.now() }}
	if c, ok := wx.(attribution.WxaCoder); ok {
		svc.WxaCode = c
	}
	a.svc.Attribution = svc
	a.store.SignedIn.On("attribution", func(ctx context.Context, tx *storage.Tx, e identity.SignedIn) error {
		return svc.Stitch(ctx, tx.Attribution(), e)
	})
	a.store.Lifecycle.On(order.MomentPaid, "attribution", func(ctx context.Context, tx *storage.Tx, e order.Event) error {
		return svc.AttributeOrder(ctx, tx.Attribution(), e.OrderID)
	})
	a.store.Lifecycle.On(order.MomentRefunded, "attribution", func(ctx context.Context, tx *storage.Tx, e order.Event) error {
		if len(e.Lines) == 0 {
			return nil
		}
		return svc.ReverseOrderCredits(ctx, tx.Attribution(), e.OrderID, refundedLines(e))
	})
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
		// Every quarter of an hour, so a day is folded soon after it closes
		// (attribution.ClosedThrough); a run with nothing to fold is a few
		// statements.
		every(15*time.Minute, a.log, "attribution.close_months", func(ctx context.Context) error {
			return a.closeAttribution(ctx, st)
		}))
	return nil
}

// refundedLines is what a refund event took back of each line (ItemID →
// amount).
func refundedLines(e order.Event) map[int64]domain.Fen {
	lines := make(map[int64]domain.Fen, len(e.Lines))
	for _, l := range e.Lines {
		lines[l.ItemID] += l.Amount
	}
	return lines
}

// closeAttribution computes the snapshots of the months and folds the days
// that are closed at the program's clock (a.now).
func (a *app) closeAttribution(ctx context.Context, st storage.Attribution) error {
	closed, err := st.CloseMonths(ctx, a.now())
	if len(closed) > 0 {
		a.log.Info("attribution: closed months", "months", closed)
	}
	if err != nil {
		return err
	}
	days, err := st.CloseDays(ctx, a.now())
	if days > 0 {
		a.log.Info("attribution: closed days", "days", days)
	}
	return err
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
