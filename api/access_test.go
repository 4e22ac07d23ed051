package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/api"
	"github.com/baton-run/baton/internal/auth"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/ratelimit"
	"github.com/baton-run/baton/internal/testdb"
)

// clock is a settable clock for the auth and rate-limit services.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// secured is an API with access control on a fresh database.
type secured struct {
	t      *testing.T
	pool   *pgxpool.Pool
	keys   *auth.Service
	clock  *clock
	h      http.Handler
	tokens map[string]string // role or name → key
}

func setupSecured(t *testing.T, anonymous api.Anonymous) *secured {
	t.Helper()
	pool := testdb.NewPool(t)
	c := &clock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	keys := auth.New(pool, auth.Options{Now: c.Now})
	s := &secured{t: t, pool: pool, keys: keys, clock: c, tokens: map[string]string{}}
	s.h = s.handler(ratelimit.New(pool, ratelimit.Options{Now: c.Now}), anonymous)
	for _, role := range auth.Roles {
		// Roles' keys are not limited here; TestRateLimit makes its own.
		s.tokens[string(role)] = s.createKey(string(role), role, auth.CreateParams{RateLimit: 1000000})
	}
	return s
}

// handler returns an API process on s's database (another node when called
// again).
func (s *secured) handler(limiter *ratelimit.Limiter, anonymous api.Anonymous) http.Handler {
	eng := engine.New(s.pool, engine.Options{})
	h, _ := api.New(api.Options{
		Engine: eng, Logger: slog.New(slog.NewTextHandler(s.t.Output(), nil)), UI: uiStub,
		Access: &api.Access{Keys: s.keys, Limiter: limiter, Anonymous: anonymous,
			AnonymousPolicy: ratelimit.Policy{Limit: 1000000}},
	})
	return h
}

func (s *secured) createKey(name string, role auth.Role, p auth.CreateParams) string {
	s.t.Helper()
	p.Name, p.Role = name, role
	_, token, err := s.keys.Create(context.Background(), p)
	require.NoError(s.t, err)
	return token
}

// send sends a request with a JSON body (or none) as the key token ("" for
// none) with extra headers.
func (s *secured) send(h http.Handler, method, path, token, body string, headers map[string]string) *httptest.ResponseRecorder {
	s.t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader([]byte(body)))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func (s *secured) as(role, method, path, body string) *httptest.ResponseRecorder {
	s.t.Helper()
	return s.send(s.h, method, path, s.tokens[role], body, nil)
}

// operation is one operation of the OpenAPI document, with a concrete path.
type operation struct {
	id, method, path string
}

// operations lists every operation of the API with its path parameters
// filled in.
func operations(t *testing.T) []operation {
	t.Helper()
	var ops []operation
	replacer := strings.NewReplacer("{id}", "1", "{name}", "x", "{step}", "x", "{key}", "x", "{version}", "1", "{kind}", "workflow")
	for path, item := range api.OpenAPI().Paths {
		add := func(method string, id string) {
			ops = append(ops, operation{id: id, method: method, path: replacer.Replace(path)})
		}
		if item.Get != nil {
			add(http.MethodGet, item.Get.OperationID)
		}
		if item.Post != nil {
			add(http.MethodPost, item.Post.OperationID)
		}
		if item.Put != nil {
			add(http.MethodPut, item.Put.OperationID)
		}
		if item.Delete != nil {
			add(http.MethodDelete, item.Delete.OperationID)
		}
		if item.Patch != nil {
			add(http.MethodPatch, item.Patch.OperationID)
		}
	}
	require.Greater(t, len(ops), 100)
	return ops
}

// public operations answer without a key.
func public(id string) bool {
	id = strings.TrimPrefix(id, "v2-")
	return id == "get-health" || id == "get-readiness" || id == "create-session" || id == "delete-session" || id == "inbound-webhook"
}

func TestAccessRoles(t *testing.T) {
	t.Parallel()
	s := setupSecured(t, api.AnonymousNone)
	ops := operations(t)

	// No key: 401 on every operation but the probes, sign-in/out and
	// webhooks (authenticated by their trigger's secret); the documents
	// are public.
	for _, op := range ops {
		if public(op.id) {
			continue
		}
		rec := s.send(s.h, op.method, op.path, "", "{}", nil)
		p := requireProblem(t, http.StatusUnauthorized, rec)
		require.NotEmpty(t, p.Detail, op.id)
		require.Equal(t, `Bearer realm="baton"`, rec.Header().Get("WWW-Authenticate"), op.id)
	}
	for _, path := range []string{"/healthz", "/readyz", "/openapi.json", "/v1/openapi.json", "/v2/openapi.json", "/v2/openapi-3.0.json"} {
		require.Equal(t, http.StatusOK, s.send(s.h, http.MethodGet, path, "", "", nil).Code, path)
	}
	// River's job UI (its pages and its API list every job with its args
	// and errors) and the metrics need a viewer, like the API's reads.
	for _, path := range []string{"/metrics", "/riverui", "/riverui/", "/riverui/api/jobs?state=completed"} {
		requireProblem(t, http.StatusUnauthorized, s.send(s.h, http.MethodGet, path, "", "", nil))
		require.NotContains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, s.as("viewer", http.MethodGet, path, "").Code, path)
	}
	requireProblem(t, http.StatusUnauthorized, s.send(s.h, http.MethodGet, "/v1/runs", "nonsense", "", nil))

	// A viewer: 403 on every write, reads pass the role check.
	for _, op := range ops {
		if public(op.id) {
			continue
		}
		rec := s.as("viewer", op.method, op.path, "{}")
		readOnly := op.method == http.MethodGet || op.id == "search-runs-post" // a search whose query is a body
		if readOnly && op.id != "v2-list-keys" && op.id != "list-keys" {
			require.NotContains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, rec.Code, "%s %s: %s", op.method, op.path, rec.Body.String())
			continue
		}
		p := requireProblem(t, http.StatusForbidden, rec)
		require.Contains(t, p.Detail, "role", op.id)
	}
	require.Equal(t, http.StatusOK, s.as("viewer", http.MethodGet, "/v2/runs", "").Code)
	requireProblem(t, http.StatusForbidden, s.as("viewer", http.MethodGet, "/v2/keys", ""))

	// An operator may not create task types (exec ones least of all); an
	// admin may.
	execType := `{"name": "shell", "executor": "exec"}`
	requireProblem(t, http.StatusForbidden, s.as("operator", http.MethodPost, "/v1/task-types", execType))
	require.Equal(t, http.StatusCreated, s.as("admin", http.MethodPost, "/v1/task-types", execType).Code)
	require.Equal(t, http.StatusCreated, s.as("admin", http.MethodPost, "/v1/task-types",
		`{"name": "noop", "executor": "sleep", "defaults": {"duration": "0s"}}`).Code)
	require.Equal(t, http.StatusCreated, s.as("admin", http.MethodPost, "/v2/workflows",
		`{"name": "one", "steps": [{"name": "a", "type": "noop"}]}`).Code)
	requireProblem(t, http.StatusForbidden, s.as("operator", http.MethodPost, "/v2/workflows", `{"name": "two", "steps": [{"name": "a", "type": "noop"}]}`))
	rec := s.as("operator", http.MethodPost, "/v2/runs", `{"workflow": "one"}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	var run struct {
		ID int64 `json:"id"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &run))

	// The actor of the operator's actions is its key's name; X-Baton-Actor
	// is an annotation.
	rec = s.send(s.h, http.MethodPost, "/v2/runs/"+strconv.FormatInt(run.ID, 10)+"/cancel", s.tokens["operator"], "", map[string]string{"X-Baton-Actor": "root"})
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var actor string
	require.NoError(t, s.pool.QueryRow(context.Background(),
		`SELECT actor FROM baton.task_events WHERE run_id = $1 AND kind = 'run_cancelled'`, run.ID).Scan(&actor))
	require.Equal(t, "operator (for root)", actor)

	// Revoked and expired keys: 401.
	_, err := s.keys.Revoke(context.Background(), "viewer")
	require.NoError(t, err)
	requireProblem(t, http.StatusUnauthorized, s.as("viewer", http.MethodGet, "/v1/runs", ""))
	expires := s.clock.Now().Add(time.Hour)
	short := s.createKey("short", auth.RoleAdmin, auth.CreateParams{ExpiresAt: &expires})
	require.Equal(t, http.StatusOK, s.send(s.h, http.MethodGet, "/v1/runs", short, "", nil).Code)
	s.clock.Add(time.Hour)
	requireProblem(t, http.StatusUnauthorized, s.send(s.h, http.MethodGet, "/v1/runs", short, "", nil))

	// Rotation: the old key stops working, the new one works.
	rec = s.as("admin", http.MethodPost, "/v2/keys/operator/rotate", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var rotated struct {
		Key string `json:"key"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rotated))
	requireProblem(t, http.StatusUnauthorized, s.as("operator", http.MethodGet, "/v1/runs", ""))
	require.Equal(t, http.StatusOK, s.send(s.h, http.MethodGet, "/v1/runs", rotated.Key, "", nil).Code)

	// The keys table holds no key in clear, nor any part of its secret.
	rows, err := s.pool.Query(context.Background(), `SELECT to_jsonb(k)::text FROM baton.api_keys k`)
	require.NoError(t, err)
	var dump strings.Builder
	for rows.Next() {
		var row string
		require.NoError(t, rows.Scan(&row))
		dump.WriteString(row)
	}
	require.NoError(t, rows.Err())
	for _, token := range []string{s.tokens["admin"], s.tokens["operator"], short, rotated.Key} {
		secret := token[strings.LastIndex(token, "_")+1:]
		require.NotContains(t, dump.String(), secret[:16])
	}
}

func TestDevModeLoopbackOnly(t *testing.T) {
	t.Parallel()
	s := setupSecured(t, api.AnonymousLoopback)
	local := func(host string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/v1/task-types", strings.NewReader(`{"name": "noop", "executor": "sleep"}`))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = "127.0.0.1:50000"
		req.Host = host
		rec := httptest.NewRecorder()
		s.h.ServeHTTP(rec, req)
		return rec
	}
	// The README's curl examples: anonymous, from loopback, to localhost.
	require.Equal(t, http.StatusCreated, local("localhost:8080").Code)
	require.Equal(t, http.StatusCreated, local("127.0.0.1:8080").Code)
	require.Equal(t, http.StatusCreated, local("[::1]:8080").Code)
	// A DNS-rebound page: loopback address, foreign Host.
	p := requireProblem(t, http.StatusUnauthorized, local("attacker.example:8080"))
	require.Contains(t, p.Detail, "loopback")
	// Not from loopback (httptest's 192.0.2.1): refused without a key,
	// served with one.
	requireProblem(t, http.StatusUnauthorized, s.send(s.h, http.MethodGet, "/v1/runs", "", "", nil))
	require.Equal(t, http.StatusOK, s.as("viewer", http.MethodGet, "/v1/runs", "").Code)
}

func TestSessionAndCSRF(t *testing.T) {
	t.Parallel()
	s := setupSecured(t, api.AnonymousNone)
	require.Equal(t, http.StatusCreated, s.as("admin", http.MethodPost, "/v1/task-types",
		`{"name": "noop", "executor": "sleep", "defaults": {"duration": "0s"}}`).Code)

	// Sign in.
	rec := s.send(s.h, http.MethodPost, "/v2/sessions", "", `{"key": "`+s.tokens["admin"]+`"}`, nil)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	cookies := rec.Result().Cookies()
	require.Len(t, cookies, 1)
	cookie := cookies[0]
	require.Equal(t, api.SessionCookie, cookie.Name)
	require.True(t, cookie.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, cookie.SameSite)
	require.False(t, cookie.Secure, "no TLS here")
	var sess struct {
		CSRFToken string `json:"csrf_token"`
		Role      string `json:"role"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &sess))
	require.Equal(t, "admin", sess.Role)
	requireProblem(t, http.StatusUnauthorized, s.send(s.h, http.MethodPost, "/v2/sessions", "", `{"key": "baton_nope"}`, nil))

	withCookie := func(method, path, body string, headers map[string]string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		s.h.ServeHTTP(rec, req)
		return rec
	}
	workflow := `{"name": "csrf", "steps": [{"name": "a", "type": "noop"}]}`
	// Reads need no token.
	require.Equal(t, http.StatusOK, withCookie(http.MethodGet, "/v2/me", "", nil).Code)

	// A cross-origin form post with the cookie changes nothing.
	for _, headers := range []map[string]string{
		{"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://attacker.example", "Sec-Fetch-Site": "cross-site"},
		{"Content-Type": "text/plain", "Origin": "https://attacker.example"},
		{"Content-Type": "application/x-www-form-urlencoded"},
		{"Content-Type": "application/json"},                                // same origin, but no CSRF token
		{"Content-Type": "application/json", api.CSRFHeader: "wrong-token"}, // a guessed token
	} {
		rec := withCookie(http.MethodPost, "/v1/workflows", workflow, headers)
		require.Contains(t, []int{http.StatusForbidden, http.StatusUnsupportedMediaType}, rec.Code, "%v: %s", headers, rec.Body.String())
	}
	rec = s.as("admin", http.MethodGet, "/v1/workflows", "")
	require.NotContains(t, rec.Body.String(), "csrf")

	// The dashboard's own request, with the token, is served.
	rec = withCookie(http.MethodPost, "/v1/workflows", workflow, map[string]string{"Content-Type": "application/json", api.CSRFHeader: sess.CSRFToken})
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())

	// Signing out ends the session.
	rec = withCookie(http.MethodDelete, "/v2/sessions/current", "", map[string]string{api.CSRFHeader: sess.CSRFToken})
	require.Equal(t, http.StatusNoContent, rec.Code, rec.Body.String())
	requireProblem(t, http.StatusUnauthorized, withCookie(http.MethodGet, "/v2/me", "", nil))
}

// TestRiverUIActions: River's job UI's actions need the operator role; from
// a dashboard session they need no CSRF header (River UI's pages cannot send
// it) but must come from this origin, and they may carry River UI's
// text/plain bodies. The exemption covers River UI's paths only.
func TestRiverUIActions(t *testing.T) {
	t.Parallel()
	s := setupSecured(t, api.AnonymousNone)
	const cancel = "/riverui/api/jobs/cancel"
	body := `{"ids":["1"]}`
	plain := map[string]string{"Content-Type": "text/plain;charset=UTF-8"}

	requireProblem(t, http.StatusUnauthorized, s.send(s.h, http.MethodPost, cancel, "", body, plain))
	p := requireProblem(t, http.StatusForbidden, s.send(s.h, http.MethodPost, cancel, s.tokens["viewer"], body, plain))
	require.Contains(t, p.Detail, "operator")
	rec := s.send(s.h, http.MethodPost, cancel, s.tokens["operator"], body, plain)
	require.Equal(t, "ui", rec.Body.String(), "an operator's key reaches River UI")
	require.Equal(t, "ui", s.send(s.h, http.MethodPut, "/riverui/api/queues/default/pause", s.tokens["operator"], "", nil).Body.String())

	signIn := func(role string) *http.Cookie {
		rec := s.send(s.h, http.MethodPost, "/v2/sessions", "", `{"key": "`+s.tokens[role]+`"}`, nil)
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		return rec.Result().Cookies()[0]
	}
	withCookie := func(cookie *http.Cookie, method, path string, headers map[string]string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.AddCookie(cookie)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		s.h.ServeHTTP(rec, req)
		return rec
	}
	operator, viewer := signIn("operator"), signIn("viewer")
	sameOrigin := map[string]string{"Content-Type": "text/plain;charset=UTF-8", "Sec-Fetch-Site": "same-origin", "Origin": "http://example.com"}
	require.Equal(t, "ui", withCookie(operator, http.MethodPost, cancel, sameOrigin).Body.String())
	require.Equal(t, "ui", withCookie(operator, http.MethodPost, cancel,
		map[string]string{"Origin": "http://example.com"}).Body.String(), "a browser without fetch metadata: its Origin")
	requireProblem(t, http.StatusForbidden, withCookie(viewer, http.MethodPost, cancel, sameOrigin))
	for _, headers := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site", "Origin": "https://attacker.example"},
		{"Sec-Fetch-Site": "same-site", "Origin": "http://sub.example.com"},
		{"Origin": "https://attacker.example"},
		{"Origin": "null"},
		{}, // no proof of origin at all
	} {
		rec := withCookie(operator, http.MethodPost, cancel, headers)
		require.Equal(t, http.StatusForbidden, rec.Code, "%v: %s", headers, rec.Body.String())
	}
	// The API itself still wants the CSRF header and JSON.
	rec = withCookie(operator, http.MethodPost, "/v2/runs", map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "same-origin"})
	requireProblem(t, http.StatusForbidden, rec)
	rec = s.send(s.h, http.MethodPost, "/v2/runs", s.tokens["operator"], `{"workflow": "x"}`, plain)
	requireProblem(t, http.StatusUnsupportedMediaType, rec)
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	s := setupSecured(t, api.AnonymousNone)
	s.tokens["limited"] = s.createKey("limited", auth.RoleViewer, auth.CreateParams{})
	s.tokens["other"] = s.createKey("other", auth.RoleViewer, auth.CreateParams{})
	// The clock stands still: no token comes back during the test.
	for i := 1; i <= 120; i++ {
		rec := s.as("limited", http.MethodGet, "/v2/runs", "")
		require.Equal(t, http.StatusOK, rec.Code, "request %d: %s", i, rec.Body.String())
		require.Equal(t, "120", rec.Header().Get("RateLimit-Limit"))
		require.NotEmpty(t, rec.Header().Get("RateLimit-Policy"))
		require.NotEmpty(t, rec.Header().Get("RateLimit"))
	}
	rec := s.as("limited", http.MethodGet, "/v2/runs", "")
	p := requireProblem(t, http.StatusTooManyRequests, rec)
	require.Contains(t, p.Detail, "rate limit")
	require.Equal(t, "1", rec.Header().Get("Retry-After"))
	require.Equal(t, "0", rec.Header().Get("RateLimit-Remaining"))
	var body map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	require.Equal(t, "urn:baton:problem:rate-limited", body["type"])

	// Another key is unaffected.
	require.Equal(t, http.StatusOK, s.as("other", http.MethodGet, "/v2/runs", "").Code)

	// One rate_limited event for the key however many refusals.
	for range 5 {
		requireProblem(t, http.StatusTooManyRequests, s.as("limited", http.MethodGet, "/v2/runs", ""))
	}
	var events int
	require.NoError(t, s.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM baton.task_events WHERE kind = 'rate_limited' AND actor = 'limited'`).Scan(&events))
	require.Equal(t, 1, events)

	// Two seconds later, 100/min has given back 3 tokens.
	s.clock.Add(2 * time.Second)
	for range 3 {
		require.Equal(t, http.StatusOK, s.as("limited", http.MethodGet, "/v2/runs", "").Code)
	}
	requireProblem(t, http.StatusTooManyRequests, s.as("limited", http.MethodGet, "/v2/runs", ""))
}

func TestRateLimitHoldsAcrossNodes(t *testing.T) {
	t.Parallel()
	s := setupSecured(t, api.AnonymousNone)
	// Two API processes on one database, each with its own limiter, on a
	// real clock: requests alternate between them.
	nodes := []http.Handler{
		s.handler(ratelimit.New(s.pool, ratelimit.Options{}), api.AnonymousNone),
		s.handler(ratelimit.New(s.pool, ratelimit.Options{}), api.AnonymousNone),
	}
	keys := auth.New(s.pool, auth.Options{})
	_, token, err := keys.Create(context.Background(), auth.CreateParams{Name: "busy", Role: auth.RoleViewer})
	require.NoError(t, err)
	start := time.Now()
	admitted := 0
	for i := range 300 {
		rec := s.send(nodes[i%2], http.MethodGet, "/v2/me", token, "", nil)
		if rec.Code == http.StatusOK {
			admitted++
		} else {
			require.Equal(t, http.StatusTooManyRequests, rec.Code, rec.Body.String())
		}
	}
	// The bucket holds 120 and refills 100 a minute while the test runs.
	allowed := 120 + time.Since(start).Seconds()*100/60
	t.Logf("admitted %d of 300 in %s (the bucket allows %.1f)", admitted, time.Since(start), allowed)
	require.InDelta(t, allowed, float64(admitted), allowed*0.05)
}

func TestRunQuota(t *testing.T) {
	t.Parallel()
	s := setupSecured(t, api.AnonymousNone)
	require.Equal(t, http.StatusCreated, s.as("admin", http.MethodPost, "/v1/task-types",
		`{"name": "noop", "executor": "sleep", "defaults": {"duration": "0s"}}`).Code)
	require.Equal(t, http.StatusCreated, s.as("admin", http.MethodPost, "/v1/workflows",
		`{"name": "one", "steps": [{"name": "a", "type": "noop"}]}`).Code)
	ctx := context.Background()
	// 999 runs of the day's 1,000 are used: the 1,000th passes, the
	// 1,001st is refused.
	_, err := s.pool.Exec(ctx, `INSERT INTO baton.api_key_usage (key_id, day, runs)
		SELECT id, '2026-12-01', 999 FROM baton.api_keys WHERE name = 'operator'`)
	require.NoError(t, err)
	// A start that fails counts nothing.
	for range 2 {
		rec := s.as("operator", http.MethodPost, "/v2/runs", `{"workflow": "nope"}`)
		requireProblem(t, http.StatusNotFound, rec)
	}
	require.Equal(t, http.StatusCreated, s.as("operator", http.MethodPost, "/v2/runs", `{"workflow": "one"}`).Code)
	for range 3 {
		rec := s.as("operator", http.MethodPost, "/v2/runs", `{"workflow": "one"}`)
		requireProblem(t, http.StatusTooManyRequests, rec)
		var body map[string]any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
		require.Equal(t, "urn:baton:problem:quota-exceeded", body["type"])
		require.NotEmpty(t, rec.Header().Get("Retry-After"))
	}
	var me struct {
		RunsToday     int `json:"runs_today"`
		DailyRunQuota int `json:"daily_run_quota"`
	}
	rec := s.as("operator", http.MethodGet, "/v2/me", "")
	require.Equal(t, http.StatusOK, rec.Code)
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &me))
	require.Equal(t, 1000, me.RunsToday)
	require.Equal(t, 1000, me.DailyRunQuota)
	var events int
	require.NoError(t, s.pool.QueryRow(ctx,
		`SELECT count(*) FROM baton.task_events WHERE kind = 'quota_exceeded' AND actor = 'operator'`).Scan(&events))
	require.Equal(t, 1, events)

	// The next day (UTC) the quota starts again.
	s.clock.Add(12 * time.Hour)
	require.Equal(t, http.StatusCreated, s.as("operator", http.MethodPost, "/v2/runs", `{"workflow": "one"}`).Code)
}

func TestVersioning(t *testing.T) {
	t.Parallel()
	s := setup(t)
	// v1: served, with the deprecation headers.
	rec := s.do(http.MethodGet, "/v1/task-types", nil)
	s.requireStatus(http.StatusOK, rec)
	require.Equal(t, "1", rec.Header().Get("Baton-Version"))
	require.Equal(t, "@1796083200", rec.Header().Get("Deprecation"))
	require.Equal(t, "Tue, 01 Jun 2027 00:00:00 GMT", rec.Header().Get("Sunset"))
	require.Contains(t, rec.Header().Get("Link"), `rel="deprecation"`)
	require.Contains(t, rec.Header().Get("Link"), "api-versioning.md")
	// v2: the same resource, no deprecation.
	rec = s.do(http.MethodGet, "/v2/task-types", nil)
	s.requireStatus(http.StatusOK, rec)
	require.Equal(t, "2", rec.Header().Get("Baton-Version"))
	require.Empty(t, rec.Header().Get("Deprecation"))

	// Unversioned paths: Baton-Version picks, default 2, unknown is 400.
	for version, want := range map[string]string{"1": "1", "2": "2", "": "2"} {
		headers := map[string]string{}
		if version != "" {
			headers["Baton-Version"] = version
		}
		rec := s.send(http.MethodGet, "/task-types", "", headers)
		s.requireStatus(http.StatusOK, rec)
		require.Equal(t, want, rec.Header().Get("Baton-Version"), version)
		require.Contains(t, rec.Body.String(), `"noop"`)
		require.Equal(t, want == "1", rec.Header().Get("Deprecation") != "")
	}
	p := requireProblem(t, http.StatusBadRequest, s.send(http.MethodGet, "/runs", "", map[string]string{"Baton-Version": "9"}))
	require.Contains(t, p.Detail, "Baton-Version")

	// One document per version, v1's operations deprecated.
	for _, version := range []string{"1", "2"} {
		for _, doc := range []string{"openapi.json", "openapi-3.0.json"} {
			rec := s.do(http.MethodGet, "/v"+version+"/"+doc, nil)
			s.requireStatus(http.StatusOK, rec)
			var d struct {
				OpenAPI string `json:"openapi"`
				Paths   map[string]map[string]struct {
					OperationID string `json:"operationId"`
					Deprecated  bool   `json:"deprecated"`
				} `json:"paths"`
			}
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &d))
			run := d.Paths["/v"+version+"/runs/{id}"]["get"]
			require.Equal(t, "get-run", run.OperationID)
			require.Equal(t, version == "1", run.Deprecated)
			require.NotContains(t, d.Paths, "/v"+map[string]string{"1": "2", "2": "1"}[version]+"/runs")
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	s := setup(t)
	for _, path := range []string{"/healthz", "/v1/runs", "/", "/docs", "/v1/nope"} {
		rec := s.do(http.MethodGet, path, nil)
		h := rec.Header()
		require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), path)
		require.Equal(t, "no-referrer", h.Get("Referrer-Policy"), path)
		require.Equal(t, "DENY", h.Get("X-Frame-Options"), path)
		require.Contains(t, h.Get("Content-Security-Policy"), "frame-ancestors 'none'", path)
		require.Contains(t, h.Get("Content-Security-Policy"), "script-src 'self'", path)
	}
}

func TestInsecureWarning(t *testing.T) {
	t.Parallel()
	s := setupSecured(t, api.AnonymousEveryone)
	rec := s.send(s.h, http.MethodGet, "/healthz", "", "", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), "INSECURE")
	require.Equal(t, http.StatusOK, s.send(s.h, http.MethodGet, "/v1/runs", "", "", nil).Code)
}

func TestActorAnnotationIsBounded(t *testing.T) {
	t.Parallel()
	s := setupSecured(t, api.AnonymousNone)
	for _, annotation := range []string{strings.Repeat("é", 199), strings.Repeat("x", 200), "  ", "operator"} {
		rec := s.send(s.h, http.MethodPost, "/v2/queues/default/pause", s.tokens["operator"], "", map[string]string{"X-Baton-Actor": annotation})
		require.NotEqual(t, http.StatusInternalServerError, rec.Code, rec.Body.String())
		require.NotEqual(t, http.StatusUnprocessableEntity, rec.Code, rec.Body.String())
	}
}

// TestSavedSearchesBelongToTheKey: a key sees the searches it saved and the
// shared ones, not another key's private ones, and cannot delete another
// key's search.
func TestSavedSearchesBelongToTheKey(t *testing.T) {
	t.Parallel()
	s := setupSecured(t, api.AnonymousNone)
	save := func(role, name string, shared bool) api.SavedSearch {
		t.Helper()
		rec := s.as(role, http.MethodPost, "/v2/saved-searches",
			fmt.Sprintf(`{"name": %q, "query": "status=failed", "shared": %t}`, name, shared))
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		var saved api.SavedSearch
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &saved))
		return saved
	}
	names := func(role string) []string {
		t.Helper()
		rec := s.as(role, http.MethodGet, "/v2/saved-searches", "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var list api.SavedSearchList
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &list))
		var out []string
		for _, s := range list.Searches {
			out = append(out, s.Name)
		}
		return out
	}
	mine := save("operator", "mine", false)
	save("operator", "ours", true)
	// The same name under another key is another search.
	save("admin", "mine", false)

	require.ElementsMatch(t, []string{"mine", "ours"}, names("operator"))
	require.ElementsMatch(t, []string{"mine", "ours"}, names("admin"))
	require.ElementsMatch(t, []string{"ours"}, names("viewer"))

	requireProblem(t, http.StatusNotFound, s.as("viewer", http.MethodGet, fmt.Sprintf("/v2/saved-searches/%d/runs", mine.ID), ""))
	requireProblem(t, http.StatusNotFound, s.as("admin", http.MethodDelete, fmt.Sprintf("/v2/saved-searches/%d", mine.ID), ""))
	require.Equal(t, http.StatusOK, s.as("operator", http.MethodGet, fmt.Sprintf("/v2/saved-searches/%d/runs", mine.ID), "").Code)
}
