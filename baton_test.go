package baton_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/baton-run/baton"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/testdb"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"))
}

// TestEmbeddedWorkerRunsGoFunctions registers Go functions in an embedded
// worker: one succeeds, one fails permanently (no retry, dead letter).
func TestEmbeddedWorkerRunsGoFunctions(t *testing.T) {
	t.Parallel()
	url := testdb.New(t)
	pool := testdb.NewPoolFor(t, url)
	eng := engine.New(pool, engine.Options{})
	ctx := context.Background()
	_, err := eng.ApplyTaskType(ctx, &engine.TaskTypeSpec{Name: "fn", Executor: "go"})
	require.NoError(t, err)
	spec, err := engine.ParseSpec([]byte(`
name: invoices
steps:
  - {name: total, type: fn, params: {function: add, args: {a: 2, b: 3}}}
  - {name: send, type: fn, depends_on: [total], params: {function: send, args: {to: "{{ .steps.total.output.sum }}"}}}
`))
	require.NoError(t, err)
	_, _, err = eng.ApplyWorkflow(ctx, spec.(*engine.WorkflowSpec))
	require.NoError(t, err)

	calls := make(chan string, 10)
	workerCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- baton.RunWorker(workerCtx, baton.WorkerOptions{
			DatabaseURL: url,
			Workers:     2,
			Funcs: map[string]baton.Func{
				"add": func(_ context.Context, args json.RawMessage) (any, error) {
					var in struct{ A, B int }
					if err := json.Unmarshal(args, &in); err != nil {
						return nil, baton.Permanent(err)
					}
					return map[string]int{"sum": in.A + in.B}, nil
				},
				"send": func(context.Context, json.RawMessage) (any, error) {
					calls <- "send"
					return nil, baton.Permanent(errors.New("mailbox does not exist"))
				},
			},
		})
	}()

	run, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "invoices"})
	require.NoError(t, err)
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := eng.GetRun(ctx, run.ID)
		require.NoError(t, err)
		if got.Status == engine.RunFailed {
			require.Equal(t, engine.TaskSucceeded, got.Tasks[0].Status)
			require.JSONEq(t, `{"sum":5}`, string(got.Tasks[0].Output))
			require.Equal(t, engine.TaskDead, got.Tasks[1].Status)
			require.Equal(t, 1, got.Tasks[1].Attempts)
			require.Equal(t, "permanent", got.Tasks[1].ErrorClass)
			break
		}
		require.True(t, time.Now().Before(deadline), "run still %s", got.Status)
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	require.Len(t, calls, 1, "a permanent error is not retried")
	stop()
	require.NoError(t, <-done)
}

func TestRunWorkerNeedsADatabase(t *testing.T) {
	t.Parallel()
	err := baton.RunWorker(context.Background(), baton.WorkerOptions{})
	require.ErrorContains(t, err, "DatabaseURL is required")
}
