package main

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/yutang/yutang/domain/attribution"
	"github.com/yutang/yutang/domain/identity"
	"github.com/yutang/yutang/miniprogram-api/weapp"
)

// messagesTo returns the template ids of the stand-in's messages to openid.
func messagesTo(s *weapp.Standin, openid string) []string {
	var out []string
	for _, m := range s.Messages() {
		if m.Body["touser"] == openid {
			out = append(out, fmt.Sprint(m.Body["template_id"]))
		}
	}
	sort.Strings(out)
	return out
}

func openidOf(t *testing.T, ta *testApp, shopperID int64) string {
	var o string
	if err := ta.app.db.Get(&o, `SELECT openid FROM shoppers WHERE id = $1`, shopperID); err != nil {
		t.Fatal(err)
	}
	return o
}

// TestPlatformShippedUploadedAndMessaged: an order shipped is uploaded once
// (retried after an injected failure); the paid and shipped messages go
// once each to the shopper who accepted them, none to the one who did not;
// WeChat's confirm-receipt push completes the order.
func TestPlatformShippedUploadedAndMessaged(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	wx, svc := pa.app.weappStandin, pa.app.svc.Platform
	ctx := context.Background()
	sku := pa.sku(10)
	alice, aliceID := pa.shopper("plat-alice")
	bob, bobID := pa.shopper("plat-bob")
	pa.must(200, req{Method: "POST", Path: "/api/v1/shop/subscriptions", Token: alice, Body: map[string]any{
		"report_id": "r1", "results": map[string]string{"demo-tmpl-paid": "accept", "demo-tmpl-shipped": "accept"}}})
	// A retried report counts once.
	if r := pa.must(200, req{Method: "POST", Path: "/api/v1/shop/subscriptions", Token: alice, Body: map[string]any{
		"report_id": "r1", "results": map[string]string{"demo-tmpl-paid": "accept"}}}).JSON(t); r["recorded"] != float64(0) {
		t.Fatalf("retried report recorded %v", r["recorded"])
	}
	pa.must(200, req{Method: "POST", Path: "/api/v1/shop/subscriptions", Token: bob, Body: map[string]any{
		"report_id": "r1", "results": map[string]string{"demo-tmpl-paid": "reject", "demo-tmpl-shipped": "ban"}}})
	if r := pa.do(req{Method: "POST", Path: "/api/v1/shop/subscriptions", Token: bob, Body: map[string]any{
		"report_id": "r2", "results": map[string]string{"not-ours": "accept"}}}); r.Status != 400 {
		t.Fatalf("unknown template: %d %s", r.Status, r.Body)
	}

	var nos []string
	for _, tok := range []string{alice, bob} {
		o := pa.placeOrder(tok, sku, 1)
		pa.pay(tok, o.OrderNo)
		pa.shopperPays(o.OrderNo)
		eventually(t, 10*time.Second, "paid", func() bool { return pa.orderStatus(o.OrderNo) == "paid" })
		nos = append(nos, o.OrderNo)
	}
	if _, err := svc.SendDue(ctx, 100); err != nil {
		t.Fatal(err)
	}

	ops := pa.staff(identity.RoleOperator, "")
	var carriers struct{ Items []struct{ ID, Name string } }
	pa.must(200, req{Method: "GET", Path: "/api/v1/admin/delivery-companies", Token: ops}).Decode(t, &carriers)
	if len(carriers.Items) == 0 {
		t.Fatal("no carriers")
	}
	for _, no := range nos {
		pa.must(200, req{Method: "POST", Path: "/api/v1/admin/orders/" + no + "/ship", Token: ops,
			Body: map[string]any{"carrier": carriers.Items[0].ID, "tracking_no": "SF" + no[:8]}})
	}
	wx.Fail(weapp.APIUpload, -1, 2) // WeChat is busy: both first tries fail
	if n, err := svc.UploadDue(ctx, 100); err != nil || n != 0 {
		t.Fatalf("first try: %d %v", n, err)
	}
	var up struct {
		State     string `json:"state"`
		Logistics string `json:"logistics"`
		Attempts  int    `json:"attempts"`
		LastError string `json:"last_error"`
	}
	pa.must(200, req{Method: "GET", Path: "/api/v1/admin/orders/" + nos[0] + "/shipping-upload", Token: ops}).Decode(t, &up)
	if up.State != "pending" || up.Attempts != 1 || up.LastError == "" || up.Logistics != "express" {
		t.Fatalf("after a failure %+v", up)
	}
	// Not due yet: backoff.
	if n, _ := svc.UploadDue(ctx, 100); n != 0 {
		t.Fatalf("retried before the backoff: %d", n)
	}
	later := time.Now().Add(time.Hour)
	svc.Now = func() time.Time { return later }
	if n, err := svc.UploadDue(ctx, 100); err != nil || n != 2 {
		t.Fatalf("retry: %d %v", n, err)
	}
	if n, _ := svc.UploadDue(ctx, 100); n != 0 {
		t.Fatalf("uploaded again: %d", n)
	}
	pa.must(200, req{Method: "GET", Path: "/api/v1/admin/orders/" + nos[0] + "/shipping-upload", Token: ops}).Decode(t, &up)
	if up.State != "uploaded" || up.Attempts != 2 {
		t.Fatalf("after the retry %+v", up)
	}
	if got := wx.Shipping(); len(got) != 2 {
		t.Fatalf("stand-in got %d uploads, want 2", len(got))
	}
	for _, s := range wx.Shipping() {
		if s.Body["logistics_type"] != float64(1) {
			t.Fatalf("upload %+v", s.Body)
		}
	}
	if _, err := svc.SendDue(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SendDue(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if got := messagesTo(wx, openidOf(t, pa.testApp, aliceID)); strings.Join(got, ",") != "demo-tmpl-paid,demo-tmpl-shipped" {
		t.Fatalf("alice got %v", got)
	}
	if got := messagesTo(wx, openidOf(t, pa.testApp, bobID)); len(got) != 0 {
		t.Fatalf("bob got %v", got)
	}

	// WeChat tells us alice confirmed receipt: the order completes.
	var txid string
	if err := pa.app.db.Get(&txid, `SELECT p.transaction_id FROM payments p JOIN orders o ON o.id = p.order_id WHERE o.order_no = $1`, nos[0]); err != nil {
		t.Fatal(err)
	}
	push := func(token string) resp {
		ts, nonce := fmt.Sprint(time.Now().Unix()), "n1"
		parts := []string{token, ts, nonce}
		sort.Strings(parts)
		sum := sha1.Sum([]byte(strings.Join(parts, "")))
		q := url.Values{"signature": {hex.EncodeToString(sum[:])}, "timestamp": {ts}, "nonce": {nonce}}
		return pa.do(req{Method: "POST", Path: "/webhooks/weapp?" + q.Encode(), Body: map[string]any{
			"ToUserName": "gh_x", "MsgType": "event", "Event": "trade_manage_order_settlement",
			"transaction_id": txid, "confirm_receive_method": 1, "confirm_receive_time": time.Now().Unix()}})
	}
	if r := push("wrong-token"); r.Status != 401 {
		t.Fatalf("bad signature: %d %s", r.Status, r.Body)
	}
	if pa.orderStatus(nos[0]) != "shipped" {
		t.Fatal("an unsigned push changed the order")
	}
	if r := push(weapp.StandinPushToken); r.Status != 200 || string(r.Body) != "success" {
		t.Fatalf("push: %d %s", r.Status, r.Body)
	}
	if s := pa.orderStatus(nos[0]); s != "completed" {
		t.Fatalf("after confirm-receipt push: %s", s)
	}
	if r := push(weapp.StandinPushToken); r.Status != 200 {
		t.Fatalf("repeated push: %d %s", r.Status, r.Body)
	}
}

// TestPlatformPickupUploadedAsPickup: a pickup verified in the store is
// uploaded as a pickup (logistics_type 4).
func TestPlatformPickupUploadedAsPickup(t *testing.T) {
	t.Parallel()
	pa := newPayApp(t, 1000)
	d := newDesk(pa, "SH-PLAT")
	sku := pa.sku(10)
	tok, _ := pa.shopper("plat-pickup")
	no := pa.placePickup(tok, sku, d.storeID, true)
	var p pickupAnswer
	pa.must(200, req{Method: "GET", Path: "/api/v1/shop/orders/" + no + "/pickup", Token: tok}).Decode(t, &p)
	pa.must(200, req{Method: "POST", Path: "/api/v1/clerk/pickups/verify", Token: d.clerk, Body: map[string]any{"code": p.Code},
		Header: map[string]string{"Idempotency-Key": "plat-1"}})
	if n, err := pa.app.svc.Platform.UploadDue(context.Background(), 100); err != nil || n != 1 {
		t.Fatalf("upload: %d %v", n, err)
	}
	got := pa.app.weappStandin.Shipping()
	if len(got) != 1 || got[0].Body["logistics_type"] != float64(4) {
		t.Fatalf("uploads %+v", got)
	}
}

// TestPlatformWeChatErrors: WeChat's codes reach the client as their
// domain errors and statuses; a token invalidated mid-run is refetched.
func TestPlatformWeChatErrors(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	wx := ta.app.weappStandin
	tok, _ := ta.shopper("plat-err")
	wx.InvalidateTokens()
	ta.must(200, req{Method: "POST", Path: "/api/v1/shop/session/phone", Token: tok, Body: map[string]string{"code": "p-plat"}})
	var cc string
	if err := ta.app.db.Get(&cc, `SELECT phone_country_code FROM shoppers WHERE openid IS NOT NULL AND phone IS NOT NULL LIMIT 1`); err != nil || cc != "86" {
		t.Fatalf("country code %q %v", cc, err)
	}
	for _, c := range []struct {
		api    string
		code   int
		path   string
		status int
		err    string
	}{
		{weapp.APICode2Session, -1, "/api/v1/shop/session", 503, "wechat_busy"},
		{weapp.APICode2Session, 40226, "/api/v1/shop/session", 403, "wechat_user_blocked"},
		{weapp.APICode2Session, 40029, "/api/v1/shop/session", 400, "wechat_code_invalid"},
		{weapp.APICode2Session, 45011, "/api/v1/shop/session", 429, "wechat_rate_limited"},
		{weapp.APIPhone, 40029, "/api/v1/shop/session/phone", 400, "wechat_code_invalid"},
		{weapp.APIPhone, -1, "/api/v1/shop/session/phone", 503, "wechat_busy"},
		{weapp.APIPhone, 1400001, "/api/v1/shop/session/phone", 503, "wechat_phone_quota"},
	} {
		wx.Fail(c.api, c.code, 1)
		r := ta.do(req{Method: "POST", Path: c.path, Token: tok, Body: map[string]string{"code": "x-plat"}})
		if r.Status != c.status || r.ErrCode(t) != c.err {
			t.Errorf("%s %d: %d %s", c.api, c.code, r.Status, r.Body)
		}
	}
}

// TestPlatformShareKinds: a share opened in a group and one opened in a
// one-to-one chat are recorded as different kinds; group-enter data
// watermarked for another mini-program is refused.
func TestPlatformShareKinds(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	tok, _ := ta.shopper("plat-share")
	sess, _ := (&weapp.Standin{AppID: ta.app.cfg.WeAppID}).Code2Session(context.Background(), "plat-share")
	iv := []byte("0123456789abcdef")
	enc := func(appID string, g attribution.GroupEnter) map[string]string {
		d, ivs, err := weapp.EncryptGroupEnter(appID, sess.SessionKey, g, iv)
		if err != nil {
			t.Fatal(err)
		}
		return map[string]string{"encrypted_data": d, "iv": ivs}
	}
	app := ta.app.cfg.WeAppID
	now := time.Now().UTC().Format(time.RFC3339)
	var tr struct{ Accepted, Groups, Singles, Refused int }
	ta.must(200, req{Method: "POST", Path: "/api/v1/shop/track", Token: tok, Body: map[string]any{"events": []map[string]any{
		{"id": "pk-group", "code": "x", "scene": 1044, "at": now, "group_info": enc(app, attribution.GroupEnter{OpenGID: "tGplat", ChatType: 3})},
		{"id": "pk-single", "code": "x", "scene": 1007, "at": now, "group_info": enc(app, attribution.GroupEnter{SingleRoomID: "srplat", ChatType: 1})},
		{"id": "pk-other", "code": "x", "scene": 1044, "at": now, "group_info": enc("wx-someone-else", attribution.GroupEnter{OpenGID: "tGevil", ChatType: 3})},
	}}}).Decode(t, &tr)
	if tr.Accepted != 3 || tr.Groups != 1 || tr.Singles != 1 || tr.Refused != 1 {
		t.Fatalf("track %+v", tr)
	}
	kinds := map[string]string{}
	rows, err := ta.app.db.Query(`SELECT event_id, COALESCE(chat, ''), COALESCE(opengid, '') FROM touches`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, chat, gid string
		if err := rows.Scan(&id, &chat, &gid); err != nil {
			t.Fatal(err)
		}
		kinds[id] = chat + "/" + gid
	}
	if kinds["pk-group"] != "group/tGplat" || kinds["pk-single"] != "single/" || kinds["pk-other"] != "group/" {
		t.Fatalf("touch kinds %v", kinds)
	}
}
