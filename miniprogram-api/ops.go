package mpapi

import (
	"context"
	_ "embed"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

//go:embed openapi.yaml
var openapiYAML []byte

// OpenAPI returns the embedded OpenAPI document.
func OpenAPI() []byte { return openapiYAML }

func (a *API) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 while the database answers, 503 otherwise; the process
// keeps running either way and recovers when the database is back.
func (a *API) readyz(c echo.Context) error {
	if a.deps.Ready != nil {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		if err := a.deps.Ready(ctx); err != nil {
			a.log.WarnContext(ctx, "not ready", "request_id", requestID(c), "err", err)
			c.Response().Header().Set("Retry-After", retryAfterSeconds)
			return c.JSON(http.StatusServiceUnavailable, errorBody{errorDetail{
				Code: "database_unavailable", Message: "The database is not reachable."}})
		}
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

func (a *API) metricsHandler() echo.HandlerFunc {
	return echo.WrapHandler(promhttp.HandlerFor(a.deps.Registry, promhttp.HandlerOpts{}))
}

func (a *API) openapi(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/yaml", openapiYAML)
}
