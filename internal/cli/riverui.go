package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"riverqueue.com/riverui"

	"github.com/baton-run/baton/api"
)

// riverUIPrefix is where River's own job UI is served, linked from the dashboard's
// navigation for raw queue inspection. The API's access control asks the viewer
// role for it, as for the metrics.
const riverUIPrefix = api.RiverUIPrefix

// withRiverUI serves River's job UI (riverqueue.com/riverui) under /riverui/ and passes
// every other request to next. The UI is read-only: only GET and HEAD reach it (its
// actions, such as cancelling or deleting jobs, would bypass Baton's state machine; an
// operator acts from the dashboard, whose actions keep runs and jobs consistent).
func withRiverUI(ctx context.Context, client *river.Client[pgx.Tx], logger *slog.Logger, next http.Handler) (http.Handler, error) {
	ui, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(client, nil),
		Logger:    logger,
		Prefix:    riverUIPrefix,
	})
	if err != nil {
		return nil, fmt.Errorf("river UI: %w", err)
	}
	if err := ui.Start(ctx); err != nil {
		return nil, fmt.Errorf("start river UI: %w", err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != riverUIPrefix && !strings.HasPrefix(r.URL.Path, riverUIPrefix+"/") {
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"title":"Forbidden","status":403,"detail":"River's job UI is read-only here: act on runs and tasks from the dashboard or the API."}`))
			return
		}
		ui.ServeHTTP(w, r)
	}), nil
}
