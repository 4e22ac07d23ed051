package api_test

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/api"
	"github.com/baton-run/baton/internal/analytics"
)

// get sends a GET with an optional Accept header.
func (s *server) get(path, accept string) *httptest.ResponseRecorder {
	s.t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	return rec
}

// TestAnalyticsAPI drives the analytics operations over HTTP on a run
// started through the API (no workers: its root task is queued): JSON and
// CSV answers, the Gantt data, exports, and 422s naming the parameter. The
// figures themselves are checked on seeded data in internal/analytics.
func TestAnalyticsAPI(t *testing.T) {
	t.Parallel()
	s := setup(t)
	decode[api.Workflow](s, http.StatusCreated, s.do(http.MethodPost, "/v1/workflows", diamond))
	run := decode[api.Run](s, http.StatusCreated, s.do(http.MethodPost, "/v1/runs", `{"workflow": "diamond"}`))

	completion := decode[analytics.Completion](s, http.StatusOK, s.get("/v1/analytics/completion?workflow=diamond&tags=test", ""))
	require.Equal(t, int64(1), completion.Total)
	require.Equal(t, []analytics.StatusCount{{Status: "running", Runs: 1, Rate: 1}}, completion.Statuses)

	// CSV by parameter and by Accept header.
	for _, rec := range []*httptest.ResponseRecorder{
		s.get("/v1/analytics/completion?format=csv&owner=team-a", ""),
		s.get("/v1/analytics/completion?owner=team-a", "text/csv"),
	} {
		s.requireStatus(http.StatusOK, rec)
		require.Equal(t, "text/csv; charset=utf-8", rec.Header().Get("Content-Type"))
		records, err := csv.NewReader(rec.Body).ReadAll()
		require.NoError(t, err)
		require.Equal(t, [][]string{{"status", "runs", "rate"}, {"running", "1", "1"}}, records)
	}

	for _, path := range []string{"/v1/analytics/durations", "/v1/analytics/task-types", "/v1/analytics/errors?limit=5",
		"/v1/analytics/cost", "/v1/analytics/heatmap", "/v1/analytics/queues"} {
		s.requireStatus(http.StatusOK, s.get(path, ""))
		rec := s.get(path, "text/csv")
		s.requireStatus(http.StatusOK, rec)
		require.Equal(t, "text/csv; charset=utf-8", rec.Header().Get("Content-Type"), path)
	}
	// The root task waits in River's queue.
	queues := decode[analytics.QueueStats](s, http.StatusOK, s.get("/v1/analytics/queues", ""))
	require.Len(t, queues.Queues, 1)
	require.Equal(t, int64(1), queues.Queues[0].Available)

	gantt := decode[analytics.Gantt](s, http.StatusOK, s.get("/v1/runs/"+itoa(run.ID)+"/gantt", ""))
	require.Len(t, gantt.Tasks, 4)
	require.Equal(t, "a", gantt.Tasks[0].Step)
	require.Equal(t, "queued", gantt.Tasks[0].Status)
	require.Equal(t, []string{"b", "c"}, gantt.Tasks[3].DependsOn)
	require.Equal(t, "a", gantt.CriticalPath[0])
	rec := s.get("/v1/runs/"+itoa(run.ID)+"/gantt?format=csv", "")
	s.requireStatus(http.StatusOK, rec)
	require.True(t, strings.HasPrefix(rec.Body.String(), "step,task_type,status,depends_on,"), rec.Body.String())
	requireProblem(t, http.StatusNotFound, s.get("/v1/runs/999999/gantt", ""))

	// Exports stream JSON arrays or CSV.
	rec = s.get("/v1/exports/runs", "")
	s.requireStatus(http.StatusOK, rec)
	var runs []map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &runs), rec.Body.String())
	require.Len(t, runs, 1)
	require.Equal(t, "diamond", runs[0]["workflow"])
	rec = s.get("/v1/exports/tasks?format=csv", "")
	s.requireStatus(http.StatusOK, rec)
	require.Equal(t, `attachment; filename="tasks.csv"`, rec.Header().Get("Content-Disposition"))
	records, err := csv.NewReader(rec.Body).ReadAll()
	require.NoError(t, err)
	require.Len(t, records, 5)
	rec = s.get("/v1/exports/events?run_id="+itoa(run.ID)+"&kind=run_started", "text/csv")
	s.requireStatus(http.StatusOK, rec)
	records, err = csv.NewReader(rec.Body).ReadAll()
	require.NoError(t, err)
	require.Len(t, records, 2)
	require.Equal(t, "run_started", records[1][5])

	// Hostile input: 422 naming the parameter, never a 500.
	for path, location := range map[string]string{
		"/v1/analytics/completion?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z": "query.from",
		"/v1/analytics/cost?from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z":       "query.from",
		"/v1/analytics/durations?from=yesterday":                                     "query.from",
		"/v1/analytics/task-types?workflow=Bad%20Name":                               "query.workflow",
		"/v1/analytics/errors?limit=1000":                                            "query.limit",
		"/v1/analytics/heatmap?format=xml":                                           "query.format",
		"/v1/analytics/completion?tags=" + strings.Repeat("t,", 21) + "t":            "query.tags",
		"/v1/exports/events?run_id=-1":                                               "query.run_id",
		"/v1/exports/runs?status=lost":                                               "query.status",
		"/v1/runs/0/gantt":                                                           "path.id",
	} {
		p := requireProblem(t, http.StatusUnprocessableEntity, s.get(path, ""))
		require.NotEmpty(t, p.Errors, path)
		require.Equal(t, location, p.Errors[0].Location, path)
	}
	// A client that accepts only CSV still gets a readable problem.
	rec = s.get("/v1/analytics/completion?to=2020-01-01T00:00:00Z&from=2021-01-01T00:00:00Z", "text/csv")
	requireProblem(t, http.StatusUnprocessableEntity, rec)
}

func TestTaskTypePrices(t *testing.T) {
	t.Parallel()
	s := setup(t)
	created := decode[api.TaskType](s, http.StatusCreated, s.do(http.MethodPost, "/v1/task-types",
		`{"name": "priced", "executor": "sleep", "cost_per_second": 0.0004, "cost_per_run": 0.01}`))
	require.Equal(t, 0.0004, *created.CostPerSecond)
	require.Equal(t, 0.01, *created.CostPerRun)
	got := decode[api.TaskType](s, http.StatusOK, s.do(http.MethodGet, "/v1/task-types/noop", nil))
	require.Nil(t, got.CostPerSecond)
	p := requireProblem(t, http.StatusUnprocessableEntity, s.do(http.MethodPost, "/v1/task-types",
		`{"name": "priced", "executor": "sleep", "cost_per_second": -1}`))
	requireLocation(t, p, "body.cost_per_second", "")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
