package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/api"
	"github.com/baton-run/baton/db"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/executor"
	"github.com/baton-run/baton/internal/testdb"
	"github.com/baton-run/baton/internal/trigger"
	"github.com/baton-run/baton/jobs"
)

// BenchmarkEventToFirstTask measures, one event at a time, the time from
// emitting an event that a trigger matches to its workflow's first task
// running (the Go task function being called), by two doors:
//
//   - POST /v1/events over HTTP (an httptest server over the real API): the
//     event, the trigger match and the run start are one transaction;
//   - SELECT baton.emit_event(...) in a transaction, then COMMIT: the event
//     and a baton_trigger_event job commit together, the job starts the
//     run.
//
// The worker runs River at FetchCooldown 2 ms and FetchPollInterval 50 ms
// (the defaults of jobs.NewClient). BATON_BENCH_EVENTS sets the number of
// events per door (default 300).
func BenchmarkEventToFirstTask(b *testing.B) {
	n := envInt("BATON_BENCH_EVENTS", 300)
	ctx := context.Background()
	pool, err := db.Open(ctx, testdb.New(b), db.PoolOptions{MaxConns: 20, ApplicationName: "baton-bench-events"})
	require.NoError(b, err)
	b.Cleanup(pool.Close)
	printSettings(b, pool)

	// started receives the sequence number of each task that starts.
	var mu sync.Mutex
	waiting := map[int]chan time.Time{}
	executors := executor.NewRegistry(executor.Options{})
	b.Cleanup(executors.Close)
	require.NoError(b, executors.RegisterFunc("mark", func(_ context.Context, args json.RawMessage) (any, error) {
		at := time.Now()
		var a struct {
			Seq int `json:"seq"`
		}
		if err := json.Unmarshal(args, &a); err != nil {
			return nil, err
		}
		mu.Lock()
		ch := waiting[a.Seq]
		mu.Unlock()
		if ch != nil {
			ch <- at
		}
		return nil, nil
	}))
	eng := engine.New(pool, engine.Options{})
	_, err = eng.ApplyTaskType(ctx, &engine.TaskTypeSpec{Name: "mark", Executor: "go"})
	require.NoError(b, err)
	spec, err := engine.ParseSpec([]byte("name: bench-event\nsteps: [{name: first, type: mark, params: {function: mark, args: {seq: '{{ .input.seq }}'}}}]\n"))
	require.NoError(b, err)
	_, _, err = eng.ApplyWorkflow(ctx, spec.(*engine.WorkflowSpec))
	require.NoError(b, err)
	svc, err := trigger.New(pool, eng, trigger.Options{})
	require.NoError(b, err)
	_, _, err = svc.Put(ctx, trigger.Params{Name: "bench", EventType: "bench.event", Workflow: "bench-event",
		Condition: `$.seq >= 0`, InputTemplate: json.RawMessage(`{"seq": "{{ .payload.seq }}"}`)}, false)
	require.NoError(b, err)

	client, err := jobs.NewClient(pool, jobs.ClientOptions{Engine: eng, Executors: executors, Workers: 50, Triggers: svc,
		FetchCooldown: 2 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond})
	require.NoError(b, err)
	require.NoError(b, client.Start(ctx))
	b.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Stop(stopCtx)
	})
	handler, _ := api.New(api.Options{Engine: eng, Triggers: svc})
	srv := httptest.NewServer(handler)
	b.Cleanup(srv.Close)
	httpClient := srv.Client()

	seq := 0
	measure := func(emit func(seq int)) []time.Duration {
		out := make([]time.Duration, 0, n)
		for range n {
			seq++
			ch := make(chan time.Time, 1)
			mu.Lock()
			waiting[seq] = ch
			mu.Unlock()
			begin := time.Now()
			emit(seq)
			select {
			case at := <-ch:
				out = append(out, at.Sub(begin))
			case <-time.After(10 * time.Second):
				b.Fatalf("event %d: first task not running within 10 s", seq)
			}
		}
		slices.Sort(out)
		return out
	}
	viaAPI := func(seq int) {
		body, _ := json.Marshal(map[string]any{"type": "bench.event", "payload": map[string]int{"seq": seq}})
		resp, err := httpClient.Post(srv.URL+"/v1/events", "application/json", bytes.NewReader(body))
		require.NoError(b, err)
		_ = resp.Body.Close()
		require.Equal(b, http.StatusCreated, resp.StatusCode)
	}
	viaSQL := func(seq int) {
		tx, err := pool.Begin(ctx)
		require.NoError(b, err)
		_, err = tx.Exec(ctx, `SELECT baton.emit_event('bench.event', jsonb_build_object('seq', $1::int))`, seq)
		require.NoError(b, err)
		require.NoError(b, tx.Commit(ctx))
	}
	for i := 0; i < b.N; i++ {
		apiLat := measure(viaAPI)
		sqlLat := measure(viaSQL)
		p := func(d []time.Duration, q float64) time.Duration { return d[int(q*float64(len(d)-1))] }
		fmt.Printf("\nevent -> first task running: %d events per door, one at a time\n", n)
		fmt.Printf("%-44s %10s %10s %10s\n", "door", "p50", "p99", "max")
		for _, row := range []struct {
			name string
			d    []time.Duration
		}{{"POST /v1/events (one transaction)", apiLat}, {"baton.emit_event + COMMIT (job hop)", sqlLat}} {
			fmt.Printf("%-44s %10s %10s %10s\n", row.name, p(row.d, .5).Round(10*time.Microsecond),
				p(row.d, .99).Round(10*time.Microsecond), row.d[len(row.d)-1].Round(10*time.Microsecond))
		}
		fmt.Println()
		b.ReportMetric(ms(p(apiLat, .5)), "p50_api_event_ms")
		b.ReportMetric(ms(p(apiLat, .99)), "p99_api_event_ms")
		b.ReportMetric(ms(p(sqlLat, .5)), "p50_sql_event_ms")
		b.ReportMetric(ms(p(sqlLat, .99)), "p99_sql_event_ms")
	}
}
