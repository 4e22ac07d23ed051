package api_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/api"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/resilience"
	"github.com/baton-run/baton/internal/testdb"
)

func TestBreakers(t *testing.T) {
	t.Parallel()
	pool := testdb.NewPool(t)
	breakers := resilience.NewBreakers(pool, resilience.Options{})
	h, _ := api.New(api.Options{
		Engine:   engine.New(pool, engine.Options{}),
		Breakers: breakers,
		Logger:   slog.New(slog.NewTextHandler(t.Output(), nil)),
	})
	s := &server{t: t, h: h}
	ctx := context.Background()

	list := decode[map[string][]map[string]any](s, http.StatusOK, s.do(http.MethodGet, "/v1/breakers", nil))
	require.Equal(t, map[string][]map[string]any{"breakers": {}}, list)

	// Open "flaky" with a full window of failures; "http:api.example.com"
	// sees one success.
	settings := resilience.Settings{Cooldown: time.Hour}
	record := func(key string, success bool) {
		d, err := breakers.Acquire(ctx, key, settings)
		require.NoError(t, err)
		require.True(t, d.Allowed)
		require.NoError(t, breakers.Record(ctx, key, settings, d, success))
	}
	for range 10 {
		record("flaky", false)
	}
	record("http:api.example.com", true)

	list = decode[map[string][]map[string]any](s, http.StatusOK, s.do(http.MethodGet, "/v1/breakers", nil))
	require.Len(t, list["breakers"], 2)
	flaky := list["breakers"][0]
	require.ElementsMatch(t, []string{"key", "state", "error_rate", "outcomes", "failures", "window", "failure_rate",
		"cooldown_ms", "opened_at", "half_open_at", "probe_expires_at", "forced", "updated_at"}, breakerFieldNames(flaky))
	require.Equal(t, "flaky", flaky["key"])
	require.Equal(t, "open", flaky["state"])
	require.Equal(t, 1.0, flaky["error_rate"])
	require.Equal(t, 10.0, flaky["outcomes"])
	require.Equal(t, 10.0, flaky["failures"])
	require.Equal(t, 10.0, flaky["window"])
	require.Equal(t, 0.5, flaky["failure_rate"])
	require.Equal(t, 3600000.0, flaky["cooldown_ms"])
	require.NotNil(t, flaky["opened_at"])
	require.NotNil(t, flaky["half_open_at"])
	require.Nil(t, flaky["probe_expires_at"])
	require.Equal(t, false, flaky["forced"])
	require.Equal(t, "http:api.example.com", list["breakers"][1]["key"])

	got := decode[api.CircuitBreaker](s, http.StatusOK, s.do(http.MethodGet, "/v1/breakers/http:api.example.com", nil))
	require.Equal(t, "closed", got.State)
	require.Equal(t, 1, got.Outcomes)
	require.Zero(t, got.ErrorRate)
	require.Nil(t, got.OpenedAt)

	// Forced open by alice, then closed by the default actor.
	opened := decode[api.CircuitBreaker](s, http.StatusOK,
		s.doAsActor(http.MethodPost, "/v1/breakers/http:api.example.com/open", "alice"))
	require.Equal(t, "open", opened.State)
	require.True(t, opened.Forced)
	require.NotNil(t, opened.OpenedAt)
	d, err := breakers.Acquire(ctx, "http:api.example.com", settings)
	require.NoError(t, err)
	require.False(t, d.Allowed)

	closed := decode[api.CircuitBreaker](s, http.StatusOK, s.do(http.MethodPost, "/v1/breakers/flaky/close", nil))
	require.Equal(t, "closed", closed.State)
	require.False(t, closed.Forced)
	require.Zero(t, closed.Outcomes)
	require.Nil(t, closed.OpenedAt)
	require.Nil(t, closed.HalfOpenAt)

	rows, err := pool.Query(ctx,
		`SELECT kind, actor FROM baton.task_events WHERE kind LIKE 'breaker_forced_%' ORDER BY id`)
	require.NoError(t, err)
	var forced [][2]string
	for rows.Next() {
		var kind, actor string
		require.NoError(t, rows.Scan(&kind, &actor))
		forced = append(forced, [2]string{kind, actor})
	}
	require.NoError(t, rows.Err())
	require.Equal(t, [][2]string{{"breaker_forced_open", "alice"}, {"breaker_forced_closed", "api"}}, forced)

	for _, req := range []struct{ method, path string }{
		{http.MethodGet, "/v1/breakers/nope"},
		{http.MethodPost, "/v1/breakers/nope/open"},
		{http.MethodPost, "/v1/breakers/nope/close"},
	} {
		p := requireProblem(t, http.StatusNotFound, s.do(req.method, req.path, nil))
		require.Contains(t, p.Detail, `"nope"`, req.path)
	}
}

// doAsActor sends a request without a body as actor (X-Baton-Actor).
func (s *server) doAsActor(method, path, actor string) *httptest.ResponseRecorder {
	s.t.Helper()
	req := httptest.NewRequest(method, path, nil)
	req.Header.Set("X-Baton-Actor", actor)
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	return rec
}

func breakerFieldNames(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
