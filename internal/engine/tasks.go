package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/baton-run/baton/internal/dbsqlc"
)

// TemplateDataFor returns what a task's params are rendered with: the run
// input and the status and output of every step of the run.
func (e *Engine) TemplateDataFor(ctx context.Context, runID int64) (TemplateData, error) {
	all, err := e.TemplateDataForRuns(ctx, []int64{runID})
	if err != nil {
		return TemplateData{}, err
	}
	data, ok := all[runID]
	if !ok {
		return TemplateData{}, fmt.Errorf("input of run %d: %w", runID, ErrNotFound)
	}
	return data, nil
}

// TemplateDataForRuns is TemplateDataFor for many runs in two queries; a run
// that does not exist is missing from the map.
func (e *Engine) TemplateDataForRuns(ctx context.Context, runIDs []int64) (map[int64]TemplateData, error) {
	inputs, err := e.queries.RunInputsGet(ctx, e.pool, runIDs)
	if err != nil {
		return nil, translateError(err, "inputs of runs")
	}
	all := make(map[int64]TemplateData, len(inputs))
	for _, in := range inputs {
		data := TemplateData{Input: map[string]any{}, Steps: map[string]StepResult{}}
		if err := json.Unmarshal(in.Input, &data.Input); err != nil {
			return nil, fmt.Errorf("decode input of run %d: %w", in.ID, err)
		}
		all[in.ID] = data
	}
	rows, err := e.queries.RunTaskResultsByRuns(ctx, e.pool, runIDs)
	if err != nil {
		return nil, translateError(err, "results of runs")
	}
	for _, row := range rows {
		data, ok := all[row.RunID]
		if !ok {
			continue
		}
		var output any
		if len(row.Output) > 0 {
			if err := json.Unmarshal(row.Output, &output); err != nil {
				return nil, fmt.Errorf("decode output of step %q of run %d: %w", row.StepName, row.RunID, err)
			}
		}
		data.Steps[row.StepName] = StepResult{Output: output, Status: row.Status}
	}
	return all, nil
}

// Attempt describes how one attempt of a task ended.
type Attempt struct {
	TaskID int64
	// RunID is the task's run; the worker routes successes by it (optional:
	// recording does not use it).
	RunID   int64
	Attempt int
	// Output is the attempt's result (success only).
	Output json.RawMessage
	// ResolvedParams are the params after templating, kept for the record
	// (nil when the params had no templates).
	ResolvedParams json.RawMessage
	StartedAt      time.Time
	Duration       time.Duration
	Node           string
	// Error, ErrorClass, Final and NextRetryAt describe a failure.
	Error       string
	ErrorClass  string
	Final       bool
	NextRetryAt *time.Time
}

// Started is the start of one attempt of a task.
type Started struct {
	TaskID    int64
	Attempt   int
	StartedAt time.Time
}

// MarkStarted records that attempts began (tasks show as running). It is a
// status hint for operators and changes no run, so workers batch it.
func (e *Engine) MarkStarted(ctx context.Context, started []Started) error {
	params := &dbsqlc.RunTasksStartedParams{
		Ids:       make([]int64, len(started)),
		Attempts:  make([]int32, len(started)),
		StartedAt: make([]time.Time, len(started)),
	}
	for i, s := range started {
		params.Ids[i], params.Attempts[i], params.StartedAt[i] = s.TaskID, int32(s.Attempt), s.StartedAt
	}
	if err := e.queries.RunTasksStarted(ctx, e.pool, params); err != nil {
		return translateError(err, "mark tasks started")
	}
	return nil
}

// SucceedTasks records successful attempts of many tasks in one transaction
// and advances their runs (see SucceedTasksTx). alsoInTx runs in the same
// transaction.
func (e *Engine) SucceedTasks(ctx context.Context, attempts []Attempt, alsoInTx func(tx pgx.Tx) error) ([]int64, error) {
	var recorded []int64
	err := e.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if recorded, err = e.SucceedTasksTx(ctx, tx, attempts, KeepJobs); err != nil {
			return err
		}
		if alsoInTx != nil {
			return alsoInTx(tx)
		}
		return nil
	})
	return recorded, err
}

// JobsOnSuccess says what SucceedTasksTx does with the River jobs of the
// tasks it records.
type JobsOnSuccess bool

const (
	// KeepJobs leaves the jobs to River, which completes them when their
	// workers return.
	KeepJobs JobsOnSuccess = false
	// DeleteJobs deletes the jobs in the same transaction (see
	// db/functions/tasks_succeed.sql): the outcome is Baton's, and River's
	// completion of a deleted job does nothing.
	DeleteJobs JobsOnSuccess = true
)

// SucceedTasksTx records successful attempts of many tasks inside tx and
// advances their runs: outputs saved, events written, children queued as
// River jobs, finished runs closed, notices sent. It returns the ids of the
// tasks recorded; a task whose run was cancelled meanwhile is not.
func (e *Engine) SucceedTasksTx(ctx context.Context, tx pgx.Tx, attempts []Attempt, jobs JobsOnSuccess) ([]int64, error) {
	params := &dbsqlc.RunTasksSucceedParams{
		DeleteJobs:     bool(jobs),
		Ids:            make([]int64, len(attempts)),
		Attempts:       make([]int32, len(attempts)),
		Outputs:        make([][]byte, len(attempts)),
		ResolvedParams: make([][]byte, len(attempts)),
		StartedAt:      make([]time.Time, len(attempts)),
		DurationsMs:    make([]int64, len(attempts)),
	}
	for i, a := range attempts {
		params.Ids[i] = a.TaskID
		params.Attempts[i] = int32(a.Attempt)
		params.Outputs[i] = jsonOrNull(a.Output)
		params.ResolvedParams[i] = a.ResolvedParams
		params.StartedAt[i] = a.StartedAt
		params.DurationsMs[i] = a.Duration.Milliseconds()
		params.Node = a.Node
	}
	recorded, err := e.queries.RunTasksSucceed(ctx, tx, params)
	if err != nil {
		return nil, translateError(err, "record task successes")
	}
	return recorded, nil
}

// FailTask records a failed attempt. A final failure fails the task and
// advances the run (on_failure branches become ready); otherwise the attempt
// is logged and the task waits for its retry. It returns false when the task
// was no longer queued or running.
func (e *Engine) FailTask(ctx context.Context, a Attempt) (bool, error) {
	var startedAt *time.Time
	if !a.StartedAt.IsZero() {
		startedAt = &a.StartedAt
	}
	recorded, err := e.queries.RunTaskFail(ctx, e.pool, &dbsqlc.RunTaskFailParams{
		ID:             a.TaskID,
		Attempt:        int32(a.Attempt),
		Error:          a.Error,
		ErrorClass:     a.ErrorClass,
		Final:          a.Final,
		NextRetryAt:    a.NextRetryAt,
		ResolvedParams: a.ResolvedParams,
		StartedAt:      startedAt,
		DurationMs:     a.Duration.Milliseconds(),
		Node:           a.Node,
	})
	if err != nil {
		return false, translateError(err, fmt.Sprintf("fail task %d", a.TaskID))
	}
	return recorded, nil
}

// ListEvents returns a run's events in order.
func (e *Engine) ListEvents(ctx context.Context, runID int64) ([]*Event, error) {
	rows, err := e.queries.TaskEventListByRun(ctx, e.pool, runID)
	if err != nil {
		return nil, translateError(err, fmt.Sprintf("events of run %d", runID))
	}
	out := make([]*Event, len(rows))
	for i, r := range rows {
		out[i] = eventFromRow(r)
	}
	return out, nil
}

// MaintainEventPartitions creates upcoming task_events partitions and drops
// those past retention (or drops hypertable chunks). It returns how many
// partitions it created or dropped.
func (e *Engine) MaintainEventPartitions(ctx context.Context, daysAhead int, retention time.Duration) (int, error) {
	n, err := e.queries.TaskEventMaintainPartitions(ctx, e.pool, &dbsqlc.TaskEventMaintainPartitionsParams{
		DaysAhead: int32(daysAhead),
		Retention: durationInterval(retention),
	})
	if err != nil {
		return 0, translateError(err, "maintain event partitions")
	}
	return int(n), nil
}

func jsonOrNull(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("null")
	}
	return raw
}

func msToDuration(ms int64) time.Duration { return time.Duration(ms) * time.Millisecond }

func durationInterval(d time.Duration) pgtype.Interval {
	return pgtype.Interval{Microseconds: d.Microseconds(), Valid: true}
}

// TaskFinished reports whether a task already reached a final state. Workers
// ask it before re-running a task whose job was delivered again.
func (e *Engine) TaskFinished(ctx context.Context, taskID int64) (bool, error) {
	status, err := e.queries.RunTaskStatusGet(ctx, e.pool, taskID)
	if err != nil {
		return false, translateError(err, fmt.Sprintf("task %d", taskID))
	}
	return statusFinished(status), nil
}

func statusFinished(status string) bool {
	switch status {
	case TaskPending, TaskQueued, TaskRunning:
		return false
	}
	return true
}

// TaskDefinition is what a worker executes a task with: its whole job args
// (the River job carries only the task's id and timeout, see baton._enqueue)
// and whether the task already reached a final state.
type TaskDefinition struct {
	Args     TaskArgs
	Finished bool
	// Err, when not nil, says why the task's stored options could not be
	// read: its Args hold only the task's and run's ids and it cannot run.
	// It concerns this task alone, not the others read with it.
	Err error
}

// TaskDefinitions reads the definitions of the given tasks in one query;
// tasks that do not exist are missing from the map.
func (e *Engine) TaskDefinitions(ctx context.Context, taskIDs []int64) (map[int64]TaskDefinition, error) {
	rows, err := e.queries.RunTaskDefinitions(ctx, e.pool, taskIDs)
	if err != nil {
		return nil, translateError(err, "task definitions")
	}
	defs := make(map[int64]TaskDefinition, len(rows))
rows:
	for _, row := range rows {
		args := TaskArgs{
			TaskID: row.ID, RunID: row.RunID, Step: row.StepName, TaskType: row.TaskType, Executor: row.Executor,
			Params: row.Params, TimeoutMs: row.TimeoutMs,
		}
		for _, code := range row.PermanentExitCodes {
			args.PermanentExitCodes = append(args.PermanentExitCodes, int(code))
		}
		// The options most tasks leave unset are decoded only when set.
		for _, opt := range []struct {
			raw  []byte
			into any
		}{
			{row.Backoff, &args.Backoff}, {row.CircuitBreaker, &args.CircuitBreaker},
			{row.Resources, &args.Resources}, {row.Concurrency, &args.Concurrency},
		} {
			if len(opt.raw) == 0 {
				continue
			}
			if err := json.Unmarshal(opt.raw, opt.into); err != nil {
				defs[row.ID] = TaskDefinition{Args: TaskArgs{TaskID: row.ID, RunID: row.RunID}, Finished: statusFinished(row.Status),
					Err: fmt.Errorf("decode definition of task %d: %w", row.ID, err)}
				continue rows
			}
		}
		defs[row.ID] = TaskDefinition{Args: args, Finished: statusFinished(row.Status)}
	}
	return defs, nil
}

func eventFromRow(r *dbsqlc.BatonTaskEvent) *Event {
	ev := &Event{
		ID: r.ID, Time: r.Time, RunID: deref(r.RunID), TaskID: r.TaskID, Step: deref(r.StepName), Kind: r.Kind,
		DurationMs: r.DurationMs, Error: deref(r.Error), ErrorClass: deref(r.ErrorClass), Node: deref(r.Node),
		Actor: deref(r.Actor), Data: r.Data,
	}
	if r.Attempt != nil {
		n := int(*r.Attempt)
		ev.Attempt = &n
	}
	return ev
}

// Analyze refreshes the planner's statistics for the whole database, as
// autovacuum does on a live system. Benchmarks call it after bulk loads so
// that they measure steady state, not plans made for empty tables.
func (e *Engine) Analyze(ctx context.Context) error {
	return translateError(e.queries.DatabaseAnalyze(ctx, e.pool), "analyze")
}
