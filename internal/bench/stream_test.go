package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/api"
	"github.com/baton-run/baton/db"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/stream"
	"github.com/baton-run/baton/internal/testdb"
)

// BenchmarkStreamLatency connects 100 SSE clients to GET /v1/stream over
// HTTP (an httptest server over the real API and hub) and starts runs one
// at a time: for each run it measures, for every client, the time from the
// start of the committing call (engine.StartRun: one transaction that
// writes the run, its event and the notice) to the client reading the
// run_started event off its stream, and reports p50 and p99 over all
// clients and runs. BATON_BENCH_STREAM_CLIENTS and BATON_BENCH_STREAM_RUNS
// change the counts. It measures twice: on an otherwise idle database, and
// while 4 writers commit BATON_BENCH_STREAM_LOAD other events per second
// (default 1000) in concurrent transactions, whose ids commit out of order
// and make the hub hold back behind gaps (ADR 0008).
func BenchmarkStreamLatency(b *testing.B) {
	clients := envInt("BATON_BENCH_STREAM_CLIENTS", 100)
	runs := envInt("BATON_BENCH_STREAM_RUNS", 300)
	load := envInt("BATON_BENCH_STREAM_LOAD", 1000)
	ctx := context.Background()
	pool, err := db.Open(ctx, testdb.New(b), db.PoolOptions{MaxConns: 20, ApplicationName: "baton-bench-stream"})
	require.NoError(b, err)
	b.Cleanup(pool.Close)

	eng := engine.New(pool, engine.Options{})
	_, err = eng.ApplyTaskType(ctx, &engine.TaskTypeSpec{Name: "noop", Executor: "sleep", Defaults: json.RawMessage(`{"duration":"0s"}`)})
	require.NoError(b, err)
	spec, err := engine.ParseSpec([]byte("name: bench-stream\nsteps: [{name: only, type: noop}]\n"))
	require.NoError(b, err)
	_, _, err = eng.ApplyWorkflow(ctx, spec.(*engine.WorkflowSpec))
	require.NoError(b, err)

	hub := stream.New(pool, stream.Options{})
	hubCtx, stopHub := context.WithCancel(ctx)
	hubDone := make(chan struct{})
	go func() { defer close(hubDone); _ = hub.Run(hubCtx) }()
	handler, _ := api.New(api.Options{Engine: eng, Stream: hub})
	srv := httptest.NewServer(handler)
	b.Cleanup(func() { stopHub(); <-hubDone; srv.Close() })
	require.Eventually(b, hub.Ready, 10*time.Second, 5*time.Millisecond)

	for i := 0; i < b.N; i++ {
		idle := measureStream(b, eng, pool, srv.URL, clients, runs, 0)
		loaded := measureStream(b, eng, pool, srv.URL, clients, runs, load)
		b.ReportMetric(float64(idle.p50.Microseconds())/1000, "p50_stream_ms")
		b.ReportMetric(float64(idle.p99.Microseconds())/1000, "p99_stream_ms")
		b.ReportMetric(float64(loaded.p50.Microseconds())/1000, "p50_stream_loaded_ms")
		b.ReportMetric(float64(loaded.p99.Microseconds())/1000, "p99_stream_loaded_ms")
	}
}

// streamLatency is what measureStream found.
type streamLatency struct{ p50, p99 time.Duration }

// measureStream starts runs one at a time with clients connected and prints
// the latency percentiles; with load > 0, writers commit load other events
// per second meanwhile.
func measureStream(b *testing.B, eng *engine.Engine, pool *pgxpool.Pool, baseURL string, clients, runs, load int) streamLatency {
	ctx := context.Background()
	stopLoad := startLoad(b, pool, load)
	{
		received := make(chan time.Time, clients*runs)
		readers := connectClients(b, baseURL+"/v1/stream?workflow=bench-stream&kind=run_started", clients, received)
		var commit, total []time.Duration
		for range runs {
			start := time.Now()
			_, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "bench-stream"})
			require.NoError(b, err)
			committed := time.Now()
			deadline := time.After(10 * time.Second)
			for range clients {
				select {
				case at := <-received:
					total = append(total, at.Sub(start))
					commit = append(commit, at.Sub(committed))
				case <-deadline:
					b.Fatal("a client did not receive the event within 10 s")
				}
			}
		}
		readers()
		written := stopLoad()
		slices.Sort(total)
		slices.Sort(commit)
		p := func(d []time.Duration, q float64) time.Duration { return d[int(q*float64(len(d)-1))] }
		fmt.Printf("\nlive stream: %d clients, %d runs started one at a time (%d deliveries); background: %d other events committed by 4 writers (target %d/s)\n",
			clients, runs, len(total), written, load)
		fmt.Printf("%-44s %10s %10s %10s\n", "latency", "p50", "p99", "max")
		fmt.Printf("%-44s %10s %10s %10s\n", "start of committing call -> client has it", p(total, .5).Round(10*time.Microsecond), p(total, .99).Round(10*time.Microsecond), total[len(total)-1].Round(10*time.Microsecond))
		fmt.Printf("%-44s %10s %10s %10s\n\n", "commit returned -> client has it", p(commit, .5).Round(10*time.Microsecond), p(commit, .99).Round(10*time.Microsecond), commit[len(commit)-1].Round(10*time.Microsecond))
		return streamLatency{p50: p(total, .5), p99: p(total, .99)}
	}
}

// startLoad starts 4 writers committing rate events per second in all
// (queue_paused events of no run, which the measured clients filter out)
// and returns a function that stops them and tells how many they wrote.
func startLoad(b *testing.B, pool *pgxpool.Pool, rate int) func() int64 {
	if rate <= 0 {
		return func() int64 { return 0 }
	}
	const writers = 4
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var written atomic.Int64
	for range writers {
		wg.Go(func() {
			tick := time.NewTicker(time.Second * writers / time.Duration(rate))
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				_, err := pool.Exec(ctx, `WITH e AS (INSERT INTO baton.task_events (kind, queue) VALUES ('queue_paused', 'bench-load') RETURNING id)
					SELECT pg_notify('baton_events', '{"kind":"queue_paused"}') FROM e`)
				if err != nil {
					if ctx.Err() == nil {
						b.Error(err)
					}
					return
				}
				written.Add(1)
			}
		})
	}
	return func() int64 { cancel(); wg.Wait(); return written.Load() }
}

// connectClients opens n streams at url; each reader sends the time it
// read an event's id line to received. It returns once every stream is
// open, with a function that closes them.
func connectClients(b *testing.B, url string, n int, received chan<- time.Time) func() {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	transport := &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: n}
	client := &http.Client{Transport: transport}
	for range n {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		require.NoError(b, err)
		resp, err := client.Do(req)
		require.NoError(b, err)
		require.Equal(b, http.StatusOK, resp.StatusCode)
		opened := make(chan struct{})
		wg.Go(func() {
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				line := sc.Text()
				if strings.HasPrefix(line, "retry: ") {
					close(opened)
				}
				if id, ok := strings.CutPrefix(line, "id: "); ok {
					if _, err := strconv.ParseInt(id, 10, 64); err == nil {
						received <- time.Now()
					}
				}
			}
		})
		<-opened
	}
	return func() {
		cancel()
		wg.Wait()
		transport.CloseIdleConnections()
	}
}
