package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"riverqueue.com/riverui"

	"github.com/baton-run/baton/api"
)

// withRiverUI serves River's job UI (riverqueue.com/riverui) under /riverui/ and passes
// every other request to next. The API's access control guards it: its pages need the
// viewer role, its actions (cancel, delete or retry jobs; pause, resume or limit queues)
// the operator role. A task's job cancelled or deleted there leaves its task unfinished
// in Baton for a moment: the reconciler then records the task dead, with its dead letter,
// as for any job finalized without an outcome (db/functions/reconcile_tasks.sql).
func withRiverUI(ctx context.Context, client *river.Client[pgx.Tx], logger *slog.Logger, next http.Handler) (http.Handler, error) {
	ui, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(client, nil),
		Logger:    logger,
		Prefix:    api.RiverUIPrefix,
	})
	if err != nil {
		return nil, fmt.Errorf("river UI: %w", err)
	}
	if err := ui.Start(ctx); err != nil {
		return nil, fmt.Errorf("start river UI: %w", err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !api.IsRiverUI(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		ui.ServeHTTP(w, r)
	}), nil
}
