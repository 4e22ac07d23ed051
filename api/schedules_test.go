package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/api"
)

func TestSchedulesAPI(t *testing.T) {
	t.Parallel()
	s := setup(t)
	s.requireStatus(http.StatusCreated, s.do(http.MethodPost, "/v1/workflows",
		`{"name": "report", "steps": [{"name": "a", "type": "noop"}]}`))

	// Bad input: 422 naming the field.
	for field, body := range map[string]string{
		"body.cron":      `{"name": "x", "workflow": "report", "cron": "61 * * * *"}`,
		"body.time_zone": `{"name": "x", "workflow": "report", "cron": "@daily", "time_zone": "Mars/Base"}`,
		"body.input.day": `{"name": "x", "workflow": "report", "cron": "@daily", "input": {"day": "{{ .schedule.logical_date"}}`,
		"body.end_at":    `{"name": "x", "workflow": "report", "cron": "@daily", "start_at": "2026-02-01T00:00:00Z", "end_at": "2026-01-01T00:00:00Z"}`,
		"body.workflow":  `{"name": "x", "workflow": "nope", "cron": "@daily"}`,
		"body.overlap":   `{"name": "x", "workflow": "report", "cron": "@daily", "overlap": "never"}`,
	} {
		p := requireProblem(t, http.StatusUnprocessableEntity, s.do(http.MethodPost, "/v1/schedules", body))
		locations := []string{}
		for _, e := range p.Errors {
			locations = append(locations, e.Location)
		}
		if field == "body.input.day" {
			require.Contains(t, p.Detail+p.Errors[0].Message, "input.day", field)
			continue
		}
		require.Contains(t, locations, field, "%s: %+v", field, p)
	}

	created := decode[api.Schedule](s, http.StatusCreated, s.do(http.MethodPost, "/v1/schedules",
		`{"name": "hourly", "workflow": "report", "cron": "@hourly", "time_zone": "Europe/Paris", "input": {"at": "{{ .schedule.fire_time }}"}, "overlap": "skip"}`))
	require.Equal(t, "Europe/Paris", created.TimeZone)
	require.NotNil(t, created.NextFire)
	requireProblem(t, http.StatusConflict, s.do(http.MethodPost, "/v1/schedules",
		`{"name": "hourly", "workflow": "report", "cron": "@hourly"}`))

	list := decode[api.ScheduleList](s, http.StatusOK, s.do(http.MethodGet, "/v1/schedules", nil))
	require.Len(t, list.Schedules, 1)

	preview := decode[api.SchedulePreview](s, http.StatusOK, s.do(http.MethodGet, "/v1/schedules/hourly/preview?n=3", nil))
	require.Len(t, preview.Fires, 3)
	require.Equal(t, preview.Fires[0].Local.Unix(), preview.Fires[0].UTC.Unix())
	requireProblem(t, http.StatusUnprocessableEntity, s.do(http.MethodGet, "/v1/schedules/hourly/preview?n=1000", nil))

	body := `{"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T03:00:00Z", "dry_run": true}`
	dry := decode[api.BackfillResult](s, http.StatusOK, s.do(http.MethodPost, "/v1/schedules/hourly/backfill", body))
	require.Len(t, dry.Fires, 4)
	require.Zero(t, dry.Started)
	real := decode[api.BackfillResult](s, http.StatusOK, s.do(http.MethodPost, "/v1/schedules/hourly/backfill",
		`{"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T03:00:00Z"}`))
	require.Equal(t, 4, real.Started)
	requireProblem(t, http.StatusUnprocessableEntity, s.do(http.MethodPost, "/v1/schedules/hourly/backfill",
		`{"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T03:00:00Z"}`))

	hist := decode[api.ScheduleHistory](s, http.StatusOK, s.do(http.MethodGet, "/v1/schedules/hourly/history?limit=10", nil))
	require.Len(t, hist.Fires, 4)
	require.Equal(t, "backfill", hist.Fires[0].Kind)
	require.NotNil(t, hist.Fires[0].RunID)
	require.NotEmpty(t, hist.Fires[0].RunStatus)
	requireProblem(t, http.StatusUnprocessableEntity, s.do(http.MethodGet, "/v1/schedules/hourly/history?limit=0", nil))

	disabled := decode[api.Schedule](s, http.StatusOK, s.do(http.MethodPost, "/v1/schedules/hourly/disable", nil))
	require.False(t, disabled.Enabled)
	require.Nil(t, disabled.NextFire)
	enabled := decode[api.Schedule](s, http.StatusOK, s.do(http.MethodPost, "/v1/schedules/hourly/enable", nil))
	require.True(t, enabled.Enabled)

	updated := decode[api.Schedule](s, http.StatusOK, s.do(http.MethodPut, "/v1/schedules/hourly",
		`{"workflow": "report", "cron": "*/5 * * * *", "catchup": "all", "max_catchup": 5}`))
	require.Equal(t, "*/5 * * * *", updated.Cron)
	require.Equal(t, "UTC", updated.TimeZone)
	requireProblem(t, http.StatusNotFound, s.do(http.MethodPut, "/v1/schedules/nope", `{"workflow": "report", "cron": "@daily"}`))

	s.requireStatus(http.StatusNoContent, s.do(http.MethodDelete, "/v1/schedules/hourly", nil))
	requireProblem(t, http.StatusNotFound, s.do(http.MethodGet, "/v1/schedules/hourly", nil))
	requireProblem(t, http.StatusNotFound, s.do(http.MethodPost, "/v1/schedules/hourly/enable", nil))
	requireProblem(t, http.StatusNotFound, s.do(http.MethodGet, "/v1/schedules/hourly/history", nil))
}
