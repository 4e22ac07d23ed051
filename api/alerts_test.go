package api_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/api"
	"github.com/baton-run/baton/internal/alert"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/testdb"
)

// alertServer is the API with alerting on a fresh database. Private
// addresses are refused, as in production.
func alertServer(t testing.TB) http.Handler {
	t.Helper()
	pool := testdb.NewPool(t)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	svc, err := alert.New(pool, alert.Options{SecretKey: key})
	require.NoError(t, err)
	h, _ := api.New(api.Options{Engine: engine.New(pool, engine.Options{}), Alerts: svc,
		Logger: slog.New(slog.DiscardHandler)})
	return h
}

func send(h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader([]byte(body)))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestAlertInputIsRefusedWith4xx sends bad rule, channel, alert and silence
// inputs: each answers 4xx (the expected status), 422 problems name the
// culprit field, and none answers 5xx.
func TestAlertInputIsRefusedWith4xx(t *testing.T) {
	t.Parallel()
	h := alertServer(t)
	for _, tc := range []struct {
		method, path, body string
		status             int
		field              string // a location the problem must name
	}{
		// Rules.
		{"POST", "/v1/alert-rules", `{"name": "Bad Name", "kind": "custom"}`, 422, "body.name"},
		{"POST", "/v1/alert-rules", `{"name": "r", "kind": "nope"}`, 422, "body.kind"},
		{"POST", "/v1/alert-rules", `{"name": "r", "kind": "custom"}`, 422, "body.metric"},
		{"POST", "/v1/alert-rules", `{"name": "r", "kind": "custom", "metric": "event_count", "threshold": 1}`, 422, "body.event_kind"},
		{"POST", "/v1/alert-rules", `{"name": "r", "kind": "custom", "metric": "event_count", "event_kind": "Bad Kind!", "threshold": 1}`, 422, "body.event_kind"},
		{"POST", "/v1/alert-rules", `{"name": "r", "kind": "custom", "metric": "failure_rate", "threshold": 2}`, 422, "body.threshold"},
		{"POST", "/v1/alert-rules", `{"name": "r", "kind": "custom", "metric": "failure_rate", "threshold": -1}`, 422, "body.threshold"},
		{"POST", "/v1/alert-rules", `{"name": "r", "kind": "custom", "metric": "failure_rate"}`, 422, "body.threshold"},
		{"POST", "/v1/alert-rules", `{"name": "r", "kind": "custom", "metric": "task_duration_ms", "threshold": 5}`, 422, "body.aggregation"},
		{"POST", "/v1/alert-rules", `{"name": "r", "kind": "custom", "metric": "task_duration_ms", "aggregation": "count", "threshold": 5}`, 422, "body.aggregation"},
		{"POST", "/v1/alert-rules", `{"name": "r", "kind": "custom", "metric": "dead_letter_count", "threshold": 5, "window_seconds": 5}`, 422, "body.window_seconds"},
		{"POST", "/v1/alert-rules", `{"name": "r", "kind": "custom", "metric": "dead_letter_count", "threshold": 5, "window_seconds": 99999999}`, 422, "body.window_seconds"},
		{"POST", "/v1/alert-rules", `{"name": "r", "kind": "custom", "metric": "dead_letter_count", "threshold": 5, "comparison": "eq"}`, 422, "body.comparison"},
		{"POST", "/v1/alert-rules", `{"name": "r", "kind": "custom", "metric": "dead_letter_count", "threshold": 5, "group_by": "key"}`, 422, "body.group_by"},
		{"POST", "/v1/alert-rules", `{"name": "r", "kind": "custom", "metric": "dead_letter_count", "threshold": 5, "workflow": "NO WAY"}`, 422, "body.workflow"},
		{"POST", "/v1/alert-rules", `{"name": "r", "kind": "custom", "metric": "dead_letter_count", "threshold": 1e300}`, 422, "body.threshold"},
		{"POST", "/v1/alert-rules", `{"name": "r", "kind": "dead_letters", "metric": "failure_rate", "threshold": 0.5}`, 422, "body.metric"},
		{"POST", "/v1/alert-rules", `{"name": "r", "kind": "task_dead", "threshold": 3}`, 422, "body.threshold"},
		{"POST", "/v1/alert-rules", `{"name": "r", "kind": "task_dead", "group_by": "key"}`, 422, "body.group_by"},
		{"POST", "/v1/alert-rules", `{"name": "r", "kind": "task_dead", "resolve_after_seconds": 1}`, 422, "body.resolve_after_seconds"},
		{"POST", "/v1/alert-rules", `{"name": "r", "kind": "task_dead", "channel_ids": [999]}`, 422, "body.channel_ids"},
		{"POST", "/v1/alert-rules", `{"name": "r", "kind": "task_dead", "channel_ids": [0]}`, 422, "body.channel_ids[0]"},
		{"POST", "/v1/alert-rules", `{"name": "r", "kind": "task_dead", "severity": "meh"}`, 422, "body.severity"},
		{"POST", "/v1/alert-rules", `{"name": "r", "kind": "task_dead", "threshold": "x"}`, 422, "body.threshold"},
		{"POST", "/v1/alert-rules", `{"name": "r", "kind": "task_dead", "description": "a\u0000b"}`, 422, ""},
		{"POST", "/v1/alert-rules", `{"name": "r"`, 400, ""},
		{"POST", "/v1/alert-rules", `[]`, 422, ""},
		{"POST", "/v1/alert-rules", `{"name": "task-dead", "kind": "task_dead"}`, 409, ""},
		{"PUT", "/v1/alert-rules/1", `{"kind": "run_failed"}`, 422, "body.kind"},
		{"PUT", "/v1/alert-rules/1", `{"name": "other"}`, 422, "body.name"},
		{"PUT", "/v1/alert-rules/99999", `{}`, 404, ""},
		{"GET", "/v1/alert-rules/0", "", 422, ""},
		{"GET", "/v1/alert-rules/abc", "", 422, ""},
		{"GET", "/v1/alert-rules/99999999999999999999", "", 422, ""},
		{"DELETE", "/v1/alert-rules/1", "", 409, ""},
		{"DELETE", "/v1/alert-rules/99999", "", 404, ""},
		// Channels.
		{"POST", "/v1/alert-channels", `{"name": "c", "kind": "pager"}`, 422, "body.kind"},
		{"POST", "/v1/alert-channels", `{"name": "c", "kind": "webhook"}`, 422, "body.url"},
		{"POST", "/v1/alert-channels", `{"name": "c", "kind": "webhook", "url": "ftp://example.com/x"}`, 422, "body.url"},
		{"POST", "/v1/alert-channels", `{"name": "c", "kind": "webhook", "url": "/relative"}`, 422, "body.url"},
		{"POST", "/v1/alert-channels", `{"name": "c", "kind": "webhook", "url": "https://user:pw@example.com/"}`, 422, "body.url"},
		{"POST", "/v1/alert-channels", `{"name": "c", "kind": "webhook", "url": "http://127.0.0.1:8080/"}`, 422, "body.url"},
		{"POST", "/v1/alert-channels", `{"name": "c", "kind": "webhook", "url": "http://[::1]/"}`, 422, "body.url"},
		{"POST", "/v1/alert-channels", `{"name": "c", "kind": "webhook", "url": "http://169.254.169.254/latest"}`, 422, "body.url"},
		{"POST", "/v1/alert-channels", `{"name": "c", "kind": "webhook", "url": "https://example.com/", "secret": "nope"}`, 422, "body.secret"},
		{"POST", "/v1/alert-channels", `{"name": "c", "kind": "webhook", "url": "https://example.com/", "host": "smtp.example.com"}`, 422, "body.host"},
		{"POST", "/v1/alert-channels", `{"name": "c", "kind": "slack"}`, 422, "body.url"},
		{"POST", "/v1/alert-channels", `{"name": "c", "kind": "slack", "url": "https://hooks.slack.com/x", "secret": "whsec_AAAA"}`, 422, "body.secret"},
		{"POST", "/v1/alert-channels", `{"name": "c", "kind": "email", "host": "smtp.example.com", "from": "a@example.com"}`, 422, "body.to"},
		{"POST", "/v1/alert-channels", `{"name": "c", "kind": "email", "host": "smtp.example.com", "from": "not an address", "to": ["b@example.com"]}`, 422, "body.from"},
		{"POST", "/v1/alert-channels", `{"name": "c", "kind": "email", "host": "smtp.example.com", "from": "a@example.com", "to": ["Bob <b@example.com>"]}`, 422, "body.to[0]"},
		{"POST", "/v1/alert-channels", `{"name": "c", "kind": "email", "host": "smtp.example.com", "from": "a@example.com", "to": ["b@example.com\r\nBcc: x@evil.com"]}`, 422, "body.to[0]"},
		{"POST", "/v1/alert-channels", `{"name": "c", "kind": "email", "host": "bad host!", "from": "a@example.com", "to": ["b@example.com"]}`, 422, "body.host"},
		{"POST", "/v1/alert-channels", `{"name": "c", "kind": "email", "host": "10.0.0.5", "from": "a@example.com", "to": ["b@example.com"]}`, 422, "body.host"},
		{"POST", "/v1/alert-channels", `{"name": "c", "kind": "email", "host": "smtp.example.com", "port": 70000, "from": "a@example.com", "to": ["b@example.com"]}`, 422, "body.port"},
		{"POST", "/v1/alert-channels", `{"name": "c", "kind": "email", "host": "smtp.example.com", "tls": "none", "from": "a@example.com", "to": ["b@example.com"]}`, 422, "body.tls"},
		{"POST", "/v1/alert-channels", `{"name": "c", "kind": "email", "host": "smtp.example.com", "password": "x", "from": "a@example.com", "to": ["b@example.com"]}`, 422, "body.username"},
		{"GET", "/v1/alert-channels/99999", "", 404, ""},
		{"PUT", "/v1/alert-channels/99999", `{}`, 404, ""},
		{"DELETE", "/v1/alert-channels/99999", "", 404, ""},
		{"POST", "/v1/alert-channels/99999/test", "", 404, ""},
		// Alerts.
		{"GET", "/v1/alerts?state=burning", "", 422, ""},
		{"GET", "/v1/alerts?limit=0", "", 422, ""},
		{"GET", "/v1/alerts?limit=100000", "", 422, ""},
		{"GET", "/v1/alerts?rule_id=-1", "", 422, ""},
		{"GET", "/v1/alerts/99999", "", 404, ""},
		{"GET", "/v1/alerts/99999/deliveries", "", 404, ""},
		{"POST", "/v1/alerts/99999/acknowledge", "", 404, ""},
		{"POST", "/v1/alerts/99999/silence", `{"duration_seconds": 60}`, 404, ""},
		{"POST", "/v1/alerts/1/silence", `{"duration_seconds": -5}`, 422, ""},
		{"POST", "/v1/alerts/1/silence", `{"duration_seconds": 99999999}`, 422, ""},
	} {
		t.Run(fmt.Sprintf("%s %s %s", tc.method, tc.path, tc.body), func(t *testing.T) {
			rec := send(h, tc.method, tc.path, tc.body)
			require.Equal(t, tc.status, rec.Code, "body: %s", rec.Body.String())
			if tc.field != "" {
				require.Contains(t, rec.Body.String(), `"location":"`+tc.field+`"`, "body: %s", rec.Body.String())
			}
			require.NotContains(t, strings.ToLower(rec.Body.String()), "pgx")
		})
	}
}

// TestAlertAPIRoundTrip creates, reads, updates and deletes a rule and a
// channel through the API; the signing secret is shown once.
func TestAlertAPIRoundTrip(t *testing.T) {
	t.Parallel()
	h := alertServer(t)
	rec := send(h, "POST", "/v1/alert-channels", `{"name": "hook", "kind": "webhook", "url": "https://example.com/hook"}`)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), `"signing_secret":"whsec_`)
	rec = send(h, "GET", "/v1/alert-channels/1", "")
	require.Equal(t, 200, rec.Code, rec.Body.String())
	require.NotContains(t, rec.Body.String(), "whsec_")
	require.Contains(t, rec.Body.String(), `"has_secret":true`)

	rec = send(h, "POST", "/v1/alert-rules", `{"name": "slow-builds", "kind": "custom", "metric": "task_duration_ms", "aggregation": "p95", "comparison": "gt", "threshold": 60000, "window_seconds": 600, "group_by": "task_type", "workflow": "release", "channel_ids": [1]}`)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), `"aggregation":"p95"`)
	rec = send(h, "GET", "/v1/alert-rules", "")
	require.Equal(t, 200, rec.Code)
	require.Contains(t, rec.Body.String(), `"name":"task-dead"`)
	require.Contains(t, rec.Body.String(), `"name":"slow-builds"`)

	rec = send(h, "POST", "/v1/alert-rules", `{"name": "slow-builds", "kind": "custom", "metric": "dead_letter_count", "threshold": 1}`)
	require.Equal(t, 409, rec.Code, rec.Body.String())

	rec = send(h, "GET", "/v1/alert-rules/9", "")
	require.Equal(t, 200, rec.Code, rec.Body.String())
	rec = send(h, "PUT", "/v1/alert-rules/9", `{"metric": "task_duration_ms", "aggregation": "max", "threshold": 1000, "enabled": false}`)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), `"enabled":false`)

	rec = send(h, "DELETE", "/v1/alert-channels/1", "")
	require.Equal(t, 204, rec.Code, rec.Body.String())
	rec = send(h, "GET", "/v1/alert-rules/9", "")
	require.Contains(t, rec.Body.String(), `"channel_ids":[]`, "the deleted channel is unlinked")
	rec = send(h, "DELETE", "/v1/alert-rules/9", "")
	require.Equal(t, 204, rec.Code, rec.Body.String())
	rec = send(h, "GET", "/v1/alerts?state=firing", "")
	require.Equal(t, 200, rec.Code, rec.Body.String())
}

// FuzzAlertInputs posts arbitrary bodies as rules, channels and silences:
// nothing answers 5xx (but 503) or panics.
func FuzzAlertInputs(f *testing.F) {
	h := alertServer(f)
	f.Add(`{"name": "r", "kind": "custom", "metric": "event_count", "event_kind": "task_dead", "threshold": 1}`, "1")
	f.Add(`{"name": "c", "kind": "email", "host": "smtp.example.com", "from": "a@example.com", "to": ["b@example.com"]}`, "1")
	f.Add(`{"threshold": 1e309}`, "0")
	f.Add(`{"name": "c", "kind": "webhook", "url": "http://[fe80::1%25en0]/"}`, "x")
	f.Fuzz(func(t *testing.T, body, id string) {
		for _, path := range []string{"/v1/alert-rules", "/v1/alert-channels", "/v1/alert-rules/" + id,
			"/v1/alert-channels/" + id, "/v1/alerts/" + id + "/silence"} {
			for _, method := range []string{"POST", "PUT"} {
				rec := send(h, method, path, body)
				if rec.Code >= 500 && rec.Code != 503 {
					t.Fatalf("%s %s %q -> %d: %s", method, path, body, rec.Code, rec.Body.String())
				}
			}
		}
	})
}
