// Package mpapi is yutang's HTTP API, on echo v4: /api/v1/shop for shoppers in
// the mini-program, /api/v1/clerk for store clerks, /api/v1/admin for
// merchandisers and operators, /webhooks for WeChat Pay, and the operational
// routes. Handlers bind, validate, convert, call a domain service, convert and
// respond; no business rule and no SQL lives here. Every route is registered
// in routes.go and described in openapi.yaml.
package mpapi

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/go-playground/validator/v10"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/yutang/yutang/domain/readcache"
)

// Deps are what the API needs. The program sets every service (a server
// test checks its wiring); the handlers do not look for nil ones.
type Deps struct {
	Log       *slog.Logger
	Ready     func(ctx context.Context) error // database reachable
	Registry  *prometheus.Registry            // where request metrics go; /metrics serves it
	BodyLimit string                          // e.g. "1M"
	Services
	// Dev, when set, is mounted under /_dev/ (the WeChat Pay simulator and
	// other stand-ins); it is nil when real credentials are configured.
	Dev http.Handler
	// CatalogVersion, when set, lets the shop's product list and detail be
	// served from memory while the catalog is unchanged (nil: no cache).
	CatalogVersion *readcache.Version
	// AuthVersion is the version of the identity service's principal
	// cache (nil: none); like CatalogVersion, the API touches it after
	// every write, so a sign-out or staff change here shows at once.
	AuthVersion *readcache.Version
}

// API is the configured HTTP API.
type API struct {
	deps     Deps
	log      *slog.Logger
	validate *validator.Validate
	echo     *echo.Echo
	metrics  *httpMetrics
	shop     shopCaches
}

// New builds the API and registers every route.
func New(d Deps) *API {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	if d.BodyLimit == "" {
		d.BodyLimit = "1M"
	}
	a := &API{deps: d, log: d.Log, validate: newValidator()}
	a.metrics = newHTTPMetrics(d.Registry)
	a.shop = newShopCaches(d.CatalogVersion)
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = a.handleError
	e.Validator = &echoValidator{v: a.validate}
	a.echo = e
	a.registerRoutes(e)
	return a
}

// Handler returns the root http.Handler.
func (a *API) Handler() http.Handler { return a.echo }

// Echo returns the echo instance (for tests and the route inventory).
func (a *API) Echo() *echo.Echo { return a.echo }
