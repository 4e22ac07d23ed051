// Package analytics answers the operators' and analysts' questions about
// past work: completion rates, duration trends, success rates per task type,
// error distributions, cost, queue depth and wait, a node × hour heatmap, a
// run's Gantt chart with its critical path, and streamed CSV/JSON exports of
// runs, tasks and events. Every figure is one SQL query (queries/analytics.sql)
// over runs, run_tasks, task_events and River's job table; nothing here
// writes.
package analytics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/baton-run/baton/internal/dbsqlc"
	"github.com/baton-run/baton/internal/engine"
)

// Window limits.
const (
	// DefaultWindow is the time range of a query without from.
	DefaultWindow = 7 * 24 * time.Hour
	// DefaultTrendWindow is the time range of the duration trend without from.
	DefaultTrendWindow = 30 * 24 * time.Hour
	// MaxWindow is the longest time range a query may span.
	MaxWindow = 366 * 24 * time.Hour
	// MaxTags is how many tags a filter may name.
	MaxTags = 20
)

// Options configures a Service.
type Options struct {
	// Logger receives the service's logs. Defaults to a discarding logger.
	Logger *slog.Logger
	// Now returns the current time. Defaults to time.Now.
	Now func() time.Time
}

// Service runs the analytics queries on a pool.
type Service struct {
	pool *pgxpool.Pool
	// db runs the figures' queries with a plan made for their parameters.
	db      customPlans
	queries *dbsqlc.Queries
	logger  *slog.Logger
	now     func() time.Time
	// rawOnly makes every figure read the raw events, never the rollups
	// (tests compare both).
	rawOnly bool
}

// New returns a Service reading from pool.
func New(pool *pgxpool.Pool, opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{pool: pool, db: customPlans{pool}, queries: dbsqlc.New(), logger: opts.Logger, now: opts.Now}
}

// customPlans is a dbsqlc.DBTX running every query as an unnamed prepared
// statement (pgx.QueryExecModeDescribeExec), which PostgreSQL plans for
// the parameters given. The figures' filters are written "@x = ” OR ...":
// planned for their values, an absent filter folds away with its join,
// where a cached generic plan would keep both.
type customPlans struct{ pool dbsqlc.DBTX }

func (c customPlans) args(args []any) []any {
	return append([]any{pgx.QueryExecModeDescribeExec}, args...)
}

func (c customPlans) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return c.pool.Exec(ctx, sql, c.args(args)...)
}

func (c customPlans) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return c.pool.Query(ctx, sql, c.args(args)...)
}

func (c customPlans) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return c.pool.QueryRow(ctx, sql, c.args(args)...)
}

func (c customPlans) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	return c.pool.CopyFrom(ctx, table, columns, src)
}

func (c customPlans) SendBatch(ctx context.Context, batch *pgx.Batch) pgx.BatchResults {
	return c.pool.SendBatch(ctx, batch)
}

// InvalidError reports a filter that cannot be served; Field names the
// query parameter.
type InvalidError struct {
	Field   string
	Message string
}

func (e *InvalidError) Error() string { return e.Field + ": " + e.Message }

// Filter selects what a figure counts. Zero values mean "any"; a zero From
// or To takes the defaults (To: now; From: To minus the figure's default
// window).
type Filter struct {
	From     time.Time
	To       time.Time
	Workflow string
	TaskType string
	Owner    string
	// Tags: a run must carry every one of them.
	Tags []string
}

// resolve fills the defaults and validates the window.
func (s *Service) resolve(f Filter, window time.Duration) (Filter, error) {
	if f.To.IsZero() {
		f.To = s.now()
	}
	if f.From.IsZero() {
		f.From = f.To.Add(-window)
	}
	f.From, f.To = f.From.UTC(), f.To.UTC()
	if !f.From.Before(f.To) {
		return f, &InvalidError{Field: "from", Message: "must be before to"}
	}
	if f.To.Sub(f.From) > MaxWindow {
		return f, &InvalidError{Field: "from", Message: "the time range spans more than 366 days"}
	}
	if len(f.Tags) > MaxTags {
		return f, &InvalidError{Field: "tags", Message: fmt.Sprintf("at most %d tags", MaxTags)}
	}
	if f.Tags == nil {
		f.Tags = []string{}
	}
	return f, nil
}

// translate maps a database error to the engine's domain errors, so that
// the API answers 503 while the database is unreachable and 404 for a
// missing row.
func translate(err error, what string) error {
	if err == nil {
		return nil
	}
	var invalid *InvalidError
	if errors.As(err, &invalid) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, engine.ErrNotFound)
	}
	if engine.IsUnavailable(err) {
		return fmt.Errorf("%s: %w: %w", what, engine.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// fromRollups reports whether the attempt figures (task types, cost,
// heatmap) of f are served from the rollups (baton.attempt_counts):
// rollups carry workflow, task type, owner and node but no tags, so a tags
// filter reads the raw events.
func (s *Service) fromRollups(f Filter) bool { return len(f.Tags) == 0 && !s.rawOnly }

// markHint returns the rollup high-water mark as it is now, a hint for the
// planner of a rollup query (baton.attempt_counts reads the mark itself in
// its own snapshot; the mark only grows). 0 when it cannot be read: the
// query then runs, slower, or fails with the same error.
func (s *Service) markHint(ctx context.Context) int64 {
	st, err := s.queries.RollupStateGet(ctx, s.db)
	if err != nil {
		return 0
	}
	return st.Hwm
}

// Window is the resolved time range a figure covers.
type Window struct {
	From time.Time `json:"from" doc:"Start of the window (inclusive)."`
	To   time.Time `json:"to" doc:"End of the window (exclusive)."`
}

func rate(n, total int64) float64 {
	if total == 0 {
		return 0
	}
	return float64(n) / float64(total)
}

// StatusCount is the number of runs with one status.
type StatusCount struct {
	Status string  `json:"status" example:"succeeded"`
	Runs   int64   `json:"runs"`
	Rate   float64 `json:"rate" doc:"runs / total, 0 to 1."`
}

// Completion is the runs created in the window, by status.
type Completion struct {
	Window
	Total    int64         `json:"total"`
	Statuses []StatusCount `json:"statuses"`
}

// Completion counts the runs created in the window by their status (final
// or not) and each status's share of them.
func (s *Service) Completion(ctx context.Context, f Filter) (*Completion, error) {
	f, err := s.resolve(f, DefaultWindow)
	if err != nil {
		return nil, err
	}
	rows, err := s.queries.AnalyticsRunStatuses(ctx, s.db, &dbsqlc.AnalyticsRunStatusesParams{
		FromTime: f.From, ToTime: f.To, Workflow: f.Workflow, Owner: f.Owner, Tags: f.Tags, TaskType: f.TaskType,
	})
	if err != nil {
		return nil, translate(err, "completion rates")
	}
	out := &Completion{Window: Window{f.From, f.To}, Statuses: make([]StatusCount, len(rows))}
	for _, r := range rows {
		out.Total += r.Runs
	}
	for i, r := range rows {
		out.Statuses[i] = StatusCount{Status: r.Status, Runs: r.Runs, Rate: rate(r.Runs, out.Total)}
	}
	return out, nil
}

// DurationDay is one day of the duration trend.
type DurationDay struct {
	Day   time.Time `json:"day" doc:"The UTC day (midnight)."`
	Runs  int64     `json:"runs"`
	P50Ms float64   `json:"p50_ms" doc:"Median run duration (finished_at - started_at), interpolated."`
	P95Ms float64   `json:"p95_ms" doc:"95th percentile of run durations, interpolated."`
}

// DurationTrend is the daily run-duration percentiles.
type DurationTrend struct {
	Window
	Days []DurationDay `json:"days"`
}

// DurationTrend reports, per UTC day, the runs that finished that day and
// the p50 and p95 (percentile_cont, interpolated) of their durations
// (finished_at - started_at). Days without finished runs are absent. The
// default window is 30 days.
func (s *Service) DurationTrend(ctx context.Context, f Filter) (*DurationTrend, error) {
	f, err := s.resolve(f, DefaultTrendWindow)
	if err != nil {
		return nil, err
	}
	rows, err := s.queries.AnalyticsRunDurations(ctx, s.db, &dbsqlc.AnalyticsRunDurationsParams{
		FromTime: f.From, ToTime: f.To, Workflow: f.Workflow, Owner: f.Owner, Tags: f.Tags, TaskType: f.TaskType,
	})
	if err != nil {
		return nil, translate(err, "duration trend")
	}
	out := &DurationTrend{Window: Window{f.From, f.To}, Days: make([]DurationDay, len(rows))}
	for i, r := range rows {
		out.Days[i] = DurationDay{Day: r.Day.UTC(), Runs: r.Runs, P50Ms: r.P50Ms, P95Ms: r.P95Ms}
	}
	return out, nil
}

// TaskTypeOutcome is the outcomes of one task type's attempts.
type TaskTypeOutcome struct {
	TaskType           string  `json:"task_type"`
	Succeeded          int64   `json:"succeeded" doc:"Tasks that succeeded (their last attempt)."`
	Dead               int64   `json:"dead" doc:"Tasks that failed for good."`
	Attempts           int64   `json:"attempts" doc:"Every attempt that ended: succeeded, failed, dead or interrupted."`
	Retried            int64   `json:"retried" doc:"Attempts that failed or were interrupted and were retried."`
	SuccessRate        float64 `json:"success_rate" doc:"succeeded / (succeeded + dead)."`
	AttemptSuccessRate float64 `json:"attempt_success_rate" doc:"succeeded / attempts."`
}

// TaskTypeOutcomes is the success rate per task type.
type TaskTypeOutcomes struct {
	Window
	TaskTypes []TaskTypeOutcome `json:"task_types"`
}

// TaskTypes reports, per task type, the attempts that ended in the window
// and the success rates of tasks and of attempts.
func (s *Service) TaskTypes(ctx context.Context, f Filter) (*TaskTypeOutcomes, error) {
	f, err := s.resolve(f, DefaultWindow)
	if err != nil {
		return nil, err
	}
	var rows []*dbsqlc.AnalyticsTaskTypeOutcomesRow
	if s.fromRollups(f) {
		var rolled []*dbsqlc.AnalyticsTaskTypeOutcomesRollupRow
		rolled, err = s.queries.AnalyticsTaskTypeOutcomesRollup(ctx, s.db, &dbsqlc.AnalyticsTaskTypeOutcomesRollupParams{
			FromTime: f.From, ToTime: f.To, Workflow: f.Workflow, Owner: f.Owner, TaskType: f.TaskType,
			MarkHint: s.markHint(ctx),
		})
		rows = make([]*dbsqlc.AnalyticsTaskTypeOutcomesRow, len(rolled))
		for i, r := range rolled {
			rows[i] = (*dbsqlc.AnalyticsTaskTypeOutcomesRow)(r)
		}
	} else {
		rows, err = s.queries.AnalyticsTaskTypeOutcomes(ctx, s.db, &dbsqlc.AnalyticsTaskTypeOutcomesParams{
			FromTime: f.From, ToTime: f.To, Workflow: f.Workflow, Owner: f.Owner, Tags: f.Tags, TaskType: f.TaskType,
		})
	}
	if err != nil {
		return nil, translate(err, "task type outcomes")
	}
	out := &TaskTypeOutcomes{Window: Window{f.From, f.To}, TaskTypes: make([]TaskTypeOutcome, len(rows))}
	for i, r := range rows {
		out.TaskTypes[i] = TaskTypeOutcome{TaskType: r.TaskType, Succeeded: r.Succeeded, Dead: r.Dead,
			Attempts: r.Attempts, Retried: r.Retried,
			SuccessRate: rate(r.Succeeded, r.Succeeded+r.Dead), AttemptSuccessRate: rate(r.Succeeded, r.Attempts)}
	}
	return out, nil
}

// ErrorClassCount is the failed attempts of one error class.
type ErrorClassCount struct {
	ErrorClass  string `json:"error_class" example:"transient" doc:"transient, permanent, interrupted (a worker stopped mid-attempt) or unknown."`
	Occurrences int64  `json:"occurrences"`
}

// ErrorMessage is one normalized error message.
type ErrorMessage struct {
	ErrorClass  string    `json:"error_class"`
	Message     string    `json:"message" doc:"The error with uuids, hex ids and numbers replaced by <uuid>, <hex> and <n>." example:"timeout after <n>s"`
	Occurrences int64     `json:"occurrences"`
	LastSeen    time.Time `json:"last_seen"`
	Examples    []string  `json:"examples" doc:"Up to 3 of the most recent raw messages."`
	ExampleRuns []int64   `json:"example_runs" doc:"The runs of the examples, in the same order."`
}

// ErrorDistribution is the failed attempts by class and by message.
type ErrorDistribution struct {
	Window
	Classes  []ErrorClassCount `json:"classes"`
	Messages []ErrorMessage    `json:"messages" doc:"The most frequent normalized messages, most frequent first."`
}

// Error distribution limits.
const (
	errorExamples = 3
	// MaxErrorMessages is the most messages an error distribution lists.
	MaxErrorMessages = 100
)

// CostLine is the cost of one task type, workflow or owner.
type CostLine struct {
	Key      string  `json:"key" doc:"The task type, workflow or owner (empty: runs without an owner)."`
	Attempts int64   `json:"attempts"`
	Seconds  float64 `json:"seconds" doc:"Summed attempt durations."`
	Cost     string  `json:"cost" doc:"Exact decimal: cost_per_second × seconds + cost_per_run × attempts, at the task types' current prices." example:"12.5"`
}

// CostBreakdown is the cost of the window's attempts three ways.
type CostBreakdown struct {
	Window
	TaskTypes []CostLine `json:"task_types"`
	Workflows []CostLine `json:"workflows"`
	Owners    []CostLine `json:"owners"`
}

// Cost prices the attempts that ended in the window: each attempt costs
// its task type's cost_per_second × its duration plus cost_per_run (both 0
// when unset), at the current prices.
func (s *Service) Cost(ctx context.Context, f Filter) (*CostBreakdown, error) {
	f, err := s.resolve(f, DefaultWindow)
	if err != nil {
		return nil, err
	}
	var rows []*dbsqlc.AnalyticsCostRow
	if s.fromRollups(f) {
		var rolled []*dbsqlc.AnalyticsCostRollupRow
		rolled, err = s.queries.AnalyticsCostRollup(ctx, s.db, &dbsqlc.AnalyticsCostRollupParams{
			FromTime: f.From, ToTime: f.To, Workflow: f.Workflow, Owner: f.Owner, TaskType: f.TaskType,
			MarkHint: s.markHint(ctx),
		})
		rows = make([]*dbsqlc.AnalyticsCostRow, len(rolled))
		for i, r := range rolled {
			rows[i] = (*dbsqlc.AnalyticsCostRow)(r)
		}
	} else {
		rows, err = s.queries.AnalyticsCost(ctx, s.db, &dbsqlc.AnalyticsCostParams{
			FromTime: f.From, ToTime: f.To, Workflow: f.Workflow, Owner: f.Owner, Tags: f.Tags, TaskType: f.TaskType,
		})
	}
	if err != nil {
		return nil, translate(err, "cost breakdown")
	}
	out := &CostBreakdown{Window: Window{f.From, f.To}, TaskTypes: []CostLine{}, Workflows: []CostLine{}, Owners: []CostLine{}}
	for _, r := range rows {
		line := CostLine{Key: r.Key, Attempts: r.Attempts, Seconds: r.Seconds, Cost: r.Cost}
		switch r.Dimension {
		case "task_type":
			out.TaskTypes = append(out.TaskTypes, line)
		case "workflow":
			out.Workflows = append(out.Workflows, line)
		default:
			out.Owners = append(out.Owners, line)
		}
	}
	return out, nil
}

// QueueLine is one River queue and priority.
type QueueLine struct {
	Queue     string  `json:"queue"`
	Priority  int     `json:"priority"`
	Available int64   `json:"available" doc:"Jobs ready to run now."`
	Scheduled int64   `json:"scheduled" doc:"Jobs waiting for their scheduled time."`
	Retryable int64   `json:"retryable" doc:"Jobs waiting for a retry."`
	Running   int64   `json:"running"`
	Waited    int64   `json:"waited" doc:"Jobs attempted in the window."`
	WaitAvgMs float64 `json:"wait_avg_ms" doc:"Average of attempted_at - scheduled_at over the jobs attempted in the window."`
	WaitP50Ms float64 `json:"wait_p50_ms"`
	WaitP95Ms float64 `json:"wait_p95_ms"`
}

// QueueStats is the depth and wait per queue and priority.
type QueueStats struct {
	Window
	Queues []QueueLine `json:"queues"`
}

// Queues reports the River jobs waiting now per queue and priority, and
// the wait (attempted_at - scheduled_at) of the jobs attempted in the
// window. Only the window applies: River's jobs carry no workflow or owner.
// The wait covers the jobs River still keeps (finalized jobs are deleted
// after a day by default).
func (s *Service) Queues(ctx context.Context, f Filter) (*QueueStats, error) {
	f, err := s.resolve(f, time.Hour)
	if err != nil {
		return nil, err
	}
	rows, err := s.queries.AnalyticsQueues(ctx, s.db, &dbsqlc.AnalyticsQueuesParams{FromTime: f.From, ToTime: f.To})
	if err != nil {
		return nil, translate(err, "queue statistics")
	}
	out := &QueueStats{Window: Window{f.From, f.To}, Queues: make([]QueueLine, len(rows))}
	for i, r := range rows {
		out.Queues[i] = QueueLine{Queue: r.Queue, Priority: int(r.Priority), Available: r.Available,
			Scheduled: r.Scheduled, Retryable: r.Retryable, Running: r.Running, Waited: r.Waited,
			WaitAvgMs: r.WaitAvgMs, WaitP50Ms: r.WaitP50Ms, WaitP95Ms: r.WaitP95Ms}
	}
	return out, nil
}

// NodeHour is one cell of the heatmap.
type NodeHour struct {
	Node        string    `json:"node" doc:"The worker node (empty: attempts recorded without one)."`
	Hour        time.Time `json:"hour"`
	Attempts    int64     `json:"attempts" doc:"Attempts that ended in the hour."`
	BusySeconds float64   `json:"busy_seconds" doc:"Their summed durations."`
}

// Heatmap is the node × hour activity.
type Heatmap struct {
	Window
	Cells []NodeHour `json:"cells"`
	// Note says what the heatmap lacks.
	Note string `json:"note"`
}

// heatmapNote documents what is missing until node metrics exist.
const heatmapNote = "attempts and busy seconds per node and hour come from task events (attributed to the hour an attempt ended); CPU, memory and slots come with node metrics"

// Heatmap reports per node and UTC hour the attempts that ended and their
// busy seconds.
func (s *Service) Heatmap(ctx context.Context, f Filter) (*Heatmap, error) {
	f, err := s.resolve(f, DefaultWindow)
	if err != nil {
		return nil, err
	}
	var rows []*dbsqlc.AnalyticsNodeHoursRow
	if s.fromRollups(f) {
		var rolled []*dbsqlc.AnalyticsNodeHoursRollupRow
		rolled, err = s.queries.AnalyticsNodeHoursRollup(ctx, s.db, &dbsqlc.AnalyticsNodeHoursRollupParams{
			FromTime: f.From, ToTime: f.To, Workflow: f.Workflow, Owner: f.Owner, TaskType: f.TaskType,
			MarkHint: s.markHint(ctx),
		})
		rows = make([]*dbsqlc.AnalyticsNodeHoursRow, len(rolled))
		for i, r := range rolled {
			rows[i] = (*dbsqlc.AnalyticsNodeHoursRow)(r)
		}
	} else {
		rows, err = s.queries.AnalyticsNodeHours(ctx, s.db, &dbsqlc.AnalyticsNodeHoursParams{
			FromTime: f.From, ToTime: f.To, Workflow: f.Workflow, Owner: f.Owner, Tags: f.Tags, TaskType: f.TaskType,
		})
	}
	if err != nil {
		return nil, translate(err, "node heatmap")
	}
	out := &Heatmap{Window: Window{f.From, f.To}, Cells: make([]NodeHour, len(rows)), Note: heatmapNote}
	for i, r := range rows {
		out.Cells[i] = NodeHour{Node: r.Node, Hour: r.Hour.UTC(), Attempts: r.Attempts, BusySeconds: r.BusySeconds}
	}
	return out, nil
}
