package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/executor"
	"github.com/baton-run/baton/internal/testdb"
	"github.com/baton-run/baton/internal/webhook"
	"github.com/baton-run/baton/jobs"
)

// verify checks a Standard Webhooks signature as the specification
// describes it (https://www.standardwebhooks.com), independently of
// Baton's code: the key is the base64 part of "whsec_...", the signed
// content is "<webhook-id>.<webhook-timestamp>.<body>", each entry of
// webhook-signature is "v1,<base64 HMAC-SHA256>", and one match suffices.
func verify(secret string, header http.Header, body []byte) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return fmt.Errorf("secret: %w", err)
	}
	id, ts := header.Get("webhook-id"), header.Get("webhook-timestamp")
	if id == "" || ts == "" {
		return errors.New("missing webhook-id or webhook-timestamp")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("timestamp: %w", err)
	}
	if d := time.Since(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return errors.New("timestamp outside tolerance")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(header.Get("webhook-signature")) {
		version, value, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(value)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no signature matches")
}

// message is one verified delivery a receiver got.
type message struct {
	id        string
	event     webhook.Event
	signature string
}

// receiver is a test endpoint that verifies every delivery with its own
// implementation of the specification and can be told to fail.
type receiver struct {
	srv *httptest.Server

	mu      sync.Mutex
	secrets []string       // any of them verifies
	failFor map[string]int // webhook-id → answers of 500 still to give
	msgs    []message      // verified and accepted
	tries   map[string]int // webhook-id → attempts seen
	errs    []error        // verification failures
	answer  func(w http.ResponseWriter)
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{failFor: map[string]int{}, tries: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		var err error = errors.New("no secret")
		for _, s := range r.secrets {
			if err = verify(s, req.Header, body); err == nil {
				break
			}
		}
		if err != nil {
			r.errs = append(r.errs, err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		id := req.Header.Get("webhook-id")
		r.tries[id]++
		if r.failFor["*"] > 0 {
			r.failFor["*"]--
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte("try again"))
			return
		}
		if r.failFor[id] > 0 {
			r.failFor[id]--
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte("try again"))
			return
		}
		var ev webhook.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			r.errs = append(r.errs, err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.msgs = append(r.msgs, message{id: id, event: ev, signature: req.Header.Get("webhook-signature")})
		if r.answer != nil {
			r.answer(w)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) setSecrets(s ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secrets = s
}

// waitFor polls until a verified message matches, failing on any
// verification error or at the deadline.
func (r *receiver) waitFor(t *testing.T, within time.Duration, match func(message) bool) message {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		r.mu.Lock()
		errs := append([]error(nil), r.errs...)
		msgs := append([]message(nil), r.msgs...)
		r.mu.Unlock()
		require.Empty(t, errs, "the receiver refused deliveries")
		for _, m := range msgs {
			if match(m) {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no matching delivery within %s; got %d", within, len(msgs))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type harness struct {
	pool     *pgxpool.Pool
	eng      *engine.Engine
	webhooks *webhook.Service
}

// setup runs Baton's River client and the dispatcher on a fresh database,
// with a workflow "pipeline" (two sim steps, the second one's output
// {"report": "ok"}) and "doomed" (one step that always fails).
func setup(t *testing.T, opts webhook.Options) *harness {
	t.Helper()
	pool := testdb.NewPool(t)
	eng := engine.New(pool, engine.Options{})
	opts.SecretKey = make([]byte, 32)
	_, _ = rand.Read(opts.SecretKey)
	opts.AllowPrivate = true
	opts.RetryBase = 20 * time.Millisecond
	opts.PollInterval = 200 * time.Millisecond
	svc, err := webhook.New(pool, opts)
	require.NoError(t, err)
	executors := executor.NewRegistry(executor.Options{AllowPrivateHTTP: true})
	t.Cleanup(executors.Close)
	client, err := jobs.NewClient(pool, jobs.ClientOptions{Engine: eng, Executors: executors, Workers: 10, Webhooks: svc})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, client.Start(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = svc.Run(ctx, client)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		stopCtx, stop := context.WithTimeout(context.Background(), 10*time.Second)
		defer stop()
		require.NoError(t, client.Stop(stopCtx))
	})
	bg := context.Background()
	_, err = eng.ApplyTaskType(bg, &engine.TaskTypeSpec{Name: "quick", Executor: "sim"})
	require.NoError(t, err)
	maxRetries := 0
	_, err = eng.ApplyTaskType(bg, &engine.TaskTypeSpec{Name: "fragile", Executor: "sim", MaxRetries: &maxRetries})
	require.NoError(t, err)
	for _, y := range []string{
		"name: pipeline\nsteps:\n- {name: extract, type: quick}\n- {name: report, type: quick, depends_on: [extract], params: {output: {report: ok}}}\n",
		"name: doomed\nsteps: [{name: roll, type: fragile, params: {permanent_fail_rate: 1}}]\n",
	} {
		spec, err := engine.ParseSpec([]byte(y))
		require.NoError(t, err)
		_, _, err = eng.ApplyWorkflow(bg, spec.(*engine.WorkflowSpec))
		require.NoError(t, err)
	}
	return &harness{pool: pool, eng: eng, webhooks: svc}
}

func (h *harness) subscribe(t *testing.T, r *receiver, spec webhook.Spec) (*webhook.Webhook, string) {
	t.Helper()
	url := r.srv.URL + "/hook"
	spec.URL = &url
	w, secret, err := h.webhooks.Create(context.Background(), spec)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(secret, "whsec_"))
	r.setSecrets(secret)
	return w, secret
}

// TestDeliveryIsSignedAndNeverSentForRollback covers the delivery contract
// end to end: the receiver verifies every delivery with its own
// implementation of Standard Webhooks; the payload carries the run's
// context; filters hold; and a run start that rolled back sends nothing.
func TestDeliveryIsSignedAndNeverSentForRollback(t *testing.T) {
	t.Parallel()
	h := setup(t, webhook.Options{})
	r := newReceiver(t)
	w, _ := h.subscribe(t, r, webhook.Spec{EventTypes: []string{"run.started", "run.succeeded"}, Tags: []string{"billing"}})
	ctx := context.Background()

	// A start rolled back: its run_started event never commits.
	tx, err := h.pool.Begin(ctx)
	require.NoError(t, err)
	var rolledBack int64
	require.NoError(t, tx.QueryRow(ctx, `SELECT baton.start_run('pipeline', '{"n": 0}', '{"tags": ["billing"]}')`).Scan(&rolledBack))
	require.NoError(t, tx.Rollback(ctx))

	// A run without the tag is filtered out.
	other, _, err := h.eng.StartRun(ctx, engine.StartParams{Workflow: "pipeline", Tags: []string{"other"}})
	require.NoError(t, err)

	run, _, err := h.eng.StartRun(ctx, engine.StartParams{Workflow: "pipeline", Input: json.RawMessage(`{"n": 1}`),
		Owner: "team-a", Tags: []string{"billing"}})
	require.NoError(t, err)
	started := r.waitFor(t, 10*time.Second, func(m message) bool { return m.event.Type == "run.started" })
	require.Equal(t, run.ID, started.event.Data.Run.ID)
	require.Equal(t, "pipeline", started.event.Data.Run.Workflow)
	require.JSONEq(t, `{"n": 1}`, string(started.event.Data.Run.Input))
	done := r.waitFor(t, 15*time.Second, func(m message) bool { return m.event.Type == "run.succeeded" })
	run2 := done.event.Data.Run
	require.Equal(t, run.ID, run2.ID)
	require.Equal(t, "succeeded", run2.Status)
	require.Equal(t, "team-a", run2.Owner)
	require.Equal(t, 2, run2.Tasks.Total)
	require.Equal(t, 2, run2.Tasks.ByStatus["succeeded"])
	require.JSONEq(t, `{"report": {"report": "ok"}}`, string(run2.Output))
	require.NotNil(t, run2.DurationMs)

	// Nothing for the rolled-back run nor the filtered one, in the log
	// either.
	r.mu.Lock()
	for _, m := range r.msgs {
		require.NotEqual(t, rolledBack, m.event.Data.Run.ID)
		require.NotEqual(t, other.ID, m.event.Data.Run.ID)
	}
	r.mu.Unlock()
	list, err := h.webhooks.Deliveries(ctx, w.ID, nil, 100)
	require.NoError(t, err)
	require.Len(t, list, 2)
}

// TestFailingTwiceThenSucceedingKeepsTheWebhookID: a receiver failing the
// first two attempts gets the event on the third, with the same
// webhook-id, and each attempt is logged with status and latency.
func TestFailingTwiceThenSucceedingKeepsTheWebhookID(t *testing.T) {
	t.Parallel()
	h := setup(t, webhook.Options{})
	r := newReceiver(t)
	w, _ := h.subscribe(t, r, webhook.Spec{EventTypes: []string{"run.succeeded"}})
	r.mu.Lock()
	r.failFor["*"] = 2
	r.mu.Unlock()
	ctx := context.Background()
	run, _, err := h.eng.StartRun(ctx, engine.StartParams{Workflow: "pipeline"})
	require.NoError(t, err)
	m := r.waitFor(t, 15*time.Second, func(m message) bool { return m.event.Type == "run.succeeded" })
	require.Equal(t, run.ID, m.event.Data.Run.ID)
	r.mu.Lock()
	tries := r.tries[m.id]
	r.mu.Unlock()
	require.Equal(t, 3, tries, "the same webhook-id on all three attempts")

	list, err := h.webhooks.Deliveries(ctx, w.ID, nil, 10)
	require.NoError(t, err)
	require.Len(t, list, 1)
	d := list[0]
	require.Equal(t, m.id, d.MessageID)
	require.Eventually(t, func() bool {
		list, err := h.webhooks.Deliveries(ctx, w.ID, nil, 10)
		return err == nil && list[0].Status == "succeeded" && len(list[0].Attempts) == 3
	}, 5*time.Second, 10*time.Millisecond)
	list, _ = h.webhooks.Deliveries(ctx, w.ID, nil, 10)
	for i, a := range list[0].Attempts {
		require.Equal(t, i+1, a.Attempt)
		require.NotNil(t, a.StatusCode)
		if i < 2 {
			require.Equal(t, 500, *a.StatusCode)
			require.Equal(t, "try again", a.ResponseHead)
			require.False(t, a.Succeeded)
		} else {
			require.Equal(t, 204, *a.StatusCode)
			require.True(t, a.Succeeded)
		}
		require.Positive(t, a.LatencyMs)
	}

	// Redelivery: the same webhook-id again.
	_, err = h.webhooks.Redeliver(ctx, jobsInserter(t, h), w.ID, d.ID)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.tries[m.id] == 4
	}, 10*time.Second, 10*time.Millisecond)
}

// jobsInserter is an insert-only River client on h's database.
func jobsInserter(t *testing.T, h *harness) webhook.JobInserter {
	client, err := jobs.NewClient(h.pool, jobs.ClientOptions{Engine: h.eng, InsertOnly: true, Webhooks: h.webhooks})
	require.NoError(t, err)
	return client
}

// TestRotationSignsWithBothSecrets: during the overlap, a delivery
// verifies with the previous secret and with the new one.
func TestRotationSignsWithBothSecrets(t *testing.T) {
	t.Parallel()
	h := setup(t, webhook.Options{})
	r := newReceiver(t)
	w, old := h.subscribe(t, r, webhook.Spec{EventTypes: []string{"run.started"}})
	ctx := context.Background()
	rotated, fresh, err := h.webhooks.RotateSecret(ctx, w.ID, time.Hour)
	require.NoError(t, err)
	require.NotEqual(t, old, fresh)
	require.NotNil(t, rotated.PreviousSecretUntil)
	_, _, err = h.eng.StartRun(ctx, engine.StartParams{Workflow: "pipeline"})
	require.NoError(t, err)
	m := r.waitFor(t, 10*time.Second, func(message) bool { return true })
	require.Len(t, strings.Fields(m.signature), 2)
	// Each secret alone verifies (test sends are signed the same way).
	for _, s := range []string{old, fresh} {
		r.setSecrets(s)
		res, err := h.webhooks.Test(ctx, w.ID)
		require.NoError(t, err)
		require.Equal(t, "succeeded", res.Status, "secret %d", len(s))
	}

	// Without overlap, only the new secret signs.
	_, newest, err := h.webhooks.RotateSecret(ctx, w.ID, 0)
	require.NoError(t, err)
	r.setSecrets(fresh)
	res, err := h.webhooks.Test(ctx, w.ID)
	require.NoError(t, err)
	require.Equal(t, "failed", res.Status)
	r.mu.Lock()
	r.errs = nil
	r.mu.Unlock()
	r.setSecrets(newest)
	res, err = h.webhooks.Test(ctx, w.ID)
	require.NoError(t, err)
	require.Equal(t, "succeeded", res.Status)
}

// TestFailingSubscriptionIsDisabled: after DisableAfter deliveries in a row
// failed every attempt, the subscription is disabled with a
// webhook_disabled event.
func TestFailingSubscriptionIsDisabled(t *testing.T) {
	t.Parallel()
	h := setup(t, webhook.Options{DisableAfter: 2, MaxAttempts: 2})
	r := newReceiver(t)
	w, _ := h.subscribe(t, r, webhook.Spec{EventTypes: []string{"run.started"}})
	r.mu.Lock()
	r.failFor["*"] = 1 << 30
	r.mu.Unlock()
	ctx := context.Background()
	for range 2 {
		_, _, err := h.eng.StartRun(ctx, engine.StartParams{Workflow: "pipeline"})
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		got, err := h.webhooks.Get(ctx, w.ID)
		return err == nil && !got.Enabled
	}, 15*time.Second, 20*time.Millisecond)
	got, err := h.webhooks.Get(ctx, w.ID)
	require.NoError(t, err)
	require.Contains(t, got.DisabledReason, "2 deliveries in a row failed")
	var n int
	require.NoError(t, h.pool.QueryRow(ctx,
		`SELECT count(*) FROM baton.task_events WHERE kind = 'webhook_disabled' AND (data->>'webhook_id')::bigint = $1`, w.ID).Scan(&n))
	require.Equal(t, 1, n)

	// Enabling again clears the count.
	got, err = h.webhooks.Update(ctx, w.ID, webhook.Spec{Enabled: new(true)})
	require.NoError(t, err)
	require.True(t, got.Enabled)
	require.Zero(t, got.ConsecutiveFailures)
	require.Empty(t, got.DisabledReason)
}

// TestDispatchTakesTurns: concurrent dispatches (several nodes) deliver
// each event once.
func TestDispatchTakesTurns(t *testing.T) {
	t.Parallel()
	h := setup(t, webhook.Options{})
	r := newReceiver(t)
	w, _ := h.subscribe(t, r, webhook.Spec{EventTypes: []string{"run.started"}})
	ctx := context.Background()
	ins := jobsInserter(t, h)
	const runs = 20
	var wg sync.WaitGroup
	for i := range runs {
		wg.Go(func() {
			_, _, err := h.eng.StartRun(ctx, engine.StartParams{Workflow: "pipeline", Input: json.RawMessage(fmt.Sprintf(`{"i": %d}`, i))})
			require.NoError(t, err)
			_, err = h.webhooks.Dispatch(ctx, ins)
			require.NoError(t, err)
		})
	}
	wg.Wait()
	require.Eventually(t, func() bool {
		list, err := h.webhooks.Deliveries(ctx, w.ID, nil, 100)
		return err == nil && len(list) == runs
	}, 30*time.Second, 20*time.Millisecond) // generous: CI runs every package at once
	var dup int
	require.NoError(t, h.pool.QueryRow(ctx, `SELECT count(*) - count(DISTINCT event_id) FROM baton.webhook_deliveries`).Scan(&dup))
	require.Zero(t, dup)
}
