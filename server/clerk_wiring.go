package main

import (
	"context"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/clerk"
	"github.com/yutang/yutang/domain/order"
	"github.com/yutang/yutang/storage"
)

// wireClerks builds the clerk's desk and hooks it in: a pickup order gets
// its hand-over code in the placing transaction, and an order a clerk takes
// in a store is audited there (the clerk's cancellations and pickup
// hand-overs audit themselves). Payments of in-store orders go through the
// cashier (Native QR or the member's JSAPI pay), and attribution credits
// them to the clerk and the store (attribution_wiring.go).
func (a *app) wireClerks() {
	svc := &clerk.Service{Store: a.store.Clerks(), Orders: a.svc.Orders, Cashier: a.svc.Cashier, QR: qrPNG, Now: a.now}
	a.svc.Clerks = svc
	a.store.Lifecycle.On(order.MomentPlaced, "clerks", func(ctx context.Context, tx *storage.Tx, e order.Event) error {
		if e.Channel == order.ChannelInStore {
			if err := tx.Clerks().Audit(ctx, domain.AuditEntry{Actor: e.By, Action: "order.place_in_store", Entity: "order",
				EntityID: e.OrderNumber, After: map[string]any{"store_id": e.StoreID, "clerk_id": e.ClerkID,
					"walk_in": e.ShopperID == 0, "payable_fen": e.Payable}, At: e.At}); err != nil {
				return err
			}
		}
		return svc.IssuePickupCode(ctx, tx.Clerks(), e)
	})
}
