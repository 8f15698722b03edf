package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yutang/yutang/domain"
	mpapi "github.com/yutang/yutang/miniprogram-api"
)

// The sweep: every route of openapi.yaml, with a valid token of the right
// kind (shopper, admin staff, clerk), gets generated bad bodies, query
// strings and path values — wrong types, nulls, NUL and invalid UTF-8,
// huge, negative and fractional numbers, 2^63, deep nesting, very long
// strings, emoji and RTL marks, unknown fields, impossible dates — and no
// answer may be a 5xx. Issue 17.

// sweepOp is one operation of the spec.
type sweepOp struct {
	method, path string
	query        []string          // query parameter names
	fields       map[string]string // body field name → JSON type, from the spec's schemas
	hasBody      bool
}

// sweepOps reads the operations of openapi.yaml with the same line rules as
// the route inventory test: paths are two-space keys under `paths:`,
// methods four-space keys; parameters and inline schemas are read from the
// operation's lines.
func sweepOps(t *testing.T) []sweepOp {
	t.Helper()
	pathRe := regexp.MustCompile(`^  (/[^:]*):\s*$`)
	methodRe := regexp.MustCompile(`^    (get|post|put|patch|delete):`)
	queryRe := regexp.MustCompile(`\{name: ([a-z_]+), in: query`)
	fieldRe := regexp.MustCompile(`([a-z_]+): \{type: (string|integer|boolean|array|object|number)`)
	var ops []sweepOp
	var cur *sweepOp
	inPaths, path := false, ""
	flush := func() {
		if cur != nil {
			ops = append(ops, *cur)
			cur = nil
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(mpapi.OpenAPI()))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "paths:") {
			inPaths = true
			continue
		}
		if inPaths && len(line) > 0 && line[0] != ' ' && line[0] != '#' {
			flush()
			inPaths = false
		}
		if !inPaths {
			continue
		}
		if m := pathRe.FindStringSubmatch(line); m != nil {
			flush()
			path = m[1]
			continue
		}
		if m := methodRe.FindStringSubmatch(line); m != nil {
			flush()
			cur = &sweepOp{method: strings.ToUpper(m[1]), path: path, fields: map[string]string{}}
			continue
		}
		if cur == nil {
			continue
		}
		for _, m := range queryRe.FindAllStringSubmatch(line, -1) {
			cur.query = append(cur.query, m[1])
		}
		if strings.Contains(line, "requestBody") {
			cur.hasBody = true
		}
		if strings.Contains(line, "in: path") || strings.Contains(line, "in: query") || strings.Contains(line, "responses") {
			continue
		}
		for _, m := range fieldRe.FindAllStringSubmatch(line, -1) {
			switch m[1] {
			case "schema", "items", "additionalProperties", "content":
				continue
			}
			cur.fields[m[1]] = m[2]
		}
	}
	flush()
	if len(ops) < 50 {
		t.Fatalf("read only %d operations from openapi.yaml", len(ops))
	}
	return ops
}

// sweepBodies are valid bodies for the writes that matter most, so that a
// bad value in one field travels as deep as it can; other operations get a
// body made from their schema.
func sweepBodies(f fixture) map[string]map[string]any {
	checkout := map[string]any{"items": []any{map[string]any{"sku_id": f.sku, "quantity": 1}},
		"fulfillment": map[string]any{"type": "delivery", "address_id": f.address}, "coupon_ids": []any{}, "points": 0, "note": "n"}
	place := map[string]any{}
	for k, v := range checkout {
		place[k] = v
	}
	place["expected_payable_fen"] = 1
	sku := map[string]any{"code": "SW-1", "specs": map[string]any{"颜色": "绿", "尺码": "S"}, "price_fen": 100,
		"list_price_fen": 200, "per_order_limit": 5, "status": "on_sale", "initial_stock": 3}
	addr := map[string]any{"name": "张三", "phone": "13800138000", "province": "上海市", "city": "上海市",
		"district": "徐汇区", "detail": "淮海中路1号", "is_default": false}
	return map[string]map[string]any{
		"POST /api/v1/shop/session":         {"code": "sweep-shopper"},
		"POST /api/v1/shop/session/phone":   {"code": "sweep-phone"},
		"POST /api/v1/admin/session":        {"username": "sweep-nobody", "password": "not-the-password"},
		"POST /api/v1/clerk/session":        {"username": "sweep-nobody", "password": "not-the-password"},
		"POST /api/v1/admin/categories":     {"parent_id": f.category, "name": "c", "sort": 1},
		"PUT /api/v1/admin/categories/{id}": {"parent_id": 0, "name": "c", "sort": 1},
		"POST /api/v1/admin/products": {"category_id": f.category, "title": "t", "subtitle": "s", "description": "d",
			"images": []any{"https://img.example/1.jpg"}, "tags": []any{"x"}, "status": "draft", "sort_weight": 1,
			"specs": []any{map[string]any{"name": "颜色", "values": []any{"绿"}}}, "skus": []any{sku}},
		"PATCH /api/v1/admin/products/{id}": {"title": "t", "subtitle": "s", "sort_weight": 2, "tags": []any{"y"},
			"images": []any{"https://img.example/2.jpg"}, "category_id": f.category},
		"POST /api/v1/admin/products/{id}/status":        {"status": "on_sale"},
		"POST /api/v1/admin/products/{id}/skus":          sku,
		"PATCH /api/v1/admin/skus/{id}":                  {"code": "SW-2", "price_fen": 100, "list_price_fen": 0, "per_order_limit": 3, "status": "on_sale"},
		"POST /api/v1/admin/skus/{id}/stock-adjustments": {"kind": "receive", "quantity": 1, "note": "n"},
		"POST /api/v1/admin/stores":                      {"code": "SW1", "name": "n", "address": "a", "latitude": 31.2, "longitude": 121.4, "opening_hours": "9-21", "phone": "021-1", "status": "open"},
		"PATCH /api/v1/admin/stores/{id}":                {"name": "n", "address": "a", "latitude": 31.2, "phone": "021-2"},
		"POST /api/v1/shop/cart/items":                   {"sku_id": f.sku, "quantity": 1},
		"PATCH /api/v1/shop/cart/items/{sku_id}":         {"quantity": 2, "selected": true},
		"POST /api/v1/shop/checkout/preview":             checkout,
		"POST /api/v1/shop/orders":                       place,
		"POST /api/v1/shop/orders/{no}/cancel":           {"reason": "r"},
		"POST /api/v1/shop/addresses":                    addr,
		"PATCH /api/v1/shop/addresses/{id}":              addr,
		"POST /api/v1/admin/orders/{no}/ship":            {"carrier": "SF", "tracking_no": "SF1"},
		"POST /api/v1/shop/orders/{no}/after-sales":      {"lines": []any{map[string]any{"item_id": 1, "quantity": 1}}, "reason": "r"},
		"POST /api/v1/admin/after-sales/{id}/approve":    {"goods_returned": true},
		"POST /api/v1/admin/after-sales/{id}/reject":     {"reason": "r"},
		"POST /api/v1/shop/track":                        {"events": []any{map[string]any{"id": "sw-1", "code": f.linkCode, "scene": 1044, "path": "/p", "at": time.Now().Format(time.RFC3339), "group_info": map[string]any{"encrypted_data": "AAAA", "iv": "AAAA"}}}},
		"POST /api/v1/shop/share-links":                  {"product_id": f.product},
		"POST /api/v1/clerk/share-links":                 {"product_id": f.product},
		"POST /api/v1/admin/share-links":                 {"post_id": f.touchpoint},
		"POST /api/v1/admin/touchpoints":                 {"kind": "post", "name": "n", "post_kind": "poster", "tags": []any{"t"}, "owner_store_id": 0, "owner_koc_id": 0},
		"PATCH /api/v1/admin/touchpoints/{id}":           {"name": "n", "post_kind": "live", "tags": []any{"t"}, "owner_store_id": f.store, "archived": false},
		"PUT /api/v1/admin/attribution/settings":         {"model": "time_decay", "lookback_seconds": 86400, "half_life_seconds": 3600},
	}
}

// Bad JSON values, raw: each replaces one field of a valid body in turn.
var sweepValues = func() []string {
	long := strings.Repeat("长", 20000)
	deep := strings.Repeat("[", 200) + strings.Repeat("]", 200)
	return []string{
		`null`, `true`, `""`, `"x"`, `"\u0000"`, `"a\u0000b"`, "\"\xff\xfe\"", `"\ud800"`,
		`0`, `-1`, `1.5`, `-0.0`, `1e309`, `-1e309`, `2147483647`, `2147483648`, `-2147483649`,
		`9007199254740993`, `9223372036854775807`, `9223372036854775808`, `-9223372036854775809`, `1e20`,
		`[]`, `{}`, `[1,"a",null]`, `{"a":{"b":{"c":[{}]}}}`, deep,
		`"` + long + `"`, `"` + strings.Repeat("😀", 3000) + `"`, `"\u202eevil\u200f\u200e"`,
		`"0000-01-01T00:00:00Z"`, `"9999-12-31T23:59:59Z"`, `"2024-02-30"`, `"' OR 1=1 --"`,
	}
}()

// Whole bodies that are wrong as a whole.
var sweepWholeBodies = []string{
	``, `null`, `[]`, `"x"`, `1`, `{}`, `{"a":`, "{\"\xff\":1}", `{"__unknown_field__":1}`,
	strings.Repeat(`{"a":`, 10001) + `1` + strings.Repeat(`}`, 10001),
	strings.Repeat(`[`, 20000),
}

// Bad query values and path segments, already escaped for the URL.
var sweepQueryValues = []string{
	"%00", "a%00b", "%ff%fe", "%c0%af", "", "-1", "0", "1.5", "1e309", "2147483648", "9223372036854775808",
	"-9223372036854775809", "abc", "%5B%5D", "0000-01-01", "9999-12-31", "2024-02-30", "0000-01-01T00:00:00Z",
	url.QueryEscape(strings.Repeat("长", 3000)), url.QueryEscape(strings.Repeat("😀", 500)),
	url.QueryEscape("\u202eevil\u200f"), url.QueryEscape("' OR 1=1 --"), "%25", "%",
}

var sweepPathValues = []string{
	"%00", "a%00b", "%ff%fe", "0", "-1", "1.5", "9223372036854775808", "2147483648", "abc",
	strings.Repeat("9", 400), "%F0%9F%98%80", "%E2%80%AE", "..%2F..%2Fetc",
}

type sweepReq struct {
	op           string
	method, path string
	token        string
	body         []byte
	header       map[string]string
}

func TestSweepEveryRouteAnswersNo5xx(t *testing.T) {
	t.Parallel()
	start := time.Now()
	ta := newTestApp(t)
	f := ta.fixture()
	bodies := sweepBodies(f)
	ops := sweepOps(t)

	tokenFor := func(path string) string {
		switch {
		case strings.HasPrefix(path, "/api/v1/shop/"):
			return f.shopper
		case strings.HasPrefix(path, "/api/v1/clerk/"):
			return f.clerk
		case strings.HasPrefix(path, "/api/v1/admin/"):
			return f.admin
		}
		return ""
	}
	pathValue := map[string]string{"{no}": f.orderNo, "{code}": f.linkCode, "{sku_id}": fmt.Sprint(f.sku), "{dimension}": "post"}
	idFor := func(path string) string {
		switch {
		case strings.Contains(path, "/products/{id}"):
			return fmt.Sprint(f.product)
		case strings.Contains(path, "/categories/"):
			return fmt.Sprint(f.category)
		case strings.Contains(path, "/skus/"):
			return fmt.Sprint(f.sku)
		case strings.Contains(path, "/stores/"):
			return fmt.Sprint(f.store)
		case strings.Contains(path, "/addresses/"):
			return fmt.Sprint(f.address)
		case strings.Contains(path, "/touchpoints/"), strings.Contains(path, "/reports/"):
			return fmt.Sprint(f.touchpoint)
		}
		return "1"
	}
	paramRe := regexp.MustCompile(`\{[a-z_]+\}`)
	fill := func(path string) string {
		return paramRe.ReplaceAllStringFunc(path, func(p string) string {
			if v, ok := pathValue[p]; ok {
				return v
			}
			return idFor(path)
		})
	}
	baseBody := func(op sweepOp) map[string]any {
		if b, ok := bodies[op.method+" "+op.path]; ok {
			return b
		}
		b := map[string]any{}
		for name, typ := range op.fields {
			b[name] = map[string]any{"string": "x", "integer": 1, "number": 1.5, "boolean": true, "array": []any{}, "object": map[string]any{}}[typ]
		}
		return b
	}
	marshal := func(v any) []byte {
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}

	// The sign-in routes would spend the sweep's minute in argon2 (each
	// distinct bad username is checked against the dummy hash): lock the
	// usernames the sweep sends beforehand, as five failures would. The
	// hash path itself is covered by the lockout test.
	for _, v := range append(sweepValues, `"sweep-nobody"`) {
		var u string
		if json.Unmarshal([]byte(v), &u) != nil || !domain.ValidText(u) || len(u) > 200 {
			continue
		}
		if _, err := ta.app.db.Exec(`INSERT INTO login_attempts (username, attempts, locked_until, updated_at)
VALUES ($1, 5, now() + interval '1 hour', now()) ON CONFLICT DO NOTHING`, strings.ToLower(strings.TrimSpace(u))); err != nil {
			t.Fatal(err)
		}
	}

	var first, last []sweepReq // DELETEs go last (session DELETEs revoke the sweep's tokens)
	add := func(r sweepReq) {
		if r.method == "DELETE" {
			last = append(last, r)
		} else {
			first = append(first, r)
		}
	}
	for _, op := range ops {
		tok := tokenFor(op.path)
		path := fill(op.path)
		base := baseBody(op)
		hasBody := op.hasBody || len(base) > 0 || op.method == "POST" || op.method == "PUT" || op.method == "PATCH"
		baseJSON := []byte(nil)
		if hasBody {
			baseJSON = marshal(base)
		}
		// The valid request itself, and without a token.
		add(sweepReq{op.method + " " + op.path, op.method, path, tok, baseJSON, nil})
		add(sweepReq{op.method + " " + op.path, op.method, path, "", baseJSON, nil})
		// Path values.
		for _, p := range paramRe.FindAllString(op.path, -1) {
			for _, v := range sweepPathValues {
				add(sweepReq{op.method + " " + op.path, op.method, strings.Replace(fill(strings.Replace(op.path, p, "\x01", 1)), "\x01", v, 1), tok, baseJSON, nil})
			}
		}
		// Query strings: every declared parameter gets every bad value; an
		// undeclared one (the handler never reads it) a few.
		for _, n := range op.query {
			for _, v := range sweepQueryValues {
				add(sweepReq{op.method + " " + op.path, op.method, path + "?" + n + "=" + v, tok, baseJSON, nil})
			}
		}
		for _, v := range sweepQueryValues[:4] {
			add(sweepReq{op.method + " " + op.path, op.method, path + "?cursor=" + v + "&__unknown__=" + v, tok, baseJSON, nil})
		}
		add(sweepReq{op.method + " " + op.path, op.method, path + "?q=%00&q=%ff&cursor=1&cursor=2", tok, baseJSON, nil})
		if !hasBody {
			continue
		}
		// Whole bodies.
		for _, b := range sweepWholeBodies {
			add(sweepReq{op.method + " " + op.path, op.method, path, tok, []byte(b), nil})
		}
		// One field at a time, top level and one level down.
		type slot struct {
			name string
			set  func(raw string) []byte
		}
		var slots []slot
		keys := make([]string, 0, len(base))
		for k := range base {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range append(keys, "__unknown__") {
			slots = append(slots, slot{k, func(raw string) []byte {
				m := map[string]json.RawMessage{}
				for kk, vv := range base {
					m[kk] = marshal(vv)
				}
				m[k] = json.RawMessage(raw)
				return rawObject(m)
			}})
			var inner map[string]any
			switch v := base[k].(type) {
			case map[string]any:
				inner = v
			case []any:
				if len(v) > 0 {
					inner, _ = v[0].(map[string]any)
				}
			}
			for ik := range inner {
				slots = append(slots, slot{k + "." + ik, func(raw string) []byte {
					im := map[string]json.RawMessage{}
					for kk, vv := range inner {
						im[kk] = marshal(vv)
					}
					im[ik] = json.RawMessage(raw)
					m := map[string]json.RawMessage{}
					for kk, vv := range base {
						m[kk] = marshal(vv)
					}
					if _, isList := base[k].([]any); isList {
						m[k] = json.RawMessage("[" + string(rawObject(im)) + "]")
					} else {
						m[k] = rawObject(im)
					}
					return rawObject(m)
				}})
			}
		}
		for _, s := range slots {
			for _, v := range sweepValues {
				add(sweepReq{op.method + " " + op.path, op.method, path, tok, s.set(v), nil})
			}
		}
		if op.method == "POST" && op.path == "/api/v1/shop/orders" {
			for _, k := range []string{"k\xff\xfe", strings.Repeat("k", 5000), "😀", "\u202e"} {
				add(sweepReq{op.method + " " + op.path, op.method, path, tok, baseJSON, map[string]string{"Idempotency-Key": k}})
			}
		}
	}
	sort.SliceStable(last, func(i, j int) bool {
		return !strings.HasSuffix(last[i].path, "/session") && strings.HasSuffix(last[j].path, "/session")
	})

	client := ta.srv.Client()
	var sent, fives atomic.Int64
	var mu sync.Mutex
	var failures []string
	spent := map[string]time.Duration{}
	send := func(r sweepReq) {
		var body io.Reader
		if r.body != nil {
			body = bytes.NewReader(r.body)
		}
		hr, err := http.NewRequest(r.method, ta.srv.URL+r.path, body)
		if err != nil {
			// A path the client cannot even express is not a request.
			return
		}
		if r.body != nil {
			hr.Header.Set("Content-Type", "application/json")
		}
		if r.token != "" {
			hr.Header.Set("Authorization", "Bearer "+r.token)
		}
		hr.Header.Set("X-Anon-Id", "sweep-anon-visitor")
		for k, v := range r.header {
			hr.Header.Set(k, v)
		}
		t0 := time.Now()
		res, err := client.Do(hr)
		sent.Add(1)
		mu.Lock()
		spent[r.op] += time.Since(t0)
		mu.Unlock()
		if err != nil {
			mu.Lock()
			failures = append(failures, fmt.Sprintf("%s %s: %v", r.method, r.path, err))
			mu.Unlock()
			return
		}
		b, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		res.Body.Close()
		if res.StatusCode >= 500 {
			fives.Add(1)
			mu.Lock()
			failures = append(failures, fmt.Sprintf("%s %.120q body %.200q: %d %s", r.method, r.path, r.body, res.StatusCode, b))
			mu.Unlock()
		}
	}
	run := func(rs []sweepReq, workers int) {
		ch := make(chan sweepReq)
		var wg sync.WaitGroup
		for i := 0; i < workers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := range ch {
					send(r)
				}
			}()
		}
		for _, r := range rs {
			ch <- r
		}
		close(ch)
		wg.Wait()
	}
	sweepStart := time.Now()
	run(first, 6)
	run(last, 1)
	sort.Strings(failures)
	for i, f := range failures {
		if i == 40 {
			t.Errorf("… and %d more", len(failures)-i)
			break
		}
		t.Error(f)
	}
	t.Logf("sweep: %d operations, %d requests, %d answered 5xx; %v sending, %v with setup",
		len(ops), sent.Load(), fives.Load(), time.Since(sweepStart).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	type opTime struct {
		op string
		d  time.Duration
	}
	var ots []opTime
	for k, v := range spent {
		ots = append(ots, opTime{k, v})
	}
	sort.Slice(ots, func(i, j int) bool { return ots[i].d > ots[j].d })
	for _, o := range ots[:min(8, len(ots))] {
		t.Logf("slowest: %s %v", o.op, o.d.Round(time.Millisecond))
	}
	if sent.Load() < 3000 {
		t.Errorf("the sweep sent only %d requests", sent.Load())
	}
}

// rawObject writes a JSON object from raw member values, keys sorted.
func rawObject(m map[string]json.RawMessage) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kj, _ := json.Marshal(k)
		b.Write(kj)
		b.WriteByte(':')
		b.Write(m[k])
	}
	b.WriteByte('}')
	return b.Bytes()
}
