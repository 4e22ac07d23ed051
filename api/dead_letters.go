package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/baton-run/baton/internal/engine"
)

// DeadLetter is a task that failed for good (a permanent error, or its
// retries exhausted), waiting for an operator.
type DeadLetter struct {
	ID              int64           `json:"id"`
	TaskID          int64           `json:"task_id"`
	RunID           int64           `json:"run_id"`
	Workflow        string          `json:"workflow"`
	WorkflowVersion int             `json:"workflow_version"`
	Step            string          `json:"step"`
	TaskType        string          `json:"task_type"`
	Params          json.RawMessage `json:"params" doc:"The params of the last attempt, templates rendered."`
	Error           string          `json:"error"`
	ErrorClass      string          `json:"error_class" enum:"transient,permanent" doc:"transient when retries ran out, permanent when the error allowed no retry."`
	Attempts        int             `json:"attempts"`
	FirstFailedAt   time.Time       `json:"first_failed_at"`
	LastFailedAt    time.Time       `json:"last_failed_at"`
	CreatedAt       time.Time       `json:"created_at"`
}

// DeadLetterList is one page of list-dead-letters.
type DeadLetterList struct {
	DeadLetters []DeadLetter `json:"dead_letters"`
	NextCursor  string       `json:"next_cursor" doc:"Pass as cursor to get the next page; empty on the last page."`
}

// DeadLetterStats describes the dead-letter queue for alerting.
type DeadLetterStats struct {
	Size   int64      `json:"size" doc:"Entries in the queue."`
	Oldest *time.Time `json:"oldest" doc:"When the oldest entry arrived; null when the queue is empty."`
}

// ResubmitRequest is the optional body of resubmit-dead-letter.
type ResubmitRequest struct {
	Params JSONObject `json:"params,omitempty" doc:"Params to merge over the task's params (its task type's defaults under its step's params): each top-level key given replaces that key, a key given as null is removed, the others are kept. Omit to retry with the same params."`
}

// ResubmitResult is what resubmit-dead-letter answers: the run, continuing.
type ResubmitResult struct {
	DeadLetterID int64 `json:"dead_letter_id"`
	TaskID       int64 `json:"task_id"`
	Run          Run   `json:"run"`
}

// BulkResubmitRequest selects the entries to resubmit.
type BulkResubmitRequest struct {
	Workflow   string     `json:"workflow,omitempty"`
	TaskType   string     `json:"task_type,omitempty"`
	ErrorClass string     `json:"error_class,omitempty" enum:"transient,permanent"`
	Since      *time.Time `json:"since,omitempty" doc:"Only entries whose last failure is at or after this time."`
	Until      *time.Time `json:"until,omitempty" doc:"Only entries whose last failure is before this time."`
	Limit      int        `json:"limit,omitempty" minimum:"1" maximum:"1000" doc:"At most this many entries (default 100)."`
}

// BulkResubmitResult reports a bulk resubmission.
type BulkResubmitResult struct {
	Resubmitted []int64           `json:"resubmitted" doc:"Ids of the entries resubmitted."`
	Failed      map[string]string `json:"failed" doc:"Entries that could not be resubmitted, by id, with why."`
}

type deadLetterFilterInput struct {
	Workflow   string    `query:"workflow" pattern:"^[a-z0-9][a-z0-9_.-]{0,99}$" doc:"Only entries of this workflow."`
	TaskType   string    `query:"task_type" pattern:"^[a-z0-9][a-z0-9_.-]{0,99}$" doc:"Only entries of this task type."`
	ErrorClass string    `query:"error_class" enum:"transient,permanent" doc:"Only entries with this error class."`
	Since      time.Time `query:"since" doc:"Only entries whose last failure is at or after this time (RFC 3339)."`
	Until      time.Time `query:"until" doc:"Only entries whose last failure is before this time (RFC 3339)."`
	Limit      int       `query:"limit" minimum:"1" maximum:"500" default:"50" doc:"Page size."`
	Cursor     string    `query:"cursor" doc:"The next_cursor of the previous page."`
}

type deadLetterIDInput struct {
	ID    int64  `path:"id" minimum:"1" doc:"The dead-letter entry's id."`
	Actor string `header:"X-Baton-Actor" maxLength:"200" doc:"Who performs the action (default \"api\")."`
}

type resubmitInput struct {
	ID    int64            `path:"id" minimum:"1" doc:"The dead-letter entry's id."`
	Actor string           `header:"X-Baton-Actor" maxLength:"200" doc:"Who performs the action (default \"api\")."`
	Body  *ResubmitRequest `required:"false"`
}

type bulkResubmitInput struct {
	Actor string `header:"X-Baton-Actor" maxLength:"200" doc:"Who performs the action (default \"api\")."`
	Body  BulkResubmitRequest
}

type deadLetterOutput struct{ Body DeadLetter }
type deadLetterListOutput struct{ Body DeadLetterList }
type deadLetterStatsOutput struct{ Body DeadLetterStats }
type resubmitOutput struct{ Body ResubmitResult }
type bulkResubmitOutput struct{ Body BulkResubmitResult }

func registerDeadLetters(api huma.API, h *handlers) {
	const tag = "Dead letters"
	huma.Register(api, huma.Operation{
		OperationID: "list-dead-letters", Method: http.MethodGet, Path: "/dead-letters",
		Summary:     "List dead letters",
		Description: "Tasks that failed for good, newest first, filtered by workflow, task type, error class and last-failure time.",
		Tags:        []string{tag}, Errors: errorStatuses(http.StatusUnprocessableEntity),
	}, h.listDeadLetters)
	huma.Register(api, huma.Operation{
		OperationID: "get-dead-letter-stats", Method: http.MethodGet, Path: "/dead-letters/stats",
		Summary:     "Dead-letter queue size",
		Description: "The number of entries and the arrival time of the oldest, for alerting.",
		Tags:        []string{tag}, Errors: errorStatuses(),
	}, h.deadLetterStats)
	huma.Register(api, huma.Operation{
		OperationID: "get-dead-letter", Method: http.MethodGet, Path: "/dead-letters/{id}",
		Summary: "Get a dead letter", Tags: []string{tag},
		Errors: errorStatuses(http.StatusNotFound, http.StatusUnprocessableEntity),
	}, h.getDeadLetter)
	huma.Register(api, huma.Operation{
		OperationID: "resubmit-dead-letter", Method: http.MethodPost, Path: "/dead-letters/{id}/resubmit",
		Summary:     "Resubmit a dead letter",
		Description: "Queues the task again (with new params when the body has them) and removes the entry; the run continues from that task.",
		Tags:        []string{tag}, Errors: errorStatuses(http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity),
	}, h.resubmitDeadLetter)
	huma.Register(api, huma.Operation{
		OperationID: "discard-dead-letter", Method: http.MethodPost, Path: "/dead-letters/{id}/discard",
		Summary:     "Discard a dead letter",
		Description: "Removes the entry; the task stays dead and its run no longer needs attention for it.",
		Tags:        []string{tag}, DefaultStatus: http.StatusNoContent,
		Errors: errorStatuses(http.StatusNotFound, http.StatusUnprocessableEntity),
	}, h.discardDeadLetter)
	huma.Register(api, huma.Operation{
		OperationID: "bulk-resubmit-dead-letters", Method: http.MethodPost, Path: "/dead-letters/resubmit",
		Summary:     "Resubmit dead letters by filter",
		Description: "Resubmits every entry matching the filter (up to limit), each in its own transaction; answers which were resubmitted and which could not be, with why.",
		Tags:        []string{tag}, Errors: errorStatuses(http.StatusUnprocessableEntity),
	}, h.bulkResubmit)
}

func (h *handlers) listDeadLetters(ctx context.Context, in *deadLetterFilterInput) (*deadLetterListOutput, error) {
	f := engine.DeadLetterFilter{Workflow: in.Workflow, TaskType: in.TaskType, ErrorClass: in.ErrorClass, Cursor: in.Cursor, Limit: in.Limit}
	if !in.Since.IsZero() {
		f.Since = &in.Since
	}
	if !in.Until.IsZero() {
		f.Until = &in.Until
	}
	page, err := h.engine.ListDeadLetters(ctx, f)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &deadLetterListOutput{Body: DeadLetterList{DeadLetters: make([]DeadLetter, len(page.DeadLetters)), NextCursor: page.NextCursor}}
	for i, d := range page.DeadLetters {
		out.Body.DeadLetters[i] = deadLetterFrom(d)
	}
	return out, nil
}

func (h *handlers) deadLetterStats(ctx context.Context, _ *struct{}) (*deadLetterStatsOutput, error) {
	stats, err := h.engine.GetDeadLetterStats(ctx)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &deadLetterStatsOutput{Body: DeadLetterStats{Size: stats.Size, Oldest: utcPtr(stats.Oldest)}}, nil
}

func (h *handlers) getDeadLetter(ctx context.Context, in *deadLetterIDInput) (*deadLetterOutput, error) {
	d, err := h.engine.GetDeadLetter(ctx, in.ID)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &deadLetterOutput{Body: deadLetterFrom(d)}, nil
}

func (h *handlers) resubmitDeadLetter(ctx context.Context, in *resubmitInput) (*resubmitOutput, error) {
	d, err := h.engine.GetDeadLetter(ctx, in.ID)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	var params []byte
	if in.Body != nil && in.Body.Params != nil {
		params = in.Body.Params
		if err := h.requireAdminForParams(ctx, d.RunID, d.Step); err != nil {
			return nil, err
		}
	}
	taskID, err := h.engine.ResubmitDeadLetter(ctx, in.ID, params, in.Actor)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	run, err := h.engine.GetRun(ctx, d.RunID)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &resubmitOutput{Body: ResubmitResult{DeadLetterID: in.ID, TaskID: taskID, Run: runFrom(run)}}, nil
}

func (h *handlers) discardDeadLetter(ctx context.Context, in *deadLetterIDInput) (*struct{}, error) {
	if err := h.engine.DiscardDeadLetter(ctx, in.ID, in.Actor); err != nil {
		return nil, h.problem(ctx, err)
	}
	return nil, nil
}

func (h *handlers) bulkResubmit(ctx context.Context, in *bulkResubmitInput) (*bulkResubmitOutput, error) {
	f := engine.DeadLetterFilter{Workflow: in.Body.Workflow, TaskType: in.Body.TaskType, ErrorClass: in.Body.ErrorClass,
		Since: in.Body.Since, Until: in.Body.Until}
	res, err := h.engine.ResubmitDeadLetters(ctx, f, in.Body.Limit, in.Actor)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &bulkResubmitOutput{Body: BulkResubmitResult{Resubmitted: res.Resubmitted, Failed: map[string]string{}}}
	for id, why := range res.Failed {
		out.Body.Failed[formatID(id)] = why
	}
	return out, nil
}

func deadLetterFrom(d *engine.DeadLetter) DeadLetter {
	return DeadLetter{
		ID: d.ID, TaskID: d.TaskID, RunID: d.RunID, Workflow: d.Workflow, WorkflowVersion: d.WorkflowVersion,
		Step: d.Step, TaskType: d.TaskType, Params: d.Params, Error: d.Error, ErrorClass: d.ErrorClass,
		Attempts: d.Attempts, FirstFailedAt: d.FirstFailedAt.UTC(), LastFailedAt: d.LastFailedAt.UTC(), CreatedAt: d.CreatedAt.UTC(),
	}
}

func formatID(id int64) string { return strconv.FormatInt(id, 10) }
