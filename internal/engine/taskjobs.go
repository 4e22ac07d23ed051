package engine

import (
	"context"
	"time"

	"github.com/baton-run/baton/internal/dbsqlc"
)

// PurgeTaskJobs deletes River jobs of finished tasks (kind baton_task,
// state completed) that completed more than retention ago, at most limit of
// them, and returns how many it deleted. Baton keeps each task's outcome in
// its own tables, so River's copy is not needed for long.
func (e *Engine) PurgeTaskJobs(ctx context.Context, retention time.Duration, limit int) (int, error) {
	n, err := e.queries.TaskJobsPurge(ctx, e.pool, &dbsqlc.TaskJobsPurgeParams{Retention: durationInterval(retention), MaxRows: int32(limit)})
	if err != nil {
		return 0, translateError(err, "purge completed task jobs")
	}
	return int(n), nil
}
