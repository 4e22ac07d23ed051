package search_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/search"
	"github.com/baton-run/baton/internal/testdb"
)

// tracer records the last search statement and its arguments, to EXPLAIN
// exactly what the service ran.
type tracer struct {
	mu   sync.Mutex
	sql  string
	args []any
}

func (tr *tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if strings.Contains(data.SQL, "-- name: RunSearchBy") {
		tr.mu.Lock()
		tr.sql, tr.args = data.SQL, data.Args
		tr.mu.Unlock()
	}
	return ctx
}

func (tr *tracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// seed makes n runs of two workflows with tags, owners, inputs, tasks and
// a mix of statuses and durations, indexes them, and analyzes.
func seed(t *testing.T, pool *pgxpool.Pool, n int) *search.Service {
	t.Helper()
	ctx := context.Background()
	eng := engine.New(pool, engine.Options{})
	_, err := eng.ApplyTaskType(ctx, &engine.TaskTypeSpec{Name: "noop", Executor: "sim"})
	require.NoError(t, err)
	for _, y := range []string{"name: billing\nsteps: [{name: charge, type: noop}]\n", "name: reports\nsteps: [{name: render, type: noop}]\n"} {
		spec, err := engine.ParseSpec([]byte(y))
		require.NoError(t, err)
		_, _, err = eng.ApplyWorkflow(ctx, spec.(*engine.WorkflowSpec))
		require.NoError(t, err)
	}
	_, err = pool.Exec(ctx, `
WITH w AS (SELECT DISTINCT ON (name) id, name, version FROM baton.workflows ORDER BY name, version DESC),
r AS (
  INSERT INTO baton.runs (workflow_id, workflow_name, workflow_version, status, priority, input, trigger, owner, tags,
                          error, tasks_total, created_at, started_at, finished_at)
  SELECT w.id, w.name, w.version,
         (ARRAY['succeeded','succeeded','succeeded','failed','running','cancelled'])[1 + i % 6],
         1 + i % 4, jsonb_build_object('customer', 'cust-' || (i % 5000), 'amount', i),
         (ARRAY['api','schedule','sql'])[1 + i % 3], 'team-' || (i % 10),
         ARRAY['env-' || (i % 3), 'region-' || (i % 7)],
         CASE WHEN i % 6 = 3 THEN 'charge: card declined for invoice ' || i END, 1,
         now() - make_interval(secs => $1 - i), now() - make_interval(secs => $1 - i),
         CASE WHEN i % 6 <> 4 THEN now() - make_interval(secs => $1 - i) + make_interval(secs => (i % 97) / 10.0) END
  FROM generate_series(1, $1) i
  JOIN w ON w.name = CASE WHEN i % 2 = 0 THEN 'billing' ELSE 'reports' END
  RETURNING id, workflow_name, status, error
)
INSERT INTO baton.run_tasks (run_id, step_name, step_index, task_type, executor, status, when_cond, deps_pending,
                             priority, queue, max_attempts, timeout_ms, output, error)
SELECT r.id, CASE WHEN r.workflow_name = 'billing' THEN 'charge' ELSE 'render' END, 0, 'noop', 'sim',
       CASE r.status WHEN 'failed' THEN 'dead' WHEN 'running' THEN 'running' WHEN 'cancelled' THEN 'cancelled' ELSE 'succeeded' END,
       'on_success', 0, 2, 'default', 1, 1000,
       CASE WHEN r.status = 'succeeded' THEN jsonb_build_object('receipt', 'rcpt-' || r.id) END, r.error
FROM r`, n)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO baton.task_events (run_id, kind) SELECT id, 'run_started' FROM baton.runs`)
	require.NoError(t, err)
	// Prices: 0.5 per task plus 1 per second; each finished run's task ran
	// (id % 97) tenths of a second, so a run costs 0.5 to 10.1.
	_, err = pool.Exec(ctx, `
UPDATE baton.task_types SET cost_per_run = 0.5, cost_per_second = 1;
UPDATE baton.run_tasks t SET finished_at = r.finished_at FROM baton.runs r WHERE r.id = t.run_id;
INSERT INTO baton.task_events (run_id, task_id, kind, duration_ms)
SELECT run_id, id, 'task_succeeded', (run_id % 97) * 100 FROM baton.run_tasks WHERE finished_at IS NOT NULL`)
	require.NoError(t, err)
	svc := search.New(pool)
	indexed, err := svc.Index(ctx)
	require.NoError(t, err)
	require.Equal(t, n, indexed)
	_, err = pool.Exec(ctx, `ANALYZE baton.runs; ANALYZE baton.run_tasks; ANALYZE baton.run_search; ANALYZE baton.batch_members`)
	require.NoError(t, err)
	return svc
}

func parse(t *testing.T, qs string) search.Query {
	t.Helper()
	v, err := url.ParseQuery(qs)
	require.NoError(t, err)
	q, err := search.ParseQuery(v)
	require.NoError(t, err)
	return q
}

// TestSearchFiltersTextSortsAndCursor: filters combine, full text matches
// and highlights, and walking the cursor of every sort returns each
// matching run once, in order.
func TestSearchFiltersTextSortsAndCursor(t *testing.T) {
	t.Parallel()
	pool := testdb.NewPool(t)
	svc := seed(t, pool, 3000)
	ctx := context.Background()

	page, err := svc.Search(ctx, parse(t, "q=declined&workflow=reports&limit=5"))
	require.NoError(t, err)
	require.Len(t, page.Runs, 5)
	for _, r := range page.Runs {
		require.Equal(t, "failed", r.Status)
		require.Contains(t, r.Highlight, "<mark>declined</mark>")
	}

	page, err = svc.Search(ctx, parse(t, `q="cust-7"&tags_all=env-1,region-2`))
	require.NoError(t, err)
	for _, r := range page.Runs {
		require.Subset(t, r.Tags, []string{"env-1", "region-2"})
	}

	for _, tc := range []struct {
		qs   string
		want int // matching runs
	}{
		{"status=failed,cancelled", 1000},
		{"sort=finished&owner=team-3", 300},
		{"sort=duration&tags_any=region-0,region-1&priority=2", 0},
		{"step=render&step_status=dead", 500},
		{"min_duration_ms=5000&sort=duration", 0},
		{"sort=cost", 2500},
		{"sort=cost&workflow=billing&min_cost=5&max_cost=6.05", 0},
	} {
		q := parse(t, tc.qs+"&limit=97")
		seen := map[int64]bool{}
		var prev *search.Run
		for {
			page, err := svc.Search(ctx, q)
			require.NoError(t, err, tc.qs)
			for i := range page.Runs {
				r := page.Runs[i]
				require.False(t, seen[r.ID], "%s: run %d twice", tc.qs, r.ID)
				seen[r.ID] = true
				if prev != nil {
					switch q.Sort {
					case search.SortCreated:
						require.Less(t, r.ID, prev.ID)
					case search.SortFinished:
						require.False(t, r.FinishedAt.After(*prev.FinishedAt))
					case search.SortDuration:
						require.LessOrEqual(t, *r.DurationMs, *prev.DurationMs)
					case search.SortCost:
						require.LessOrEqual(t, cost(t, r), cost(t, *prev))
					}
				}
				if q.MinCost != "" {
					require.GreaterOrEqual(t, cost(t, r), 5.0)
					require.LessOrEqual(t, cost(t, r), 6.05)
				}
				prev = &r
			}
			if page.NextCursor == "" {
				break
			}
			q.Cursor = page.NextCursor
		}
		if tc.want > 0 {
			require.Equal(t, tc.want, len(seen), tc.qs)
		}
		require.NotEmpty(t, seen, tc.qs)
	}

	// Every finished run is priced; a running one is not.
	page, err = svc.Search(ctx, parse(t, "status=running,succeeded&limit=20"))
	require.NoError(t, err)
	for _, r := range page.Runs {
		if r.Status == "running" {
			require.Empty(t, r.Cost, r.ID)
		} else {
			require.InDelta(t, 0.5+float64(r.ID%97)/10, cost(t, r), 1e-9, r.ID)
		}
	}
	var inRange int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM baton.runs WHERE workflow_name = 'billing'
		AND finished_at IS NOT NULL AND 0.5 + (id % 97) / 10.0 BETWEEN 5 AND 6.05`).Scan(&inRange))
	require.Positive(t, inRange)
	page, err = svc.Search(ctx, parse(t, "workflow=billing&min_cost=5&max_cost=6.05&limit=500"))
	require.NoError(t, err)
	require.Len(t, page.Runs, inRange)

	// Bad input names the parameter.
	_, err = search.ParseQuery(url.Values{"status": {"exploded"}, "sort": {"price"}, "min_cost": {"-1"}, "nope": {"1"}})
	var invalid *engine.ValidationError
	require.ErrorAs(t, err, &invalid)
	fields := []string{}
	for _, p := range invalid.Problems {
		fields = append(fields, p.Field)
	}
	require.ElementsMatch(t, []string{"status", "sort", "min_cost", "nope"}, fields)
	_, err = svc.Search(ctx, search.Query{Cursor: "garbage"})
	require.ErrorAs(t, err, &invalid)
}

// TestSearchesUseIndexes EXPLAINs the statements representative searches
// run (with their values, as the service plans them) and asserts none scans
// runs sequentially.
func TestSearchesUseIndexes(t *testing.T) {
	t.Parallel()
	url := testdb.New(t)
	cfg, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	tr := &tracer{}
	cfg.ConnConfig.Tracer = tr
	cfg.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	svc := seed(t, pool, 20000)
	ctx := context.Background()
	for _, qs := range []string{
		"",
		"q=declined",
		"q=cust-42 -failed",
		"q=cust-4211",
		"workflow=billing&status=failed",
		"tags_all=env-1,region-3&owner=team-2",
		"tags_any=region-6",
		"sort=finished",
		"sort=duration&workflow=reports",
		"step=charge&step_status=dead&sort=finished",
		"sort=cost",
		"sort=cost&workflow=billing&status=succeeded",
		"min_cost=9.5&owner=team-2",
		"created_from=2020-01-01T00:00:00Z&priority=3&trigger=schedule",
	} {
		q := parse(t, qs)
		_, err := svc.Search(ctx, q)
		require.NoError(t, err, qs)
		tr.mu.Lock()
		sql, args := tr.sql, tr.args
		tr.mu.Unlock()
		var plan []byte
		err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = force_custom_plan"); err != nil {
				return err
			}
			return tx.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+sql, args...).Scan(&plan)
		})
		require.NoError(t, err, qs)
		var doc []map[string]any
		require.NoError(t, json.Unmarshal(plan, &doc))
		var walk func(n map[string]any)
		walk = func(n map[string]any) {
			if n["Node Type"] == "Seq Scan" && n["Relation Name"] == "runs" {
				t.Errorf("%q scans runs sequentially:\n%s", qs, plan)
			}
			for _, c := range asList(n["Plans"]) {
				walk(c)
			}
		}
		walk(doc[0]["Plan"].(map[string]any))
		// A term a handful of runs have is found through the GIN index,
		// not by filtering every document newest first.
		if qs == "q=cust-4211" {
			require.Contains(t, string(plan), "run_search_doc_idx", "%q does not read the full-text index:\n%s", qs, plan)
		}
	}
	// The planner must see a rare term as rare: with default statistics it
	// guesses 0.5 % of runs for any term outside the most common ones, and
	// on a larger table walks every document newest first to fill a page
	// (migration 00020). cust-4211 is in 4 of the 20,000 runs.
	var estimate []map[string]any
	require.NoError(t, pool.QueryRow(ctx, `EXPLAIN (FORMAT JSON) SELECT 1 FROM baton.run_search
		WHERE doc @@ websearch_to_tsquery('simple', 'cust-4211')`).Scan(&estimate))
	rows := estimate[0]["Plan"].(map[string]any)["Plan Rows"].(float64)
	require.Less(t, rows, 40.0, "rows estimated for a term 4 runs have")
}

// cost reads a found run's cost.
func cost(t *testing.T, r search.Run) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(r.Cost, 64)
	require.NoError(t, err, "run %d cost %q", r.ID, r.Cost)
	return f
}

func asList(v any) []map[string]any {
	list, _ := v.([]any)
	out := make([]map[string]any, 0, len(list))
	for _, x := range list {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// TestWorkflowRates: per-workflow outcomes over a window, worst first; a
// workflow without finished runs has no rate and comes last.
func TestWorkflowRates(t *testing.T) {
	t.Parallel()
	pool := testdb.NewPool(t)
	svc := seed(t, pool, 600)
	ctx := context.Background()
	spec, err := engine.ParseSpec([]byte("name: idle\nsteps: [{name: a, type: noop}]\n"))
	require.NoError(t, err)
	_, _, err = engine.New(pool, engine.Options{}).ApplyWorkflow(ctx, spec.(*engine.WorkflowSpec))
	require.NoError(t, err)
	rates, err := svc.WorkflowRates(ctx, time.Now().Add(-24*time.Hour), true)
	require.NoError(t, err)
	require.Len(t, rates, 3)
	// reports (odd i) holds every failure: 1/3 of its finished runs.
	require.Equal(t, "reports", rates[0].Workflow)
	require.Equal(t, "billing", rates[1].Workflow)
	require.Less(t, *rates[0].SuccessRate, *rates[1].SuccessRate)
	require.Equal(t, rates[0].Finished, rates[0].Succeeded+rates[0].Failed+rates[0].Cancelled)
	require.Equal(t, search.WorkflowRate{Workflow: "idle"}, rates[2])
}
