package api_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/api"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/testdb"
)

// badRequest is a request the API must refuse with a 4xx.
type badRequest struct {
	name   string
	method string
	path   string // decoded: sent as URL.Path, or with a query after '?'
	body   string
	actor  string // X-Baton-Actor, when not empty
}

const helloWorkflow = `{"name": "hello", "steps": [{"name": "greet", "type": "noop"}]}`

// badRequests are the inputs that answered 500 before input hygiene (fault
// A) and the loose options of fault C that the API can express. They seed
// the fuzz targets too.
var badRequests = []badRequest{
	{"input value NUL", "POST", "/v1/runs", `{"workflow": "hello", "input": {"a": "\u0000"}}`, ""},
	{"input key NUL", "POST", "/v1/runs", `{"workflow": "hello", "input": {"\u0000": 1}}`, ""},
	{"nested input NUL", "POST", "/v1/runs", `{"workflow": "hello", "input": {"a": [{"b": "x\u0000y"}]}}`, ""},
	{"owner NUL", "POST", "/v1/runs", `{"workflow": "hello", "owner": "a\u0000"}`, ""},
	{"tag NUL", "POST", "/v1/runs", `{"workflow": "hello", "tags": ["\u0000"]}`, ""},
	{"idempotency key NUL", "POST", "/v1/runs", `{"workflow": "hello", "idempotency_key": "k\u0000"}`, ""},
	{"workflow NUL", "POST", "/v1/runs", `{"workflow": "hel\u0000lo"}`, ""},
	{"input raw 0xff", "POST", "/v1/runs", "{\"workflow\": \"hello\", \"input\": {\"a\": \"\xff\"}}", ""},
	{"input key raw 0xff", "POST", "/v1/runs", "{\"workflow\": \"hello\", \"input\": {\"\xff\": 1}}", ""},
	{"version 2^31", "POST", "/v1/runs", `{"workflow": "hello", "version": 2147483648}`, ""},
	{"idempotency key 10000 chars", "POST", "/v1/runs", `{"workflow": "hello", "idempotency_key": "` + strings.Repeat("k", 10000) + `"}`, ""},
	{"input too deep", "POST", "/v1/runs", `{"workflow": "hello", "input": ` + nestedJSON(65) + `}`, ""},
	{"input 10000 deep", "POST", "/v1/runs", `{"workflow": "hello", "input": ` + nestedJSON(10000) + `}`, ""},
	{"input not an object", "POST", "/v1/runs", `{"workflow": "hello", "input": []}`, ""},
	{"unknown option", "POST", "/v1/runs", `{"workflow": "hello", "trigger": "sql"}`, ""},
	{"step params value NUL", "POST", "/v1/workflows", `{"name": "w", "steps": [{"name": "a", "type": "noop", "params": {"x": "\u0000"}}]}`, ""},
	{"step params key NUL", "POST", "/v1/workflows", `{"name": "w", "steps": [{"name": "a", "type": "noop", "params": {"\u0000": 1}}]}`, ""},
	{"step params too deep", "POST", "/v1/workflows", `{"name": "w", "steps": [{"name": "a", "type": "noop", "params": ` + nestedJSON(65) + `}]}`, ""},
	{"workflow description NUL", "POST", "/v1/workflows", `{"name": "w", "description": "\u0000", "steps": [{"name": "a", "type": "noop"}]}`, ""},
	{"workflow owner NUL", "POST", "/v1/workflows", `{"name": "w", "owner": "\u0000", "steps": [{"name": "a", "type": "noop"}]}`, ""},
	{"task-type defaults NUL", "POST", "/v1/task-types", `{"name": "t", "executor": "sleep", "defaults": {"duration": "\u0000"}}`, ""},
	{"task-type description NUL", "POST", "/v1/task-types", `{"name": "t", "executor": "sleep", "description": "\u0000"}`, ""},
	{"runs filter NUL", "GET", "/v1/runs?workflow=%00", "", ""},
	{"runs filter 0xff", "GET", "/v1/runs?workflow=%ff", "", ""},
	{"runs cursor NUL", "GET", "/v1/runs?cursor=%00", "", ""},
	{"dead-letter filter NUL", "GET", "/v1/dead-letters?workflow=%00&task_type=%ff", "", ""},
	{"workflow path 0xff", "GET", "/v1/workflows/\xff", "", ""},
	{"workflow path NUL", "GET", "/v1/workflows/\x00", "", ""},
	{"workflow version path 0xff", "GET", "/v1/workflows/\xff/versions/1", "", ""},
	{"workflow version 2^31", "GET", "/v1/workflows/hello/versions/2147483648", "", ""},
	{"task-type path NUL", "GET", "/v1/task-types/\x00", "", ""},
	{"task-type path 0xff", "GET", "/v1/task-types/\xff", "", ""},
	{"breaker path NUL", "GET", "/v1/breakers/\x00", "", ""},
	{"breaker path 0xff", "POST", "/v1/breakers/\xff/open", "", ""},
	{"queue path NUL", "POST", "/v1/queues/\x00/pause", "", ""},
	{"queue path 0xff", "POST", "/v1/queues/\xff/resume", "", ""},
	{"step path NUL", "POST", "/v1/runs/1/tasks/\x00/retry", "", ""},
	{"step path 0xff", "POST", "/v1/runs/1/tasks/\xff/skip", "", ""},
	{"step attempts path 0xff", "GET", "/v1/runs/1/tasks/\xff/attempts", "", ""},
	{"actor 0xff", "POST", "/v1/runs/1/cancel", "", "\xff\xfe"},
	{"actor NUL", "POST", "/v1/runs/1/pause", "", "a\x00b"},
}

// nestedJSON returns a JSON object nested depth levels deep.
func nestedJSON(depth int) string {
	return strings.Repeat(`{"a":`, depth-1) + "{}" + strings.Repeat("}", depth-1)
}

// newHandler returns the API handler on a fresh database holding the task
// type "noop" and the workflow "hello", with the run 1 of "hello".
func newHandler(tb testing.TB) http.Handler {
	tb.Helper()
	eng := engine.New(testdb.NewPool(tb), engine.Options{})
	h, _ := api.New(api.Options{
		Engine: eng,
		Logger: slog.New(slog.NewTextHandler(tb.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	for _, req := range []badRequest{
		{method: "POST", path: "/v1/task-types", body: `{"name": "noop", "executor": "sleep", "defaults": {"duration": "0s"}}`},
		{method: "POST", path: "/v1/workflows", body: helloWorkflow},
		{method: "POST", path: "/v1/runs", body: `{"workflow": "hello"}`},
	} {
		rec := serve(h, req)
		require.Equal(tb, http.StatusCreated, rec.Code, "%s %s: %s", req.method, req.path, rec.Body.String())
	}
	return h
}

// serve sends req to h. Its path may hold any bytes: it is set decoded, as
// a router sees it after percent-decoding.
func serve(h http.Handler, req badRequest) *httptest.ResponseRecorder {
	path, query, _ := strings.Cut(req.path, "?")
	r := httptest.NewRequest(req.method, "/", strings.NewReader(req.body))
	r.URL = &url.URL{Path: path, RawQuery: query}
	r.RequestURI = ""
	if req.body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if req.actor != "" {
		r.Header["X-Baton-Actor"] = []string{req.actor}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// TestBadInputIsRefusedWith4xx covers faults A and C at the API: every input
// that reached PostgreSQL and answered 500 is a 4xx problem now.
func TestBadInputIsRefusedWith4xx(t *testing.T) {
	t.Parallel()
	h := newHandler(t)
	for _, req := range badRequests {
		rec := serve(h, req)
		require.True(t, rec.Code >= 400 && rec.Code < 500, "%s: %d %s", req.name, rec.Code, rec.Body.String())
		require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"), req.name)
	}
}

// TestBadInputNamesTheField covers fault A: the 422 names the culprit.
func TestBadInputNamesTheField(t *testing.T) {
	t.Parallel()
	s := setup(t)
	s.requireStatus(http.StatusCreated, s.do(http.MethodPost, "/v1/workflows", helloWorkflow))
	for _, tc := range []struct{ method, path, body, location, text string }{
		{"POST", "/v1/runs", `{"workflow": "hello", "input": {"a": "\u0000"}}`, "body.input", "NUL"},
		{"POST", "/v1/runs", `{"workflow": "hello", "tags": ["ok", "\u0000"]}`, "body.tags[1]", "NUL"},
		{"POST", "/v1/runs", `{"workflow": "hello", "owner": "\u0000"}`, "body.owner", "NUL"},
		{"POST", "/v1/runs", "{\"workflow\": \"hello\", \"input\": {\"a\": \"\xff\"}}", "body.input", "UTF-8"},
		{"POST", "/v1/runs", `{"workflow": "hello", "input": ` + nestedJSON(65) + `}`, "body.input", "64 levels"},
		{"POST", "/v1/workflows", `{"name": "w", "steps": [{"name": "a", "type": "noop", "params": {"\u0000": 1}}]}`, "body.steps[0].params", "NUL"},
		{"POST", "/v1/task-types", `{"name": "t", "executor": "sleep", "description": "\u0000"}`, "body.description", "NUL"},
	} {
		p := requireProblem(t, http.StatusUnprocessableEntity, s.do(tc.method, tc.path, tc.body))
		requireLocation(t, p, tc.location, tc.text)
	}
	rec := serve(s.h, badRequest{method: "POST", path: "/v1/runs/1/cancel", actor: "\xff"})
	requireLocation(t, requireProblem(t, http.StatusUnprocessableEntity, rec), "header.X-Baton-Actor", "UTF-8")
	rec = serve(s.h, badRequest{method: "GET", path: "/v1/runs?workflow=%00"})
	requireLocation(t, requireProblem(t, http.StatusUnprocessableEntity, rec), "query.workflow", "NUL")
}

// TestIdempotencyKeyReusedIsConflict covers fault C: a key reused for
// another workflow or input answers 409; the same request replays.
func TestIdempotencyKeyReusedIsConflict(t *testing.T) {
	t.Parallel()
	s := setup(t)
	s.requireStatus(http.StatusCreated, s.do(http.MethodPost, "/v1/workflows", helloWorkflow))
	s.requireStatus(http.StatusCreated, s.do(http.MethodPost, "/v1/workflows", strings.Replace(helloWorkflow, "hello", "other", 1)))

	first := decode[api.Run](s, http.StatusCreated, s.do(http.MethodPost, "/v1/runs", `{"workflow": "hello", "input": {"x": 1}, "idempotency_key": "pay-1"}`))
	again := s.do(http.MethodPost, "/v1/runs", `{"workflow": "hello", "input": {"x": 1}, "idempotency_key": "pay-1"}`)
	require.Equal(t, first.ID, decode[api.Run](s, http.StatusOK, again).ID)
	require.Equal(t, "true", again.Header().Get("Idempotent-Replayed"))

	p := requireProblem(t, http.StatusConflict, s.do(http.MethodPost, "/v1/runs", `{"workflow": "other", "input": {"x": 1}, "idempotency_key": "pay-1"}`))
	require.Contains(t, p.Detail, "idempotency_key")
	requireProblem(t, http.StatusConflict, s.do(http.MethodPost, "/v1/runs", `{"workflow": "hello", "input": {"x": 2}, "idempotency_key": "pay-1"}`))
}

// TestDeepInputFromSQLDoesNotBreakListings covers fault B: SQL refuses the
// input that broke every listing, and a body that cannot be marshalled (a
// row written before the limit) is a 500 problem, not a broken 200.
func TestDeepInputFromSQLDoesNotBreakListings(t *testing.T) {
	t.Parallel()
	pool := testdb.NewPool(t)
	h, _ := api.New(api.Options{Engine: engine.New(pool, engine.Options{}), Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	s := &server{t: t, h: h}
	s.requireStatus(http.StatusCreated, s.do(http.MethodPost, "/v1/task-types", `{"name": "noop", "executor": "sleep"}`))
	s.requireStatus(http.StatusCreated, s.do(http.MethodPost, "/v1/workflows", helloWorkflow))
	ctx := context.Background()

	_, err := pool.Exec(ctx, `SELECT baton.start_run('hello', $1::jsonb)`, nestedJSON(10000))
	require.ErrorContains(t, err, "input: must be nested at most 64 levels deep")
	for _, path := range []string{"/v1/runs", "/v1/attention"} {
		s.requireStatus(http.StatusOK, s.do(http.MethodGet, path, nil))
	}

	// A row written around the function (or before it checked depth).
	var id int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT baton.start_run('hello')`).Scan(&id))
	_, err = pool.Exec(ctx, `UPDATE baton.runs SET input = $1::jsonb WHERE id = $2`, nestedJSON(10001), id)
	require.NoError(t, err)
	for _, path := range []string{"/v1/runs", "/v1/runs/" + strconv.FormatInt(id, 10)} {
		p := requireProblem(t, http.StatusInternalServerError, s.do(http.MethodGet, path, nil))
		require.Equal(t, "internal server error", p.Detail, path)
	}
}

// TestDatabaseUnavailableIs503 covers the error mapping: a database that
// cannot be reached answers 503 with Retry-After, not 500.
func TestDatabaseUnavailableIs503(t *testing.T) {
	t.Parallel()
	pool, err := pgxpool.New(context.Background(), "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=1")
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	h, _ := api.New(api.Options{Engine: engine.New(pool, engine.Options{})})
	s := &server{t: t, h: h}
	for _, path := range []string{"/v1/runs", "/v1/runs/1", "/v1/workflows/hello", "/v1/task-types"} {
		rec := s.do(http.MethodGet, path, nil)
		p := requireProblem(t, http.StatusServiceUnavailable, rec)
		require.NotContains(t, p.Detail, "127.0.0.1", path)
		require.NotEmpty(t, rec.Header().Get("Retry-After"), path)
	}
}

// TestProblemPolish covers fault D: a 404 says "not found" once; validation
// problems of steps are located by index.
func TestProblemPolish(t *testing.T) {
	t.Parallel()
	s := setup(t)
	p := requireProblem(t, http.StatusNotFound, s.do(http.MethodGet, "/v1/runs/9999", nil))
	require.Equal(t, "run 9999 not found", p.Detail)
	p = requireProblem(t, http.StatusNotFound, s.do(http.MethodPost, "/v1/runs/9999/cancel", nil))
	require.Equal(t, "run 9999 not found", p.Detail)

	p = requireProblem(t, http.StatusUnprocessableEntity, s.do(http.MethodPost, "/v1/workflows",
		`{"name": "w", "steps": [{"name": "a", "type": "noop", "depends_on": ["ghost"], "params": {"x": "{{ .nope }}"}}]}`))
	requireLocation(t, p, "body.steps[0].depends_on[0]", "ghost")
	requireLocation(t, p, "body.steps[0].params.x", "nope")
	for _, e := range p.Errors {
		require.True(t, strings.HasPrefix(e.Location, "body.steps["), e.Location)
	}
}

// TestOpenAPIErrorResponses covers fault D: one version, no default
// responses, 503 on every operation that needs the database.
func TestOpenAPIErrorResponses(t *testing.T) {
	t.Parallel()
	doc := api.OpenAPI()
	require.Equal(t, api.Version, doc.Info.Version)
	for path, item := range doc.Paths {
		for _, op := range []*huma.Operation{item.Get, item.Post} {
			if op == nil {
				continue
			}
			require.NotContains(t, op.Responses, "default", path)
			require.Contains(t, op.Responses, "500", path)
			if path != "/healthz" {
				require.Contains(t, op.Responses, "503", path)
			}
		}
	}
}
