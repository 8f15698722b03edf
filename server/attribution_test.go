package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/yutang/yutang/domain/attribution"
	"github.com/yutang/yutang/domain/identity"
	"github.com/yutang/yutang/miniprogram-api/weapp"
)

// newServedTestApp is newTestApp whose PublicURL is a real listener serving
// the same app, so the WeChat Pay simulator's notifications reach it.
func newServedTestApp(t *testing.T) *testApp {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ta := newTestApp(t, func(c *Config) { c.PublicURL = "http://" + ln.Addr().String() })
	srv := &http.Server{Handler: ta.srv.Config.Handler, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ta
}

type attrReport struct {
	Dimension string `json:"dimension"`
	Model     string `json:"model"`
	Items     []struct {
		TouchpointID      int64   `json:"touchpoint_id"`
		Name              string  `json:"name"`
		Touches           int64   `json:"touches"`
		UniqueVisitors    int64   `json:"unique_visitors"`
		AttributedOrders  int64   `json:"attributed_orders"`
		AttributedGMVFen  int64   `json:"attributed_gmv_fen"`
		NetGMVFen         int64   `json:"net_gmv_fen"`
		Conversion        float64 `json:"conversion"`
		NewCustomerOrders int64   `json:"new_customer_orders"`
		AverageOrderFen   int64   `json:"average_order_fen"`
	} `json:"items"`
	Totals struct {
		PaidGMVFen     int64 `json:"paid_gmv_fen"`
		CreditedGMVFen int64 `json:"credited_gmv_fen"`
		DirectGMVFen   int64 `json:"direct_gmv_fen"`
	} `json:"totals"`
}

// Two shoppers arrive through different share links — a live-stream post
// shared by a KOC into a WeChat group, and a poster's mini-program code —
// browse, order and pay through the WeChat Pay simulator; the reports and
// the explanations show exactly the expected credits.
func TestAttributionEndToEnd(t *testing.T) {
	t.Parallel()
	ta := newServedTestApp(t)
	ctx := context.Background()
	admin := ta.staff(identity.RoleAdmin, "")
	skus := ta.orderSKUs(2, 50) // 1000 and 2000 fen

	// Operators create the posts.
	var live, poster struct {
		ID int64 `json:"id"`
	}
	ta.must(201, req{Method: "POST", Path: "/api/v1/admin/touchpoints", Token: admin,
		Body: map[string]any{"kind": "post", "name": "Spring live", "post_kind": "live", "tags": []string{"spring"}}}).Decode(t, &live)
	ta.must(201, req{Method: "POST", Path: "/api/v1/admin/touchpoints", Token: admin,
		Body: map[string]any{"kind": "post", "name": "Window poster", "post_kind": "poster"}}).Decode(t, &poster)

	// A KOC shares the live post; the brand prints a poster code.
	kocTok, _ := ta.shopper("koc-mei")
	var kocLink, posterLink struct{ Code, Path, Scene string }
	ta.must(201, req{Method: "POST", Path: "/api/v1/shop/share-links", Token: kocTok, Body: map[string]any{"post_id": live.ID}}).Decode(t, &kocLink)
	ta.must(201, req{Method: "POST", Path: "/api/v1/admin/share-links", Token: admin, Body: map[string]any{"post_id": poster.ID}}).Decode(t, &posterLink)
	if kocLink.Scene != kocLink.Code || len(kocLink.Code) > 32 || !strings.HasSuffix(kocLink.Path, "tk="+kocLink.Code) {
		t.Fatalf("share link %+v", kocLink)
	}
	png := ta.must(200, req{Method: "GET", Path: "/api/v1/admin/share-links/" + posterLink.Code + "/wxacode", Token: admin})
	if !bytes.HasPrefix(png.Body, []byte("\x89PNG")) || png.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("wxacode: %s %q", png.Header.Get("Content-Type"), png.Body[:min(8, len(png.Body))])
	}

	// Alice opens the KOC's card in a WeChat group (scene 1044, group info).
	aliceTok, _ := ta.shopper("alice")
	sess, _ := (&weapp.Standin{}).Code2Session(ctx, "alice")
	enc, iv, err := weapp.EncryptGroupEnter(ta.app.cfg.WeAppID, sess.SessionKey, attribution.GroupEnter{OpenGID: "tGspringfans", ChatType: 3}, []byte("0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var tr struct{ Accepted, Duplicates, Unknown, Groups int }
	events := []map[string]any{
		{"id": "alice-1", "code": kocLink.Code, "scene": 1044, "path": kocLink.Path, "at": now.Add(-time.Minute),
			"group_info": map[string]string{"encrypted_data": enc, "iv": iv}},
		{"id": "alice-2", "code": "zzzzzzzzzzzz", "scene": 1001, "at": now}, // unknown code: kept, credits nobody
	}
	ta.must(200, req{Method: "POST", Path: "/api/v1/shop/track", Token: aliceTok, Body: map[string]any{"events": events}}).Decode(t, &tr)
	if tr.Accepted != 2 || tr.Unknown != 1 || tr.Groups != 1 {
		t.Fatalf("alice track %+v", tr)
	}
	ta.must(200, req{Method: "POST", Path: "/api/v1/shop/track", Token: aliceTok, Body: map[string]any{"events": events}}).Decode(t, &tr)
	if tr.Accepted != 0 || tr.Duplicates != 2 {
		t.Fatalf("alice retry %+v", tr)
	}

	// Bob scans the poster before signing in (X-Anon-Id), then signs in.
	anon := map[string]string{"X-Anon-Id": "anon-bob-0001"}
	ta.must(200, req{Method: "POST", Path: "/api/v1/shop/track", Header: anon, Body: map[string]any{"events": []map[string]any{
		{"id": "bob-1", "code": posterLink.Code, "scene": 1047, "path": "pages/post/detail", "at": now.Add(-time.Minute)}}}})
	var bobSess struct {
		Token string `json:"token"`
	}
	ta.must(200, req{Method: "POST", Path: "/api/v1/shop/session", Header: anon, Body: map[string]string{"code": "bob"}}).Decode(t, &bobSess)
	bobTok := bobSess.Token
	if r := ta.do(req{Method: "POST", Path: "/api/v1/shop/track", Body: map[string]any{"events": []map[string]any{{"id": "x"}}}}); r.Status != 401 {
		t.Fatalf("track without visitor: %d", r.Status)
	}

	// Both browse, order and pay through the simulator.
	ta.must(200, req{Method: "GET", Path: fmt.Sprintf("/api/v1/shop/products?limit=5"), Token: aliceTok})
	pay := func(tok string, items []map[string]any) (string, int64) {
		t.Helper()
		body := map[string]any{"items": items, "fulfillment": map[string]any{"type": "delivery", "address_id": ta.address(tok)}}
		var pv struct {
			PayableFen int64 `json:"payable_fen"`
		}
		ta.must(200, req{Method: "POST", Path: "/api/v1/shop/checkout/preview", Token: tok, Body: body}).Decode(t, &pv)
		body["expected_payable_fen"] = pv.PayableFen
		var o orderAnswer
		ta.must(201, req{Method: "POST", Path: "/api/v1/shop/orders", Token: tok, Header: map[string]string{"Idempotency-Key": tok[:20]},
			Body: body}).Decode(t, &o)
		var goods int64
		for _, it := range o.Items {
			goods += it.PaidFen
		}
		ta.must(200, req{Method: "POST", Path: "/api/v1/shop/orders/" + o.OrderNo + "/pay", Token: tok})
		ta.must(200, req{Method: "POST", Path: "/_dev/wechatpay/orders/" + o.OrderNo + "/pay"})
		eventually(t, 10*time.Second, "order "+o.OrderNo+" attributed", func() bool {
			return ta.do(req{Method: "GET", Path: "/api/v1/admin/orders/" + o.OrderNo + "/attribution", Token: admin}).Status == 200
		})
		return o.OrderNo, goods
	}
	aliceNo, aliceGoods := pay(aliceTok, []map[string]any{{"sku_id": skus[0], "quantity": 2}})
	bobNo, bobGoods := pay(bobTok, []map[string]any{{"sku_id": skus[0], "quantity": 1}, {"sku_id": skus[1], "quantity": 1}})
	if aliceGoods != 2000 || bobGoods != 3000 {
		t.Fatalf("goods %d %d", aliceGoods, bobGoods)
	}

	report := func(dim, model string) attrReport {
		t.Helper()
		var r attrReport
		ta.must(200, req{Method: "GET", Path: "/api/v1/admin/reports/attribution?dimension=" + dim + "&model=" + model, Token: admin}).Decode(t, &r)
		if r.Totals.PaidGMVFen != 5000 || r.Totals.CreditedGMVFen+r.Totals.DirectGMVFen != 5000 {
			t.Fatalf("%s/%s totals %+v", dim, model, r.Totals)
		}
		return r
	}
	credit := func(r attrReport) map[int64]int64 {
		out := map[int64]int64{}
		for _, it := range r.Items {
			out[it.TouchpointID] = it.AttributedGMVFen
		}
		return out
	}
	for _, model := range []string{"", "linear", "time_decay"} { // one touch each: every model agrees
		posts := report("post", model)
		if c := credit(posts); c[live.ID] != 2000 || c[poster.ID] != 3000 || posts.Totals.DirectGMVFen != 0 {
			t.Fatalf("post/%s: %+v", model, posts)
		}
		kocs := report("koc", model)
		if len(kocs.Items) != 1 || kocs.Items[0].AttributedGMVFen != 2000 || kocs.Totals.DirectGMVFen != 3000 {
			t.Fatalf("koc/%s: %+v", model, kocs)
		}
		groups := report("group", model)
		if len(groups.Items) != 1 || groups.Items[0].AttributedGMVFen != 2000 || groups.Items[0].Name != "" {
			t.Fatalf("group/%s: %+v", model, groups)
		}
	}
	posts := report("post", "")
	for _, it := range posts.Items {
		if it.Touches != 1 || it.UniqueVisitors != 1 || it.AttributedOrders != 1 || it.Conversion != 1 || it.NewCustomerOrders != 1 {
			t.Fatalf("post row %+v", it)
		}
	}
	if posts.Model != "last_touch" {
		t.Fatalf("default model %q", posts.Model)
	}

	// Alice's explanation: the KOC's touch in the group, 100%.
	var ex struct {
		OrderNo      string `json:"order_no"`
		PaidGoodsFen int64  `json:"paid_goods_fen"`
		DefaultModel string `json:"default_model"`
		Models       []struct {
			Model      string   `json:"model"`
			Direct     bool     `json:"direct"`
			Reasons    []string `json:"reasons"`
			Candidates []struct {
				Code        string
				Scene       int
				Touchpoints []struct {
					Kind string
					ID   int64
				}
			} `json:"candidates"`
			Credits []struct {
				AmountFen   int64   `json:"amount_fen"`
				Weight      float64 `json:"weight"`
				Touchpoints []struct {
					Kind string
					ID   int64
				}
			} `json:"credits"`
		} `json:"models"`
	}
	ta.must(200, req{Method: "GET", Path: "/api/v1/admin/orders/" + aliceNo + "/attribution", Token: admin}).Decode(t, &ex)
	if ex.PaidGoodsFen != 2000 || ex.DefaultModel != "last_touch" || len(ex.Models) != 5 {
		t.Fatalf("explanation %+v", ex)
	}
	m := ex.Models[0]
	if m.Model != "last_touch" || m.Direct || len(m.Candidates) != 1 || m.Candidates[0].Code != kocLink.Code || m.Candidates[0].Scene != 1044 ||
		len(m.Credits) != 1 || m.Credits[0].AmountFen != 2000 || m.Credits[0].Weight != 1 || len(m.Credits[0].Touchpoints) != 3 ||
		m.Credits[0].Touchpoints[0].Kind != "post" || m.Credits[0].Touchpoints[1].Kind != "koc" || m.Credits[0].Touchpoints[2].Kind != "group" ||
		len(m.Reasons) == 0 {
		t.Fatalf("alice last touch %+v", m)
	}
	// Bob's anonymous poster scan was stitched to him at sign-in.
	ta.must(200, req{Method: "GET", Path: "/api/v1/admin/orders/" + bobNo + "/attribution", Token: admin}).Decode(t, &ex)
	if m := ex.Models[0]; len(m.Credits) != 1 || m.Credits[0].Touchpoints[0].ID != poster.ID || m.Credits[0].AmountFen != 3000 {
		t.Fatalf("bob %+v", m)
	}

	// CSV, daily series, top products.
	csvr := ta.must(200, req{Method: "GET", Path: "/api/v1/admin/reports/attribution?dimension=post", Token: admin, Header: map[string]string{"Accept": "text/csv"}})
	if !strings.HasPrefix(string(csvr.Body), "touchpoint_id,name,day,touches") || !strings.Contains(string(csvr.Body), ",Spring live,") {
		t.Fatalf("csv: %s", csvr.Body)
	}
	var daily struct {
		Items []struct {
			Day              string `json:"day"`
			AttributedGMVFen int64  `json:"attributed_gmv_fen"`
		} `json:"items"`
	}
	ta.must(200, req{Method: "GET", Path: fmt.Sprintf("/api/v1/admin/reports/attribution/post/%d/daily", poster.ID), Token: admin}).Decode(t, &daily)
	var sum int64
	for _, d := range daily.Items {
		sum += d.AttributedGMVFen
	}
	if len(daily.Items) != 30 || sum != 3000 {
		t.Fatalf("daily %+v", daily)
	}
	var top struct {
		Items []struct {
			ProductID        int64 `json:"product_id"`
			AttributedGMVFen int64 `json:"attributed_gmv_fen"`
		} `json:"items"`
	}
	ta.must(200, req{Method: "GET", Path: fmt.Sprintf("/api/v1/admin/reports/attribution/post/%d/products", poster.ID), Token: admin}).Decode(t, &top)
	if len(top.Items) != 1 || top.Items[0].AttributedGMVFen != 3000 {
		t.Fatalf("top products %+v", top)
	}

	// The unnamed group gets a name; the change is audited.
	var groups struct {
		Items []struct{ ID int64 } `json:"items"`
	}
	ta.must(200, req{Method: "GET", Path: "/api/v1/admin/touchpoints?kind=group", Token: admin}).Decode(t, &groups)
	ta.must(200, req{Method: "PATCH", Path: fmt.Sprintf("/api/v1/admin/touchpoints/%d", groups.Items[0].ID), Token: admin,
		Body: map[string]any{"name": "Spring fans", "tags": []string{"vip"}}})
	audit := ta.must(200, req{Method: "GET", Path: "/api/v1/admin/audit-log?entity=touchpoint", Token: admin})
	if !strings.Contains(string(audit.Body), "Spring fans") {
		t.Fatalf("audit: %s", audit.Body)
	}
	// Settings are audited and validated.
	ta.must(200, req{Method: "PUT", Path: "/api/v1/admin/attribution/settings", Token: admin, Body: map[string]any{"model": "linear"}})
	if r := ta.do(req{Method: "PUT", Path: "/api/v1/admin/attribution/settings", Token: admin, Body: map[string]any{"model": "nope"}}); r.Status != 400 {
		t.Fatalf("bad model: %d", r.Status)
	}
	if r := report("post", ""); r.Model != "linear" {
		t.Fatalf("default model now %q", r.Model)
	}
	// The report pages: one touchpoint per page, the totals whole on each.
	var page struct {
		Items []struct {
			TouchpointID int64 `json:"touchpoint_id"`
		} `json:"items"`
		NextCursor string `json:"next_cursor"`
		Totals     struct {
			PaidGMVFen int64 `json:"paid_gmv_fen"`
		} `json:"totals"`
	}
	seen := map[int64]bool{}
	for cursor, pages := "", 0; pages == 0 || cursor != ""; pages++ {
		ta.must(200, req{Method: "GET", Path: "/api/v1/admin/reports/attribution?dimension=post&limit=1&cursor=" + cursor, Token: admin}).Decode(t, &page)
		if len(page.Items) != 1 || seen[page.Items[0].TouchpointID] || page.Totals.PaidGMVFen != 5000 {
			t.Fatalf("page %d: %+v", pages, page)
		}
		seen[page.Items[0].TouchpointID] = true
		cursor = page.NextCursor
	}
	if len(seen) != 2 {
		t.Fatalf("paged through %d posts", len(seen))
	}
	if r := ta.do(req{Method: "GET", Path: "/api/v1/admin/reports/attribution?dimension=post&cursor=abc", Token: admin}); r.Status != 400 {
		t.Fatalf("bad cursor: %d", r.Status)
	}
	ta.checkInvariants()
}

// A clerk's share link carries the clerk and the store.
func TestAttributionClerkShareLinks(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	clerk := ta.staff(identity.RoleClerk, "SH01")
	var l struct{ Code string }
	ta.must(201, req{Method: "POST", Path: "/api/v1/clerk/share-links", Token: clerk, Body: map[string]any{}}).Decode(t, &l)
	var list struct {
		Items []struct{ Code string } `json:"items"`
	}
	ta.must(200, req{Method: "GET", Path: "/api/v1/clerk/share-links", Token: clerk}).Decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].Code != l.Code {
		t.Fatalf("clerk links %+v", list)
	}
	var kinds []string
	if err := ta.app.db.Select(&kinds, `SELECT tp.kind FROM share_links l, unnest(l.touchpoint_ids) u(id) JOIN touchpoints tp ON tp.id = u.id WHERE l.code = $1`, l.Code); err != nil {
		t.Fatal(err)
	}
	if strings.Join(kinds, ",") != "clerk,store" {
		t.Fatalf("kinds %v", kinds)
	}
	shopper, _ := ta.shopper("s")
	if r := ta.do(req{Method: "POST", Path: "/api/v1/shop/share-links", Token: shopper, Body: map[string]any{"post_id": 999}}); r.Status != 404 {
		t.Fatalf("unknown post: %d %s", r.Status, r.Body)
	}
	if r := ta.do(req{Method: "POST", Path: "/api/v1/shop/share-links", Token: shopper, Body: map[string]any{"post_id": 1, "product_id": 1}}); r.Status != 400 {
		t.Fatalf("both: %d %s", r.Status, r.Body)
	}
}
