// Command loadtest drives a running yutang mall over HTTP and prints one
// table: per operation the requests, requests per second, p50 and p99
// latency and errors, with the checkout loop's orders per second, the flash
// sale's oversell check and the notification and touch rates. It is the
// instrument of issue 18; `make bench` runs it against a throwaway mall with
// the server and its database pinned to CPU 0 and this tool to CPU 1.
//
//	go run ./server/loadtest -target http://127.0.0.1:8080 -creds var/demo-credentials.txt
//	go run ./server/loadtest -ops list,detail -d 20s -c 64
//
// Loopback only: it refuses any other target. It creates what it needs
// through the API (shoppers, addresses, two products for checkout and
// notifications, a flash-sale product and campaign) under a run id, and
// pays orders through the development simulator (/_dev/wechatpay), so it
// needs a development mall with the demo staff (or -admin-password).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// options are the flags.
type options struct {
	target       string
	ops          []string
	n            int
	d            time.Duration
	c            int
	warmup       time.Duration
	signedIn     bool
	admin        string
	adminPass    string
	creds        string
	flashStock   int
	flashBuyers  int
	flashTries   int
	flashLimit   int
	notifyOrders int
	trackBatch   int
	trackClients int
	sim          string // the WeChat Pay simulator's base URL (notify pays there)
}

// allOps is every operation, in the order they run.
var allOps = []string{"list", "detail", "checkout", "flash", "notify", "track"}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.target, "target", "http://127.0.0.1:8080", "the mall's base URL (loopback only)")
	ops := fs.String("ops", strings.Join(allOps, ","), "operations to run, comma-separated: list (10 and 20 a page; list10, list20 for one), detail, checkout, flash, notify, track")
	fs.IntVar(&o.n, "n", 0, "at most this many requests (checkout: orders) per operation; 0: bounded by -d only")
	fs.DurationVar(&o.d, "d", 10*time.Second, "at most this long per operation")
	fs.IntVar(&o.c, "c", 0, "connections (users) per operation; 0: each operation's default (list, detail 32; checkout, notify 16; track 8)")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured warm-up before list, detail and track")
	fs.BoolVar(&o.signedIn, "signed-in", false, "list and detail as signed-in shoppers (one per connection) instead of anonymous visitors")
	fs.StringVar(&o.admin, "admin", "admin", "the staff account that sets up products and campaigns")
	fs.StringVar(&o.adminPass, "admin-password", os.Getenv("LOADTEST_ADMIN_PASSWORD"), "its password (default $LOADTEST_ADMIN_PASSWORD, else read from -creds)")
	fs.StringVar(&o.creds, "creds", "var/demo-credentials.txt", "the demo credentials file `make run` writes (\"username password\" lines)")
	fs.IntVar(&o.flashStock, "flash-stock", 20, "flash sale: the SKU's stock and the campaign's allotment")
	fs.IntVar(&o.flashBuyers, "flash-buyers", 50, "flash sale: buyers")
	fs.IntVar(&o.flashTries, "flash-attempts", 200, "flash sale: order attempts in the rush (spread over the buyers)")
	fs.IntVar(&o.flashLimit, "flash-limit", 0, "flash sale: per-shopper limit (0: none)")
	fs.IntVar(&o.notifyOrders, "notify-orders", 500, "notify: unpaid orders to pay at once (capped by -n)")
	fs.IntVar(&o.trackBatch, "track-batch", 100, "track: events per batch (1-100)")
	fs.IntVar(&o.trackClients, "track-clients", 8, "track: clients")
	fs.StringVar(&o.sim, "sim", "", "notify: the WeChat Pay simulator's URL (yutang wxpaysim, loopback only): the orders are paid there, as WeChat's shoppers would, so the mall's work is only applying the notifications; empty: through the mall's /_dev/wechatpay route")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	known := map[string]bool{"list10": true, "list20": true}
	for _, op := range allOps {
		known[op] = true
	}
	for _, op := range strings.Split(*ops, ",") {
		op = strings.TrimSpace(op)
		if op == "" {
			continue
		}
		if !known[op] {
			return o, fmt.Errorf("-ops: unknown operation %q (known: %s, list10, list20)", op, strings.Join(allOps, ", "))
		}
		o.ops = append(o.ops, op)
	}
	switch {
	case len(o.ops) == 0:
		return o, errors.New("-ops: no operation")
	case o.sim != "" && !isLoopbackURL(o.sim):
		return o, errors.New("-sim: a loopback URL like http://127.0.0.1:8091")
	case o.n < 0 || o.d <= 0 || o.c < 0 || o.warmup < 0:
		return o, errors.New("-n, -c and -warmup must not be negative and -d must be positive")
	case o.trackBatch < 1 || o.trackBatch > 100:
		return o, errors.New("-track-batch: 1 to 100 (the API's batch limit)")
	case o.flashStock < 1 || o.flashBuyers < 1 || o.flashTries < 1 || o.flashLimit < 0 || o.notifyOrders < 1 || o.trackClients < 1:
		return o, errors.New("-flash-*, -notify-orders and -track-clients must be positive (-flash-limit may be 0)")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "loadtest:", err)
		return 2
	}
	u, err := checkLoopback(o.target)
	if err != nil {
		fmt.Fprintln(stderr, "loadtest:", err)
		return 2
	}
	t := &tester{o: o, cl: newClient(u.String(), max(64, o.c, o.flashBuyers)), log: stderr,
		runID: strconv.FormatInt(time.Now().UnixMilli(), 36)}
	if err := t.cl.must(ctx, 200, call{method: "GET", path: "/readyz"}, nil); err != nil {
		fmt.Fprintf(stderr, "loadtest: the mall at %s is not ready: %v\n", o.target, err)
		return 1
	}
	fmt.Fprintf(stdout, "yutang load test: %s, run %s, %s, -d %s -n %d, load generator GOMAXPROCS %d on CPUs %s\n\n",
		o.target, t.runID, time.Now().UTC().Format(time.RFC3339), o.d, o.n, runtime.GOMAXPROCS(0), cpusAllowed())
	for _, op := range o.ops {
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(stderr, "loadtest: %s…\n", op)
		if err := t.runOp(ctx, op); err != nil {
			t.rp.fail("%s: %v", op, err)
		}
	}
	fmt.Fprint(stdout, t.rp.table())
	if len(t.rp.bad) > 0 {
		return 1
	}
	return 0
}

// cpusAllowed is this process's CPU affinity (Linux), to show the pinning.
func cpusAllowed() string {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return "?"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// tester is one run against one mall.
type tester struct {
	o     options
	cl    *client
	rp    report
	log   io.Writer
	runID string // makes shopper codes, SKU codes and keys unique per run

	adminOnce  sync.Once
	adminToken string
	adminErr   error
}

func (t *tester) runOp(ctx context.Context, op string) error {
	switch op {
	case "list":
		if err := t.list(ctx, 10); err != nil {
			return err
		}
		return t.list(ctx, 20)
	case "list10":
		return t.list(ctx, 10)
	case "list20":
		return t.list(ctx, 20)
	case "detail":
		return t.detail(ctx)
	case "checkout":
		return t.checkout(ctx)
	case "flash":
		return t.flash(ctx)
	case "notify":
		return t.notify(ctx)
	case "track":
		return t.track(ctx)
	}
	return fmt.Errorf("unknown operation %q", op)
}

// conns is -c, or def when -c is not set.
func (t *tester) conns(def int) int {
	if t.o.c > 0 {
		return t.o.c
	}
	return def
}

// drive runs body on conns workers until -n iterations have started, -d
// has passed or ctx ends, and returns the wall time from start to the last
// worker's end. body gets the worker's index and the iteration number.
func (t *tester) drive(ctx context.Context, conns int, d time.Duration, n int, body func(w, i int)) time.Duration {
	var started atomic.Int64
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(deadline) {
				i := int(started.Add(1)) - 1
				if n > 0 && i >= n {
					return
				}
				body(w, i)
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// recorders makes one recorder per worker; merged adds them up.
func recorders(n int) []*recorder {
	rs := make([]*recorder, n)
	for i := range rs {
		rs[i] = &recorder{}
	}
	return rs
}

func merged(rs []*recorder) *recorder {
	var out recorder
	for _, r := range rs {
		out.merge(r)
	}
	return &out
}

// adminTok signs the staff account in once.
func (t *tester) adminTok(ctx context.Context) (string, error) {
	t.adminOnce.Do(func() {
		pass := t.o.adminPass
		if pass == "" {
			b, err := os.ReadFile(t.o.creds)
			if err != nil {
				t.adminErr = fmt.Errorf("no -admin-password and cannot read %s (run against `make run`'s mall from the repository root, or pass -creds or -admin-password): %w", t.o.creds, err)
				return
			}
			for _, line := range strings.Split(string(b), "\n") {
				if u, p, ok := strings.Cut(strings.TrimSpace(line), " "); ok && u == t.o.admin {
					pass = strings.TrimSpace(p)
				}
			}
			if pass == "" {
				t.adminErr = fmt.Errorf("%s has no line for %q", t.o.creds, t.o.admin)
				return
			}
		}
		var s struct {
			Token string `json:"token"`
		}
		t.adminErr = t.cl.must(ctx, 200, call{method: "POST", path: "/api/v1/admin/session",
			body: map[string]string{"username": t.o.admin, "password": pass}}, &s)
		t.adminToken = s.Token
	})
	return t.adminToken, t.adminErr
}

// isLoopbackURL reports whether u is an http URL of a loopback host.
func isLoopbackURL(u string) bool {
	_, err := checkLoopback(u)
	return err == nil
}
