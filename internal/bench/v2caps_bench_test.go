package bench

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/db"
	"github.com/baton-run/baton/internal/batch"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/executor"
	"github.com/baton-run/baton/internal/search"
	"github.com/baton-run/baton/internal/testdb"
	"github.com/baton-run/baton/internal/webhook"
	"github.com/baton-run/baton/jobs"
)

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

// applyOneStep applies a task type "noop" (sim, no sleep) and a one-step
// workflow "one".
func applyOneStep(b *testing.B, eng *engine.Engine) {
	ctx := context.Background()
	_, err := eng.ApplyTaskType(ctx, &engine.TaskTypeSpec{Name: "noop", Executor: "sim"})
	require.NoError(b, err)
	spec, err := engine.ParseSpec([]byte("name: one\nsteps: [{name: a, type: noop}]\n"))
	require.NoError(b, err)
	_, _, err = eng.ApplyWorkflow(ctx, spec.(*engine.WorkflowSpec))
	require.NoError(b, err)
}

// BenchmarkWebhookLatency starts BATON_BENCH_WEBHOOK_RUNS one-step runs (a
// few at a time) with a subscription to run.succeeded, and reports p50/p99
// from each run's final commit (its finished_at) to the receiver holding
// the signed event.
func BenchmarkWebhookLatency(b *testing.B) {
	runs := envInt("BATON_BENCH_WEBHOOK_RUNS", 300)
	ctx := context.Background()
	pool, err := db.Open(ctx, testdb.New(b), db.PoolOptions{MaxConns: 10, ApplicationName: "baton-bench"})
	require.NoError(b, err)
	b.Cleanup(pool.Close)
	eng := engine.New(pool, engine.Options{})
	applyOneStep(b, eng)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	svc, err := webhook.New(pool, webhook.Options{SecretKey: key, AllowPrivate: true})
	require.NoError(b, err)

	var mu sync.Mutex
	got := map[int64]time.Time{}
	var secret string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		at := time.Now()
		var ev webhook.Event
		if json.Unmarshal(body, &ev) == nil && ev.Data.Run != nil {
			mu.Lock()
			got[ev.Data.Run.ID] = at
			mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(receiver.Close)
	u := receiver.URL
	_, secret, err = svc.Create(ctx, webhook.Spec{URL: &u, EventTypes: []string{"run.succeeded"}})
	require.NoError(b, err)
	_ = secret

	executors := executor.NewRegistry(executor.Options{AllowPrivateHTTP: true})
	b.Cleanup(executors.Close)
	client, err := jobs.NewClient(pool, jobs.ClientOptions{Engine: eng, Executors: executors, Workers: 20, Webhooks: svc})
	require.NoError(b, err)
	runCtx, cancel := context.WithCancel(ctx)
	require.NoError(b, client.Start(runCtx))
	done := make(chan struct{})
	go func() { defer close(done); _ = svc.Run(runCtx, client) }()
	b.Cleanup(func() {
		cancel()
		<-done
		stop, cancelStop := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancelStop()
		_ = client.Stop(stop)
	})

	for i := 0; i < b.N; i++ {
		ids := make([]int64, 0, runs)
		for j := range runs {
			run, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "one", Input: json.RawMessage(fmt.Sprintf(`{"j": %d}`, j))})
			require.NoError(b, err)
			ids = append(ids, run.ID)
			time.Sleep(5 * time.Millisecond) // a steady trickle, not a burst: latency, not throughput
		}
		deadline := time.Now().Add(2 * time.Minute)
		for {
			mu.Lock()
			n := len(got)
			mu.Unlock()
			if n >= len(ids) || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		// The dispatch's transaction start (created_at of the delivery)
		// splits the path: commit -> dispatched, dispatched -> received.
		rows, err := pool.Query(ctx, `SELECT r.id, r.finished_at, d.created_at FROM baton.runs r
			JOIN baton.webhook_deliveries d ON (d.payload->'data'->'run'->>'id')::bigint = r.id WHERE r.id = ANY($1)`, ids)
		require.NoError(b, err)
		var lat, dispatched, sent []time.Duration
		for rows.Next() {
			var id int64
			var fin, disp time.Time
			require.NoError(b, rows.Scan(&id, &fin, &disp))
			mu.Lock()
			at, ok := got[id]
			mu.Unlock()
			require.True(b, ok, "run %d was not delivered", id)
			lat = append(lat, at.Sub(fin))
			dispatched = append(dispatched, disp.Sub(fin))
			sent = append(sent, at.Sub(disp))
		}
		require.NoError(b, rows.Err())
		require.Len(b, lat, len(ids))
		slices.Sort(lat)
		slices.Sort(dispatched)
		slices.Sort(sent)
		fmt.Printf("webhook: commit -> dispatched p50 %.1f ms, p99 %.1f ms; dispatched -> received p50 %.1f ms, p99 %.1f ms\n",
			ms(quantile(dispatched, 0.5)), ms(quantile(dispatched, 0.99)), ms(quantile(sent, 0.5)), ms(quantile(sent, 0.99)))
		fmt.Printf("\nwebhook: final commit -> receiver has the signed run.succeeded (%d runs): p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
			len(lat), ms(quantile(lat, 0.5)), ms(quantile(lat, 0.99)), ms(lat[len(lat)-1]))
		b.ReportMetric(ms(quantile(lat, 0.5)), "webhook_p50_ms")
		b.ReportMetric(ms(quantile(lat, 0.99)), "webhook_p99_ms")
	}
}

// BenchmarkBatchStart times POST /v2/batches's work (batch.Service.Start:
// one transaction) for batches of 10 and 1,000 one-step runs, five of each.
func BenchmarkBatchStart(b *testing.B) {
	ctx := context.Background()
	pool, err := db.Open(ctx, testdb.New(b), db.PoolOptions{MaxConns: 4, ApplicationName: "baton-bench"})
	require.NoError(b, err)
	b.Cleanup(pool.Close)
	eng := engine.New(pool, engine.Options{})
	applyOneStep(b, eng)
	svc := batch.New(pool)
	for i := 0; i < b.N; i++ {
		for _, size := range []int{10, 1000} {
			var took []time.Duration
			for rep := range 5 {
				members := make([]batch.Member, size)
				for k := range members {
					members[k] = batch.Member{Workflow: "one", Input: json.RawMessage(fmt.Sprintf(`{"rep": %d, "k": %d}`, rep, k))}
				}
				start := time.Now()
				_, err := svc.Start(ctx, batch.Spec{Members: members}, "bench")
				took = append(took, time.Since(start))
				require.NoError(b, err)
			}
			slices.Sort(took)
			fmt.Printf("batch start, %5d runs: median %.1f ms, max %.1f ms (5 batches; no workers running)\n",
				size, ms(took[2]), ms(took[4]))
			b.ReportMetric(ms(took[2]), fmt.Sprintf("batch_%d_start_ms", size))
		}
	}
}

// BenchmarkSearch seeds BATON_BENCH_SEARCH_RUNS runs (default 200,000; the
// issue's 1,000,000 takes long on a small machine) with tasks, tags, owners
// and inputs, indexes them for full text, and reports p50/p95 of ten
// representative searches.
func BenchmarkSearch(b *testing.B) {
	runs := envInt("BATON_BENCH_SEARCH_RUNS", 200000)
	reps := envInt("BATON_BENCH_SEARCH_REPS", 30)
	ctx := context.Background()
	pool, err := db.Open(ctx, testdb.New(b), db.PoolOptions{MaxConns: 4, ApplicationName: "baton-bench"})
	require.NoError(b, err)
	b.Cleanup(pool.Close)
	eng := engine.New(pool, engine.Options{})
	applyOneStep(b, eng)
	start := time.Now()
	_, err = pool.Exec(ctx, `
WITH w AS (SELECT id, name, version FROM baton.workflows WHERE name = 'one'),
r AS (
  INSERT INTO baton.runs (workflow_id, workflow_name, workflow_version, status, priority, input, trigger, owner, tags,
                          error, tasks_total, created_at, started_at, finished_at)
  SELECT w.id, w.name, w.version,
         (ARRAY['succeeded','succeeded','succeeded','failed','running','cancelled'])[1 + i % 6],
         1 + i % 4, jsonb_build_object('customer', 'cust-' || (i % 5000), 'amount', i, 'sku', md5(i::text)),
         (ARRAY['api','schedule','sql'])[1 + i % 3], 'team-' || (i % 20),
         ARRAY['env-' || (i % 3), 'region-' || (i % 11)],
         CASE WHEN i % 6 = 3 THEN 'a: card declined for invoice ' || i END, 1,
         now() - make_interval(secs => $1 - i), now() - make_interval(secs => $1 - i),
         CASE WHEN i % 6 <> 4 THEN now() - make_interval(secs => $1 - i) + make_interval(secs => (i % 97) / 10.0) END
  FROM generate_series(1, $1) i CROSS JOIN w
  RETURNING id, status, error
)
INSERT INTO baton.run_tasks (run_id, step_name, step_index, task_type, executor, status, when_cond, deps_pending,
                             priority, queue, max_attempts, timeout_ms, output, error)
SELECT r.id, 'a', 0, 'noop', 'sim',
       CASE r.status WHEN 'failed' THEN 'dead' WHEN 'running' THEN 'running' WHEN 'cancelled' THEN 'cancelled' ELSE 'succeeded' END,
       'on_success', 0, 2, 'default', 1, 1000,
       CASE WHEN r.status = 'succeeded' THEN jsonb_build_object('receipt', 'rcpt-' || r.id) END, r.error
FROM r`, runs)
	require.NoError(b, err)
	_, err = pool.Exec(ctx, `INSERT INTO baton.task_events (run_id, kind) SELECT id, 'run_started' FROM baton.runs`)
	require.NoError(b, err)
	svc := search.New(pool)
	indexed := 0
	for indexed < runs {
		n, err := svc.Index(ctx)
		require.NoError(b, err)
		require.Positive(b, n)
		indexed += n
	}
	_, err = pool.Exec(ctx, `VACUUM ANALYZE baton.runs, baton.run_tasks, baton.run_search`)
	require.NoError(b, err)
	fmt.Printf("\nsearch: seeded and indexed %d runs in %s\n", runs, time.Since(start).Round(time.Millisecond))
	printSettings(b, pool)
	queries := []string{
		"",
		"q=declined",
		"q=cust-4242",
		`q="card declined" -invoice&workflow=one`,
		"status=failed&owner=team-3",
		"tags_all=env-1,region-3&priority=2",
		"sort=finished&tags_any=region-7",
		"sort=duration&status=succeeded",
		"step=a&step_status=dead&sort=finished",
		"created_from=2020-01-01T00:00:00Z&trigger=schedule&min_duration_ms=5000",
	}
	for i := 0; i < b.N; i++ {
		fmt.Printf("%-72s %8s %8s  (%d each, 50 per page)\n", "search", "p50 ms", "p95 ms", reps)
		for _, qs := range queries {
			v, _ := url.ParseQuery(qs)
			q, err := search.ParseQuery(v)
			require.NoError(b, err)
			lat := make([]time.Duration, 0, reps)
			for range reps {
				t0 := time.Now()
				_, err := svc.Search(ctx, q)
				lat = append(lat, time.Since(t0))
				require.NoError(b, err)
			}
			slices.Sort(lat)
			name := qs
			if name == "" {
				name = "(all, newest first)"
			}
			fmt.Printf("%-72s %8.1f %8.1f\n", name, ms(quantile(lat, 0.5)), ms(quantile(lat, 0.95)))
		}
	}
}
