package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/baton-run/baton/internal/dbsqlc"
)

// RecordInterrupted records an attempt that was cut short without an
// outcome (its task or run was cancelled, or its worker was stopping), so
// that the audit trail shows every attempt. It changes no state.
func (e *Engine) RecordInterrupted(ctx context.Context, a Attempt, reason string) error {
	err := e.queries.RunTaskInterrupted(ctx, e.pool, &dbsqlc.RunTaskInterruptedParams{
		ID: a.TaskID, Attempt: int32(a.Attempt), Reason: reason, DurationMs: a.Duration.Milliseconds(), Node: a.Node,
	})
	return translateError(err, fmt.Sprintf("record interrupted attempt of task %d", a.TaskID))
}

// ReconcileTasks records as dead every task that is queued or running while
// its River job has been finalized for longer than grace (or is gone), and
// settles running runs with no task left in flight; see
// db/functions/reconcile_tasks.sql. It repairs at most limit tasks and
// returns how many tasks and runs it repaired.
func (e *Engine) ReconcileTasks(ctx context.Context, grace time.Duration, limit int) (int, error) {
	n, err := e.queries.RunTasksReconcile(ctx, e.pool, &dbsqlc.RunTasksReconcileParams{
		Grace: durationInterval(grace), MaxTasks: int32(limit),
	})
	if err != nil {
		return 0, translateError(err, "reconcile tasks")
	}
	return int(n), nil
}

// IsUnavailable reports whether err says the database could not be reached
// or went away mid-statement (a restart, a failover, a dropped connection),
// as opposed to refusing the statement. Such an operation may be tried again
// once the database is back; a statement that may have committed before the
// connection broke must be safe to repeat.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"): // connection exception
			return true
		case pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03": // admin/crash shutdown, cannot connect now
			return true
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		pgconn.SafeToRetry(err) || strings.Contains(err.Error(), "conn closed")
}
