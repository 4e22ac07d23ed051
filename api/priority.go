package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

// Priority overrides of a queued or running run, or of one of its tasks:
// the waiting River jobs are updated in place, and the change is recorded
// with the actor as a run_priority_changed or task_priority_changed event.

// PriorityRequest is the body of set-run-priority and set-task-priority.
type PriorityRequest struct {
	Priority int `json:"priority" minimum:"1" maximum:"4" doc:"The new priority: 1 (high) to 4 (background)."`
}

type runPriorityInput struct {
	ID    int64  `path:"id" minimum:"1" doc:"The run's id."`
	Actor string `header:"X-Baton-Actor" maxLength:"200" doc:"Who performs the action, recorded in the run's events (default \"api\")."`
	Body  PriorityRequest
}

type taskPriorityInput struct {
	ID    int64  `path:"id" minimum:"1" doc:"The run's id."`
	Step  string `path:"step" pattern:"^[a-z0-9][a-z0-9_.-]{0,99}$" doc:"The step's name."`
	Actor string `header:"X-Baton-Actor" maxLength:"200" doc:"Who performs the action, recorded in the run's events (default \"api\")."`
	Body  PriorityRequest
}

// PriorityChange is the body of set-run-priority and set-task-priority.
type PriorityChange struct {
	RunID       int64  `json:"run_id"`
	Step        string `json:"step,omitempty" doc:"The step, for a task's override."`
	TaskID      int64  `json:"task_id,omitempty" doc:"The task, for a task's override."`
	Priority    int    `json:"priority" doc:"The priority now in force."`
	JobsUpdated int    `json:"jobs_updated" doc:"River jobs waiting to run (available, scheduled, retryable) whose priority was updated in place."`
}

type priorityOutput struct {
	Body PriorityChange
}

func registerPriority(api huma.API, h *handlers) {
	huma.Register(api, huma.Operation{
		OperationID: "set-run-priority",
		Method:      http.MethodPost,
		Path:        "/runs/{id}/priority",
		Summary:     "Override a run's priority",
		Description: "Sets the priority of an unfinished run, of its unfinished tasks and of their River jobs waiting to run (updated in place: a queued task moves in the queue at once; a running attempt keeps its priority). Recorded as a run_priority_changed event with the actor (X-Baton-Actor). Answers 409 for a finished run, 422 for a priority outside 1..4.",
		Tags:        []string{tagRuns},
		Errors:      errorStatuses(http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity),
	}, h.setRunPriority)
	huma.Register(api, huma.Operation{
		OperationID: "set-task-priority",
		Method:      http.MethodPost,
		Path:        "/runs/{id}/tasks/{step}/priority",
		Summary:     "Override a task's priority",
		Description: "Sets the priority of one unfinished task of an unfinished run and of its River job waiting to run (updated in place). Recorded as a task_priority_changed event with the actor (X-Baton-Actor). Answers 409 for a finished task or run, 422 for a priority outside 1..4.",
		Tags:        []string{tagRuns},
		Errors:      errorStatuses(http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity),
	}, h.setTaskPriority)
}

func (h *handlers) setRunPriority(ctx context.Context, in *runPriorityInput) (*priorityOutput, error) {
	n, err := h.engine.SetRunPriority(ctx, in.ID, in.Body.Priority, in.Actor)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &priorityOutput{Body: PriorityChange{RunID: in.ID, Priority: in.Body.Priority, JobsUpdated: n}}, nil
}

func (h *handlers) setTaskPriority(ctx context.Context, in *taskPriorityInput) (*priorityOutput, error) {
	task, err := h.engine.GetTask(ctx, in.ID, in.Step)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	n, err := h.engine.SetTaskPriority(ctx, task.ID, in.Body.Priority, in.Actor)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &priorityOutput{Body: PriorityChange{RunID: in.ID, Step: in.Step, TaskID: task.ID, Priority: in.Body.Priority, JobsUpdated: n}}, nil
}
