package storage_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/attribution"
	"github.com/yutang/yutang/domain/identity"
	"github.com/yutang/yutang/storage"
	"github.com/yutang/yutang/storage/storagetest"
)

func attrService(db *sqlx.DB, now time.Time) *attribution.Service {
	st := storage.New(db).Attribution()
	return &attribution.Service{Store: st, Reports: st, Now: func() time.Time { return now },
		DecryptGroup: func(key, data, iv string) (attribution.GroupEnter, error) {
			if key == "" || iv != "iv" {
				return attribution.GroupEnter{}, errors.New("bad")
			}
			return attribution.GroupEnter{OpenGID: "gid-" + data}, nil
		}}
}

func newShopper(t *testing.T, db *sqlx.DB, openid string) int64 {
	t.Helper()
	var id int64
	if err := db.Get(&id, `INSERT INTO shoppers (openid, session_key) VALUES ($1, 'k') RETURNING id`, openid); err != nil {
		t.Fatal(err)
	}
	return id
}

// insertPaidOrder writes a paid order with one line per amount (each line a
// new product) and returns its id and its line ids.
func insertPaidOrder(t *testing.T, db *sqlx.DB, shopper int64, placed, paid time.Time, amounts ...int64) (int64, []int64) {
	t.Helper()
	var cat int64
	if err := db.Get(&cat, `INSERT INTO categories (name) VALUES ('c') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, a := range amounts {
		total += a
	}
	var id int64
	err := db.Get(&id, `
INSERT INTO orders (order_no, shopper_id, status, fulfillment, address, subtotal_fen, discount_fen, freight_fen, payable_fen,
                    placed_at, expires_at, paid_at, updated_at)
VALUES ($1, $2, 'paid', 'delivery', '{}', $3, 0, 0, $3, $4, $4, $5, $5) RETURNING id`,
		fmt.Sprintf("T%d%d", shopper, placed.UnixNano()), shopper, total, placed, paid)
	if err != nil {
		t.Fatal(err)
	}
	var items []int64
	for i, a := range amounts {
		var prod, sku, item int64
		if err := db.Get(&prod, `INSERT INTO products (category_id, title) VALUES ($1, $2) RETURNING id`, cat, fmt.Sprintf("P%d", i)); err != nil {
			t.Fatal(err)
		}
		if err := db.Get(&sku, `INSERT INTO skus (product_id, code, price_fen) VALUES ($1, $2, $3) RETURNING id`, prod, fmt.Sprintf("S%d-%d", id, i), a); err != nil {
			t.Fatal(err)
		}
		err := db.Get(&item, `
INSERT INTO order_items (order_id, line_no, sku_id, product_id, sku_code, title, unit_price_fen, quantity, list_total_fen, paid_fen)
VALUES ($1, $2, $3, $4, 'x', 'x', $5, 1, $5, $5) RETURNING id`, id, i+1, sku, prod, a)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, item)
	}
	return id, items
}

func attributeInTx(t *testing.T, db *sqlx.DB, svc *attribution.Service, orderID int64) {
	t.Helper()
	err := storage.New(db).InTx(context.Background(), func(tx *storage.Tx) error {
		return svc.AttributeOrder(context.Background(), tx.Attribution(), orderID)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAttributionTrackDedupeUnknownGroupAndStitch(t *testing.T) {
	t.Parallel()
	db := storagetest.NewDB(t)
	ctx := context.Background()
	now := time.Now()
	svc := attrService(db, now)
	kocShopper := newShopper(t, db, "koc")
	buyer := newShopper(t, db, "buyer")

	post, err := svc.CreateTouchpoint(ctx, domain.System, "", attribution.TouchpointInfo{Kind: attribution.KindPost,
		Name: "Spring", PostKind: attribution.PostMoments, Tags: []string{"spring"}})
	if err != nil {
		t.Fatal(err)
	}
	link, err := svc.Share(ctx, attribution.ShareRequest{By: attribution.Sharer{ShopperID: kocShopper}, PostID: post.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(link.Code) != attribution.CodeLength || link.Path != fmt.Sprintf("pages/post/detail?id=%d&tk=%s", post.ID, link.Code) {
		t.Fatalf("link %+v", link)
	}
	// Sharing again reuses the same KOC touchpoint.
	link2, err := svc.Share(ctx, attribution.ShareRequest{By: attribution.Sharer{ShopperID: kocShopper}})
	if err != nil {
		t.Fatal(err)
	}
	if link2.Touchpoints[0] != link.Touchpoints[1] {
		t.Fatalf("KOC touchpoint differs: %v %v", link.Touchpoints, link2.Touchpoints)
	}

	evs := []attribution.Event{
		{ID: "e1", Code: link.Code, Scene: 1044, At: now.Add(-2 * time.Hour), Group: &attribution.GroupInfo{EncryptedData: "G1", IV: "iv"}},
		{ID: "e2", Code: "NOSUCHCODE123", Scene: 1007, At: now.Add(-72 * time.Hour)}, // clamped to now − 24h
		{ID: "e1", Code: link.Code, Scene: 1044, At: now},                            // duplicate in the batch
		{ID: "e3", Code: link.Code, Scene: 1007, At: now.Add(time.Hour)},             // clamped to now
	}
	res, err := svc.Track(ctx, attribution.Visitor{ShopperID: buyer}, evs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 3 || res.Duplicates != 1 || res.Unknown != 1 || res.Groups != 1 {
		t.Fatalf("track: %+v", res)
	}
	// The same batch again: all duplicates.
	res, err = svc.Track(ctx, attribution.Visitor{ShopperID: buyer}, evs)
	if err != nil || res.Accepted != 0 || res.Duplicates != 4 {
		t.Fatalf("retry: %+v %v", res, err)
	}
	var ats []time.Time
	if err := db.Select(&ats, `SELECT at FROM touches ORDER BY event_id`); err != nil {
		t.Fatal(err)
	}
	if !ats[1].Equal(now.Add(-24*time.Hour).Round(time.Microsecond)) || !ats[2].Equal(now.Round(time.Microsecond)) {
		t.Fatalf("clamped times: %v (now %v)", ats, now)
	}
	// The group was created unnamed and linked to the touch.
	groups, _, err := svc.ListTouchpoints(ctx, attribution.KindGroup, domain.Page{})
	if err != nil || len(groups) != 1 || !groups[0].HasOpenGID || groups[0].Name != "" {
		t.Fatalf("groups %+v %v", groups, err)
	}
	touches, err := storage.New(db).Attribution().BuyerTouches(ctx, buyer, now.Add(-7*24*time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(touches) != 2 || len(touches[0].Touchpoints) != 3 || touches[0].Touchpoints[2] != (attribution.Touchpoint{Kind: attribution.KindGroup, ID: groups[0].ID}) {
		t.Fatalf("buyer touches (unknown code excluded, group added): %+v", touches)
	}

	// An anonymous visitor's touches follow them to the shopper at sign-in.
	anon := "anon-visitor-1"
	if _, err := svc.Track(ctx, attribution.Visitor{AnonID: anon}, []attribution.Event{{ID: "a1", Code: link2.Code, At: now.Add(-time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	later := newShopper(t, db, "later")
	if _, err := db.Exec(`INSERT INTO anon_visitors (anon_id, shopper_id, stitched_at) VALUES ($1, $2, now())`, anon, later); err != nil {
		t.Fatal(err)
	}
	if err := svc.Stitch(ctx, storage.New(db).Attribution(), identity.SignedIn{AnonID: anon, ShopperID: later, At: now}); err != nil {
		t.Fatal(err)
	}
	touches, err = storage.New(db).Attribution().BuyerTouches(ctx, later, now.Add(-7*24*time.Hour), now)
	if err != nil || len(touches) != 1 || touches[0].Code != link2.Code {
		t.Fatalf("stitched: %+v %v", touches, err)
	}
	// After stitching, the same anonymous id tracks as the shopper.
	if _, err := svc.Track(ctx, attribution.Visitor{AnonID: anon}, []attribution.Event{{ID: "a2", Code: link2.Code, At: now}}); err != nil {
		t.Fatal(err)
	}
	var sid int64
	if err := db.Get(&sid, `SELECT shopper_id FROM touches WHERE event_id = 'a2'`); err != nil || sid != later {
		t.Fatalf("a2 shopper %d %v", sid, err)
	}
}

func TestAttributionOrderEveryModelReportsAndRefund(t *testing.T) {
	t.Parallel()
	db := storagetest.NewDB(t)
	ctx := context.Background()
	now := time.Now()
	svc := attrService(db, now)
	koc := newShopper(t, db, "koc")
	buyer := newShopper(t, db, "buyer")
	post, err := svc.CreateTouchpoint(ctx, domain.System, "", attribution.TouchpointInfo{Kind: attribution.KindPost, Name: "Live", PostKind: attribution.PostLive})
	if err != nil {
		t.Fatal(err)
	}
	poster, err := svc.CreateTouchpoint(ctx, domain.System, "", attribution.TouchpointInfo{Kind: attribution.KindPost, Name: "Poster", PostKind: attribution.PostPoster})
	if err != nil {
		t.Fatal(err)
	}
	kocLink, err := svc.Share(ctx, attribution.ShareRequest{By: attribution.Sharer{ShopperID: koc}, PostID: post.ID})
	if err != nil {
		t.Fatal(err)
	}
	posterLink, err := svc.Share(ctx, attribution.ShareRequest{PostID: poster.ID})
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.Track(ctx, attribution.Visitor{ShopperID: buyer}, []attribution.Event{
		{ID: "t1", Code: kocLink.Code, At: now.Add(-3 * time.Hour)},
		{ID: "t2", Code: posterLink.Code, At: now.Add(-2 * time.Hour)},
	})
	if err != nil {
		t.Fatal(err)
	}
	order, items := insertPaidOrder(t, db, buyer, now.Add(-time.Hour), now.Add(-50*time.Minute), 1000, 333)
	attributeInTx(t, db, svc, order)
	attributeInTx(t, db, svc, order) // a second time does nothing

	a, err := storage.New(db).Attribution().Attribution(ctx, order, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Models) != 5 || a.DefaultModel != attribution.ModelLastTouch || !a.Order.NewCustomer || a.Paid != 1333 {
		t.Fatalf("attribution %+v", a)
	}
	byModel := map[attribution.Model]attribution.ModelAttribution{}
	for _, m := range a.Models {
		byModel[m.Model] = m
	}
	if c := byModel[attribution.ModelLastTouch].Credits; len(c) != 1 || c[0].Amount != 1333 || c[0].Touchpoints[0].ID != poster.ID {
		t.Fatalf("last touch credits %+v", c)
	}
	if c := byModel[attribution.ModelLinear].Credits; len(c) != 2 || c[0].Amount != 667 || c[1].Amount != 666 {
		t.Fatalf("linear credits %+v", c)
	}

	report := func(dim attribution.TouchpointKind, m attribution.Model) attribution.Report {
		t.Helper()
		r, err := svc.Report(ctx, attribution.ReportQuery{Dimension: dim, Model: m})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// Last touch: the poster has it all; the KOC dimension has nothing (direct).
	r := report(attribution.KindPost, "")
	if r.Paid != 1333 || r.Credited != 1333 || r.Direct != 0 || len(r.Rows) != 2 || r.Rows[0].TouchpointID != poster.ID ||
		r.Rows[0].Orders != 1 || r.Rows[0].Touches != 1 || r.Rows[0].Visitors != 1 || r.Rows[0].Conversion != 1 ||
		r.Rows[0].NewCustomerOrders != 1 || r.Rows[0].AverageOrderFen != 1333 || r.Rows[1].Credited != 0 {
		t.Fatalf("post report %+v", r)
	}
	if r := report(attribution.KindKOC, ""); r.Credited != 0 || r.Direct != 1333 {
		t.Fatalf("koc report %+v", r)
	}
	// Linear: the KOC's touch has half (the larger half: earlier on ties).
	if r := report(attribution.KindKOC, attribution.ModelLinear); r.Credited != 667 || r.Direct != 666 || r.Rows[0].Credited != 667 {
		t.Fatalf("koc linear %+v", r)
	}

	// Refund line 2 (333) in full: reversed pro rata in every model.
	err = storage.New(db).InTx(ctx, func(tx *storage.Tx) error {
		return svc.ReverseOrderCredits(ctx, tx.Attribution(), order, map[int64]domain.Fen{items[1]: 333})
	})
	if err != nil {
		t.Fatal(err)
	}
	r = report(attribution.KindPost, attribution.ModelLinear)
	var refunded, net domain.Fen
	for _, row := range r.Rows {
		refunded += row.Refunded
		net += row.Net
	}
	if refunded != 333 || net != 1000 {
		t.Fatalf("linear after refund %+v", r)
	}
	// Refunding more than is left is refused, and nothing is booked.
	err = storage.New(db).InTx(ctx, func(tx *storage.Tx) error {
		return svc.ReverseOrderCredits(ctx, tx.Attribution(), order, map[int64]domain.Fen{items[1]: 1})
	})
	if !errors.Is(err, attribution.ErrOverReversal) {
		t.Fatalf("over-reversal: %v", err)
	}
	top, err := svc.TopProducts(ctx, attribution.ReportQuery{Dimension: attribution.KindPost, Model: attribution.ModelLastTouch}, poster.ID, 10)
	if err != nil || len(top) != 2 || top[0].Credited != 1000 || top[1].Refunded != 333 {
		t.Fatalf("top products %+v %v", top, err)
	}
	daily, err := svc.Daily(ctx, attribution.ReportQuery{Dimension: attribution.KindPost}, poster.ID)
	if err != nil || len(daily) != 30 || daily[29].Credited+daily[28].Credited != 1333 {
		t.Fatalf("daily %+v %v", daily, err)
	}
}

// Credited GMV across one dimension plus direct equals the paid GMV of the
// period, to the fen, for every dimension and model — with many orders,
// odd amounts, touches with and without each kind of touchpoint, in-store
// orders and direct orders.
func TestAttributionGMVIdentity(t *testing.T) {
	t.Parallel()
	db := storagetest.NewDB(t)
	ctx := context.Background()
	now := time.Now()
	svc := attrService(db, now)
	var store, clerk int64
	if err := db.Get(&store, `INSERT INTO stores (code, name) VALUES ('S1', 'Store 1') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	if err := db.Get(&clerk, `INSERT INTO staff (username, password_hash, role, store_id) VALUES ('clerk1', 'x', 'clerk', $1) RETURNING id`, store); err != nil {
		t.Fatal(err)
	}
	var links []attribution.ShareLink
	for i := range 4 {
		p, err := svc.CreateTouchpoint(ctx, domain.System, "", attribution.TouchpointInfo{Kind: attribution.KindPost, Name: fmt.Sprint("post", i), PostKind: attribution.PostArticle})
		if err != nil {
			t.Fatal(err)
		}
		by := attribution.Sharer{ShopperID: newShopper(t, db, fmt.Sprint("koc", i))}
		if i == 3 {
			by = attribution.Sharer{StaffID: clerk, Clerk: true}
		}
		l, err := svc.Share(ctx, attribution.ShareRequest{By: by, PostID: p.ID})
		if err != nil {
			t.Fatal(err)
		}
		links = append(links, l)
		if l, err = svc.Share(ctx, attribution.ShareRequest{By: by}); err != nil { // no post
			t.Fatal(err)
		}
		links = append(links, l)
	}
	var paid domain.Fen
	for b := range 12 {
		buyer := newShopper(t, db, fmt.Sprint("buyer", b))
		var evs []attribution.Event
		for k := range b % 4 {
			evs = append(evs, attribution.Event{ID: fmt.Sprintf("b%d-%d", b, k), Code: links[(b+k*3)%len(links)].Code,
				At: now.Add(-time.Duration(10-k) * time.Hour), Group: &attribution.GroupInfo{EncryptedData: fmt.Sprint(k), IV: "iv"}})
		}
		if len(evs) > 0 {
			if _, err := svc.Track(ctx, attribution.Visitor{ShopperID: buyer}, evs); err != nil {
				t.Fatal(err)
			}
		}
		amounts := []int64{int64(101 + 37*b), int64(7 + b*b)}
		order, _ := insertPaidOrder(t, db, buyer, now.Add(-2*time.Hour), now.Add(-time.Hour), amounts...)
		if b == 5 {
			if _, err := db.Exec(`UPDATE orders SET channel = 'in_store', store_id = $2, clerk_id = $3 WHERE id = $1`, order, store, clerk); err != nil {
				t.Fatal(err)
			}
		}
		attributeInTx(t, db, svc, order)
		paid += domain.Fen(amounts[0] + amounts[1])
	}
	for _, dim := range []attribution.TouchpointKind{attribution.KindPost, attribution.KindKOC, attribution.KindGroup, attribution.KindStore, attribution.KindClerk} {
		for _, m := range attribution.Models {
			r, err := svc.Report(ctx, attribution.ReportQuery{Dimension: dim, Model: m})
			if err != nil {
				t.Fatal(err)
			}
			var sum domain.Fen
			for _, row := range r.Rows {
				sum += row.Credited
			}
			if r.Paid != paid || sum != r.Credited || sum+r.Direct != paid {
				t.Errorf("%s/%s: rows %d + direct %d != paid %d (report paid %d)", dim, m, sum, r.Direct, paid, r.Paid)
			}
		}
	}
}
