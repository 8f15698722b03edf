package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"
)

// list: the shop's product list, first page, limit a page, as anonymous
// visitors (or signed-in shoppers with -signed-in).
func (t *tester) list(ctx context.Context, limit int) error {
	conns := t.conns(32)
	toks, who, err := t.browsers(ctx, conns)
	if err != nil {
		return err
	}
	path := fmt.Sprintf("/api/v1/shop/products?limit=%d", limit)
	body := func(rs []*recorder) func(w, i int) {
		return func(w, i int) { t.cl.timed(ctx, rs[w], call{method: "GET", path: path, token: toks[w]}, 200) }
	}
	if t.o.warmup > 0 {
		t.drive(ctx, conns, t.o.warmup, 0, body(recorders(conns)))
	}
	rs := recorders(conns)
	el := t.drive(ctx, conns, t.o.d, t.o.n, body(rs))
	t.rp.add(summarize(fmt.Sprintf("list, %d a page (%d conns, %s)", limit, conns, who), merged(rs), el))
	return nil
}

// browsers returns a token per connection: empty for anonymous visitors,
// a signed-in shopper each with -signed-in.
func (t *tester) browsers(ctx context.Context, conns int) ([]string, string, error) {
	toks := make([]string, conns)
	if !t.o.signedIn {
		return toks, "anonymous", nil
	}
	ss, err := t.shoppers(ctx, "browse", conns, false)
	if err != nil {
		return nil, "", err
	}
	for i, s := range ss {
		toks[i] = s.token
	}
	return toks, "signed in", nil
}

// detail: product detail of random on-sale products.
func (t *tester) detail(ctx context.Context) error {
	ids, err := t.productIDs(ctx)
	if err != nil {
		return err
	}
	conns := t.conns(32)
	toks, who, err := t.browsers(ctx, conns)
	if err != nil {
		return err
	}
	body := func(rs []*recorder) func(w, i int) {
		return func(w, i int) {
			id := ids[rand.IntN(len(ids))]
			t.cl.timed(ctx, rs[w], call{method: "GET", path: fmt.Sprintf("/api/v1/shop/products/%d", id), token: toks[w]}, 200)
		}
	}
	if t.o.warmup > 0 {
		t.drive(ctx, conns, t.o.warmup, 0, body(recorders(conns)))
	}
	rs := recorders(conns)
	el := t.drive(ctx, conns, t.o.d, t.o.n, body(rs))
	t.rp.add(summarize(fmt.Sprintf("detail, %d products (%d conns, %s)", len(ids), conns, who), merged(rs), el))
	return nil
}

// The checkout loop's calls, in order.
var checkoutSteps = []string{"cart add", "preview", "place", "pay (prepay)", "simulated pay"}

// checkout: each user loops cart add → preview → place (Idempotency-Key,
// expected payable) → pay (JSAPI prepay) → simulated pay at the simulator,
// on a product of the run with one SKU per user (stock enough for any run).
// Afterwards the stock of the product must account for every order exactly:
// nothing oversold, every payment applied once.
func (t *tester) checkout(ctx context.Context) error {
	users := t.conns(16)
	const stock = 1_000_000
	p, err := t.createProduct(ctx, "checkout", users, stock, 9900)
	if err != nil {
		return err
	}
	defer t.offSale(ctx, p.ID)
	ss, err := t.shoppers(ctx, "checkout", users, true)
	if err != nil {
		return err
	}
	steps := make([][]*recorder, len(checkoutSteps))
	for i := range steps {
		steps[i] = recorders(users)
	}
	loops := recorders(users)
	placed := make([]int, users)
	paid := make([]int, users)
	el := t.drive(ctx, users, t.o.d, t.o.n, func(w, i int) {
		s := ss[w]
		start := time.Now()
		if _, ok := t.cl.timed(ctx, steps[0][w], call{method: "POST", path: "/api/v1/shop/cart/items", token: s.token,
			body: map[string]any{"sku_id": p.SKUs[w%len(p.SKUs)].ID, "quantity": 1}}, 200); !ok {
			loops[w].fail("cart add failed")
			return
		}
		checkout := map[string]any{"from_cart": true, "fulfillment": map[string]any{"type": "delivery", "address_id": s.address}}
		a, ok := t.cl.timed(ctx, steps[1][w], call{method: "POST", path: "/api/v1/shop/checkout/preview", token: s.token, body: checkout}, 200)
		if !ok {
			loops[w].fail("preview failed")
			return
		}
		var pv struct {
			PayableFen int64 `json:"payable_fen"`
		}
		if err := a.decode(&pv); err != nil {
			loops[w].fail(err.Error())
			return
		}
		checkout["expected_payable_fen"] = pv.PayableFen
		a, ok = t.cl.timed(ctx, steps[2][w], call{method: "POST", path: "/api/v1/shop/orders", token: s.token, body: checkout,
			header: map[string]string{"Idempotency-Key": fmt.Sprintf("lt-%s-%d-%d", t.runID, w, i)}}, 201)
		if !ok {
			loops[w].fail("place failed")
			return
		}
		var o struct {
			OrderNo string `json:"order_no"`
			Items   []struct {
				Quantity int `json:"quantity"`
			} `json:"items"`
		}
		if err := a.decode(&o); err != nil || o.OrderNo == "" {
			loops[w].fail(fmt.Sprintf("placed order without order_no (%v)", err))
			return
		}
		units := 0
		for _, it := range o.Items {
			units += it.Quantity
		}
		placed[w] += units
		if _, ok := t.cl.timed(ctx, steps[3][w], call{method: "POST", path: "/api/v1/shop/orders/" + o.OrderNo + "/pay", token: s.token}, 200); !ok {
			loops[w].fail("pay failed")
			return
		}
		if _, ok := t.cl.timed(ctx, steps[4][w], call{method: "POST", path: "/_dev/wechatpay/orders/" + o.OrderNo + "/pay"}, 200); !ok {
			loops[w].fail("simulated pay failed")
			return
		}
		paid[w] += units
		loops[w].ok(time.Since(start))
	})
	for i, name := range checkoutSteps {
		t.rp.add(summarize("checkout: "+name, merged(steps[i]), el))
	}
	loop := summarize(fmt.Sprintf("checkout loop (%d users; requests = orders)", users), merged(loops), el)
	nPlaced, nPaid := sum(placed), sum(paid)
	loop.Requests -= loop.Errors // a loop that failed is not an order; it is counted under errors
	loop.Note = fmt.Sprintf("%.1f orders/s", float64(loop.Requests)/el.Seconds())

	if ctx.Err() != nil { // interrupted: answers may be lost, so no stock check
		t.rp.add(loop)
		return nil
	}
	// The notifications come asynchronously: wait for the last ones.
	var last adminProduct
	waitUntil(ctx, 30*time.Second, func() bool {
		last, err = t.product(ctx, p.ID)
		return err == nil && soldOf(last) >= nPaid
	})
	if err != nil {
		return err
	}
	if bad := stockCheck(last, stock, nPlaced, nPaid); len(bad) > 0 {
		for _, b := range bad {
			t.rp.fail("checkout: %s", b)
		}
		loop.Note += "; STOCK CHECK FAILED"
	} else {
		loop.Note += fmt.Sprintf("; stock ok: %d placed, %d paid and sold, none oversold", nPlaced, nPaid)
	}
	t.rp.add(loop)
	return nil
}

// flash: a flash sale of one SKU with stock and allotment -flash-stock,
// -flash-buyers buyers making -flash-attempts order attempts at once; then
// the buyers keep trying after the sell-out for -d, and the rate of
// sold-out answers is what a sale's crowd costs the mall.
func (t *tester) flash(ctx context.Context) error {
	admin, err := t.adminTok(ctx)
	if err != nil {
		return err
	}
	stock := t.o.flashStock
	const price, flashPrice = 10000, 100
	p, err := t.createProduct(ctx, "flash", 1, stock, price)
	if err != nil {
		return err
	}
	defer t.offSale(ctx, p.ID)
	sku := p.SKUs[0].ID
	var stores struct {
		Items []struct {
			ID     int64  `json:"id"`
			Status string `json:"status"`
		} `json:"items"`
	}
	if err := t.cl.must(ctx, 200, call{method: "GET", path: "/api/v1/admin/stores?limit=100", token: admin}, &stores); err != nil {
		return err
	}
	var store int64
	for _, s := range stores.Items {
		if s.Status == "open" {
			store = s.ID
			break
		}
	}
	if store == 0 {
		return fmt.Errorf("no open store for pickup: load the demo data")
	}
	now := time.Now()
	var camp struct {
		ID     int64  `json:"id"`
		Status string `json:"status"`
		SKUs   []struct {
			Allotment int `json:"allotment"`
			Taken     int `json:"taken"`
		} `json:"skus"`
	}
	if err := t.cl.must(ctx, 201, call{method: "POST", path: "/api/v1/admin/campaigns", token: admin, body: map[string]any{
		"kind": "flash_sale", "name": "压测秒杀 " + t.runID, "starts_at": now.Add(-time.Minute), "ends_at": now.Add(time.Hour),
		"per_shopper_limit": t.o.flashLimit, "skus": []map[string]any{{"sku_id": sku, "price_fen": flashPrice, "allotment": stock}}}}, &camp); err != nil {
		return err
	}
	campPath := fmt.Sprintf("/api/v1/admin/campaigns/%d", camp.ID)
	if err := t.cl.must(ctx, 200, call{method: "POST", path: campPath + "/status", token: admin, body: map[string]string{"status": "scheduled"}}, &camp); err != nil {
		return err
	}
	defer func() {
		_ = t.cl.must(ctx, 200, call{method: "POST", path: campPath + "/status", token: admin, body: map[string]string{"status": "ended"}}, nil)
	}()
	if camp.Status != "running" {
		return fmt.Errorf("flash campaign %d is %s, not running", camp.ID, camp.Status)
	}
	buyers, err := t.shoppers(ctx, "flash", t.o.flashBuyers, false)
	if err != nil {
		return err
	}
	order := map[string]any{"items": []map[string]any{{"sku_id": sku, "quantity": 1}},
		"fulfillment": map[string]any{"type": "pickup", "store_id": store}, "expected_payable_fen": flashPrice}
	var mu sync.Mutex
	answers := map[string]int{}
	attempt := func(r *recorder, buyer shopper, key string) {
		a, d, err := t.cl.do(ctx, call{method: "POST", path: "/api/v1/shop/orders", token: buyer.token, body: order,
			header: map[string]string{"Idempotency-Key": key}})
		var kind string
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			r.fail(err.Error())
			kind = "transport error"
		case a.status == 201:
			r.ok(d)
			kind = "sold"
		case a.status == 409:
			r.ok(d)
			kind = a.code()
		default:
			r.fail(fmt.Sprintf("%d %s", a.status, a.code()))
			kind = "error"
		}
		mu.Lock()
		answers[kind]++
		mu.Unlock()
	}

	// The rush: every attempt at once, attempt i by buyer i mod buyers.
	rush := recorders(len(buyers))
	el := t.drive(ctx, len(buyers), time.Hour, t.o.flashTries, func(w, i int) {
		attempt(rush[w], buyers[i%len(buyers)], fmt.Sprintf("lt-%s-flash-%d", t.runID, i))
	})
	sold := answers["sold"]
	rushAnswers := fmtAnswers(answers)
	got, err := t.product(ctx, p.ID)
	if err != nil {
		return err
	}
	if err := t.cl.must(ctx, 200, call{method: "GET", path: campPath, token: admin}, &camp); err != nil {
		return err
	}
	unitsOut := got.SKUs[0].Reserved + got.SKUs[0].Sold
	oversold := max(sold, unitsOut) - stock
	taken := -1
	if len(camp.SKUs) == 1 {
		taken = camp.SKUs[0].Taken
	}
	row := summarize(fmt.Sprintf("flash: rush, stock %d, %d buyers", stock, len(buyers)), merged(rush), el)
	row.Note = fmt.Sprintf("%d sold, %d oversold, %.2f s (%s)", sold, max(oversold, 0), el.Seconds(), rushAnswers)
	if oversold > 0 || sold != unitsOut || taken != sold || got.SKUs[0].Stock < 0 {
		t.rp.fail("flash: %d orders placed, SKU reserved+sold %d, campaign taken %d, stock %d, of %d: oversold or miscounted",
			sold, unitsOut, taken, got.SKUs[0].Stock, stock)
	}
	t.rp.add(row)

	// After the sell-out: every answer should be a quick "sold out".
	mu.Lock()
	clear(answers)
	mu.Unlock()
	after := recorders(len(buyers))
	el = t.drive(ctx, len(buyers), t.o.d, t.o.n, func(w, i int) {
		attempt(after[w], buyers[w], fmt.Sprintf("lt-%s-flash-after-%d", t.runID, i))
	})
	row = summarize("flash: after sell-out", merged(after), el)
	soldOut := row.Requests - row.Errors - answers["sold"]
	row.Note = fmt.Sprintf("%.0f sold-out answers/s (%s)", float64(soldOut)/el.Seconds(), fmtAnswers(answers))
	if sold < stock {
		row.Note += fmt.Sprintf("; the rush left %d unsold, so this is not all after the sell-out", stock-sold)
	}
	if more := answers["sold"]; sold+more > stock {
		t.rp.fail("flash: %d more orders placed after the rush's %d, of %d: oversold", more, sold, stock)
	}
	t.rp.add(row)
	return nil
}

func fmtAnswers(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// notify: -notify-orders unpaid orders with their prepay made first; then
// all are paid at the simulator at once (each pay sends WeChat's signed,
// encrypted notification to the mall) and the time until every order shows
// paid gives the notifications applied per second.
func (t *tester) notify(ctx context.Context) error {
	n := t.o.notifyOrders
	if t.o.n > 0 {
		n = min(n, t.o.n)
	}
	users := t.conns(16)
	const stock = 1_000_000
	p, err := t.createProduct(ctx, "notify", users, stock, 9900)
	if err != nil {
		return err
	}
	defer t.offSale(ctx, p.ID)
	ss, err := t.shoppers(ctx, "notify", users, true)
	if err != nil {
		return err
	}
	// Setup: n orders with prepay (not measured beyond a row of its own).
	nos := make([]string, n)
	placed := make([]int, users)
	setup := recorders(users)
	setupEl := t.drive(ctx, users, 10*time.Minute, n, func(w, i int) {
		s := ss[w]
		a, ok := t.cl.timed(ctx, setup[w], call{method: "POST", path: "/api/v1/shop/orders", token: s.token,
			header: map[string]string{"Idempotency-Key": fmt.Sprintf("lt-%s-notify-%d", t.runID, i)},
			body: map[string]any{"items": []map[string]any{{"sku_id": p.SKUs[w%len(p.SKUs)].ID, "quantity": 1}},
				"fulfillment": map[string]any{"type": "delivery", "address_id": s.address}, "expected_payable_fen": 9900}}, 201)
		if !ok {
			return
		}
		placed[w]++
		var o struct {
			OrderNo string `json:"order_no"`
		}
		if a.decode(&o) != nil || o.OrderNo == "" {
			return
		}
		if _, ok := t.cl.timed(ctx, setup[w], call{method: "POST", path: "/api/v1/shop/orders/" + o.OrderNo + "/pay", token: s.token}, 200); ok {
			nos[i] = o.OrderNo
		}
	})
	su := summarize("notify: setup (place + prepay)", merged(setup), setupEl)
	t.rp.add(su)
	var todo []int // indexes of orders ready to pay
	for i, no := range nos {
		if no != "" {
			todo = append(todo, i)
		}
	}
	if len(todo) == 0 {
		return fmt.Errorf("no order could be placed and prepaid")
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}

	// Pay them all at once. A payment applied sells its reserved unit in
	// the same transaction, so the product's sold count is the number of
	// notifications applied: one cheap read every 20 ms watches them all.
	pays := recorders(users)
	start := time.Now()
	var payEl time.Duration
	payDone := make(chan struct{})
	go func() {
		defer close(payDone)
		payEl = t.drive(ctx, users, 10*time.Minute, len(todo), func(w, i int) {
			pay := call{method: "POST", path: "/_dev/wechatpay/orders/" + nos[todo[i]] + "/pay"}
			if t.o.sim != "" { // the order's first (and only) attempt: out_trade_no ORDERNO-1
				pay.path = strings.TrimRight(t.o.sim, "/") + "/_sim/transactions/" + nos[todo[i]] + "-1/pay"
			}
			t.cl.timed(ctx, pays[w], pay, 200)
		})
	}()
	timeout := max(t.o.d, 60*time.Second)
	var half, all time.Duration // when half and all of them were applied
	var last adminProduct
	sold := 0
	for ctx.Err() == nil && time.Since(start) < timeout {
		cur, err := t.product(ctx, p.ID)
		if err == nil {
			last, sold = cur, soldOf(cur)
			if half == 0 && 2*sold >= len(todo) {
				half = time.Since(start)
			}
			if sold >= len(todo) {
				all = time.Since(start)
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	<-payDone
	t.rp.add(summarize("notify: simulated pay", merged(pays), payEl))

	row := summary{Op: fmt.Sprintf("notify: applied (%d orders paid at once)", len(todo)), Requests: sold, Elapsed: all}
	paidUnits := len(todo)
	if all == 0 {
		row.Elapsed = time.Since(start)
		row.Errors = len(todo) - sold
		paidUnits = -1 // the failure below says it
		t.rp.fail("notify: %d of %d paid orders applied after %s", sold, len(todo), timeout)
	}
	row.Note = fmt.Sprintf("%.0f notifications applied/s; half applied after %.2f s, all after %.2f s",
		float64(sold)/row.Elapsed.Seconds(), half.Seconds(), row.Elapsed.Seconds())
	if bad := stockCheck(last, stock, sum(placed), paidUnits); len(bad) > 0 {
		for _, b := range bad {
			t.rp.fail("notify: %s", b)
		}
		row.Note += "; STOCK CHECK FAILED"
	}
	t.rp.add(row)
	return nil
}

// track: touch ingestion, batches of -track-batch events from -track-clients
// visitors arriving through a share link of the run.
func (t *tester) track(ctx context.Context) error {
	ids, err := t.productIDs(ctx)
	if err != nil {
		return err
	}
	sharer, err := t.shoppers(ctx, "sharer", 1, false)
	if err != nil {
		return err
	}
	var link struct {
		Code string `json:"code"`
		Path string `json:"path"`
	}
	if err := t.cl.must(ctx, 201, call{method: "POST", path: "/api/v1/shop/share-links", token: sharer[0].token,
		body: map[string]any{"product_id": ids[0]}}, &link); err != nil {
		return err
	}
	clients := t.o.trackClients
	if t.o.c > 0 {
		clients = t.o.c
	}
	batch := t.o.trackBatch
	accepted := make([]int, clients)
	body := func(rs []*recorder, tag string) func(w, i int) {
		return func(w, i int) {
			at := time.Now().UTC().Format(time.RFC3339)
			evs := make([]map[string]any, batch)
			for k := range evs {
				evs[k] = map[string]any{"id": fmt.Sprintf("lt%s-%s%d-%d", t.runID, tag, i, k), "code": link.Code,
					"scene": 1007, "path": link.Path, "at": at}
			}
			a, ok := t.cl.timed(ctx, rs[w], call{method: "POST", path: "/api/v1/shop/track", body: map[string]any{"events": evs},
				header: map[string]string{"X-Anon-Id": fmt.Sprintf("lt-%s-visitor-%d", t.runID, w)}}, 200)
			if ok && tag == "" {
				var r struct {
					Accepted int `json:"accepted"`
				}
				if a.decode(&r) == nil {
					accepted[w] += r.Accepted
				}
			}
		}
	}
	if t.o.warmup > 0 {
		t.drive(ctx, clients, t.o.warmup, 0, body(recorders(clients), "w"))
	}
	rs := recorders(clients)
	el := t.drive(ctx, clients, t.o.d, t.o.n, body(rs, ""))
	row := summarize(fmt.Sprintf("track, batches of %d (%d clients)", batch, clients), merged(rs), el)
	sent := (row.Requests - row.Errors) * batch
	row.Note = fmt.Sprintf("%.0f events/s (%d of %d accepted)", float64(sent)/el.Seconds(), sum(accepted), sent)
	if sum(accepted) != sent {
		t.rp.fail("track: %d of %d events accepted", sum(accepted), sent)
	}
	t.rp.add(row)
	return nil
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

// waitUntil polls cond every 50 ms until it holds, d passes or ctx ends.
func waitUntil(ctx context.Context, d time.Duration, cond func() bool) {
	end := time.Now().Add(d)
	for ctx.Err() == nil && !cond() && time.Now().Before(end) {
		time.Sleep(50 * time.Millisecond)
	}
}
