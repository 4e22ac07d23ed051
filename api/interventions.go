package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/baton-run/baton/internal/auth"
	"github.com/baton-run/baton/internal/executor"
)

// Manual intervention on runs and tasks: pause, resume, cancel, retry (with
// new params), skip, the attempt audit trail, and the runs needing attention.

type runActionInput struct {
	ID    int64  `path:"id" minimum:"1" doc:"The run's id."`
	Actor string `header:"X-Baton-Actor" maxLength:"200" doc:"Who performs the action, recorded in the run's events (default \"api\")."`
}

type taskActionInput struct {
	ID    int64  `path:"id" minimum:"1" doc:"The run's id."`
	Step  string `path:"step" pattern:"^[a-z0-9][a-z0-9_.-]{0,99}$" doc:"The step's name."`
	Actor string `header:"X-Baton-Actor" maxLength:"200" doc:"Who performs the action, recorded in the run's events (default \"api\")."`
}

// RetryTaskRequest is the optional body of retry-task.
type RetryTaskRequest struct {
	Params JSONObject `json:"params,omitempty" doc:"Params to merge over the task's params (its task type's defaults under its step's params): each top-level key given replaces that key, a key given as null is removed, the others are kept. Omit to retry with the same params."`
}

type retryTaskInput struct {
	ID    int64             `path:"id" minimum:"1" doc:"The run's id."`
	Step  string            `path:"step" pattern:"^[a-z0-9][a-z0-9_.-]{0,99}$" doc:"The step's name."`
	Actor string            `header:"X-Baton-Actor" maxLength:"200" doc:"Who performs the action, recorded in the run's events (default \"api\")."`
	Body  *RetryTaskRequest `required:"false"`
}

// AttemptList is the body of list-task-attempts.
type AttemptList struct {
	RunID  int64   `json:"run_id"`
	Step   string  `json:"step"`
	TaskID int64   `json:"task_id"`
	Events []Event `json:"events" doc:"Every attempt's outcome (attempt, duration, error, error class, node, next retry time in data.next_retry_at) and the manual actions on the task, in order."`
}

type attemptListOutput struct {
	Body AttemptList
}

// AttentionList is the body of list-attention.
type AttentionList struct {
	Runs []Run `json:"runs" doc:"Runs needing an operator, newest first; each run's attention field says why."`
}

type attentionListOutput struct {
	Body AttentionList
}

type attentionInput struct {
	Limit int `query:"limit" minimum:"1" maximum:"500" default:"100" doc:"Page size."`
}

func registerInterventions(api huma.API, h *handlers) {
	runOp := func(id, path, summary, description string, handler func(context.Context, *runActionInput) (*runOutput, error)) {
		huma.Register(api, huma.Operation{
			OperationID: id,
			Method:      http.MethodPost,
			Path:        path,
			Summary:     summary,
			Description: description,
			Tags:        []string{tagRuns},
			Errors:      errorStatuses(http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity),
		}, handler)
	}
	runOp("pause-run", "/runs/{id}/pause", "Pause a run",
		"Running tasks finish; nothing new starts until the run is resumed. Answers 409 when the run already finished.",
		h.pauseRun)
	runOp("resume-run", "/runs/{id}/resume", "Resume a paused run",
		"Queues the tasks whose dependencies are done. Answers 409 when the run is not paused.",
		h.resumeRun)

	taskOp := func(id, path, summary, description string) huma.Operation {
		return huma.Operation{
			OperationID: id,
			Method:      http.MethodPost,
			Path:        path,
			Summary:     summary,
			Description: description,
			Tags:        []string{tagRuns},
			Errors:      errorStatuses(http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity),
		}
	}
	huma.Register(api, taskOp("retry-task", "/runs/{id}/tasks/{step}/retry", "Retry a task",
		"Queues a dead, failed, cancelled or skipped task again, with new params when the body has them, and lets the run continue from it (a finished run runs again). Answers 409 for a task that is pending, running or succeeded, or a cancelled run."),
		h.retryTask)
	huma.Register(api, taskOp("skip-task", "/runs/{id}/tasks/{step}/skip", "Skip a task",
		"Marks the task skipped: its dependents proceed as if it had succeeded. A dead task leaves the dead-letter queue. Answers 409 for a task that already succeeded or was skipped."),
		h.skipTask)
	huma.Register(api, taskOp("cancel-task", "/runs/{id}/tasks/{step}/cancel", "Cancel a task",
		"Cancels one unfinished task (a running attempt is interrupted); its on_success dependents are skipped and the run fails unless the step is optional. Answers 409 for a finished task."),
		h.cancelTask)

	huma.Register(api, huma.Operation{
		OperationID: "list-task-attempts",
		Method:      http.MethodGet,
		Path:        "/runs/{id}/tasks/{step}/attempts",
		Summary:     "List a task's attempts",
		Description: "The retry audit trail: one event per attempt (attempt number, duration, error, error class, node, next retry time) plus manual actions on the task.",
		Tags:        []string{tagRuns},
		Errors:      errorStatuses(http.StatusNotFound, http.StatusUnprocessableEntity),
	}, h.listTaskAttempts)

	huma.Register(api, huma.Operation{
		OperationID: "list-attention",
		Method:      http.MethodGet,
		Path:        "/attention",
		Summary:     "List runs needing attention",
		Description: "Runs blocked on a dead task that is still in the dead-letter queue, with the reason. Resubmitting, discarding or skipping the task clears the flag.",
		Tags:        []string{tagRuns},
		Errors:      errorStatuses(http.StatusUnprocessableEntity),
	}, h.listAttention)
}

// runAfter returns the run after an action, or a 409 when the action did
// not apply (ok is false).
func (h *handlers) runAfter(ctx context.Context, id int64, ok bool, conflict string) (*runOutput, error) {
	run, err := h.engine.GetRun(ctx, id)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	if !ok {
		return nil, huma.Error409Conflict(fmt.Sprintf(conflict, run.ID, run.Status))
	}
	return &runOutput{Status: http.StatusOK, Body: runFrom(run)}, nil
}

func (h *handlers) pauseRun(ctx context.Context, in *runActionInput) (*runOutput, error) {
	ok, err := h.engine.PauseRun(ctx, in.ID, in.Actor)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return h.runAfter(ctx, in.ID, ok, "run %d is already %s")
}

func (h *handlers) resumeRun(ctx context.Context, in *runActionInput) (*runOutput, error) {
	ok, err := h.engine.ResumeRun(ctx, in.ID, in.Actor)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return h.runAfter(ctx, in.ID, ok, "run %d is %s, not paused")
}

func (h *handlers) retryTask(ctx context.Context, in *retryTaskInput) (*runOutput, error) {
	var params []byte
	if in.Body != nil && in.Body.Params != nil {
		params = in.Body.Params
	}
	target := &taskActionInput{ID: in.ID, Step: in.Step, Actor: in.Actor}
	if params != nil {
		if err := h.requireAdminForParams(ctx, in.ID, in.Step); err != nil {
			return nil, err
		}
	}
	return h.taskAction(ctx, target, func(ctx context.Context, taskID int64, actor string) error {
		return h.engine.RetryTask(ctx, taskID, params, actor)
	})
}

func (h *handlers) skipTask(ctx context.Context, in *taskActionInput) (*runOutput, error) {
	return h.taskAction(ctx, in, h.engine.SkipTask)
}

func (h *handlers) cancelTask(ctx context.Context, in *taskActionInput) (*runOutput, error) {
	return h.taskAction(ctx, in, h.engine.CancelTask)
}

// taskAction applies an engine action to the run's step and answers the run.
func (h *handlers) taskAction(ctx context.Context, in *taskActionInput, action func(ctx context.Context, taskID int64, actor string) error) (*runOutput, error) {
	task, err := h.engine.GetTask(ctx, in.ID, in.Step)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	if err := action(ctx, task.ID, in.Actor); err != nil {
		return nil, h.problem(ctx, err)
	}
	return h.runAfter(ctx, in.ID, true, "")
}

func (h *handlers) listTaskAttempts(ctx context.Context, in *taskActionInput) (*attemptListOutput, error) {
	task, err := h.engine.GetTask(ctx, in.ID, in.Step)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	events, err := h.engine.ListTaskAttempts(ctx, task.ID)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &attemptListOutput{Body: AttemptList{RunID: in.ID, Step: in.Step, TaskID: task.ID, Events: eventsFrom(events)}}, nil
}

func (h *handlers) listAttention(ctx context.Context, in *attentionInput) (*attentionListOutput, error) {
	runs, err := h.engine.ListAttention(ctx, in.Limit)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &attentionListOutput{Body: AttentionList{Runs: make([]Run, len(runs))}}
	for i, run := range runs {
		out.Body.Runs[i] = runFrom(run)
	}
	return out, nil
}

// requireAdminForParams refuses new params for a task of a dangerous
// executor (exec) to a caller below admin: new params there are a new
// command. Other tasks take new params from an operator.
func (h *handlers) requireAdminForParams(ctx context.Context, runID int64, step string) error {
	if c := callerFrom(ctx); c == nil || c.role.Allows(auth.RoleAdmin) {
		return nil
	}
	task, err := h.engine.GetTask(ctx, runID, step)
	if err != nil {
		return h.problem(ctx, err)
	}
	if executor.Dangerous(task.Executor) {
		return requireRole(ctx, auth.RoleAdmin, "new params for a task of the "+task.Executor+" executor")
	}
	return nil
}
