package rollup_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"regexp"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/testdb"
)

// TestAnalystRole connects as a LOGIN role that is a member of
// baton_analyst: it reads every view, and cannot write anything nor read a
// baton table outside the views.
func TestAnalystRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := testdb.New(t)
	pool := testdb.NewPoolFor(t, dbURL)
	_, err := pool.Exec(ctx, seedSQL)
	require.NoError(t, err)
	// A DAG for the critical path: build (40 s) -> deploy (60 s), and a
	// parallel root docs (90 s): the longest chain is build -> deploy.
	_, err = pool.Exec(ctx, `
UPDATE baton.run_tasks SET started_at = '2026-01-05 10:00:00Z', finished_at = '2026-01-05 10:00:40Z' WHERE step_name = 'build';
UPDATE baton.run_tasks SET depends_on = '{build}', started_at = '2026-01-05 10:01:00Z', finished_at = '2026-01-05 10:02:00Z' WHERE step_name = 'deploy';
INSERT INTO baton.run_tasks (run_id, step_name, step_index, task_type, executor, status, when_cond, deps_pending,
                             priority, queue, max_attempts, timeout_ms, started_at, finished_at)
VALUES (1, 'docs', 2, 'build', 'sim', 'succeeded', 'on_success', 0, 2, 'default', 3, 1000,
        '2026-01-05 10:00:00Z', '2026-01-05 10:01:30Z');`)
	require.NoError(t, err)

	b := make([]byte, 6)
	_, _ = rand.Read(b)
	role := "analyst_" + hex.EncodeToString(b)
	_, err = pool.Exec(ctx, `CREATE ROLE `+role+` LOGIN IN ROLE baton_analyst`)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), `DROP ROLE IF EXISTS `+role) })

	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	u.User = url.User(role)
	conn, err := pgx.Connect(ctx, u.String())
	require.NoError(t, err)
	defer conn.Close(ctx)

	views := []string{"v_runs", "v_tasks", "v_task_events", "v_dead_letters", "v_daily_workflow_stats", "v_cost",
		"v_task_rollup_1m", "v_task_rollup_1h"}
	for _, v := range views {
		var n int
		require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM baton.`+v).Scan(&n), v)
	}
	var events int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM baton.v_task_events`).Scan(&events))
	require.Equal(t, 6, events)

	// Every example of docs/sql.md runs as the analyst.
	doc, err := os.ReadFile("../../docs/sql.md")
	require.NoError(t, err)
	examples := regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	require.GreaterOrEqual(t, len(examples), 6)
	for _, ex := range examples {
		rows, err := conn.Query(ctx, ex[1])
		require.NoError(t, err, ex[1])
		rows.Close()
		require.NoError(t, rows.Err(), ex[1])
	}
	var path string
	var total int64
	require.NoError(t, conn.QueryRow(ctx, examples[3][1]).Scan(&path, &total))
	require.Equal(t, "build -> deploy", path)
	require.Equal(t, int64(100_000), total)

	denied := func(q string) {
		t.Helper()
		_, err := conn.Exec(ctx, q)
		require.ErrorContains(t, err, "permission denied", q)
	}
	for _, table := range []string{"baton.runs", "baton.run_tasks", "baton.task_events", "baton.dead_letters",
		"baton.task_types", "baton.workflows", "baton.rollup_state", "baton.task_rollup_1m", "baton.circuit_breakers",
		"public.river_job"} {
		denied(`SELECT 1 FROM ` + table + ` LIMIT 1`)
	}
	denied(`DELETE FROM baton.v_runs`)
	denied(`UPDATE baton.v_runs SET status = 'failed'`)
	denied(`INSERT INTO baton.v_task_events (kind) VALUES ('x')`)
	denied(`SELECT baton.start_run('ship', '{}')`)
	denied(`SELECT baton.rollup_task_events(10)`)
	denied(`CREATE TABLE baton.mine (x int)`)
	denied(`CREATE TABLE public.mine (x int)`)
	denied(`CREATE VIEW baton.v_mine AS SELECT 1`)
}
