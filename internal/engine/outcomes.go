package engine

import (
	"context"
	"fmt"
	"time"

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
