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

// BeginTask marks a task running for an attempt and returns it. It returns
// ErrNotRunnable when the task may not run (its run was cancelled, or the
// task already finished), in which case the caller drops the attempt.
func (e *Engine) BeginTask(ctx context.Context, taskID int64, attempt int) (*Task, error) {
	row, err := e.queries.RunTaskBegin(ctx, e.pool, &dbsqlc.RunTaskBeginParams{ID: taskID, Attempt: int32(attempt)})
	if err != nil {
		if err == pgx.ErrNoRows {
			return nil, fmt.Errorf("task %d: %w", taskID, ErrNotRunnable)
		}
		return nil, translateError(err, fmt.Sprintf("begin task %d", taskID))
	}
	return taskFromRow(row), nil
}

// TemplateDataFor returns what a task's params are rendered with: the run
// input and the status and output of every step of the run.
func (e *Engine) TemplateDataFor(ctx context.Context, task *Task) (TemplateData, error) {
	data := TemplateData{Input: map[string]any{}, Steps: map[string]StepResult{}}
	input, err := e.queries.RunInputGet(ctx, e.pool, task.RunID)
	if err != nil {
		return data, translateError(err, fmt.Sprintf("input of run %d", task.RunID))
	}
	if err := json.Unmarshal(input, &data.Input); err != nil {
		return data, fmt.Errorf("decode input of run %d: %w", task.RunID, err)
	}
	rows, err := e.queries.RunTaskResultsByRun(ctx, e.pool, task.RunID)
	if err != nil {
		return data, translateError(err, fmt.Sprintf("results of run %d", task.RunID))
	}
	for _, row := range rows {
		var output any
		if len(row.Output) > 0 {
			if err := json.Unmarshal(row.Output, &output); err != nil {
				return data, fmt.Errorf("decode output of step %q: %w", row.StepName, err)
			}
		}
		data.Steps[row.StepName] = StepResult{Output: output, Status: row.Status}
	}
	return data, nil
}

// Attempt describes how one attempt of a task ended.
type Attempt struct {
	TaskID  int64
	Attempt int
	// Output is the attempt's result (success only).
	Output json.RawMessage
	// ResolvedParams are the params after templating, kept for the record.
	ResolvedParams json.RawMessage
	Duration       time.Duration
	Node           string
	// Error, ErrorClass, Final and NextRetryAt describe a failure.
	Error       string
	ErrorClass  string
	Final       bool
	NextRetryAt *time.Time
}

// SucceedTask records a successful attempt and advances the run in one
// transaction: the task's output, the children it releases (queued as River
// jobs), the run's end when nothing is left, the events and their notices.
// alsoInTx runs in the same transaction (the worker completes its River job
// there). It returns false when the task was no longer running (its run was
// cancelled meanwhile); the transaction still commits alsoInTx.
func (e *Engine) SucceedTask(ctx context.Context, a Attempt, alsoInTx func(tx pgx.Tx) error) (bool, error) {
	var recorded bool
	err := e.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		recorded, err = e.queries.RunTaskSucceed(ctx, tx, &dbsqlc.RunTaskSucceedParams{
			ID:             a.TaskID,
			Attempt:        int32(a.Attempt),
			Output:         jsonOrNull(a.Output),
			ResolvedParams: a.ResolvedParams,
			DurationMs:     a.Duration.Milliseconds(),
			Node:           a.Node,
		})
		if err != nil {
			return fmt.Errorf("record task success: %w", err)
		}
		if alsoInTx != nil {
			return alsoInTx(tx)
		}
		return nil
	})
	if err != nil {
		return false, translateError(err, fmt.Sprintf("succeed task %d", a.TaskID))
	}
	return recorded, nil
}

// FailTask records a failed attempt. A final failure fails the task and
// advances the run (on_failure branches become ready); otherwise the attempt
// is logged and the task waits for its retry.
func (e *Engine) FailTask(ctx context.Context, a Attempt) (bool, error) {
	recorded, err := e.queries.RunTaskFail(ctx, e.pool, &dbsqlc.RunTaskFailParams{
		ID:             a.TaskID,
		Attempt:        int32(a.Attempt),
		Error:          a.Error,
		ErrorClass:     a.ErrorClass,
		Final:          a.Final,
		NextRetryAt:    a.NextRetryAt,
		ResolvedParams: a.ResolvedParams,
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
		ev := &Event{
			ID: r.ID, Time: r.Time, RunID: r.RunID, TaskID: r.TaskID, Step: deref(r.StepName), Kind: r.Kind,
			DurationMs: r.DurationMs, Error: deref(r.Error), ErrorClass: deref(r.ErrorClass), Node: deref(r.Node),
			Data: r.Data,
		}
		if r.Attempt != nil {
			n := int(*r.Attempt)
			ev.Attempt = &n
		}
		out[i] = ev
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
