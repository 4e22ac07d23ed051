package api

import (
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/go-chi/chi/v5"

	"github.com/baton-run/baton/internal/metrics"
)

// registerMetrics serves GET /metrics (outside /v1 and the OpenAPI
// document, before the UI fallback) and times every Huma operation by its
// operation id. It must run before any operation is registered: Huma binds
// middleware at registration. A nil m registers nothing.
func registerMetrics(router chi.Router, api huma.API, m *metrics.Metrics) {
	if m == nil {
		return
	}
	router.Method(http.MethodGet, "/metrics", m.Handler())
	api.UseMiddleware(func(ctx huma.Context, next func(huma.Context)) {
		start := time.Now()
		next(ctx)
		status := ctx.Status()
		if status == 0 {
			status = http.StatusOK
		}
		m.ObserveRequest(ctx.Operation().OperationID, ctx.Method(), status, time.Since(start))
	})
}
