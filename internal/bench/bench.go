// Package bench compares Baton with raw River in one process against one
// database: one-step runs and 22-task DAG runs against no-op River jobs,
// on a fresh database and after seeding many finished runs. `make bench`
// runs it.
package bench

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// SeedFinishedRuns copies run templateRunID n times as a finished run,
// with its tasks, in two statements, and returns the number of task rows
// written. The copies are `succeeded`, except that the oldest 1 % are
// flagged as needing attention with a dead letter each (the worst case for
// the attention list: every flagged run is far from the newest). It is how
// the benchmarks and the plan tests grow the tables quickly; run ANALYZE
// afterwards as autovacuum would.
func SeedFinishedRuns(ctx context.Context, pool *pgxpool.Pool, templateRunID int64, n int) (int64, error) {
	runCols, err := copyableColumns(ctx, pool, "runs", map[string]string{
		"status":      "'succeeded'",
		"finished_at": "now()",
		"attention":   fmt.Sprintf("CASE WHEN g <= %d THEN 'step build is dead' END", max(n/100, 1)),
	})
	if err != nil {
		return 0, err
	}
	taskCols, err := copyableColumns(ctx, pool, "run_tasks", map[string]string{
		"run_id":       "r.id",
		"status":       "'succeeded'",
		"river_job_id": "NULL",
		"output":       `'{"ok":true}'`,
		"finished_at":  "now()",
		"deps_pending": "0",
	})
	if err != nil {
		return 0, err
	}
	var first int64
	err = pool.QueryRow(ctx, fmt.Sprintf(`WITH ins AS (
		INSERT INTO baton.runs (%s) SELECT %s FROM baton.runs t, generate_series(1, $1::integer) g WHERE t.id = $2 ORDER BY g
		RETURNING id) SELECT min(id) FROM ins`, runCols.names, runCols.values), n, templateRunID).Scan(&first)
	if err != nil {
		return 0, fmt.Errorf("seed runs: %w", err)
	}
	tag, err := pool.Exec(ctx, fmt.Sprintf(`INSERT INTO baton.run_tasks (%s)
		SELECT %s FROM baton.runs r JOIN baton.run_tasks t ON t.run_id = $1 WHERE r.id >= $2 AND r.id < $2 + $3`,
		taskCols.names, taskCols.values), templateRunID, first, n)
	if err != nil {
		return 0, fmt.Errorf("seed run tasks: %w", err)
	}
	_, err = pool.Exec(ctx, `INSERT INTO baton.dead_letters (task_id, run_id, workflow_name, workflow_version, step_name, task_type,
	                                                         params, error, error_class, attempts, first_failed_at, last_failed_at)
		SELECT t.id, r.id, r.workflow_name, r.workflow_version, t.step_name, t.task_type, t.params, 'boom', 'permanent', 1, now(), now()
		FROM baton.runs r JOIN baton.run_tasks t ON t.run_id = r.id AND t.step_index = 0
		WHERE r.id >= $1 AND r.id < $1 + $2 AND r.attention IS NOT NULL`, first, n)
	if err != nil {
		return 0, fmt.Errorf("seed dead letters: %w", err)
	}
	return tag.RowsAffected(), nil
}

type columnList struct{ names, values string }

// copyableColumns lists the columns of baton.table an INSERT may set, with
// the value each takes in a copy: the template row's (t.column) unless
// replaced.
func copyableColumns(ctx context.Context, pool *pgxpool.Pool, table string, replace map[string]string) (columnList, error) {
	rows, err := pool.Query(ctx, `SELECT column_name::text FROM information_schema.columns
		WHERE table_schema = 'baton' AND table_name = $1 AND is_identity = 'NO' AND is_generated = 'NEVER'
		  AND column_name <> 'idempotency_key' ORDER BY ordinal_position`, table)
	if err != nil {
		return columnList{}, fmt.Errorf("columns of %s: %w", table, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return columnList{}, fmt.Errorf("columns of %s: %w", table, err)
	}
	values := make([]string, len(names))
	for i, name := range names {
		if v, ok := replace[name]; ok {
			values[i] = v
		} else {
			values[i] = "t." + pgx.Identifier{name}.Sanitize()
		}
		names[i] = pgx.Identifier{name}.Sanitize()
	}
	return columnList{names: strings.Join(names, ", "), values: strings.Join(values, ", ")}, nil
}
