package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/baton-run/baton/internal/analytics"
)

type exportRunsInput struct {
	AnalyticsFilter
	Status string `query:"status" enum:"queued,running,paused,succeeded,failed,cancelled" doc:"Only runs in this status."`
}

type exportEventsInput struct {
	AnalyticsWindow
	RunID int64  `query:"run_id" minimum:"0" doc:"Only this run's events."`
	Kind  string `query:"kind" pattern:"^[a-z_]{1,64}$" doc:"Only events of this kind (such as task_succeeded)."`
}

// exportResponses documents a streamed export's 200.
func exportResponses(what string) map[string]*huma.Response {
	return map[string]*huma.Response{
		"200": {
			Description: "The " + what + ", streamed: a JSON array of objects, or CSV (a header line, then one line per row; times in RFC 3339 UTC, NULL empty, arrays and JSON as JSON text) with format=csv or Accept: text/csv.",
			Content: map[string]*huma.MediaType{
				"application/json": {Schema: &huma.Schema{Type: huma.TypeArray, Items: &huma.Schema{Type: huma.TypeObject}}},
				"text/csv":         {Schema: &huma.Schema{Type: huma.TypeString}},
			},
		},
	}
}

func registerExports(api huma.API, h *handlers) {
	op := func(id, path, summary, description, what string) huma.Operation {
		return huma.Operation{
			OperationID: id, Method: http.MethodGet, Path: path, Summary: summary, Description: description,
			Tags: []string{tagAnalytics}, Responses: exportResponses(what),
			Errors: errorStatuses(http.StatusUnprocessableEntity),
		}
	}
	huma.Register(api, op("export-runs", "/exports/runs", "Export runs",
		"Streams the runs created in the window (default: the last 7 days), oldest first, with constant memory.", "runs"), h.exportRuns)
	huma.Register(api, op("export-tasks", "/exports/tasks", "Export tasks",
		"Streams the tasks of the runs created in the window (default: the last 7 days), run by run in step order, with constant memory.", "tasks"), h.exportTasks)
	huma.Register(api, op("export-events", "/exports/events", "Export events",
		"Streams the task events of the window (default: the last 7 days) by id, with constant memory.", "events"), h.exportEvents)
}

func (h *handlers) exportRuns(ctx context.Context, in *exportRunsInput) (*huma.StreamResponse, error) {
	if h.analytics == nil {
		return nil, unavailable("analytics are not configured")
	}
	x, err := h.analytics.ExportRuns(ctx, analytics.RunExportFilter{Filter: in.filter(), Status: in.Status})
	if err != nil {
		return nil, h.analyticsProblem(ctx, err)
	}
	return h.streamExport(x, "runs", in.Format, in.Accept), nil
}

func (h *handlers) exportTasks(ctx context.Context, in *AnalyticsFilter) (*huma.StreamResponse, error) {
	if h.analytics == nil {
		return nil, unavailable("analytics are not configured")
	}
	x, err := h.analytics.ExportTasks(ctx, in.filter())
	if err != nil {
		return nil, h.analyticsProblem(ctx, err)
	}
	return h.streamExport(x, "tasks", in.Format, in.Accept), nil
}

func (h *handlers) exportEvents(ctx context.Context, in *exportEventsInput) (*huma.StreamResponse, error) {
	if h.analytics == nil {
		return nil, unavailable("analytics are not configured")
	}
	x, err := h.analytics.ExportEvents(ctx, analytics.EventExportFilter{From: in.From, To: in.To, RunID: in.RunID, Kind: in.Kind})
	if err != nil {
		return nil, h.analyticsProblem(ctx, err)
	}
	return h.streamExport(x, "events", in.Format, in.Accept), nil
}

// streamExport writes an open export row by row, flushing every 1000 rows. The
// status is sent before the first row, so a failure midway can only cut
// the body short: it is logged, and a CSV body ends without its last line.
func (h *handlers) streamExport(x *analytics.Export, name, format, accept string) *huma.StreamResponse {
	return &huma.StreamResponse{Body: func(ctx huma.Context) {
		defer x.Close()
		csvOut := wantsCSV(format, accept)
		ext := ".json"
		if csvOut {
			ctx.SetHeader("Content-Type", mediaCSV)
			ext = ".csv"
		} else {
			ctx.SetHeader("Content-Type", mediaJSON)
		}
		ctx.SetHeader("Content-Disposition", `attachment; filename="`+name+ext+`"`)
		ctx.SetHeader("Cache-Control", "no-store")
		ctx.SetStatus(http.StatusOK)
		w := ctx.BodyWriter()
		rc := http.NewResponseController(responseWriter(w))
		flush := func() { _ = rc.Flush() }
		start := time.Now()
		var n int64
		var err error
		if csvOut {
			n, err = x.WriteCSV(w, flush)
		} else {
			n, err = x.WriteJSON(w, flush)
		}
		if err != nil {
			h.logger.WarnContext(ctx.Context(), "export cut short", slog.String("export", name),
				slog.Int64("rows", n), slog.String("error", err.Error()))
			return
		}
		h.logger.DebugContext(ctx.Context(), "export done", slog.String("export", name), slog.Int64("rows", n),
			slog.Duration("took", time.Since(start)))
	}}
}

// responseWriter returns w as an http.ResponseWriter for
// http.ResponseController, or a writer that cannot flush.
func responseWriter(w any) http.ResponseWriter {
	if rw, ok := w.(http.ResponseWriter); ok {
		return rw
	}
	return nil
}
