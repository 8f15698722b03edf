package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/yutang/yutang/payments/wxpaysim"
	"github.com/yutang/yutang/storage"
	"github.com/yutang/yutang/storage/storagetest"
)

// childEnv names the subcommand a re-run of this test binary executes as
// the program (see TestHelperProcessYutang).
const childEnv = "YUTANG_TEST_CHILD"

// TestHelperProcessYutang is not a test of its own: the crash test runs the
// program (`yutang wxpaysim`, `yutang serve`, `yutang check`) as separate
// processes by re-running this test binary with YUTANG_TEST_CHILD set to
// the arguments. Without it, it returns at once.
func TestHelperProcessYutang(t *testing.T) {
	args := os.Getenv(childEnv)
	if args == "" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, strings.Fields(args), os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "yutang:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// child is the program running as a separate process.
type child struct {
	cmd *exec.Cmd
	out *bytes.Buffer // stdout and stderr
	mu  *sync.Mutex
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func startChild(t *testing.T, args string, env map[string]string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcessYutang$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+args)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	c := &child{cmd: cmd, out: &bytes.Buffer{}, mu: &sync.Mutex{}}
	cmd.Stdout = lockedWriter{c.mu, c.out}
	cmd.Stderr = lockedWriter{c.mu, c.out}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return c
}

func (c *child) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

// kill9 ends the process as a crash would: no shutdown, no deferred code.
func (c *child) kill9(t *testing.T) {
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Errorf("kill -9: %v", err)
	}
	_ = c.cmd.Wait()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitHealthy waits until url answers 200, or fails with the process's
// output.
func waitHealthy(t *testing.T, url string, c *child, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if c.cmd.ProcessState != nil || time.Now().After(deadline) {
			t.Fatalf("%s not healthy within %s: %v\n%s", url, within, err, c.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// crashClient talks JSON to the mall and the simulator.
type crashClient struct {
	http *http.Client
}

func (c crashClient) call(method, url, token string, body any, header map[string]string, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	if out != nil {
		return resp.StatusCode, json.Unmarshal(b, out)
	}
	return resp.StatusCode, nil
}

// buy signs a shopper in, places an order of one unit and asks for its
// payment: it returns the order number once the mall answered the prepay.
func (c crashClient) buy(mall string, i int, sku int64) (string, error) {
	var s struct {
		Token string `json:"token"`
	}
	if _, err := c.call("POST", mall+"/api/v1/shop/session", "", map[string]string{"code": fmt.Sprintf("storm-%d", i)}, nil, &s); err != nil {
		return "", err
	}
	var addr struct {
		ID int64 `json:"id"`
	}
	if _, err := c.call("POST", mall+"/api/v1/shop/addresses", s.Token, map[string]any{"name": "张三", "phone": "13800138000",
		"province": "上海市", "city": "上海市", "district": "徐汇区", "detail": "淮海中路999号"}, nil, &addr); err != nil {
		return "", err
	}
	body := map[string]any{"items": []map[string]any{{"sku_id": sku, "quantity": 1}},
		"fulfillment": map[string]any{"type": "delivery", "address_id": addr.ID}}
	var q struct {
		PayableFen int64 `json:"payable_fen"`
	}
	if _, err := c.call("POST", mall+"/api/v1/shop/checkout/preview", s.Token, body, nil, &q); err != nil {
		return "", err
	}
	body["expected_payable_fen"] = q.PayableFen
	var o struct {
		OrderNo string `json:"order_no"`
	}
	if _, err := c.call("POST", mall+"/api/v1/shop/orders", s.Token, body,
		map[string]string{"Idempotency-Key": fmt.Sprintf("storm-%d", i)}, &o); err != nil {
		return "", err
	}
	if _, err := c.call("POST", mall+"/api/v1/shop/orders/"+o.OrderNo+"/pay", s.Token, map[string]any{}, nil, nil); err != nil {
		return o.OrderNo, err
	}
	return o.OrderNo, nil
}

// The crash test: the simulator runs as its own process with
// durable state, the mall as another; a storm of orders is paid at the
// simulator (many at once), the mall is killed with SIGKILL in the middle
// of it and more payments land at the simulator while it is down; then the
// simulator is killed the same way and restarted on its state; after the
// mall's restart, within 60 s every trade the simulator holds as SUCCESS is a
// paid order (or a cancelled one refunded), each applied exactly once, and
// `yutang check` is clean.
func TestCrashMallMidStormLosesNoPayment(t *testing.T) {
	t.Parallel()
	start := time.Now()
	dir := t.TempDir()
	dbURL := storagetest.NewURL(t)
	sku := crashSKU(t, dbURL)
	simAddr, mallAddr := freeAddr(t), freeAddr(t)
	simURL, mall := "http://"+simAddr, "http://"+mallAddr
	env := map[string]string{
		"YUTANG_ENV": "development", "DATABASE_URL": dbURL, "YUTANG_DEMO": "false", "YUTANG_DATA_DIR": dir,
		"YUTANG_LOG_LEVEL": "warn", "YUTANG_PASSWORD_HASH": "cheap", "YUTANG_HTTP_ADDR": mallAddr,
		"YUTANG_WXPAYSIM_ADDR": simAddr, "YUTANG_WXPAYSIM_DIR": filepath.Join(dir, "wxpaysim"),
		"YUTANG_WXPAY_SIM_SPEEDUP": "1000", "YUTANG_WXPAY_SIM_URL": simURL,
	}
	sim := startChild(t, "wxpaysim", env)
	waitHealthy(t, simURL+"/healthz", sim, 20*time.Second)
	srv := startChild(t, "serve", env)
	waitHealthy(t, mall+"/readyz", srv, 30*time.Second)

	t.Logf("simulator and mall up at %s", time.Since(start).Round(time.Millisecond))
	c := crashClient{http: &http.Client{Timeout: 10 * time.Second}}
	payAtSim := func(no string) error {
		_, err := c.call("POST", simURL+"/_sim/transactions/"+no+"-1/pay", "", map[string]any{}, nil, nil)
		return err
	}

	// The storm: 8 shoppers at a time buy and pay; half the payments are
	// made at once, half held back and made while the mall is dead.
	const orders, workers, killAfter = 48, 8, 20
	var (
		mu              sync.Mutex
		prepaid, heldBk []string
		killed          atomic.Bool
		killOnce        sync.Once
		mallErrs        int
	)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				no, err := c.buy(mall, i, sku)
				if err != nil {
					mu.Lock()
					mallErrs++
					mu.Unlock()
					if !killed.Load() {
						t.Errorf("buy %d before the crash: %v", i, err)
					}
					continue
				}
				mu.Lock()
				prepaid = append(prepaid, no)
				hold := len(prepaid)%2 == 0
				if hold {
					heldBk = append(heldBk, no)
				}
				n := len(prepaid)
				mu.Unlock()
				if !hold {
					if err := payAtSim(no); err != nil {
						t.Errorf("pay %s at the simulator: %v", no, err)
					}
				}
				if n >= killAfter {
					killOnce.Do(func() {
						killed.Store(true)
						srv.kill9(t)
					})
				}
			}
		}()
	}
	for i := range orders {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if !killed.Load() {
		t.Fatal("the storm ended before the mall was killed")
	}
	// WeChat keeps taking payments while the mall is down.
	for _, no := range heldBk {
		if err := payAtSim(no); err != nil {
			t.Errorf("pay %s at the simulator while the mall is down: %v", no, err)
		}
	}
	t.Logf("at %s storm: %d prepaid, %d paid while the mall was down, %d calls failed at the mall", time.Since(start).Round(time.Millisecond), len(prepaid), len(heldBk), mallErrs)
	if len(heldBk) == 0 {
		t.Fatal("no payment was taken while the mall was down")
	}

	// "WeChat" crashes too, its notifications to the dead mall undelivered:
	// restarted on its state directory it holds the same paid trades.
	succeeded := func() map[string]string {
		var trades struct {
			Items []wxpaysim.Trade `json:"items"`
		}
		if _, err := c.call("GET", simURL+"/_sim/transactions?state=SUCCESS", "", nil, nil, &trades); err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, tr := range trades.Items {
			m[tr.OutTradeNo] = tr.TransactionID
		}
		return m
	}
	before := succeeded()
	t0 := time.Now()
	sim.kill9(t)
	sim2 := startChild(t, "wxpaysim", env)
	waitHealthy(t, simURL+"/healthz", sim2, 20*time.Second)
	t.Logf("the simulator restarted in %s", time.Since(t0).Round(time.Millisecond))
	if after := succeeded(); len(after) != len(before) || len(before) != len(prepaid) {
		t.Fatalf("paid trades: %d before the simulator's crash, %d after; %d orders paid", len(before), len(after), len(prepaid))
	} else {
		for no, tx := range before {
			if after[no] != tx {
				t.Fatalf("trade %s: transaction %s before the simulator's crash, %q after", no, tx, after[no])
			}
		}
	}

	// Restart the mall on the same database.
	restarted := time.Now()
	srv2 := startChild(t, "serve", env)
	waitHealthy(t, mall+"/readyz", srv2, 30*time.Second)
	t.Logf("the mall restarted in %s", time.Since(restarted).Round(time.Millisecond))

	db, err := storage.Open(dbURL, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var problems []string
	for {
		var trades struct {
			Items []wxpaysim.Trade `json:"items"`
		}
		if _, err := c.call("GET", simURL+"/_sim/transactions", "", nil, nil, &trades); err != nil {
			t.Fatal(err)
		}
		problems = crashProblems(t, db, trades.Items)
		if len(problems) == 0 {
			t.Logf("every payment applied %s after the restart (%d trades at the simulator)", time.Since(restarted).Round(time.Millisecond), len(trades.Items))
			break
		}
		if time.Since(restarted) > 60*time.Second {
			t.Fatalf("60 s after the restart:\n%s\nmall output:\n%s", strings.Join(problems, "\n"), srv2.output())
		}
		time.Sleep(250 * time.Millisecond)
	}

	// Every ledger and invariant holds: `yutang check` as its own process.
	chk := startChild(t, "check", env)
	if err := chk.cmd.Wait(); err != nil {
		t.Fatalf("yutang check: %v\n%s", err, chk.output())
	}
	t.Logf("check clean; %s in all", time.Since(start).Round(time.Millisecond))
}

// crashProblems lists what is not yet true of the mall's database against
// the simulator's trades: every SUCCESS (or REFUND) trade is exactly one
// payment with its transaction id, on a paid order — or on a cancelled one
// that is being refunded — and the mall holds no payment the simulator
// does not.
func crashProblems(t *testing.T, db *sqlx.DB, trades []wxpaysim.Trade) []string {
	t.Helper()
	type row struct {
		TransactionID string `db:"transaction_id"`
		OutTradeNo    string `db:"out_trade_no"`
		Outcome       string `db:"outcome"`
		Status        string `db:"status"`
		Refunds       int    `db:"refunds"`
	}
	var rows []row
	if err := db.Select(&rows, `SELECT p.transaction_id, a.out_trade_no, p.outcome, o.status,
       (SELECT count(*) FROM refunds r WHERE r.payment_id = p.id) AS refunds
  FROM payments p JOIN payment_attempts a ON a.id = p.attempt_id JOIN orders o ON o.id = p.order_id`); err != nil {
		t.Fatal(err)
	}
	byTx := map[string][]row{}
	for _, r := range rows {
		byTx[r.TransactionID] = append(byTx[r.TransactionID], r)
	}
	var out []string
	paid := map[string]bool{}
	for _, tr := range trades {
		if tr.State != "SUCCESS" && tr.State != "REFUND" {
			continue
		}
		paid[tr.TransactionID] = true
		rs := byTx[tr.TransactionID]
		switch {
		case len(rs) == 0:
			out = append(out, fmt.Sprintf("%s (%s): paid at WeChat, no payment here", tr.OutTradeNo, tr.TransactionID))
		case len(rs) > 1:
			out = append(out, fmt.Sprintf("%s: applied %d times", tr.OutTradeNo, len(rs)))
		case rs[0].OutTradeNo != tr.OutTradeNo:
			out = append(out, fmt.Sprintf("%s: its payment is on attempt %s", tr.OutTradeNo, rs[0].OutTradeNo))
		case rs[0].Outcome == "applied" && rs[0].Status != "paid":
			out = append(out, fmt.Sprintf("%s: applied but the order is %s", tr.OutTradeNo, rs[0].Status))
		case rs[0].Outcome == "refund_due" && (rs[0].Status != "cancelled" || rs[0].Refunds == 0):
			out = append(out, fmt.Sprintf("%s: refund due on a %s order with %d refunds", tr.OutTradeNo, rs[0].Status, rs[0].Refunds))
		}
	}
	for _, r := range rows {
		if !paid[r.TransactionID] {
			out = append(out, fmt.Sprintf("%s: a payment here (%s) the simulator never took", r.OutTradeNo, r.TransactionID))
		}
	}
	return out
}

// crashSKU makes one on-sale SKU with plenty of stock, as the catalog would.
func crashSKU(t *testing.T, dbURL string) int64 {
	t.Helper()
	db, err := storage.Open(dbURL, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var cat, prod, sku int64
	steps := []struct {
		dst  *int64
		q    string
		args []any
	}{
		{&cat, `INSERT INTO categories (name) VALUES ('Tea') RETURNING id`, nil},
		{&prod, `INSERT INTO products (category_id, title, status, images, min_price_fen) VALUES ($1, '龙井', 'on_sale', '{https://img/1.jpg}', 1000) RETURNING id`, []any{&cat}},
		{&sku, `INSERT INTO skus (product_id, code, specs, price_fen, stock, per_order_limit) VALUES ($1, 'T-STORM', '{"规格":"一两"}', 1000, 1000, 5) RETURNING id`, []any{&prod}},
	}
	for _, s := range steps {
		args := make([]any, len(s.args))
		for i, a := range s.args {
			args[i] = *(a.(*int64))
		}
		if err := db.Get(s.dst, s.q, args...); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`INSERT INTO stock_ledger (sku_id, kind, delta, actor, at) VALUES ($1, 'receive', 1000, 'system', now())`, sku); err != nil {
		t.Fatal(err)
	}
	return sku
}
