package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/baton-run/baton/internal/engine"
)

// StartRunRequest is the body of start-run.
type StartRunRequest struct {
	Workflow       string     `json:"workflow" minLength:"1" maxLength:"100" example:"nightly-report" doc:"The workflow's name."`
	Version        int        `json:"version,omitempty" minimum:"1" maximum:"2147483647" doc:"Pins a workflow version; the latest when left out."`
	Input          JSONObject `json:"input,omitempty" doc:"The run input, available to step params as {{ .input.field }}. Default {}."`
	IdempotencyKey string     `json:"idempotency_key,omitempty" maxLength:"200" doc:"When set, a second start with the same key returns the first run instead of starting another."`
	Priority       int        `json:"priority,omitempty" minimum:"1" maximum:"4" doc:"Overrides the workflow's priority, 1 (high) to 4 (background)."`
	Owner          string     `json:"owner,omitempty" maxLength:"200" doc:"Who the run is for."`
	Tags           []string   `json:"tags,omitempty" maxItems:"50" doc:"Labels for search and analytics, each 1 to 100 characters."`
}

// Run is one execution of a workflow version.
type Run struct {
	ID              int64          `json:"id" example:"42"`
	Workflow        string         `json:"workflow" example:"nightly-report"`
	WorkflowVersion int            `json:"workflow_version" example:"3"`
	Status          string         `json:"status" enum:"queued,running,paused,succeeded,failed,cancelled"`
	Priority        int            `json:"priority" minimum:"1" maximum:"4"`
	Input           JSONObject     `json:"input"`
	Trigger         string         `json:"trigger" example:"api" doc:"What started the run: api, sql, schedule, event, batch or library."`
	TriggerRef      string         `json:"trigger_ref" doc:"The schedule, event or batch that started the run; empty otherwise."`
	IdempotencyKey  string         `json:"idempotency_key" doc:"Empty when the run was started without one."`
	Owner           string         `json:"owner"`
	Tags            []string       `json:"tags"`
	Error           string         `json:"error" doc:"Why the run failed; empty otherwise."`
	Attention       string         `json:"attention" doc:"Why the run needs an operator (a dead task in the dead-letter queue); empty otherwise."`
	TasksTotal      int            `json:"tasks_total"`
	TasksRemaining  int            `json:"tasks_remaining" doc:"Tasks not finished yet."`
	TaskCounts      map[string]int `json:"task_counts" doc:"The number of tasks in each status, such as {\"succeeded\": 3, \"queued\": 1}."`
	CreatedAt       time.Time      `json:"created_at"`
	StartedAt       *time.Time     `json:"started_at"`
	FinishedAt      *time.Time     `json:"finished_at"`
	SLADeadline     *time.Time     `json:"sla_deadline" doc:"created_at plus the workflow's SLA; null when the workflow has none."`
	SLAState        string         `json:"sla_state" doc:"The SLA check's verdict: open (not settled yet), met, violated (an sla_violated event was written) or closed (cancelled before its deadline); empty without an SLA."`
	Compensation    string         `json:"compensation,omitempty" doc:"Saga compensation after a batch rollback: running, compensated (every compensate task succeeded; event run_compensated) or failed (one is dead or skipped; event run_compensation_failed); absent when the run has none. The run's status stays what it was (cancelled, failed or succeeded)."`
	Tasks           []Task         `json:"tasks,omitempty" doc:"The run's tasks in step order; left out of listings."`
}

// Task is one step of a run.
type Task struct {
	ID             int64           `json:"id"`
	Step           string          `json:"step" example:"extract"`
	TaskType       string          `json:"task_type" example:"resize-image"`
	Executor       string          `json:"executor" example:"http"`
	Status         string          `json:"status" enum:"pending,queued,running,succeeded,failed,skipped,cancelled,dead"`
	When           string          `json:"when" enum:"on_success,on_failure,always"`
	DependsOn      []string        `json:"depends_on"`
	Optional       bool            `json:"optional"`
	ManualSkip     bool            `json:"manual_skip" doc:"True when an operator skipped the task; its dependents then ran as if it had succeeded."`
	Params         JSONObject      `json:"params" doc:"The step's params merged over its task type's defaults, before templates are rendered."`
	ResolvedParams json.RawMessage `json:"resolved_params" doc:"The params the executor received, templates rendered; null until the task starts."`
	Priority       int             `json:"priority" minimum:"1" maximum:"4"`
	Queue          string          `json:"queue"`
	Attempts       int             `json:"attempts"`
	MaxAttempts    int             `json:"max_attempts"`
	RiverJobID     *int64          `json:"river_job_id" doc:"The River job of the task's latest attempt; null before it is queued."`
	TimeoutMs      int64           `json:"timeout_ms"`
	Output         json.RawMessage `json:"output" doc:"The executor's output; null until the task succeeds."`
	Error          string          `json:"error" doc:"The last attempt's error; empty otherwise."`
	ErrorClass     string          `json:"error_class" doc:"How the last error was classified (such as transient or permanent); empty otherwise."`
	CreatedAt      time.Time       `json:"created_at"`
	QueuedAt       *time.Time      `json:"queued_at"`
	StartedAt      *time.Time      `json:"started_at"`
	FinishedAt     *time.Time      `json:"finished_at"`
	Compensates    string          `json:"compensates,omitempty" doc:"On a compensation task (step compensate:NAME), the step NAME it undoes; absent for every other task."`
}

// RunList is one page of list-runs.
type RunList struct {
	Runs       []Run  `json:"runs"`
	NextCursor string `json:"next_cursor" doc:"Pass as cursor to get the next page; empty on the last page."`
}

// Event is one entry of a run's event log.
type Event struct {
	ID         int64           `json:"id"`
	Time       time.Time       `json:"time"`
	RunID      int64           `json:"run_id"`
	TaskID     *int64          `json:"task_id" doc:"Null for events of the run itself."`
	Step       string          `json:"step"`
	Kind       string          `json:"kind" example:"task_succeeded"`
	Attempt    *int            `json:"attempt"`
	DurationMs *int64          `json:"duration_ms"`
	Error      string          `json:"error"`
	ErrorClass string          `json:"error_class"`
	Node       string          `json:"node" doc:"The worker node that recorded the event, if any."`
	Actor      string          `json:"actor" doc:"Who performed a manual action; empty for the engine's own events."`
	Data       json.RawMessage `json:"data"`
}

// EventList is the body of list-run-events.
type EventList struct {
	Events []Event `json:"events"`
}

type startRunInput struct {
	Body StartRunRequest
}

type listRunsInput struct {
	Status   string `query:"status" enum:"queued,running,paused,succeeded,failed,cancelled" doc:"Only runs in this status."`
	Workflow string `query:"workflow" pattern:"^[a-z0-9][a-z0-9_.-]{0,99}$" doc:"Only runs of this workflow."`
	Limit    int    `query:"limit" minimum:"1" maximum:"500" default:"50" doc:"Page size."`
	Cursor   string `query:"cursor" maxLength:"100" doc:"The next_cursor of the previous page."`
}

type runIDInput struct {
	ID int64 `path:"id" minimum:"1" doc:"The run's id."`
}

type runOutput struct {
	Status   int
	Replayed string `header:"Idempotent-Replayed" hidden:"true"` // documented on the 200 response by startRunResponses
	Body     Run
}

type runListOutput struct {
	Body RunList
}

type eventListOutput struct {
	Body EventList
}

func (h *handlers) startRun(ctx context.Context, in *startRunInput) (*runOutput, error) {
	b := in.Body
	refund, err := h.takeRunQuota(ctx)
	if err != nil {
		return nil, err
	}
	started, created, err := h.engine.StartRun(ctx, engine.StartParams{
		Workflow:       b.Workflow,
		Version:        b.Version,
		Input:          b.Input.raw(),
		IdempotencyKey: b.IdempotencyKey,
		Priority:       b.Priority,
		Owner:          b.Owner,
		Tags:           b.Tags,
		Trigger:        "api",
	})
	if err != nil || !created {
		refund()
	}
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	run, err := h.engine.GetRun(ctx, started.ID)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &runOutput{Status: http.StatusCreated, Body: runFrom(run)}
	if !created {
		out.Status = http.StatusOK
		out.Replayed = "true"
	}
	return out, nil
}

func (h *handlers) listRuns(ctx context.Context, in *listRunsInput) (*runListOutput, error) {
	page, err := h.engine.ListRuns(ctx, engine.ListRunsParams{
		Status:   in.Status,
		Workflow: in.Workflow,
		Cursor:   in.Cursor,
		Limit:    in.Limit,
	})
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &runListOutput{Body: RunList{Runs: make([]Run, len(page.Runs)), NextCursor: page.NextCursor}}
	for i, run := range page.Runs {
		out.Body.Runs[i] = runFrom(run)
	}
	return out, nil
}

func (h *handlers) getRun(ctx context.Context, in *runIDInput) (*runOutput, error) {
	run, err := h.engine.GetRun(ctx, in.ID)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &runOutput{Status: http.StatusOK, Body: runFrom(run)}, nil
}

func (h *handlers) cancelRun(ctx context.Context, in *runActionInput) (*runOutput, error) {
	cancelled, err := h.engine.CancelRun(ctx, in.ID, in.Actor)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	run, err := h.engine.GetRun(ctx, in.ID)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	if !cancelled {
		return nil, huma.Error409Conflict(fmt.Sprintf("run %d already finished with status %s", run.ID, run.Status))
	}
	return &runOutput{Status: http.StatusOK, Body: runFrom(run)}, nil
}

func (h *handlers) listRunEvents(ctx context.Context, in *runIDInput) (*eventListOutput, error) {
	events, err := h.engine.ListEvents(ctx, in.ID)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	if len(events) == 0 {
		// Every run logs its start, but old events may have been dropped:
		// tell an unknown run from a run without events.
		if _, err := h.engine.GetRun(ctx, in.ID); err != nil {
			return nil, h.problem(ctx, err)
		}
	}
	return &eventListOutput{Body: EventList{Events: eventsFrom(events)}}, nil
}

func eventsFrom(events []*engine.Event) []Event {
	out := make([]Event, len(events))
	for i, ev := range events {
		out[i] = Event{
			ID:         ev.ID,
			Time:       ev.Time.UTC(),
			RunID:      ev.RunID,
			TaskID:     ev.TaskID,
			Step:       ev.Step,
			Kind:       ev.Kind,
			Attempt:    ev.Attempt,
			DurationMs: ev.DurationMs,
			Error:      ev.Error,
			ErrorClass: ev.ErrorClass,
			Node:       ev.Node,
			Actor:      ev.Actor,
			Data:       ev.Data,
		}
	}
	return out
}

func runFrom(run *engine.Run) Run {
	out := Run{
		ID:              run.ID,
		Workflow:        run.Workflow,
		WorkflowVersion: run.WorkflowVersion,
		Status:          run.Status,
		Priority:        run.Priority,
		Input:           JSONObject(run.Input),
		Trigger:         run.Trigger,
		TriggerRef:      run.TriggerRef,
		IdempotencyKey:  run.IdempotencyKey,
		Owner:           run.Owner,
		Tags:            nonNil(run.Tags),
		Error:           run.Error,
		Attention:       run.Attention,
		TasksTotal:      run.TasksTotal,
		TasksRemaining:  run.TasksRemaining,
		TaskCounts:      run.TaskCounts,
		CreatedAt:       run.CreatedAt.UTC(),
		StartedAt:       utcPtr(run.StartedAt),
		FinishedAt:      utcPtr(run.FinishedAt),
		SLADeadline:     utcPtr(run.SLADeadline),
		SLAState:        run.SLAState,
		Compensation:    run.Compensation,
	}
	if out.TaskCounts == nil {
		out.TaskCounts = map[string]int{}
	}
	if run.Tasks != nil {
		out.Tasks = make([]Task, len(run.Tasks))
		for i, t := range run.Tasks {
			out.Tasks[i] = taskFrom(t)
		}
	}
	return out
}

func taskFrom(t *engine.Task) Task {
	return Task{
		ID:             t.ID,
		Step:           t.Step,
		TaskType:       t.TaskType,
		Executor:       t.Executor,
		Status:         t.Status,
		When:           t.When,
		DependsOn:      nonNil(t.DependsOn),
		Optional:       t.Optional,
		ManualSkip:     t.ManualSkip,
		Params:         JSONObject(t.Params),
		ResolvedParams: t.ResolvedParams,
		Priority:       t.Priority,
		Queue:          t.Queue,
		Attempts:       t.Attempts,
		MaxAttempts:    t.MaxAttempts,
		RiverJobID:     t.RiverJobID,
		TimeoutMs:      t.Timeout.Milliseconds(),
		Output:         t.Output,
		Error:          t.Error,
		ErrorClass:     t.ErrorClass,
		CreatedAt:      t.CreatedAt.UTC(),
		QueuedAt:       utcPtr(t.QueuedAt),
		StartedAt:      utcPtr(t.StartedAt),
		FinishedAt:     utcPtr(t.FinishedAt),
		Compensates:    t.Compensates,
	}
}
