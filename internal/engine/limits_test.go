package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/engine"
)

const helloWorkflow = `
kind: workflow
name: hello
steps:
  - name: a
    type: noop
`

// nested returns a JSON object nested depth levels deep.
func nested(depth int) string {
	return strings.Repeat(`{"a":`, depth-1) + "{}" + strings.Repeat("}", depth-1)
}

// requireSQLState runs query with args in its own transaction (rolled back)
// and requires it to fail with code and a message containing text.
func requireSQLState(t *testing.T, eng *engine.Engine, code, text, query string, args ...any) {
	t.Helper()
	ctx := context.Background()
	tx, err := eng.Pool().Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, query, args...)
	var pgErr *pgconn.PgError
	require.True(t, errors.As(err, &pgErr), "%s: want SQLSTATE %s, got %v", query, code, err)
	require.Equal(t, code, pgErr.Code, "%s: %s", query, pgErr.Message)
	require.Contains(t, pgErr.Message, text, query)
}

// TestStartRunSQLRefusesLooseOptions covers fault C: start_run's opts are
// typed and closed, and the trigger is not an option.
func TestStartRunSQLRefusesLooseOptions(t *testing.T) {
	t.Parallel()
	eng, _ := setup(t)
	applyWorkflow(t, eng, helloWorkflow)

	for _, tc := range []struct{ opts, text string }{
		{`[]`, "opts: must be a JSON object"},
		{`"x"`, "opts: must be a JSON object"},
		{`{"idempotency_key": 1}`, "idempotency_key: must be a string"},
		{`{"idempotency_key": ""}`, "idempotency_key: must be 1 to 200"},
		{`{"idempotency_key": "` + strings.Repeat("k", 10000) + `"}`, "idempotency_key: must be 1 to 200"},
		{`{"owner": 7}`, "owner: must be a string"},
		{`{"owner": "` + strings.Repeat("o", 201) + `"}`, "owner: must be at most 200"},
		{`{"tags": "a"}`, "tags: must be an array"},
		{`{"tags": [1]}`, "tags: every tag must be a string"},
		{`{"priority": "1"}`, "priority: must be an integer"},
		{`{"priority": 1.5}`, "priority: must be an integer"},
		{`{"priority": 9}`, "priority: must be between 1 and 4"},
		{`{"version": 2147483648}`, "version: must be between 1 and 2147483647"},
		{`{"trigger": "api"}`, `unknown option "trigger"`},
		{`{"trigger_ref": "x"}`, `unknown option "trigger_ref"`},
		{`{"bogus": true}`, `unknown option "bogus"`},
	} {
		requireSQLState(t, eng, "22023", tc.text, `SELECT baton.start_run('hello', '{}', $1::jsonb)`, tc.opts)
	}

	var id int64
	require.NoError(t, eng.Pool().QueryRow(context.Background(),
		`SELECT baton.start_run('hello', '{}', '{"tags": ["x"], "owner": "me", "priority": 3}')`).Scan(&id))
	run, err := eng.GetRun(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, "sql", run.Trigger)
	require.Equal(t, []string{"x"}, run.Tags)
	require.Equal(t, 3, run.Priority)
}

// TestStartRunSQLRefusesOversizedInput covers faults B and C: input depth
// and size are bounded in SQL as in the API.
func TestStartRunSQLRefusesOversizedInput(t *testing.T) {
	t.Parallel()
	eng, ctx := setup(t)
	applyWorkflow(t, eng, helloWorkflow)

	requireSQLState(t, eng, "22023", "input: must be nested at most 64 levels deep",
		`SELECT baton.start_run('hello', $1::jsonb)`, nested(10000))
	requireSQLState(t, eng, "22023", "input: must be nested at most 64 levels deep",
		`SELECT baton.start_run('hello', $1::jsonb)`, nested(65))
	requireSQLState(t, eng, "22023", "input: must be at most 1048576 bytes",
		`SELECT baton.start_run('hello', jsonb_build_object('big', repeat('x', 100 * 1024 * 1024)))`)
	requireSQLState(t, eng, "22023", "input: must be a JSON object",
		`SELECT baton.start_run('hello', '[1]')`)
	// NUL cannot even become jsonb.
	requireSQLState(t, eng, "22P05", "", `SELECT baton.start_run('hello', '{"a":"\u0000"}')`)

	var id int64
	require.NoError(t, eng.Pool().QueryRow(ctx, `SELECT baton.start_run('hello', $1::jsonb)`, nested(64)).Scan(&id))
	page, err := eng.ListRuns(ctx, engine.ListRunsParams{})
	require.NoError(t, err)
	require.Len(t, page.Runs, 1)
}

// TestIdempotencyKeyIsBoundToItsRequest covers fault C: a key reused with
// another workflow or input is a conflict at both doors; the same request
// returns the first run.
func TestIdempotencyKeyIsBoundToItsRequest(t *testing.T) {
	t.Parallel()
	eng, ctx := setup(t)
	applyWorkflow(t, eng, helloWorkflow)
	applyWorkflow(t, eng, strings.Replace(helloWorkflow, "name: hello", "name: other", 1))

	var first int64
	require.NoError(t, eng.Pool().QueryRow(ctx,
		`SELECT baton.start_run('hello', '{"x":1}', '{"idempotency_key":"k1"}')`).Scan(&first))
	var again int64
	require.NoError(t, eng.Pool().QueryRow(ctx,
		`SELECT baton.start_run('hello', '{"x":1}', '{"idempotency_key":"k1"}')`).Scan(&again))
	require.Equal(t, first, again)

	requireSQLState(t, eng, "ZB409", "idempotency_key", `SELECT baton.start_run('other', '{"x":1}', '{"idempotency_key":"k1"}')`)
	requireSQLState(t, eng, "ZB409", "idempotency_key", `SELECT baton.start_run('hello', '{"x":2}', '{"idempotency_key":"k1"}')`)

	_, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "other", Input: json.RawMessage(`{"x":1}`), IdempotencyKey: "k1"})
	require.ErrorIs(t, err, engine.ErrIdempotencyConflict)
	require.ErrorIs(t, err, engine.ErrConflict)
	run, created, err := eng.StartRun(ctx, engine.StartParams{Workflow: "hello", Input: json.RawMessage(`{"x":1}`), IdempotencyKey: "k1"})
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, first, run.ID)
}

// TestStartRunValidatesParams covers the library door: the same limits as
// SQL, reported as a *ValidationError naming each field.
func TestStartRunValidatesParams(t *testing.T) {
	t.Parallel()
	eng, ctx := setup(t)
	applyWorkflow(t, eng, helloWorkflow)

	_, _, err := eng.StartRun(ctx, engine.StartParams{
		Workflow:       "hello",
		Input:          json.RawMessage(nested(65)),
		IdempotencyKey: "a\x00b",
		Owner:          "\xff",
		Tags:           []string{"ok", ""},
		Version:        1 << 31,
	})
	var invalid *engine.ValidationError
	require.ErrorAs(t, err, &invalid)
	fields := map[string]bool{}
	for _, p := range invalid.Problems {
		fields[p.Field] = true
	}
	require.Equal(t, map[string]bool{"input": true, "idempotency_key": true, "owner": true, "tags[1]": true, "version": true}, fields)
	require.Error(t, engine.CheckJSON([]byte(`{"a\u0000":1}`), 0))
	require.Error(t, engine.CheckJSON([]byte(`{"a":"\u0000"}`), 0))
	require.NoError(t, engine.CheckJSON([]byte(`{"a":"\\u0000"}`), 0))
}

// TestMaintenanceRefusesOutOfRangeArguments covers fault C: maintenance
// functions refuse arguments that would drop everything or exhaust locks.
func TestMaintenanceRefusesOutOfRangeArguments(t *testing.T) {
	t.Parallel()
	eng, ctx := setup(t)
	applyWorkflow(t, eng, helloWorkflow)
	_, err := eng.Pool().Exec(ctx, `SELECT baton.start_run('hello')`)
	require.NoError(t, err)

	requireSQLState(t, eng, "22023", "retention: must be at least 1 hour", `SELECT baton.maintain_event_partitions(7, '-1 day')`)
	requireSQLState(t, eng, "22023", "retention: must be at least 1 hour", `SELECT baton.maintain_event_partitions(7, '59 minutes')`)
	requireSQLState(t, eng, "22023", "days_ahead: must be between 0 and 90", `SELECT baton.maintain_event_partitions(100000)`)
	requireSQLState(t, eng, "22023", "days_ahead: must be between 0 and 90", `SELECT baton.maintain_event_partitions(-1)`)
	requireSQLState(t, eng, "22023", "retention: must be at least 1 hour", `SELECT baton.purge_dead_letters('-1 day')`)
	requireSQLState(t, eng, "22023", "retention: must be at least 1 hour", `SELECT baton.purge_dead_letters(NULL)`)

	_, err = eng.Pool().Exec(ctx, `SELECT baton.maintain_event_partitions(90, '1 hour'), baton.purge_dead_letters('1 hour')`)
	require.NoError(t, err)
	var events int
	require.NoError(t, eng.Pool().QueryRow(ctx, `SELECT count(*) FROM baton.task_events`).Scan(&events))
	require.Positive(t, events)
}

// TestNotFoundMessage covers fault D: the message says "not found" once.
func TestNotFoundMessage(t *testing.T) {
	t.Parallel()
	eng, ctx := setup(t)
	_, err := eng.GetRun(ctx, 9999)
	require.ErrorIs(t, err, engine.ErrNotFound)
	require.Equal(t, "run 9999 not found", err.Error())
	_, err = eng.CancelRun(ctx, 9999, "me")
	require.ErrorIs(t, err, engine.ErrNotFound)
	require.Equal(t, "run 9999 not found", err.Error())
}
