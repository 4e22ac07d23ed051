package engine

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/baton-run/baton/internal/dbsqlc"
)

// StartParams describes a run to start.
type StartParams struct {
	// Workflow is the workflow's name. Required.
	Workflow string
	// Version pins a workflow version; 0 means the latest.
	Version int
	// Input is the run input, a JSON object (empty means {}).
	Input json.RawMessage
	// IdempotencyKey, when set, makes a second start with the same key
	// return the first run instead of starting another.
	IdempotencyKey string
	// Priority overrides the workflow's priority (1 high .. 4 background); 0 keeps it.
	Priority int
	// Owner and Tags label the run.
	Owner string
	Tags  []string
	// Trigger says what started the run (api, sql, schedule, event, batch,
	// library); TriggerRef identifies the schedule, event or batch.
	Trigger    string
	TriggerRef string
}

// opts encodes the parameters as baton.start_run's opts argument.
func (p *StartParams) opts() ([]byte, error) {
	o := map[string]any{}
	if p.Version > 0 {
		o["version"] = p.Version
	}
	if p.IdempotencyKey != "" {
		o["idempotency_key"] = p.IdempotencyKey
	}
	if p.Priority != 0 {
		o["priority"] = p.Priority
	}
	if p.Owner != "" {
		o["owner"] = p.Owner
	}
	if p.Tags != nil {
		o["tags"] = p.Tags
	}
	return json.Marshal(o)
}

// trigger returns p.Trigger, or "library" when it is empty.
func (p *StartParams) trigger() string {
	if p.Trigger == "" {
		return "library"
	}
	return p.Trigger
}

// StartRunTx starts a run inside tx: the run, its tasks, the River jobs of
// its root tasks and its first event are written in tx, and the workers are
// woken when tx commits. It returns the run's id and whether the run is new
// (false when IdempotencyKey matched an earlier run).
func (e *Engine) StartRunTx(ctx context.Context, tx pgx.Tx, p StartParams) (int64, bool, error) {
	if err := p.validate(e.opts.MaxJSONBytes); err != nil {
		return 0, false, err
	}
	opts, err := p.opts()
	if err != nil {
		return 0, false, fmt.Errorf("encode start options: %w", err)
	}
	row, err := e.queries.RunStart(ctx, tx, &dbsqlc.RunStartParams{
		Workflow:   p.Workflow,
		Input:      jsonOrEmptyObject(p.Input),
		Opts:       opts,
		Trigger:    p.trigger(),
		TriggerRef: p.TriggerRef,
	})
	if err != nil {
		return 0, false, translateError(err, "start run")
	}
	return *row.RunID, *row.Created, nil
}

// StartRun starts a run in its own transaction and returns it.
func (e *Engine) StartRun(ctx context.Context, p StartParams) (*Run, bool, error) {
	var (
		run     *Run
		created bool
	)
	err := e.inTx(ctx, func(tx pgx.Tx) error {
		id, isNew, err := e.StartRunTx(ctx, tx, p)
		if err != nil {
			return err
		}
		created = isNew
		row, err := e.queries.RunGetByID(ctx, tx, id)
		if err != nil {
			return translateError(err, "get started run")
		}
		run = runFromRow(row)
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return run, created, nil
}

// GetRun returns a run with its tasks.
func (e *Engine) GetRun(ctx context.Context, id int64) (*Run, error) {
	row, err := e.queries.RunGetByID(ctx, e.pool, id)
	if err != nil {
		return nil, translateError(err, fmt.Sprintf("run %d", id))
	}
	run := runFromRow(row)
	tasks, err := e.queries.RunTaskListByRun(ctx, e.pool, id)
	if err != nil {
		return nil, translateError(err, fmt.Sprintf("tasks of run %d", id))
	}
	run.Tasks = make([]*Task, len(tasks))
	run.TaskCounts = map[string]int{}
	for i, t := range tasks {
		run.Tasks[i] = taskFromRow(t)
		run.TaskCounts[t.Status]++
	}
	run.TasksRemaining = remaining(run.TaskCounts)
	return run, nil
}

// ListRunsParams filters and pages ListRuns.
type ListRunsParams struct {
	Status   string
	Workflow string
	// Cursor continues a previous listing (its NextCursor).
	Cursor string
	// Limit caps the page size (1..500, default 50).
	Limit int
}

// RunPage is one page of runs, newest first.
type RunPage struct {
	Runs []*Run
	// NextCursor fetches the next page; empty on the last page.
	NextCursor string
}

// listRuns runs the run-list query for the filters given: one query per
// combination, so that each keeps its index under a generic plan.
func (e *Engine) listRuns(ctx context.Context, status, workflow string, before *int64, maxRows int32) ([]*dbsqlc.BatonRun, error) {
	switch {
	case status != "" && workflow != "":
		return e.queries.RunListByWorkflowStatus(ctx, e.pool, &dbsqlc.RunListByWorkflowStatusParams{
			Workflow: workflow, Status: status, BeforeID: before, MaxRows: maxRows})
	case status != "":
		return e.queries.RunListByStatus(ctx, e.pool, &dbsqlc.RunListByStatusParams{
			Status: status, BeforeID: before, MaxRows: maxRows})
	case workflow != "":
		return e.queries.RunListByWorkflow(ctx, e.pool, &dbsqlc.RunListByWorkflowParams{
			Workflow: workflow, BeforeID: before, MaxRows: maxRows})
	default:
		return e.queries.RunList(ctx, e.pool, &dbsqlc.RunListParams{BeforeID: before, MaxRows: maxRows})
	}
}

// ListRuns lists runs newest first.
func (e *Engine) ListRuns(ctx context.Context, p ListRunsParams) (*RunPage, error) {
	limit := p.Limit
	if limit == 0 {
		limit = 50
	}
	if limit < 1 || limit > 500 {
		return nil, fmt.Errorf("%w: limit must be between 1 and 500, got %d", ErrInvalid, limit)
	}
	var before *int64
	if p.Cursor != "" {
		id, err := decodeCursor(p.Cursor)
		if err != nil {
			return nil, err
		}
		before = &id
	}
	rows, err := e.listRuns(ctx, p.Status, p.Workflow, before, int32(limit+1))
	if err != nil {
		return nil, translateError(err, "list runs")
	}
	page := &RunPage{}
	if len(rows) > limit {
		rows = rows[:limit]
		page.NextCursor = encodeCursor(rows[limit-1].ID)
	}
	page.Runs = make([]*Run, len(rows))
	ids := make([]int64, len(rows))
	byID := make(map[int64]*Run, len(rows))
	for i, row := range rows {
		run := runFromRow(row)
		run.TaskCounts = map[string]int{}
		page.Runs[i] = run
		ids[i] = row.ID
		byID[row.ID] = run
	}
	counts, err := e.queries.RunTaskCountsByRuns(ctx, e.pool, ids)
	if err != nil {
		return nil, translateError(err, "count run tasks")
	}
	for _, c := range counts {
		byID[c.RunID].TaskCounts[c.Status] = int(c.Count)
	}
	for _, run := range page.Runs {
		run.TasksRemaining = remaining(run.TaskCounts)
	}
	return page, nil
}

func encodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("run:" + strconv.FormatInt(id, 10)))
}

func decodeCursor(cursor string) (int64, error) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err == nil && len(raw) > 4 && string(raw[:4]) == "run:" {
		if id, err := strconv.ParseInt(string(raw[4:]), 10, 64); err == nil {
			return id, nil
		}
	}
	return 0, fmt.Errorf("%w: malformed cursor %q", ErrInvalid, cursor)
}

func runFromRow(row *dbsqlc.BatonRun) *Run {
	return &Run{
		ID:              row.ID,
		Workflow:        row.WorkflowName,
		WorkflowVersion: int(row.WorkflowVersion),
		Status:          row.Status,
		Priority:        int(row.Priority),
		Input:           row.Input,
		Trigger:         row.Trigger,
		TriggerRef:      deref(row.TriggerRef),
		IdempotencyKey:  deref(row.IdempotencyKey),
		Owner:           row.Owner,
		Tags:            row.Tags,
		Error:           deref(row.Error),
		Attention:       deref(row.Attention),
		TasksTotal:      int(row.TasksTotal),
		CreatedAt:       row.CreatedAt,
		StartedAt:       row.StartedAt,
		FinishedAt:      row.FinishedAt,
		SLADeadline:     row.SlaDeadline,
		SLAState:        deref(row.SlaState),
		Compensation:    deref(row.Compensation),
	}
}

func taskFromRow(row *dbsqlc.BatonRunTask) *Task {
	return &Task{
		ID:                 row.ID,
		RunID:              row.RunID,
		Step:               row.StepName,
		StepIndex:          int(row.StepIndex),
		TaskType:           row.TaskType,
		Executor:           row.Executor,
		Status:             row.Status,
		When:               row.WhenCond,
		DependsOn:          row.DependsOn,
		Optional:           row.Optional,
		ManualSkip:         row.ManualSkip,
		Params:             row.Params,
		ResolvedParams:     row.ResolvedParams,
		Priority:           int(row.Priority),
		Queue:              row.Queue,
		Attempts:           int(row.Attempts),
		MaxAttempts:        int(row.MaxAttempts),
		Timeout:            msToDuration(row.TimeoutMs),
		PermanentExitCodes: toInts(row.PermanentExitCodes),
		RiverJobID:         row.RiverJobID,
		Output:             row.Output,
		Error:              deref(row.Error),
		ErrorClass:         deref(row.ErrorClass),
		CreatedAt:          row.CreatedAt,
		QueuedAt:           row.QueuedAt,
		StartedAt:          row.StartedAt,
		FinishedAt:         row.FinishedAt,
		Compensates:        deref(row.Compensates),
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// StartRunsTx starts many runs inside tx in one round trip (pipelined), all
// or none. It returns their ids in order.
func (e *Engine) StartRunsTx(ctx context.Context, tx pgx.Tx, ps []StartParams) ([]int64, error) {
	args := make([]*dbsqlc.RunStartManyParams, len(ps))
	for i := range ps {
		p := &ps[i]
		if err := p.validate(e.opts.MaxJSONBytes); err != nil {
			return nil, fmt.Errorf("runs[%d]: %w", i, err)
		}
		opts, err := p.opts()
		if err != nil {
			return nil, fmt.Errorf("encode start options: %w", err)
		}
		args[i] = &dbsqlc.RunStartManyParams{
			Workflow:   p.Workflow,
			Input:      jsonOrEmptyObject(p.Input),
			Opts:       opts,
			Trigger:    p.trigger(),
			TriggerRef: p.TriggerRef,
		}
	}
	ids := make([]int64, len(ps))
	var firstErr error
	results := e.queries.RunStartMany(ctx, tx, args)
	results.QueryRow(func(i int, row *dbsqlc.RunStartManyRow, err error) {
		if err != nil {
			if firstErr == nil {
				firstErr = translateError(err, fmt.Sprintf("start runs[%d]", i))
			}
			return
		}
		ids[i] = *row.RunID
	})
	if err := results.Close(); err != nil && firstErr == nil {
		firstErr = translateError(err, "start runs")
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return ids, nil
}

// CountRuns counts the runs in a status.
func (e *Engine) CountRuns(ctx context.Context, status string) (int64, error) {
	n, err := e.queries.RunCountByStatus(ctx, e.pool, status)
	if err != nil {
		return 0, translateError(err, "count runs")
	}
	return n, nil
}

// StartLatency summarises, for runs created at or after since, the time from
// a run's creation to its first task starting.
type StartLatency struct {
	Runs     int64
	P50, P99 time.Duration
}

// MeasureStartLatency computes StartLatency.
func (e *Engine) MeasureStartLatency(ctx context.Context, since time.Time) (*StartLatency, error) {
	row, err := e.queries.RunLatencyStats(ctx, e.pool, since)
	if err != nil {
		return nil, translateError(err, "measure start latency")
	}
	return &StartLatency{
		Runs: row.Runs,
		P50:  time.Duration(row.P50Ms * float64(time.Millisecond)),
		P99:  time.Duration(row.P99Ms * float64(time.Millisecond)),
	}, nil
}

// remaining counts the tasks that have not reached a final state.
func remaining(counts map[string]int) int {
	return counts[TaskPending] + counts[TaskQueued] + counts[TaskRunning]
}
