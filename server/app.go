package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/yutang/yutang/domain/address"
	"github.com/yutang/yutang/domain/aftersales"
	"github.com/yutang/yutang/domain/cart"
	"github.com/yutang/yutang/domain/cashier"
	"github.com/yutang/yutang/domain/catalog"
	"github.com/yutang/yutang/domain/identity"
	"github.com/yutang/yutang/domain/order"
	"github.com/yutang/yutang/domain/pricing"
	"github.com/yutang/yutang/domain/readcache"
	"github.com/yutang/yutang/domain/store"
	mpapi "github.com/yutang/yutang/miniprogram-api"
	"github.com/yutang/yutang/miniprogram-api/weapp"
	"github.com/yutang/yutang/storage"
	"github.com/yutang/yutang/storage/pglocal"
)

// app is the wired program: database, services, API.
type app struct {
	cfg     Config
	log     *slog.Logger
	db      *sqlx.DB
	store   *storage.DB      // db with every area's store and the lifecycle handlers
	cluster *pglocal.Cluster // the private PostgreSQL we started, if any
	now     func() time.Time
	// authVersion is the version the identity service's principal cache
	// checks; the API touches it after every write (nil: no cache).
	authVersion *readcache.Version
	// catalogVersion is the one the shop's pages are kept under and sold-out
	// answers remembered by (nil: no cache).
	catalogVersion *readcache.Version
	reg            *prometheus.Registry
	svc            mpapi.Services
	dev            http.Handler
	pay            *wxpay // WeChat Pay: gateway, simulator, cashier store (wxpay.go)
	// weappStandin answers as WeChat's mini-program APIs when no AppSecret
	// is configured (platform_wiring.go).
	weappStandin *weapp.Standin
	workers      []func(ctx context.Context)
	closers      []func()
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// openApp starts (or connects to) PostgreSQL, migrates, and wires services.
func openApp(ctx context.Context, cfg Config, logOut io.Writer) (*app, error) {
	a := &app{cfg: cfg, log: newLogger(logOut, cfg.LogLevel), now: time.Now, reg: prometheus.NewRegistry()}
	a.log.Info("starting", cfg.Masked()...)
	dsn := cfg.DatabaseURL
	if dsn == "" {
		c, err := pglocal.Start(ctx, pglocal.Options{Dir: filepath.Join(cfg.DataDir, "pg"), Log: logOut})
		if err != nil {
			return nil, err
		}
		a.cluster = c
		dsn = c.URL("postgres")
		if err := storage.EnsureDatabase(ctx, dsn, "yutang"); err != nil {
			a.close()
			return nil, err
		}
		dsn = c.URL("yutang")
	}
	db, err := storage.Open(dsn, cfg.DBMaxConns)
	if err != nil {
		a.close()
		return nil, err
	}
	a.db = db
	a.store = storage.New(db)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := storage.WaitReady(wctx, db); err != nil {
		a.close()
		return nil, err
	}
	if err := storage.Migrate(ctx, db.DB, a.log); err != nil {
		a.close()
		return nil, err
	}
	a.reg.MustRegister(collectors.NewDBStatsCollector(db.DB, "yutang"),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := a.wire(ctx); err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

// wire builds the adapters and services, and subscribes each area's
// handlers to the moments of an order's life (a.store.Lifecycle), to
// sign-ins (a.store.SignedIn) and to refunds that end
// (a.store.RefundSettled): that is the only way areas meet.
func (a *app) wire(ctx context.Context) error {
	wx := a.weappClient()
	st := a.store
	a.svc.Identity = &identity.Service{Store: st.Identity(), WeChat: wx, Now: a.now, PasswordParams: a.cfg.PasswordParams}
	if a.authVersion = a.readVersion(st.Identity().AuthVersion); a.authVersion != nil {
		a.svc.Identity.Principals = readcache.New[identity.Principal](a.authVersion, 100_000)
	}
	a.svc.Audit = st.Audit()
	a.svc.Orders = &order.Service{Store: st.Orders(), Now: a.now, TTL: a.cfg.OrderTTL,
		Freight: pricing.FreightRule{Flat: defaultFreightFen, FreeAbove: defaultFreeFreightAboveFen}}
	if a.catalogVersion = a.readVersion(st.Catalog().Version); a.catalogVersion != nil {
		a.svc.Orders.SoldOut = order.NewSoldOutMemo(a.catalogVersion)
	}
	a.svc.Cart = &cart.Service{Store: st.Carts(), Now: a.now}
	a.svc.Addresses = &address.Service{Store: st.Addresses(), Now: a.now}
	st.SignedIn.On("cart", func(ctx context.Context, tx *storage.Tx, e identity.SignedIn) error {
		return cart.Stitch(ctx, tx.Carts(), e)
	})
	a.svc.Catalog = &catalog.Service{Store: st.Catalog(), Now: a.now, LowStock: a.cfg.LowStock}
	a.svc.Stores = &store.Service{Storage: st.Stores(), Now: a.now}
	// Expired unpaid orders are cancelled by the payments.expire worker
	// (wxpay.go), which closes them at WeChat Pay first.
	a.workers = append(a.workers,
		every(time.Minute, a.log, "orders.auto_confirm", func(ctx context.Context) error {
			_, err := a.svc.Orders.AutoConfirm(ctx, 500)
			return err
		}),
		every(24*time.Hour, a.log, "identity.prune", func(ctx context.Context) error {
			_, err := a.svc.Identity.Prune(ctx)
			return err
		}),
		every(24*time.Hour, a.log, "cart.prune_anonymous", func(ctx context.Context) error {
			_, err := a.svc.Cart.PruneAnonymous(ctx)
			return err
		}))
	a.wireCoupons()
	if err := a.wireWxPay(); err != nil {
		return err
	}
	a.svc.Orders.Payments = a.svc.Cashier // a shopper's cancel closes at WeChat Pay first
	a.wireReconciliation()
	// After-sales asks the cashier for refunds and hears when they end.
	a.svc.AfterSales = &aftersales.Service{Store: st.AfterSales(), Cashier: a.svc.Cashier, Now: a.now}
	st.RefundSettled.On("after-sales", func(ctx context.Context, tx *storage.Tx, e cashier.RefundSettled) error {
		return aftersales.Settle(ctx, tx.AfterSales(), e)
	})
	a.wireClerks()
	a.wireMembers()
	a.wirePlatform(wx)
	if err := a.wireAttribution(ctx, wx); err != nil {
		return err
	}
	a.wireKOC() // after attribution: its paid handler reads the attribution
	a.wireGrants()
	if err := a.wirePayout(); err != nil {
		return err
	}
	// Configuration refuses production with a stand-in; this holds the
	// wiring to it too.
	if a.cfg.Production() && (a.pay.sim != nil || a.weappStandin != nil || a.dev != nil) {
		return errors.New("production: a stand-in was wired (simulator or weapp stand-in); refusing to start")
	}
	return nil
}

func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	if a.db != nil {
		a.db.Close()
	}
	if a.cluster != nil {
		if err := a.cluster.Stop(); err != nil {
			a.log.Error("stop postgres", "err", err)
		}
	}
}

func withApp(ctx context.Context, cfg Config, logOut io.Writer, fn func(*app) error) error {
	a, err := openApp(ctx, cfg, logOut)
	if err != nil {
		return err
	}
	defer a.close()
	return fn(a)
}

func (a *app) api() *mpapi.API {
	dev := a.dev
	if a.cfg.Production() {
		dev = nil // development routes never exist in production
	}
	return mpapi.New(mpapi.Deps{
		Log:       a.log,
		Ready:     func(ctx context.Context) error { return a.db.PingContext(ctx) },
		Registry:  a.reg,
		BodyLimit: a.cfg.BodyLimit,
		Services:  a.svc,
		Dev:       dev,

		CatalogVersion: a.catalogVersion,
		AuthVersion:    a.authVersion,
	})
}

// readVersion is a read cache's version, read with read (nil: no cache,
// YUTANG_CACHE_FRESH=off). Grace covers the gap between a write's statement
// and its commit (readcache's package comment).
func (a *app) readVersion(read func(context.Context) (int64, error)) *readcache.Version {
	if a.cfg.CacheFresh <= 0 {
		return nil
	}
	return &readcache.Version{Read: read, Fresh: a.cfg.CacheFresh, Grace: 500 * time.Millisecond, Now: a.now}
}

// serve runs the mall until ctx ends.
func serve(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	a, err := openApp(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	if cfg.Demo {
		if err := a.loadDemo(ctx, io.Discard); err != nil {
			return err
		}
	}
	stopPprof, err := startPprof(cfg.PprofAddr, a.log)
	if err != nil {
		return fmt.Errorf("profiler: %w", err)
	}
	defer stopPprof()
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	srv := &http.Server{
		Handler:           a.api().Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	wctx, stopWorkers := context.WithCancel(withWorkerFailures(ctx, a.pay.metrics.WorkerFailed))
	done := make(chan struct{})
	go func() {
		defer close(done)
		runWorkers(wctx, a.workers)
	}()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.log.Info("listening", "addr", "http://"+ln.Addr().String())
	a.printWelcome(stdout, "http://"+ln.Addr().String())
	a.printWxPay(stdout)

	select {
	case <-ctx.Done():
	case err := <-errc:
		stopWorkers()
		<-done
		return fmt.Errorf("http server: %w", err)
	}
	a.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownWait)
	defer cancel()
	err = srv.Shutdown(sctx)
	stopWorkers()
	<-done
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

func runWorkers(ctx context.Context, ws []func(ctx context.Context)) {
	done := make(chan struct{}, len(ws))
	for _, w := range ws {
		go func() {
			defer func() { done <- struct{}{} }()
			w(ctx)
		}()
	}
	for range ws {
		<-done
	}
}

// every runs fn every d until ctx ends (a worker helper), the first time
// after at most a minute: an hourly or daily worker that first waited its
// whole period would never run on servers restarted (deployed) more often
// than that (the touch events would never be pruned nor the old touch
// partitions dropped).
func every(d time.Duration, log *slog.Logger, name string, fn func(ctx context.Context) error) func(ctx context.Context) {
	return everyFrom(firstRound(d), d, log, name, fn)
}

// firstRound is how long a worker every d waits for its first round.
func firstRound(d time.Duration) time.Duration { return min(d, time.Minute) }

// everyFrom runs fn first after first, then d after each round ends.
func everyFrom(first, d time.Duration, log *slog.Logger, name string, fn func(ctx context.Context) error) func(ctx context.Context) {
	return func(ctx context.Context) {
		t := time.NewTimer(first)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := fn(ctx); err != nil && ctx.Err() == nil {
					log.Error("worker failed", "worker", name, "err", err)
					workerFailed(ctx, name) // metrics_wiring.go
				}
				t.Reset(d)
			}
		}
	}
}
