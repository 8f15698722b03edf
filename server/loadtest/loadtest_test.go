package main

import (
	"bytes"
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	ms := func(xs ...int) []time.Duration {
		out := make([]time.Duration, len(xs))
		for i, x := range xs {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1 // 1..100 ms
	}
	for _, c := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one sample is every percentile", ms(7), 99, 7 * time.Millisecond},
		{"p50 of 1..100", ms(hundred...), 50, 50 * time.Millisecond},
		{"p99 of 1..100", ms(hundred...), 99, 99 * time.Millisecond},
		{"p100 is the maximum", ms(hundred...), 100, 100 * time.Millisecond},
		{"p50 of four is the second", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of four is the last", ms(1, 2, 3, 4), 99, 4 * time.Millisecond},
		{"p99 of 1000 with ten outliers", append(ms(make([]int, 990)...), ms(500, 500, 500, 500, 500, 500, 500, 500, 500, 500)...), 99, 0},
		{"p99 of 1000 with eleven outliers", append(ms(make([]int, 989)...), ms(500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500)...), 99, 500 * time.Millisecond},
	} {
		if got := percentile(c.sorted, c.p); got != c.want {
			t.Errorf("%s: percentile(%v) = %v, want %v", c.name, c.p, got, c.want)
		}
	}
}

// Recorders of several workers merge into the same summary as one recorder
// that saw everything, whatever the order.
func TestRecordersMergeAndSummarize(t *testing.T) {
	all := &recorder{}
	workers := recorders(4)
	for i := range 1000 {
		d := time.Duration(rand.IntN(1000)) * time.Microsecond
		w := workers[rand.IntN(len(workers))]
		if i%100 == 0 {
			w.fail("GET /x: 500 internal")
			all.fail("GET /x: 500 internal")
			continue
		}
		w.ok(d)
		all.ok(d)
	}
	got := summarize("op", merged(workers), 2*time.Second)
	want := summarize("op", all, 2*time.Second)
	if got.Requests != 1000 || got.Errors != 10 || got.P50 != want.P50 || got.P99 != want.P99 {
		t.Fatalf("merged %+v, want %+v", got, want)
	}
	if got.PerSec() != 500 {
		t.Fatalf("req/s %v, want 500", got.PerSec())
	}
	if got.ErrMsg["GET /x: 500 internal"] != 10 {
		t.Fatalf("error kinds %v", got.ErrMsg)
	}
	sorted := slices.Clone(all.lat)
	slices.Sort(sorted)
	if got.P50 != sorted[(len(sorted)+1)/2-1] {
		t.Fatalf("p50 %v is not the middle sample", got.P50)
	}
}

func TestErrorKindsAreBounded(t *testing.T) {
	r := &recorder{}
	for i := range 50 {
		r.fail(strings.Repeat("x", i))
	}
	r.fail("") // seen first: still counted
	if r.errors != 51 || len(r.errMsg) != 8 || r.errMsg[""] != 2 {
		t.Fatalf("errors %d, kinds %d (%v)", r.errors, len(r.errMsg), r.errMsg[""])
	}
}

func TestTableShowsRowsAndFailedChecks(t *testing.T) {
	var rp report
	rp.add(summary{Op: "list, 10 a page", Requests: 2000, Elapsed: time.Second, P50: 1500 * time.Microsecond, P99: 9 * time.Millisecond})
	rp.add(summary{Op: "flash: rush", Requests: 200, Errors: 1, Elapsed: 2 * time.Second, Note: "20 sold, 0 oversold",
		ErrMsg: map[string]int{"POST /api/v1/shop/orders: 500 internal": 1}})
	rp.fail("flash: oversold")
	out := rp.table()
	for _, want := range []string{"operation", "req/s", "2000.0", "1.5 ms", "9.0 ms", "20 sold, 0 oversold",
		"1× POST /api/v1/shop/orders: 500 internal", "FAILED CHECKS", "flash: oversold"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestStockCheck(t *testing.T) {
	ok := adminProduct{SKUs: []adminSKU{{Code: "A", Stock: 90, Reserved: 2, Sold: 8}, {Code: "B", Stock: 95, Sold: 5}}}
	if bad := stockCheck(ok, 100, 15, 13); len(bad) > 0 {
		t.Fatalf("a consistent product fails: %v", bad)
	}
	if bad := stockCheck(ok, 100, 15, -1); len(bad) > 0 {
		t.Fatalf("unknown paid count fails: %v", bad)
	}
	for name, c := range map[string]struct {
		p            adminProduct
		placed, paid int
	}{
		"oversold":              {adminProduct{SKUs: []adminSKU{{Code: "A", Stock: -1, Reserved: 1, Sold: 100}}}, 100, 100},
		"units appear":          {adminProduct{SKUs: []adminSKU{{Code: "A", Stock: 90, Sold: 11}}}, 11, 11},
		"payment applied twice": {ok, 15, 12},
		"placed order lost":     {ok, 16, 13},
	} {
		if bad := stockCheck(c.p, 100, c.placed, c.paid); len(bad) == 0 {
			t.Errorf("%s: no failure", name)
		}
	}
}

func TestLoopbackOnly(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:8080", "http://localhost:8080", "http://127.0.0.2:1", "http://[::1]:8080", "https://127.0.0.1", "http://127.0.0.1:8080/"} {
		if _, err := checkLoopback(ok); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"http://10.0.0.5:8080", "http://192.168.1.2", "http://example.com:8080", "http://0.0.0.0:8080",
		"http://[2001:db8::1]:80", "ftp://127.0.0.1", "127.0.0.1:8080", "http://localhost.example.com", "http://127.0.0.1.nip.io",
		"http://user:pw@127.0.0.1", "http://127.0.0.1/api", "http://"} {
		if _, err := checkLoopback(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// The program refuses a remote target before sending anything.
func TestRunRefusesRemoteTarget(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"-target", "http://203.0.113.7:8080", "-ops", "list"}, &out, &errOut)
	if code != 2 || !strings.Contains(errOut.String(), "loopback") {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
}

func TestFlags(t *testing.T) {
	o, err := parseFlags([]string{"-ops", "list20, checkout", "-d", "3s", "-c", "8"}, &bytes.Buffer{})
	if err != nil || !slices.Equal(o.ops, []string{"list20", "checkout"}) || o.d != 3*time.Second || o.c != 8 {
		t.Fatalf("%+v %v", o, err)
	}
	if o, _ := parseFlags(nil, &bytes.Buffer{}); !slices.Equal(o.ops, allOps) {
		t.Fatalf("default ops %v", o.ops)
	}
	for _, bad := range [][]string{{"-ops", "lists"}, {"-ops", ""}, {"-d", "0s"}, {"-track-batch", "101"}, {"-n", "-1"}, {"extra"}} {
		if _, err := parseFlags(bad, &bytes.Buffer{}); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
