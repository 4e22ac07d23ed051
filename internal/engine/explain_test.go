package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/bench"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/testdb"
)

// planModes are the plan_cache_mode settings every statement is checked
// under: PostgreSQL may switch a prepared statement (and a PL/pgSQL
// statement) to its generic plan after five executions.
var planModes = []string{"force_custom_plan", "force_generic_plan"}

// scannedTables are the tables no list endpoint and no outcome statement
// may read with a sequential scan once they are large.
var scannedTables = map[string]bool{"runs": true, "run_tasks": true, "dead_letters": true}

// queryRecorder is a pgx tracer that keeps every query a pool ran, so that
// the test can EXPLAIN exactly what the engine sends.
type queryRecorder struct {
	mu      sync.Mutex
	queries []recordedQuery
}

type recordedQuery struct {
	SQL  string
	Args []any
}

func (r *queryRecorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queries = append(r.queries, recordedQuery{SQL: data.SQL, Args: data.Args})
	return ctx
}

func (r *queryRecorder) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// planNotices keeps the plans auto_explain sends as notices (see the
// outcome path), so that a sequential scan the statistics show can be
// traced to its statement.
type planNotices struct {
	mu    sync.Mutex
	plans []string
}

func (p *planNotices) add(_ *pgconn.PgConn, n *pgconn.Notice) {
	if !strings.Contains(n.Message, "Query Text") && !strings.Contains(n.Message, "duration:") {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.plans = append(p.plans, n.Message)
}

// take returns the plans kept since the last call that scan one of tables
// sequentially.
func (p *planNotices) take(tables ...string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, plan := range p.plans {
		for _, table := range tables {
			if strings.Contains(plan, "Seq Scan on "+table+" ") {
				out = append(out, plan)
				break
			}
		}
	}
	p.plans = nil
	return out
}

// wasteful returns the plans kept since the last call in which a join's
// filter discarded more than limit rows.
func (p *planNotices) wasteful(limit int) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, plan := range p.plans {
		for _, m := range joinFilterRemoved.FindAllStringSubmatch(plan, -1) {
			if n, _ := strconv.Atoi(m[1]); n > limit {
				out = append(out, plan)
				break
			}
		}
	}
	return out
}

// joinFilterRemoved matches what EXPLAIN ANALYZE reports of a join filter.
var joinFilterRemoved = regexp.MustCompile(`Rows Removed by Join Filter: (\d+)`)

func (r *queryRecorder) take() []recordedQuery {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := r.queries
	r.queries = nil
	return q
}

// TestPlansAtScale seeds many finished runs of the 22-task release pipeline
// (BATON_EXPLAIN_RUNS, default 20,000; set 1000000 for the scale),
// flags 1 % of the oldest as needing attention, analyzes, and then checks,
// under custom and generic plans, that (1) no list endpoint's query reads
// runs, run_tasks or dead_letters with a sequential scan (EXPLAIN of the
// exact SQL the engine sends), and (2) recording starts and successes of
// 100 in-flight runs to the end makes no sequential scan of runs or
// run_tasks (the transaction's own table statistics).
func TestPlansAtScale(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds a large table")
	}
	t.Parallel()
	ctx := context.Background()
	n := 20000
	if v, err := strconv.Atoi(os.Getenv("BATON_EXPLAIN_RUNS")); err == nil && v > 0 {
		n = v
	}

	rec := &queryRecorder{}
	cfg, err := pgxpool.ParseConfig(testdb.New(t))
	require.NoError(t, err)
	cfg.MaxConns = 4
	cfg.ConnConfig.Tracer = rec
	notices := &planNotices{}
	cfg.ConnConfig.OnNotice = notices.add
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	eng := engine.New(pool, engine.Options{})
	_, err = eng.ApplyTaskType(ctx, &engine.TaskTypeSpec{Name: "noop", Executor: "sleep", Defaults: json.RawMessage(`{"duration":"0s"}`)})
	require.NoError(t, err)
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", "workflows", "release-pipeline.yaml"))
	require.NoError(t, err)
	parsed, err := engine.ParseSpec(data)
	require.NoError(t, err)
	spec := parsed.(*engine.WorkflowSpec)
	for i := range spec.Steps {
		spec.Steps[i].Type = "noop"
		spec.Steps[i].Params = nil
	}
	_, _, err = eng.ApplyWorkflow(ctx, spec)
	require.NoError(t, err)

	start := time.Now()
	template, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: spec.Name})
	require.NoError(t, err)
	tasks, err := bench.SeedFinishedRuns(ctx, pool, template.ID, n)
	require.NoError(t, err)
	t.Logf("seeded %d finished runs (%d tasks) in %s", n, tasks, time.Since(start).Round(time.Millisecond))

	// In-flight runs, started as any caller would.
	ps := make([]engine.StartParams, 100)
	for i := range ps {
		ps[i] = engine.StartParams{Workflow: spec.Name}
	}
	var inFlight []int64
	require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		inFlight, err = eng.StartRunsTx(ctx, tx, ps)
		return err
	}))
	// River's table as a live system has it: the day's finished jobs of
	// other kinds (webhook deliveries, events, maintenance; River keeps them
	// 24 hours), so that it is not a table small enough to read whole.
	_, err = pool.Exec(ctx, `INSERT INTO public.river_job (args, kind, max_attempts, queue, state, finalized_at, attempt)
	                         SELECT '{}', 'other_work', 1, 'default', 'completed', now(), 1 FROM generate_series(1, 10000)`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, "ANALYZE")
	require.NoError(t, err)

	t.Run("list endpoints", func(t *testing.T) {
		rec.take()
		first, err := eng.ListRuns(ctx, engine.ListRunsParams{})
		require.NoError(t, err)
		require.NotEmpty(t, first.NextCursor)
		for _, p := range []engine.ListRunsParams{
			{}, {Status: "running"}, {Status: "queued"}, {Status: "failed"}, {Workflow: spec.Name}, {Workflow: "rare"},
			{Workflow: spec.Name, Status: "running"}, {Workflow: "rare", Status: "failed"},
			{Cursor: first.NextCursor}, {Status: "succeeded", Cursor: first.NextCursor},
			{Workflow: spec.Name, Cursor: first.NextCursor}, {Workflow: spec.Name, Status: "succeeded", Cursor: first.NextCursor},
		} {
			_, err := eng.ListRuns(ctx, p)
			require.NoError(t, err)
		}
		_, err = eng.ListAttention(ctx, 100)
		require.NoError(t, err)
		_, err = eng.GetDeadLetterStats(ctx)
		require.NoError(t, err)
		dlFirst, err := eng.ListDeadLetters(ctx, engine.DeadLetterFilter{Limit: 20})
		require.NoError(t, err)
		require.NotEmpty(t, dlFirst.NextCursor)
		since := time.Now().Add(-time.Hour)
		for _, f := range []engine.DeadLetterFilter{
			{}, {Workflow: spec.Name}, {Workflow: "rare"}, {TaskType: "noop"}, {ErrorClass: "permanent"},
			{Since: &since}, {Workflow: spec.Name, Cursor: dlFirst.NextCursor}, {Workflow: "rare", ErrorClass: "transient"},
		} {
			_, err := eng.ListDeadLetters(ctx, f)
			require.NoError(t, err)
		}
		queries := rec.take()
		require.NotEmpty(t, queries)
		conn, err := pool.Acquire(ctx)
		require.NoError(t, err)
		defer conn.Release()
		// The check itself: a filter no index serves is a sequential scan.
		require.Equal(t, []string{"runs"}, seqScans(explainPrepared(t, conn.Conn(), "unindexed", "force_generic_plan",
			recordedQuery{SQL: "SELECT * FROM baton.runs WHERE input = $1::jsonb", Args: []any{`{"x":1}`}})))
		for i, q := range queries {
			for _, mode := range planModes {
				plan := explainPrepared(t, conn.Conn(), fmt.Sprintf("q%d", i), mode, q)
				if scans := seqScans(plan); len(scans) > 0 {
					t.Errorf("%s: sequential scan of %v in\n%s\nplan: %s", mode, scans, q.SQL, plan)
				}
			}
		}
	})

	t.Run("outcome path", func(t *testing.T) {
		conn, err := pool.Acquire(ctx)
		require.NoError(t, err)
		defer conn.Release()
		// auto_explain sends each statement's plan (nested ones too: the
		// functions') to this session as a notice, so that a failure names
		// the statement. Loading it needs a superuser; without it the
		// check still runs, only less telling.
		if _, err := conn.Exec(ctx, "LOAD 'auto_explain'"); err == nil {
			_, err = conn.Exec(ctx, `SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on;
			                         SET auto_explain.log_level = notice; SET auto_explain.log_analyze = on;
			                         SET auto_explain.log_timing = off`)
			require.NoError(t, err)
		} else {
			t.Logf("auto_explain not loaded (%v): a failure will not show the plan", err)
		}
		for batch := 0; ; batch++ {
			var ids []int64
			require.NoError(t, conn.QueryRow(ctx,
				`SELECT coalesce(array_agg(t.id ORDER BY t.id), '{}') FROM unnest($1::bigint[]) r(id)
				 JOIN baton.run_tasks t ON t.run_id = r.id WHERE t.status = 'queued'`, inFlight).Scan(&ids))
			if len(ids) == 0 {
				break
			}
			require.Less(t, batch, 100, "runs do not finish")
			mode := planModes[batch%len(planModes)]
			// River fetches every queued task's job (running); the outcomes
			// arrive in two halves, so that jobs not in a batch are running
			// too, as on a busy worker, while the statistics (analyzed above)
			// know of no running job.
			_, err := conn.Exec(ctx, `UPDATE public.river_job SET state = 'running', attempt = 1, attempted_at = now()
			                          WHERE id IN (SELECT river_job_id FROM baton.run_tasks WHERE id = ANY ($1))`, ids)
			require.NoError(t, err)
			for _, half := range [][]int64{ids[:len(ids)/2], ids[len(ids)/2:]} {
				if len(half) > 0 {
					succeedBatch(t, conn, notices, mode, batch, half)
				}
			}
		}
		var done, jobsLeft int
		require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM baton.runs WHERE id = ANY ($1) AND status = 'succeeded'", inFlight).Scan(&done))
		require.Equal(t, len(inFlight), done)
		require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM public.river_job j JOIN baton.run_tasks t ON j.id = t.river_job_id
		                                      WHERE t.run_id = ANY ($1)`, inFlight).Scan(&jobsLeft))
		require.Zero(t, jobsLeft, "succeeded tasks' River jobs deleted")
	})
}

// succeedBatch records the start and the success of the tasks ids in one
// transaction under plan_cache_mode mode, as the workers' batches do, and
// fails the test on a sequential scan of runs or run_tasks, or on a join
// whose filter discarded more rows than the batch has tasks (a nested loop
// comparing every row of a table's range with every task of the batch).
func succeedBatch(t *testing.T, conn *pgxpool.Conn, notices *planNotices, mode string, batch int, ids []int64) {
	t.Helper()
	ctx := context.Background()
	attempts := make([]int32, len(ids))
	outputs := make([]string, len(ids))
	started := make([]time.Time, len(ids))
	durations := make([]int64, len(ids))
	for i := range ids {
		attempts[i], outputs[i], started[i] = 1, `{"ok":true}`, time.Now()
	}
	require.NoError(t, pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = "+mode); err != nil {
			return err
		}
		// pg_stat_xact_user_tables also counts the session's earlier
		// transactions whose statistics are not flushed yet (PostgreSQL
		// 15 flushes them at most once a second), such as the query
		// before that lists the queued tasks: count from here.
		before, err := seqScanCounts(ctx, tx)
		if err != nil {
			return err
		}
		notices.take()
		if _, err := tx.Exec(ctx, "SELECT baton.tasks_started($1, $2, $3)", ids, attempts, started); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "SELECT count(*) FROM baton.tasks_succeed($1, $2, $3::jsonb[], NULL, $4, $5, 'explain', true)",
			ids, attempts, outputs, started, durations); err != nil {
			return err
		}
		after, err := seqScanCounts(ctx, tx)
		if err != nil {
			return err
		}
		for _, plan := range notices.wasteful(len(ids)) {
			t.Errorf("%s, batch %d (%d tasks): a join filter discarded more rows than the batch has tasks in:\n%s",
				mode, batch, len(ids), plan)
		}
		plans := notices.take("runs", "run_tasks")
		for rel, n := range after {
			if scans := n - before[rel]; scans > 0 {
				t.Errorf("%s, batch %d (%d tasks): %d sequential scans of %s in:\n%s", mode, batch, len(ids), scans, rel,
					strings.Join(plans, "\n---\n"))
			}
		}
		return nil
	}))
}

// seqScanCounts returns the sequential scans of runs and run_tasks the
// session has counted and not yet flushed to the shared statistics.
func seqScanCounts(ctx context.Context, tx pgx.Tx) (map[string]int64, error) {
	rows, err := tx.Query(ctx, `SELECT relname::text, seq_scan FROM pg_stat_xact_user_tables
	                            WHERE schemaname = 'baton' AND relname IN ('runs', 'run_tasks')`)
	if err != nil {
		return nil, err
	}
	counts := map[string]int64{}
	for rows.Next() {
		var rel string
		var n int64
		if err := rows.Scan(&rel, &n); err != nil {
			return nil, err
		}
		counts[rel] = n
	}
	return counts, rows.Err()
}

// explainPrepared prepares q as name and returns the JSON plan of executing
// it with its recorded arguments under plan_cache_mode mode.
func explainPrepared(t *testing.T, conn *pgx.Conn, name, mode string, q recordedQuery) string {
	t.Helper()
	ctx := context.Background()
	_, err := conn.Exec(ctx, "SET plan_cache_mode = "+mode)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "DEALLOCATE ALL")
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "PREPARE "+name+" AS "+q.SQL)
	require.NoError(t, err)
	args := make([]string, len(q.Args))
	for i, a := range q.Args {
		args[i] = sqlLiteral(t, a)
	}
	explain := "EXPLAIN (FORMAT JSON) EXECUTE " + name
	if len(args) > 0 {
		explain += "(" + strings.Join(args, ", ") + ")"
	}
	var plan string
	require.NoError(t, conn.QueryRow(ctx, explain, pgx.QueryExecModeSimpleProtocol).Scan(&plan))
	_, err = conn.Exec(ctx, "RESET plan_cache_mode")
	require.NoError(t, err)
	return plan
}

// sqlLiteral renders one argument the engine passes as a SQL literal.
func sqlLiteral(t *testing.T, a any) string {
	t.Helper()
	switch v := a.(type) {
	case nil:
		return "NULL"
	case *string:
		if v == nil {
			return "NULL"
		}
		return sqlLiteral(t, *v)
	case string:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	case *int64:
		if v == nil {
			return "NULL"
		}
		return strconv.FormatInt(*v, 10)
	case int64:
		return strconv.FormatInt(v, 10)
	case int32:
		return strconv.FormatInt(int64(v), 10)
	case int:
		return strconv.Itoa(v)
	case *time.Time:
		if v == nil {
			return "NULL"
		}
		return sqlLiteral(t, *v)
	case time.Time:
		return "'" + v.UTC().Format(time.RFC3339Nano) + "'::timestamptz"
	case []int64:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = strconv.FormatInt(x, 10)
		}
		return "ARRAY[" + strings.Join(parts, ",") + "]::bigint[]"
	}
	t.Fatalf("no literal for argument %#v (%T)", a, a)
	return ""
}

// seqScans returns the tables of scannedTables that plan reads with a
// sequential scan.
func seqScans(plan string) []string {
	var doc []map[string]any
	if err := json.Unmarshal([]byte(plan), &doc); err != nil || len(doc) == 0 {
		return []string{"(unreadable plan)"}
	}
	var found []string
	var walk func(node map[string]any)
	walk = func(node map[string]any) {
		if node["Node Type"] == "Seq Scan" {
			if rel, _ := node["Relation Name"].(string); scannedTables[rel] {
				found = append(found, rel)
			}
		}
		children, _ := node["Plans"].([]any)
		for _, c := range children {
			if m, ok := c.(map[string]any); ok {
				walk(m)
			}
		}
	}
	if root, ok := doc[0]["Plan"].(map[string]any); ok {
		walk(root)
	}
	return found
}
