package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/baton-run/baton/internal/analytics"
)

// StartRecommendation is one suggested start time of a workflow.
type StartRecommendation struct {
	Start        time.Time `json:"start" doc:"The suggested start, a whole hour (UTC)."`
	StartLocal   string    `json:"start_local" example:"2026-12-02T03:00:00+01:00" doc:"The same instant in the requested time zone (RFC 3339)."`
	ExpectedLoad float64   `json:"expected_load" example:"0.4" doc:"Average number of tasks that ran cluster-wide during the window the run would occupy, at the same hours of the week over the last 30 days."`
	Utilization  float64   `json:"utilization" example:"0.02" doc:"expected_load over the worker slots of the live nodes; 0 when no node is live."`
	Reason       string    `json:"reason" doc:"Why this start, in words."`
}

// StartAdvice is the body of recommend-start.
type StartAdvice struct {
	Workflow         string                `json:"workflow" example:"nightly-report"`
	MedianDurationMs int64                 `json:"median_duration_ms" doc:"Median creation-to-finish time of the workflow's recent successful runs; 0 without any (an hour is assumed)."`
	RunsConsidered   int                   `json:"runs_considered" doc:"How many successful runs (at most 200, last 30 days) the median is taken over."`
	HistoryFrom      time.Time             `json:"history_from" doc:"Start of the utilization history read."`
	HistoryTo        time.Time             `json:"history_to" doc:"End of the utilization history read."`
	Slots            int                   `json:"slots" doc:"Worker slots of the live nodes."`
	TimeZone         string                `json:"time_zone" example:"Europe/Paris"`
	Recommendations  []StartRecommendation `json:"recommendations" doc:"The best starts in the next 24 hours, best first."`
	Busiest          StartRecommendation   `json:"busiest" doc:"The start of the next 24 hours with the highest expected load, for comparison."`
	Reasoning        string                `json:"reasoning" doc:"How the starts were scored."`
}

type recommendStartInput struct {
	Name     string `path:"name" pattern:"^[a-z0-9][a-z0-9_.-]{0,99}$" doc:"The workflow's name."`
	Count    int    `query:"count" default:"3" minimum:"1" maximum:"24" doc:"How many starts to suggest."`
	TimeZone string `query:"tz" maxLength:"100" example:"Europe/Paris" doc:"IANA time zone of start_local and of the reasons (default UTC)."`
}

type recommendStartOutput struct{ Body StartAdvice }

func registerRecommend(api huma.API, h *handlers) {
	huma.Register(api, huma.Operation{
		OperationID: "recommend-start", Method: http.MethodGet, Path: "/workflows/{name}/recommend-start",
		Summary: "Suggest when to start a workflow",
		Description: "Scores each whole hour of the next 24 by the average number of tasks that ran cluster-wide at the same hours of the week over the last 30 days (hourly rollups), " +
			"across the window the run would occupy (the median duration of the workflow's recent successful runs), and returns the quietest starts with the reasoning.",
		Tags: []string{tagWorkflows}, Errors: errorStatuses(http.StatusNotFound, http.StatusUnprocessableEntity),
	}, h.recommendStart)
}

func (h *handlers) recommendStart(ctx context.Context, in *recommendStartInput) (*recommendStartOutput, error) {
	loc := time.UTC
	if in.TimeZone != "" {
		var err error
		if loc, err = time.LoadLocation(in.TimeZone); err != nil || in.TimeZone == "Local" {
			return nil, huma.Error422UnprocessableEntity("invalid time zone",
				&huma.ErrorDetail{Location: "query.tz", Message: "unknown IANA time zone", Value: in.TimeZone})
		}
	}
	if _, err := h.engine.GetWorkflow(ctx, in.Name, 0); err != nil {
		return nil, h.problem(ctx, err)
	}
	advice, err := h.analytics.RecommendStart(ctx, in.Name, in.Count, loc)
	if err != nil {
		return nil, h.analyticsProblem(ctx, err)
	}
	out := &recommendStartOutput{Body: StartAdvice{
		Workflow: advice.Workflow, MedianDurationMs: advice.MedianDuration.Milliseconds(), RunsConsidered: advice.RunsConsidered,
		HistoryFrom: advice.HistoryFrom, HistoryTo: advice.HistoryTo, Slots: advice.Slots, TimeZone: loc.String(),
		Reasoning: advice.Reasoning, Recommendations: make([]StartRecommendation, len(advice.Recommendations)),
	}}
	conv := func(r analytics.StartRecommendation) StartRecommendation {
		return StartRecommendation{Start: r.Start.UTC(), StartLocal: r.Start.In(loc).Format(time.RFC3339),
			ExpectedLoad: r.ExpectedLoad, Utilization: r.Utilization, Reason: r.Reason}
	}
	for i, r := range advice.Recommendations {
		out.Body.Recommendations[i] = conv(r)
	}
	out.Body.Busiest = conv(advice.Worst)
	return out, nil
}
