package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/api"
	"github.com/baton-run/baton/db"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/rollup"
	"github.com/baton-run/baton/internal/testdb"
)

// analyticsSeed writes, with a few set-based INSERTs, runs spread over the
// last 30 days with 5 tasks each (and one 22-task run for the Gantt
// endpoint) and their events: per run run_started and its final event, per
// task its final attempt event, and a failed first attempt for every fifth
// task. 125,000 runs give 1,000,000 events (plus the 22-task run's). The
// daily partitions of the last 32 days are created first, as the
// partition-maintenance job would have over a month.
func analyticsSeed(b *testing.B, pool *pgxpool.Pool, runs int) (ganttRun int64, events int64) {
	ctx := context.Background()
	steps := []string{
		`DO $$ DECLARE d date; BEGIN
		   FOR d IN SELECT generate_series(current_date - 32, current_date - 2, interval '1 day')::date LOOP
		     EXECUTE format('CREATE TABLE IF NOT EXISTS baton.%I PARTITION OF baton.task_events FOR VALUES FROM (%L) TO (%L)',
		                    'task_events_p' || to_char(d, 'YYYYMMDD'), d::timestamptz, (d + 1)::timestamptz);
		   END LOOP; END $$`,
		`INSERT INTO baton.task_types (name, executor, cost_per_second, cost_per_run)
		 VALUES ('compute', 'sim', 0.001, 0.0001), ('http', 'http', 0.0005, NULL), ('query', 'sim', 0.002, NULL)`,
		`INSERT INTO baton.workflows (name, version, definition, checksum)
		 SELECT 'wf-' || g, 1, '{}', 'x' FROM generate_series(0, 9) g`,
		`INSERT INTO baton.runs (workflow_id, workflow_name, workflow_version, status, priority, owner, tags, tasks_total,
		                         created_at, started_at, finished_at)
		 SELECT w.id, w.name, 1, CASE WHEN g % 20 = 0 THEN 'failed' ELSE 'succeeded' END, 2, 'owner-' || (g % 7),
		        CASE WHEN g % 3 = 0 THEN '{nightly}' ELSE '{}' END::text[], 5,
		        x.t, x.t, x.t + make_interval(secs => 30 + g % 300)
		 FROM generate_series(1, $1::integer) g
		 CROSS JOIN LATERAL (SELECT now() - interval '30 days' + (g::float8 / $1::integer) * interval '30 days' - interval '10 minutes' AS t) x
		 JOIN baton.workflows w ON w.name = 'wf-' || (g % 10)`,
		`INSERT INTO baton.run_tasks (run_id, step_name, step_index, task_type, executor, status, when_cond, depends_on,
		                              deps_pending, priority, queue, max_attempts, timeout_ms, attempts, queued_at, started_at, finished_at)
		 SELECT r.id, 's' || k, k, (ARRAY['compute', 'http', 'query'])[1 + (r.id + k) % 3], 'sim',
		        CASE WHEN r.status = 'failed' AND k = 4 THEN 'dead' ELSE 'succeeded' END, 'on_success',
		        CASE WHEN k = 0 THEN '{}' ELSE ARRAY['s' || (k - 1)] END, 0, 2, 'default', 3, 60000, 1,
		        r.created_at + make_interval(secs => k * 5), r.created_at + make_interval(secs => k * 5 + 1),
		        r.created_at + make_interval(secs => k * 5 + 5)
		 FROM baton.runs r CROSS JOIN generate_series(0, 4) k`,
		// The 22-task run: two chains from s0 that join at s21.
		`WITH r AS (
		   INSERT INTO baton.runs (workflow_id, workflow_name, workflow_version, status, priority, owner, tags, tasks_total,
		                           created_at, started_at, finished_at)
		   SELECT id, name, 1, 'succeeded', 2, 'release', '{}', 22, now() - interval '1 hour', now() - interval '1 hour',
		          now() - interval '1 hour' + interval '300 seconds'
		   FROM baton.workflows WHERE name = 'wf-0' RETURNING id, created_at)
		 INSERT INTO baton.run_tasks (run_id, step_name, step_index, task_type, executor, status, when_cond, depends_on,
		                              deps_pending, priority, queue, max_attempts, timeout_ms, attempts, queued_at, started_at, finished_at)
		 SELECT r.id, 's' || k, k, 'compute', 'sim', 'succeeded', 'on_success',
		        CASE WHEN k = 0 THEN '{}' WHEN k = 21 THEN ARRAY['s19', 's20'] WHEN k <= 2 THEN ARRAY['s0'] ELSE ARRAY['s' || (k - 2)] END,
		        0, 2, 'default', 3, 60000, 1,
		        r.created_at + make_interval(secs => k * 10), r.created_at + make_interval(secs => k * 10 + 1),
		        r.created_at + make_interval(secs => k * 10 + 5 + k % 4)
		 FROM r CROSS JOIN generate_series(0, 21) k
		 RETURNING run_id`,
		`INSERT INTO baton.task_events (time, run_id, kind, priority)
		 SELECT created_at, id, 'run_started', 2 FROM baton.runs
		 UNION ALL
		 SELECT finished_at, id, 'run_' || status, 2 FROM baton.runs`,
		`INSERT INTO baton.task_events (time, run_id, task_id, step_name, kind, attempt, duration_ms, error, error_class, node, queue, priority)
		 SELECT t.finished_at, t.run_id, t.id, t.step_name,
		        CASE WHEN t.status = 'dead' THEN 'task_dead' ELSE 'task_succeeded' END,
		        CASE WHEN t.id % 5 = 0 THEN 2 ELSE 1 END, 500 + t.id % 4000,
		        CASE WHEN t.status = 'dead' THEN 'permission denied for ' || md5(t.id::text)::uuid END,
		        CASE WHEN t.status = 'dead' THEN 'permanent' END,
		        'node-' || (t.id % 8), 'default', 2
		 FROM baton.run_tasks t`,
		`INSERT INTO baton.task_events (time, run_id, task_id, step_name, kind, attempt, duration_ms, error, error_class, node, queue, priority)
		 SELECT t.finished_at - interval '2 seconds', t.run_id, t.id, t.step_name, 'task_attempt_failed', 1, 300 + t.id % 1000,
		        'timeout after ' || (t.id % 60) || 's on job ' || t.id, 'transient', 'node-' || (t.id % 8), 'default', 2
		 FROM baton.run_tasks t WHERE t.id % 5 = 0`,
	}
	start := time.Now()
	for i, sql := range steps {
		var err error
		switch {
		case strings.Contains(sql, "$1"):
			_, err = pool.Exec(ctx, sql, runs)
		case strings.Contains(sql, "RETURNING run_id"):
			err = pool.QueryRow(ctx, sql).Scan(&ganttRun) // the first of 22 identical ids
		default:
			_, err = pool.Exec(ctx, sql)
		}
		require.NoError(b, err, "seed step %d", i)
	}
	require.NoError(b, pool.QueryRow(ctx, `SELECT count(*) FROM baton.task_events`).Scan(&events))
	fmt.Printf("seeded %d runs, %d task events in %s\n", runs+1, events, time.Since(start).Round(time.Millisecond))

	// The rollups, as the baton_rollup job keeps them: Roll adds the events
	// past the high-water mark in batches of rollup.DefaultBatch, one
	// transaction each, until it has caught up (the job does the same every
	// minute). Here it catches up on the whole month at once.
	start = time.Now()
	roll := rollup.New(pool)
	var rolled int64
	for rolled < events {
		n, err := roll.Roll(ctx, 0)
		require.NoError(b, err)
		if n == 0 { // the mark waits for transactions of other sessions
			time.Sleep(10 * time.Millisecond)
		}
		rolled += n
	}
	took := time.Since(start)
	var rows1m, rows1h int64
	require.NoError(b, pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM baton.task_rollup_1m), (SELECT count(*) FROM baton.task_rollup_1h)`).Scan(&rows1m, &rows1h))
	fmt.Printf("rolled up %d events in %s (%.0f events/s, batches of %d): %d minute rows, %d hour rows\n",
		rolled, took.Round(time.Millisecond), float64(rolled)/took.Seconds(), rollup.DefaultBatch, rows1m, rows1h)
	b.ReportMetric(float64(rolled)/took.Seconds(), "rollup_events/s")
	require.NoError(b, engine.New(pool, engine.Options{}).Analyze(ctx))
	// What autovacuum (off in CI) does to tables after many inserts and
	// updates: the visibility map lets the rollup reads scan their covering
	// indexes only (migration 00009).
	_, err := pool.Exec(ctx, `VACUUM baton.task_rollup_1m, baton.task_rollup_1h`)
	require.NoError(b, err)
	return ganttRun, events
}

// BenchmarkAnalytics seeds 1,000,000 task events once, then reports the
// p50/p95 latency of every analytics endpoint (default window: the last 7
// days, about 233,000 events; durations: 30 days) and of the Gantt endpoint
// for a 22-task run, through the HTTP handler; then it streams the CSV
// export of every event while sampling the process's memory.
func BenchmarkAnalytics(b *testing.B) {
	runs := envInt("BATON_BENCH_ANALYTICS_RUNS", 125000)
	reps := envInt("BATON_BENCH_ANALYTICS_REPS", 20)
	ctx := context.Background()
	pool, err := db.Open(ctx, testdb.New(b), db.PoolOptions{MaxConns: 8, ApplicationName: "baton-bench"})
	require.NoError(b, err)
	b.Cleanup(pool.Close)
	ganttRun, events := analyticsSeed(b, pool, runs)
	printSettings(b, pool)

	handler, _ := api.New(api.Options{Engine: engine.New(pool, engine.Options{})})
	paths := []string{
		"/v1/analytics/completion",
		"/v1/analytics/durations",
		"/v1/analytics/task-types",
		"/v1/analytics/errors",
		"/v1/analytics/cost",
		"/v1/analytics/heatmap",
		"/v1/analytics/queues",
		"/v1/analytics/task-types?workflow=wf-3&tags=nightly",
		"/v1/analytics/heatmap?owner=owner-3&task_type=http",
		"/v1/runs/" + strconv.FormatInt(ganttRun, 10) + "/gantt",
	}
	for i := 0; i < b.N; i++ {
		fmt.Printf("\n%-55s %9s %9s  (%d requests each)\n", "endpoint", "p50 ms", "p95 ms", reps)
		for _, path := range paths {
			lat := make([]time.Duration, 0, reps)
			for r := -1; r < reps; r++ { // one warm-up
				req := httptest.NewRequest(http.MethodGet, path, nil)
				rec := httptest.NewRecorder()
				start := time.Now()
				handler.ServeHTTP(rec, req)
				took := time.Since(start)
				require.Equal(b, http.StatusOK, rec.Code, "%s: %s", path, rec.Body.String())
				if r >= 0 {
					lat = append(lat, took)
				}
			}
			slices.Sort(lat)
			p50, p95 := lat[len(lat)/2], lat[(len(lat)*95+99)/100-1]
			fmt.Printf("%-55s %9.1f %9.1f\n", path, ms(p50), ms(p95))
			name := strings.TrimPrefix(strings.SplitN(path, "?", 2)[0], "/v1/")
			if strings.Contains(path, "?") {
				name += "_filtered"
			}
			if strings.HasSuffix(name, "/gantt") {
				name = "gantt_22"
			}
			b.ReportMetric(ms(p95), "p95_ms_"+strings.ReplaceAll(name, "/", "_"))
		}
		streamExport(b, handler, events)
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// streamExport reads the CSV export of every event over a real HTTP
// connection while sampling the Go heap every 10 ms, and prints the row
// count, the throughput, the peak heap in use and the process's RSS.
func streamExport(b *testing.B, handler http.Handler, events int64) {
	srv := httptest.NewServer(handler)
	defer srv.Close()
	runtime.GC()
	rssBefore := procStatus("VmRSS")
	var base runtime.MemStats
	runtime.ReadMemStats(&base)

	done := make(chan struct{})
	var peakHeap, peakRSS uint64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peakHeap = max(peakHeap, m.HeapInuse)
			peakRSS = max(peakRSS, procStatus("VmRSS"))
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	q := url.Values{"format": {"csv"}, "from": {time.Now().Add(-32 * 24 * time.Hour).UTC().Format(time.RFC3339)},
		"to": {time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}}
	start := time.Now()
	resp, err := http.Get(srv.URL + "/v1/exports/events?" + q.Encode())
	require.NoError(b, err)
	require.Equal(b, http.StatusOK, resp.StatusCode)
	var lines int64
	var bytes int64
	r := bufio.NewReaderSize(resp.Body, 64<<10)
	for {
		line, err := r.ReadSlice('\n')
		bytes += int64(len(line))
		if err == io.EOF {
			break
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		require.NoError(b, err)
		lines++
	}
	require.NoError(b, resp.Body.Close())
	took := time.Since(start)
	close(done)
	wg.Wait()
	rows := lines - 1 // the header
	require.Equal(b, events, rows, "every event exported")
	fmt.Printf("\nCSV export of %d events: %.1f MB in %s (%.0f rows/s)\n", rows, float64(bytes)/1e6,
		took.Round(time.Millisecond), float64(rows)/took.Seconds())
	fmt.Printf("Go heap in use: %.1f MB before, peak %.1f MB during; RSS %.1f MB before, peak %.1f MB during (VmHWM %.1f MB)\n\n",
		float64(base.HeapInuse)/1e6, float64(peakHeap)/1e6, float64(rssBefore)/1e6, float64(peakRSS)/1e6,
		float64(procStatus("VmHWM"))/1e6)
	b.ReportMetric(float64(peakHeap)/1e6, "export_peak_heap_MB")
	b.ReportMetric(float64(rows)/took.Seconds(), "export_rows/s")
}

// procStatus returns a /proc/self/status field in bytes (0 if unknown).
func procStatus(field string) uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// printSettings prints the server settings the figures depend on.
func printSettings(b *testing.B, pool *pgxpool.Pool) {
	rows, err := pool.Query(context.Background(), `SELECT name, setting FROM pg_settings
		WHERE name IN ('server_version', 'shared_buffers', 'work_mem', 'autovacuum', 'max_parallel_workers_per_gather', 'jit',
		               'fsync', 'synchronous_commit', 'max_connections', 'max_wal_size')
		ORDER BY name`)
	require.NoError(b, err)
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var name, setting string
		require.NoError(b, rows.Scan(&name, &setting))
		parts = append(parts, name+"="+setting)
	}
	fmt.Printf("server: %s\n", strings.Join(parts, " "))
}
