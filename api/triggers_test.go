package api_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/api"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/testdb"
	"github.com/baton-run/baton/internal/trigger"
)

// triggerServer is the API with triggers on a fresh database holding the
// workflow "hello" (one noop step).
func triggerServer(t *testing.T) (http.Handler, *pgxpool.Pool) {
	t.Helper()
	pool := testdb.NewPool(t)
	eng := engine.New(pool, engine.Options{})
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	svc, err := trigger.New(pool, eng, trigger.Options{SecretKey: key})
	require.NoError(t, err)
	h, _ := api.New(api.Options{Engine: eng, Triggers: svc, Logger: slog.New(slog.DiscardHandler)})
	rec := send(h, "POST", "/v1/task-types", `{"name": "noop", "executor": "sleep", "defaults": {"duration": "0s"}}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	rec = send(h, "POST", "/v1/workflows", `{"name": "hello", "steps": [{"name": "greet", "type": "noop"}]}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	return h, pool
}

func countRows(t *testing.T, pool *pgxpool.Pool, query string) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), query).Scan(&n))
	return n
}

// TestWebhookSignatures sends signed and badly signed webhooks to a trigger
// with a secret, in both header styles: a valid Standard Webhooks or GitHub
// signature stores the event and starts a run (201); a tampered body, a
// stale timestamp and a missing signature answer 401 and store and start
// nothing. A redelivery (same webhook-id) starts nothing again.
func TestWebhookSignatures(t *testing.T) {
	t.Parallel()
	h, pool := triggerServer(t)
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	rec := send(h, "POST", "/v1/triggers", `{"name": "gh", "event_type": "github.push", "workflow": "hello",
		"condition": "$.ref == \"refs/heads/main\"", "input_template": {"commit": "{{ .payload.after }}"}, "secret": "`+secret+`"}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	require.NotContains(t, rec.Body.String(), secret)
	require.Contains(t, rec.Body.String(), `"has_secret":true`)

	body := []byte(`{"ref": "refs/heads/main", "after": "abc123"}`)
	wh, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)
	standard := func(id string, at time.Time, signed, sent []byte) *httptest.ResponseRecorder {
		sig, err := wh.Sign(id, at, signed)
		require.NoError(t, err)
		req := httptest.NewRequest("POST", "/v1/hooks/gh", bytes.NewReader(sent))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("webhook-id", id)
		req.Header.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
		req.Header.Set("webhook-signature", sig)
		out := httptest.NewRecorder()
		h.ServeHTTP(out, req)
		return out
	}
	github := func(delivery string, signed, sent []byte, sign bool) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/v1/hooks/gh", bytes.NewReader(sent))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", delivery)
		req.Header.Set("User-Agent", "GitHub-Hookshot/abc")
		if sign {
			mac := hmac.New(sha256.New, []byte(secret))
			mac.Write(signed)
			req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
		}
		out := httptest.NewRecorder()
		h.ServeHTTP(out, req)
		return out
	}
	tampered := []byte(`{"ref": "refs/heads/main", "after": "evil"}`)

	// Refused: nothing stored, nothing started.
	for name, rec := range map[string]*httptest.ResponseRecorder{
		"standard tampered":  standard("msg_1", time.Now(), body, tampered),
		"standard stale":     standard("msg_2", time.Now().Add(-6*time.Minute), body, body),
		"standard future":    standard("msg_3", time.Now().Add(6*time.Minute), body, body),
		"standard unsigned":  github("", body, body, false),
		"github tampered":    github("d-1", body, tampered, true),
		"github unsigned":    github("d-2", body, body, false),
		"github wrong style": github("d-3", tampered, body, true),
	} {
		require.Equal(t, http.StatusUnauthorized, rec.Code, "%s: %s", name, rec.Body.String())
		require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"), name)
	}
	require.Zero(t, countRows(t, pool, `SELECT count(*) FROM baton.events`))
	require.Zero(t, countRows(t, pool, `SELECT count(*) FROM baton.runs`))

	// Accepted, once per delivery.
	rec = standard("msg_ok", time.Now(), body, body)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	var res api.EmitResult
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &res))
	require.Len(t, res.Runs, 1)
	require.NotZero(t, res.Runs[0].RunID)
	require.JSONEq(t, `{"commit": "abc123"}`, string(res.Runs[0].Input))
	require.Equal(t, "webhook:gh", res.Event.Source)
	rec = standard("msg_ok", time.Now(), body, body)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), `"duplicate":true`)

	rec = github("d-ok", body, body, true)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	require.Equal(t, 2, countRows(t, pool, `SELECT count(*) FROM baton.events`))
	require.Equal(t, 2, countRows(t, pool, `SELECT count(*) FROM baton.runs WHERE trigger = 'event'`))

	// A trigger without a secret takes unsigned webhooks; an unknown one is 404.
	rec = send(h, "POST", "/v1/triggers", `{"name": "open", "event_type": "open.ping", "workflow": "hello"}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	rec = send(h, "POST", "/v1/hooks/open", `{"hello": "world"}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	rec = send(h, "POST", "/v1/hooks/nope", `{}`)
	require.Equal(t, http.StatusNotFound, rec.Code, rec.Body.String())
}

// TestEventAndTriggerInputIsRefusedWith4xx sends bad events, triggers and
// replays: each answers 4xx naming the field, never 5xx.
func TestEventAndTriggerInputIsRefusedWith4xx(t *testing.T) {
	t.Parallel()
	h, _ := triggerServer(t)
	deep := strings.Repeat(`{"a":`, 70) + "1" + strings.Repeat("}", 70)
	for _, tc := range []struct {
		method, path, body string
		status             int
		field              string
	}{
		{"POST", "/v1/events", `{"type": "bad type", "payload": {}}`, 422, "body.type"},
		{"POST", "/v1/events", `{"payload": {}}`, 422, "body"},
		{"POST", "/v1/events", `{"type": "a", "payload": [1]}`, 422, "body.payload"},
		{"POST", "/v1/events", `{"type": "a", "payload": ` + deep + `}`, 422, "body.payload"},
		{"POST", "/v1/events", `{"type": "a", "dedup_key": "` + strings.Repeat("k", 201) + `"}`, 422, "body.dedup_key"},
		{"POST", "/v1/events/replay", `{"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}`, 422, "body.to"},
		{"POST", "/v1/events/replay", `{"from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}`, 422, "body.to"},
		{"POST", "/v1/events/replay", `{"from": "yesterday", "to": "2026-03-01T00:00:00Z"}`, 422, "body.from"},
		{"GET", "/v1/events?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "", 422, "query.to"},
		{"GET", "/v1/events?limit=5000", "", 422, "query.limit"},
		{"POST", "/v1/triggers", `{"name": "t", "event_type": "a", "workflow": "nope"}`, 422, "body.workflow"},
		{"POST", "/v1/triggers", `{"name": "t", "event_type": "a", "workflow": "hello", "condition": "$.a =="}`, 422, "body.condition"},
		{"POST", "/v1/triggers", `{"name": "t", "event_type": "a", "workflow": "hello", "condition": "$.a"}`, 422, "body.condition"},
		{"POST", "/v1/triggers", `{"name": "T T", "event_type": "a", "workflow": "hello"}`, 422, "body.name"},
		{"POST", "/v1/triggers", `{"name": "t", "event_type": "a", "workflow": "hello", "dedup_window_seconds": -1}`, 422, "body.dedup_window_seconds"},
		{"POST", "/v1/triggers", `{"name": "t", "event_type": "a", "workflow": "hello", "secret": "short"}`, 422, "body.secret"},
		{"PUT", "/v1/triggers/t", `{"name": "u", "event_type": "a", "workflow": "hello"}`, 422, "body.name"},
		{"GET", "/v1/triggers/nope", "", 404, ""},
		{"DELETE", "/v1/triggers/nope", "", 404, ""},
		{"POST", "/v1/hooks/nope", `{}`, 404, ""},
	} {
		rec := send(h, tc.method, tc.path, tc.body)
		require.Equal(t, tc.status, rec.Code, "%s %s %s: %s", tc.method, tc.path, tc.body, rec.Body.String())
		if tc.field != "" {
			var p problem
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
			found := false
			for _, e := range p.Errors {
				found = found || e.Location == tc.field
			}
			require.True(t, found, "%s %s: no error at %s in %s", tc.method, tc.path, tc.field, rec.Body.String())
		}
	}

	// The CRUD round trip.
	rec := send(h, "POST", "/v1/triggers", `{"name": "t", "event_type": "a.b", "workflow": "hello", "condition": "$.n > 1"}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	require.Equal(t, http.StatusConflict, send(h, "POST", "/v1/triggers", `{"name": "t", "event_type": "a.b", "workflow": "hello"}`).Code)
	rec = send(h, "PUT", "/v1/triggers/t", `{"name": "t", "event_type": "a.b", "workflow": "hello", "enabled": false, "dedup_window_seconds": 60}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), `"enabled":false`)
	require.Contains(t, rec.Body.String(), `"dedup_window_seconds":60`)
	rec = send(h, "GET", "/v1/triggers", "")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), `"name":"t"`)
	rec = send(h, "POST", "/v1/events", `{"type": "a.b", "payload": {"n": 5}}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), `"runs":[]`, "a disabled trigger starts nothing")
	require.Equal(t, http.StatusNoContent, send(h, "DELETE", "/v1/triggers/t", "").Code)
	rec = send(h, "GET", "/v1/events", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), `"type":"a.b"`)
}

// TestSignedTriggerFiresOnlyOnItsOwnWebhook: a trigger with a secret starts
// runs only from its own verified webhooks. An unsigned webhook of another
// trigger of the same event type, an event posted to /v1/events, and an
// event claiming a webhook source start nothing for it.
func TestSignedTriggerFiresOnlyOnItsOwnWebhook(t *testing.T) {
	t.Parallel()
	h, pool := triggerServer(t)
	rec := send(h, "POST", "/v1/triggers", `{"name": "signed", "event_type": "deploy.requested", "workflow": "hello",
		"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	rec = send(h, "POST", "/v1/triggers", `{"name": "open", "event_type": "deploy.requested", "workflow": "hello"}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())

	var res api.EmitResult
	rec = send(h, "POST", "/v1/hooks/open", `{"env": "prod"}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &res))
	require.Len(t, res.Runs, 1)
	require.Equal(t, "open", res.Runs[0].Trigger)

	rec = send(h, "POST", "/v1/events", `{"type": "deploy.requested", "payload": {"env": "prod"}}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &res))
	require.Len(t, res.Runs, 1)
	require.Equal(t, "open", res.Runs[0].Trigger)

	rec = send(h, "POST", "/v1/events", `{"type": "deploy.requested", "source": "webhook:signed", "payload": {}}`)
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), "source")

	require.Equal(t, 2, countRows(t, pool, `SELECT count(*) FROM baton.runs`))
}
