package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	mpapi "github.com/yutang/yutang/miniprogram-api"
	"github.com/yutang/yutang/payments/wxpaysim"
)

// wxpaysimCommand is `yutang wxpaysim`: the WeChat Pay simulator in its own
// process, on YUTANG_WXPAYSIM_ADDR (loopback only), with its keys and a
// journal of its trades, refunds, transfers and undelivered notifications
// under YUTANG_WXPAYSIM_DIR, so the mall can crash and restart while
// "WeChat" keeps what it took. The mall reaches it with
// YUTANG_WXPAY_SIM_URL and learns the merchant's keys from
// GET /_sim/merchant. Development only.
func wxpaysimCommand(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	if cfg.Production() {
		return errors.New("wxpaysim: the WeChat Pay simulator is for development only (YUTANG_ENV=production)")
	}
	log := newLogger(stderr, cfg.LogLevel)
	speedup := max(cfg.WxPay.SimSpeedup, 1)
	sim, st, err := wxpaysim.Open(cfg.WxPay.SimDir, wxpaysim.Config{
		MchID: simMchID, AppID: cfg.WeAppID,
		RetrySchedule: wxpaysim.ScaleSchedule(wxpaysim.DefaultRetrySchedule(), speedup),
		RefundDelay:   2 * time.Second / time.Duration(speedup),
		// WeChat delivers many notifications at once; 64 lets the load
		// test's notification burst measure the mall, not this queue.
		Workers: 64,
	})
	if err != nil {
		return err
	}
	defer sim.Close()
	merchant := sim.MerchantConfig(st)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /_sim/merchant", func(w http.ResponseWriter, r *http.Request) {
		writeDevJSON(w, http.StatusOK, merchant)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeDevJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("/", sim)

	ln, err := net.Listen("tcp", cfg.WxPay.SimAddr)
	if err != nil {
		return fmt.Errorf("wxpaysim: listen on %s: %w", cfg.WxPay.SimAddr, err)
	}
	srv := &http.Server{
		Handler:           mpapi.LoopbackOnly(mux),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		// A request is held past any client timeout only by a "timeout"
		// fault (faults.go), itself bounded by wxpaysim.MaxHang.
		WriteTimeout: wxpaysim.MaxHang + 10*time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	log.Info("wxpaysim listening", "addr", base, "state_dir", cfg.WxPay.SimDir, "mchid", simMchID, "appid", cfg.WeAppID)
	fmt.Fprintf(stdout, "WeChat Pay simulator listening on %s (state in %s; the mall: YUTANG_WXPAY_SIM_URL=%s)\n",
		base, cfg.WxPay.SimDir, base)

	select {
	case <-ctx.Done():
	case err := <-errc:
		return fmt.Errorf("wxpaysim: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("wxpaysim: shutdown: %w", err)
	}
	return nil
}
