package storage_test

import (
	"context"
	"testing"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/order"
	"github.com/yutang/yutang/domain/pricing"
	"github.com/yutang/yutang/storage"
	"github.com/yutang/yutang/storage/storagetest"
)

// An order's adjustments must sum to each line's discount, and the lines'
// discounts to the order's: the deferred constraint trigger refuses the
// transaction at commit otherwise, whoever writes it.
func TestAdjustmentsSumToDiscountAtCommit(t *testing.T) {
	t.Parallel()
	db := storagetest.NewDB(t)
	f := newOrderFixture(t, db, 2, 10, 1)
	st := storage.New(db)
	ctx := context.Background()
	now := time.Now()
	mk := func(no string, couponPart domain.Fen) order.Order {
		return order.Order{Number: no, ShopperID: f.shoppers[0], Status: order.StatusPendingPayment,
			Fulfillment: order.FulfillmentPickup, PickupStore: f.storeID, Channel: order.ChannelOnline,
			Subtotal: 2000, Discount: 300, Payable: 1700, PlacedAt: now, ExpiresAt: now.Add(time.Hour),
			Items: []order.Item{{LineNo: 1, SKUID: f.skus[0], ProductID: 0, SKUCode: "SKU-1", Title: "Longjing",
				UnitPrice: 1000, Quantity: 2, ListTotal: 2000, Discount: 300, Paid: 1700,
				Adjustments: []order.Adjustment{{Source: pricing.SourceCampaign, SourceID: 7, Amount: 200},
					{Source: pricing.SourceCoupon, SourceID: 42, Amount: couponPart}}}}}
	}
	var product int64
	if err := db.Get(&product, `SELECT product_id FROM skus WHERE id = $1`, f.skus[0]); err != nil {
		t.Fatal(err)
	}
	bad := mk("T-BAD-1", 99)
	bad.Items[0].ProductID = product
	err := st.InTx(ctx, func(tx *storage.Tx) error {
		_, err := tx.Orders().CreateOrder(ctx, bad)
		return err
	})
	if err == nil {
		t.Fatal("adjustments of 299 on a discount of 300 were accepted")
	}
	// Lines whose adjustments add up, but whose discounts do not add up to
	// the order's, are refused too.
	short := mk("T-BAD-2", 50)
	short.Items[0].ProductID = product
	short.Items[0].Discount, short.Items[0].Paid = 250, 1750
	err = st.InTx(ctx, func(tx *storage.Tx) error {
		_, err := tx.Orders().CreateOrder(ctx, short)
		return err
	})
	if err == nil {
		t.Fatal("lines discounted 250 on an order discounted 300 were accepted")
	}
	good := mk("T-GOOD-1", 100)
	good.Items[0].ProductID = product
	var created order.Order
	if err := st.InTx(ctx, func(tx *storage.Tx) error {
		created, err = tx.Orders().CreateOrder(ctx, good)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if created.ID == 0 || created.Items[0].ID == 0 || created.Items[0].Adjustments[1].ItemID != created.Items[0].ID {
		t.Fatalf("created without ids: %+v", created)
	}
	got, err := st.Orders().Order(ctx, "T-GOOD-1", 0, false)
	if err != nil {
		t.Fatal(err)
	}
	it := got.Items[0]
	if it.Discount != 300 || len(it.Adjustments) != 2 || it.DiscountBy(pricing.SourceCoupon) != 100 ||
		it.Adjustments[1].SourceID != 42 || got.DiscountBy(pricing.SourceCampaign) != 200 {
		t.Fatalf("read back %+v", it)
	}
	// Changing a line's discount without its adjustments is refused too.
	if _, err := db.Exec(`UPDATE order_items SET discount_fen = 301, paid_fen = 1699 WHERE id = $1`, it.ID); err == nil {
		t.Fatal("a line's discount changed without its adjustments")
	}
}

// Check reports every invariant, and a breach names what broke.
func TestCheckReportsBreaches(t *testing.T) {
	t.Parallel()
	db := storagetest.NewDB(t)
	f := newOrderFixture(t, db, 1, 5, 1)
	// The fixture leaves the catalog's derived min price alone; keep it true.
	if _, err := db.Exec(`UPDATE products p SET min_price_fen = s.price_fen FROM skus s WHERE s.product_id = p.id`); err != nil {
		t.Fatal(err)
	}
	st := storage.New(db)
	res, err := st.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(storage.Invariants()) {
		t.Fatalf("%d results for %d invariants", len(res), len(storage.Invariants()))
	}
	for _, b := range res {
		if b.Count != 0 {
			t.Fatalf("fresh database breaks %q: %v", b.Invariant, b.Lines)
		}
	}
	if _, err := db.Exec(`UPDATE skus SET stock = stock + 1 WHERE id = $1`, f.skus[0]); err != nil {
		t.Fatal(err)
	}
	res, err = st.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	broken := map[string]int{}
	for _, b := range res {
		if b.Count > 0 {
			broken[b.Invariant] = b.Count
		}
	}
	if len(broken) != 1 || broken["stock equals its ledger"] != 1 {
		t.Fatalf("breaches %v", broken)
	}
}
