package webhook

import (
	"encoding/json"
	"time"

	"github.com/baton-run/baton/internal/dbsqlc"
)

// Event is the JSON body of every delivery (the Standard Webhooks layout:
// type, timestamp, data). Its schema is documented in the OpenAPI
// document's webhooks section and only grows: fields are added, never
// removed or changed.
type Event struct {
	Type      string    `json:"type" doc:"The event type, such as run.succeeded or task.dead."`
	Timestamp time.Time `json:"timestamp" doc:"When the event happened."`
	Data      EventData `json:"data"`
}

// EventData is what happened, with its context.
type EventData struct {
	EventID int64           `json:"event_id" doc:"The event's id in Baton's event log (0 for webhook.test)."`
	Kind    string          `json:"kind" doc:"The event log's kind (run_succeeded, task_dead, breaker_opened ...)."`
	Run     *RunInfo        `json:"run,omitempty" doc:"The run the event is about, as it was when the event was dispatched."`
	Task    *TaskInfo       `json:"task,omitempty" doc:"The task the event is about (task.* events)."`
	Details json.RawMessage `json:"details,omitempty" doc:"The event's own data (breaker key and state, SLA deadline, batch counts ...)."`
}

// RunInfo is a run in an event.
type RunInfo struct {
	ID         int64           `json:"id"`
	Workflow   string          `json:"workflow"`
	Version    int             `json:"version"`
	Status     string          `json:"status" enum:"queued,running,paused,succeeded,failed,cancelled"`
	Priority   int             `json:"priority"`
	Owner      string          `json:"owner"`
	Tags       []string        `json:"tags"`
	Trigger    string          `json:"trigger"`
	TriggerRef *string         `json:"trigger_ref,omitempty"`
	Input      json.RawMessage `json:"input"`
	Output     json.RawMessage `json:"output" doc:"The outputs of the run's succeeded leaf steps (steps no other step depends on), by step name."`
	Error      *string         `json:"error,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	StartedAt  *time.Time      `json:"started_at,omitempty"`
	FinishedAt *time.Time      `json:"finished_at,omitempty"`
	DurationMs *int64          `json:"duration_ms,omitempty" doc:"From start to finish, once finished."`
	Tasks      TaskSummary     `json:"tasks"`
	FailedTask *FailedTask     `json:"failed_task,omitempty" doc:"The first task that died or failed, with its error."`
}

// TaskSummary counts a run's tasks.
type TaskSummary struct {
	Total    int            `json:"total"`
	ByStatus map[string]int `json:"by_status"`
}

// FailedTask is the task that made a run fail.
type FailedTask struct {
	Step       string  `json:"step"`
	TaskType   string  `json:"task_type"`
	Status     string  `json:"status"`
	Attempts   int     `json:"attempts"`
	Error      *string `json:"error,omitempty"`
	ErrorClass *string `json:"error_class,omitempty"`
}

// TaskInfo is the task of a task.* event.
type TaskInfo struct {
	ID         int64   `json:"id"`
	Step       string  `json:"step"`
	TaskType   string  `json:"task_type"`
	Attempt    *int    `json:"attempt,omitempty"`
	Error      *string `json:"error,omitempty"`
	ErrorClass *string `json:"error_class,omitempty"`
	DurationMs *int64  `json:"duration_ms,omitempty"`
}

func runInfoFrom(r *dbsqlc.WebhookRunContextsRow) *RunInfo {
	info := &RunInfo{
		ID: r.ID, Workflow: r.WorkflowName, Version: int(r.WorkflowVersion), Status: r.Status, Priority: int(r.Priority),
		Owner: r.Owner, Tags: r.Tags, Trigger: r.Trigger, TriggerRef: r.TriggerRef, Input: r.Input, Output: r.Output,
		Error: r.Error, CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
		Tasks: TaskSummary{ByStatus: map[string]int{}},
	}
	if info.Tags == nil {
		info.Tags = []string{}
	}
	if len(info.Output) == 0 {
		info.Output = json.RawMessage(`{}`)
	}
	if r.StartedAt != nil && r.FinishedAt != nil {
		info.DurationMs = new(r.FinishedAt.Sub(*r.StartedAt).Milliseconds())
	}
	_ = json.Unmarshal(r.TaskCounts, &info.Tasks.ByStatus)
	for _, n := range info.Tasks.ByStatus {
		info.Tasks.Total += n
	}
	if len(r.FailedTask) > 0 {
		var ft FailedTask
		if json.Unmarshal(r.FailedTask, &ft) == nil {
			info.FailedTask = &ft
		}
	}
	return info
}

func eventFrom(ev *dbsqlc.WebhookEventsAfterRow, run *RunInfo) *Event {
	out := &Event{Type: kindToType[ev.Kind], Timestamp: ev.Time.UTC(), Data: EventData{
		EventID: ev.ID, Kind: ev.Kind, Run: run,
	}}
	if len(ev.Data) > 0 && string(ev.Data) != "null" {
		out.Data.Details = json.RawMessage(ev.Data)
	}
	if ev.TaskID != nil {
		t := &TaskInfo{ID: *ev.TaskID, Error: ev.Error, ErrorClass: ev.ErrorClass, DurationMs: ev.DurationMs}
		if ev.StepName != nil {
			t.Step = *ev.StepName
		}
		if ev.TaskType != nil {
			t.TaskType = *ev.TaskType
		}
		if ev.Attempt != nil {
			t.Attempt = new(int(*ev.Attempt))
		}
		out.Data.Task = t
	}
	return out
}
