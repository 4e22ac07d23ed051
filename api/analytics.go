package api

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/baton-run/baton/internal/analytics"
)

// tagAnalytics groups the analytics, Gantt and export operations.
const tagAnalytics = "Analytics"

const (
	mediaCSV  = "text/csv; charset=utf-8"
	mediaJSON = "application/json"
)

// AnalyticsWindow is the time range every analytics operation takes (an
// input type; exported because Huma reads the parameters of embedded
// structs only when they are exported).
type AnalyticsWindow struct {
	From   time.Time `query:"from" doc:"Start of the window, RFC 3339 (inclusive). Default: to minus the operation's default window (7 days; 30 for durations; 1 hour for queues)."`
	To     time.Time `query:"to" doc:"End of the window, RFC 3339 (exclusive). Default: now. At most 366 days after from."`
	Format string    `query:"format" enum:"json,csv" doc:"Response format; overrides the Accept header (text/csv or application/json)."`
	Accept string    `header:"Accept" maxLength:"1000" hidden:"true"`
}

// AnalyticsFilter adds the run filters to the window (an input type).
type AnalyticsFilter struct {
	AnalyticsWindow
	Workflow string   `query:"workflow" pattern:"^[a-z0-9][a-z0-9_.-]{0,99}$" doc:"Only runs of this workflow."`
	TaskType string   `query:"task_type" pattern:"^[a-z0-9][a-z0-9_.-]{0,99}$" doc:"Only tasks of this type (for run figures: runs with a task of this type)."`
	Owner    string   `query:"owner" maxLength:"200" doc:"Only runs of this owner."`
	Tags     []string `query:"tags" maxItems:"20" doc:"Only runs carrying every one of these tags (comma-separated)."`
}

type analyticsErrorsInput struct {
	AnalyticsFilter
	Limit int `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"How many normalized messages to list."`
}

type ganttInput struct {
	ID     int64  `path:"id" minimum:"1" doc:"The run's id."`
	Format string `query:"format" enum:"json,csv" doc:"Response format; overrides the Accept header (text/csv or application/json)."`
	Accept string `header:"Accept" maxLength:"1000" hidden:"true"`
}

// analyticsOutput is an analytics result as JSON or CSV.
type analyticsOutput[T any] struct {
	ContentType string `header:"Content-Type" hidden:"true"`
	Body        T
}

func (in *AnalyticsFilter) filter() analytics.Filter {
	var tags []string
	for _, t := range in.Tags {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	return analytics.Filter{From: in.From, To: in.To, Workflow: in.Workflow, TaskType: in.TaskType, Owner: in.Owner, Tags: tags}
}

// wantsCSV reports whether the client asked for CSV: format=csv, or an
// Accept header preferring text/csv to JSON when format is absent.
func wantsCSV(format, accept string) bool {
	if format != "" {
		return format == "csv"
	}
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "text/csv":
			return true
		case "application/json", "application/*", "*/*":
			return false
		}
	}
	return false
}

func contentType(format, accept string) string {
	if wantsCSV(format, accept) {
		return mediaCSV
	}
	return mediaJSON
}

// csvFormat is the text/csv response format: analytics results write
// themselves as CSV; any other body (a problem answered to a client that
// accepts only CSV) is written as JSON with a JSON content type.
func csvFormat(logger *slog.Logger) huma.Format {
	fallback := jsonFormat(logger)
	return huma.Format{
		Marshal: func(w io.Writer, v any) error {
			if t, ok := v.(analytics.CSVWriter); ok {
				return t.WriteCSV(csv.NewWriter(w))
			}
			if rw, ok := w.(http.ResponseWriter); ok {
				ct := mediaJSON
				if _, problem := v.(huma.StatusError); problem {
					ct = "application/problem+json"
				}
				rw.Header().Set("Content-Type", ct)
			}
			return fallback.Marshal(w, v)
		},
		Unmarshal: huma.DefaultJSONFormat.Unmarshal,
	}
}

// csvResponses documents the CSV alternative of an operation's 200.
func csvResponses(schema string) map[string]*huma.Response {
	return map[string]*huma.Response{
		"200": {
			Description: "The result as JSON, or as CSV (a header line, then one line per row) with format=csv or Accept: text/csv.",
			Content: map[string]*huma.MediaType{
				"application/json": {Schema: &huma.Schema{Ref: "#/components/schemas/" + schema}},
				"text/csv":         {Schema: &huma.Schema{Type: huma.TypeString}},
			},
		},
	}
}

func registerAnalytics(api huma.API, h *handlers) {
	op := func(id, path, summary, description, schema string) huma.Operation {
		return huma.Operation{
			OperationID: id, Method: http.MethodGet, Path: path, Summary: summary, Description: description,
			Tags: []string{tagAnalytics}, Responses: csvResponses(schema),
			Errors: errorStatuses(http.StatusUnprocessableEntity),
		}
	}
	huma.Register(api, op("get-analytics-completion", "/analytics/completion", "Run completion rates",
		"Counts the runs created in the window by status, with each status's share.", "Completion"),
		analyticsHandler(h, "completion", (*analytics.Service).Completion))
	huma.Register(api, op("get-analytics-durations", "/analytics/durations", "Run duration trend",
		"Per UTC day, the runs that finished that day and the p50 and p95 of their durations (finished_at - started_at, interpolated). The default window is 30 days.", "DurationTrend"),
		analyticsHandler(h, "durations", (*analytics.Service).DurationTrend))
	huma.Register(api, op("get-analytics-task-types", "/analytics/task-types", "Success rate per task type",
		"Per task type, the attempts that ended in the window: tasks succeeded and dead, attempts, retried attempts, and the success rates of tasks (succeeded / (succeeded + dead)) and of attempts.", "TaskTypeOutcomes"),
		analyticsHandler(h, "task-types", (*analytics.Service).TaskTypes))
	huma.Register(api, op("get-analytics-errors", "/analytics/errors", "Error distribution",
		"The failed attempts of the window by error class, and the most frequent messages once uuids, hex ids and numbers are replaced by <uuid>, <hex> and <n>, with recent examples.", "ErrorDistribution"),
		h.analyticsErrors)
	huma.Register(api, op("get-analytics-cost", "/analytics/cost", "Cost breakdown",
		"The attempts that ended in the window priced at their task type's cost_per_second × duration plus cost_per_run per attempt (current prices; unset prices count 0), by task type, workflow and owner.", "CostBreakdown"),
		analyticsHandler(h, "cost", (*analytics.Service).Cost))
	huma.Register(api, op("get-analytics-heatmap", "/analytics/heatmap", "Node activity by hour",
		"Per worker node and UTC hour, the attempts that ended and their busy seconds. CPU, memory and slots come with node metrics.", "Heatmap"),
		analyticsHandler(h, "heatmap", (*analytics.Service).Heatmap))
	huma.Register(api, op("get-analytics-queues", "/analytics/queues", "Queue depth and wait",
		"Per River queue and priority: the jobs available, scheduled, retryable and running now, and the wait (attempted_at - scheduled_at) of the jobs attempted in the window (default: the last hour). River deletes finalized jobs after a day by default, so older windows report no waits.", "QueueStats"),
		h.analyticsQueues)

	gantt := op("get-run-gantt", "/runs/{id}/gantt", "A run's Gantt data and critical path",
		"Each task's queued, started and finished times, status, dependencies and attempts (each with its own span: an attempt event's time is its end, minus its duration), and the critical path: the longest chain of steps through the DAG by elapsed time, where a task's elapsed time is finished_at - queued_at (now - queued_at while unfinished, 0 if never queued). slack_ms is how much longer a task could have taken without lengthening that chain.", "Gantt")
	gantt.Errors = errorStatuses(http.StatusNotFound, http.StatusUnprocessableEntity)
	huma.Register(api, gantt, h.runGantt)

	registerExports(api, h)
}

// analyticsHandler adapts a Service method taking a Filter to a Huma
// handler.
func analyticsHandler[T any](h *handlers, name string, fn func(*analytics.Service, context.Context, analytics.Filter) (*T, error)) func(context.Context, *AnalyticsFilter) (*cachedOutput[T], error) {
	return func(ctx context.Context, in *AnalyticsFilter) (*cachedOutput[T], error) {
		if h.analytics == nil {
			return nil, unavailable("analytics are not configured")
		}
		f := in.filter()
		out, err := cachedAnalytics(ctx, h.analyticsCache, filterKey(name, f), in.Format, in.Accept,
			func(ctx context.Context) (*T, error) { return fn(h.analytics, ctx, f) })
		if err != nil {
			return nil, h.analyticsProblem(ctx, err)
		}
		return out, nil
	}
}

// filterKey names an analytics question in the cache.
func filterKey(name string, f analytics.Filter) string {
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	return strings.Join([]string{name, ts(f.From), ts(f.To), f.Workflow, f.TaskType, f.Owner, strings.Join(f.Tags, ",")}, "\x00")
}

func (h *handlers) analyticsErrors(ctx context.Context, in *analyticsErrorsInput) (*cachedOutput[analytics.ErrorDistribution], error) {
	if h.analytics == nil {
		return nil, unavailable("analytics are not configured")
	}
	f := in.filter()
	out, err := cachedAnalytics(ctx, h.analyticsCache, filterKey(fmt.Sprintf("errors/%d", in.Limit), f), in.Format, in.Accept,
		func(ctx context.Context) (*analytics.ErrorDistribution, error) {
			return h.analytics.Errors(ctx, f, in.Limit)
		})
	if err != nil {
		return nil, h.analyticsProblem(ctx, err)
	}
	return out, nil
}

func (h *handlers) analyticsQueues(ctx context.Context, in *AnalyticsWindow) (*cachedOutput[analytics.QueueStats], error) {
	if h.analytics == nil {
		return nil, unavailable("analytics are not configured")
	}
	f := analytics.Filter{From: in.From, To: in.To}
	out, err := cachedAnalytics(ctx, h.analyticsCache, filterKey("queues", f), in.Format, in.Accept,
		func(ctx context.Context) (*analytics.QueueStats, error) { return h.analytics.Queues(ctx, f) })
	if err != nil {
		return nil, h.analyticsProblem(ctx, err)
	}
	return out, nil
}

func (h *handlers) runGantt(ctx context.Context, in *ganttInput) (*analyticsOutput[analytics.Gantt], error) {
	if h.analytics == nil {
		return nil, unavailable("analytics are not configured")
	}
	res, err := h.analytics.Gantt(ctx, in.ID)
	if err != nil {
		return nil, h.analyticsProblem(ctx, err)
	}
	return &analyticsOutput[analytics.Gantt]{ContentType: contentType(in.Format, in.Accept), Body: *res}, nil
}

// analyticsProblem answers an invalid filter with a 422 naming the query
// parameter, and anything else as problem does.
func (h *handlers) analyticsProblem(ctx context.Context, err error) error {
	var invalid *analytics.InvalidError
	if errors.As(err, &invalid) {
		return huma.Error422UnprocessableEntity("invalid filter",
			&huma.ErrorDetail{Location: "query." + invalid.Field, Message: invalid.Message})
	}
	return h.problem(ctx, err)
}
