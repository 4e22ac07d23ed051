package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/baton-run/baton/internal/batch"
)

// tagBatches groups the batch operations.
const tagBatches = "Batches"

// BatchMember is one run of a batch.
type BatchMember struct {
	Workflow       string     `json:"workflow" minLength:"1" maxLength:"200"`
	Input          JSONObject `json:"input,omitempty" doc:"The run's input, a JSON object (default {})."`
	IdempotencyKey string     `json:"idempotency_key,omitempty" maxLength:"200"`
	Priority       int        `json:"priority,omitempty" minimum:"0" maximum:"4" doc:"1 high .. 4 background; 0 or absent: the workflow's."`
	Version        int        `json:"version,omitempty" minimum:"0" doc:"A workflow version; 0 or absent: the latest."`
	Owner          string     `json:"owner,omitempty" maxLength:"200"`
	Tags           []string   `json:"tags,omitempty" maxItems:"50"`
}

// BatchRequest starts a batch.
type BatchRequest struct {
	Name            string        `json:"name,omitempty" maxLength:"200"`
	OnMemberFailure string        `json:"on_member_failure,omitempty" enum:"continue,rollback" doc:"continue (default): members run on their own; rollback: when one member fails, the others are cancelled (running attempts interrupted) and the batch fails."`
	Members         []BatchMember `json:"members" minItems:"1" maxItems:"10000"`
}

// Batch is a batch with its progress.
type Batch struct {
	ID              int64          `json:"id"`
	Name            string         `json:"name"`
	Status          string         `json:"status" enum:"running,succeeded,failed,cancelled"`
	OnMemberFailure string         `json:"on_member_failure"`
	MembersTotal    int            `json:"members_total"`
	Members         map[string]int `json:"members" doc:"Members by their run's status."`
	TasksDone       int64          `json:"tasks_done"`
	TasksTotal      int64          `json:"tasks_total"`
	Percent         float64        `json:"percent" doc:"Tasks done of total, 100 once the batch has finished."`
	CreatedAt       time.Time      `json:"created_at"`
	StartedAt       *time.Time     `json:"started_at,omitempty"`
	FinishedAt      *time.Time     `json:"finished_at,omitempty"`
	EstimatedFinish *time.Time     `json:"estimated_finish,omitempty" doc:"The pace so far extrapolated; absent before the first task is done and once finished."`
}

// BatchMemberRun is a member and its current run.
type BatchMemberRun struct {
	Index    int     `json:"index"`
	RunID    int64   `json:"run_id"`
	Retries  int     `json:"retries"`
	Workflow string  `json:"workflow"`
	Status   string  `json:"status"`
	Error    *string `json:"error,omitempty"`
}

// BatchMemberList is a page of members.
type BatchMemberList struct {
	Members    []BatchMemberRun `json:"members"`
	NextCursor *int             `json:"next_cursor,omitempty" doc:"Pass as after for the next page."`
}

// BatchRetried is the answer of retry-batch.
type BatchRetried struct {
	Retried int   `json:"retried" doc:"How many failed or cancelled members were started again."`
	Batch   Batch `json:"batch"`
}

type batchCreateInput struct {
	Actor string `header:"X-Baton-Actor" maxLength:"200" doc:"Who starts the batch, recorded in its events (default \"api\")."`
	Body  BatchRequest
}
type batchActionInput struct {
	ID    int64  `path:"id" minimum:"1"`
	Actor string `header:"X-Baton-Actor" maxLength:"200" doc:"Who performs the action (default \"api\")."`
}
type batchWaitInput struct {
	ID      int64 `path:"id" minimum:"1"`
	Timeout int   `query:"timeout" minimum:"0" maximum:"60" default:"30" doc:"Seconds to wait for the batch to finish (at most 60)."`
}
type batchMembersInput struct {
	ID    int64 `path:"id" minimum:"1"`
	After int   `query:"after" minimum:"-1" default:"-1" doc:"Only members with a higher index."`
	Limit int   `query:"limit" minimum:"1" maximum:"1000" default:"100"`
}
type batchOutput struct{ Body Batch }
type batchMembersOutput struct{ Body BatchMemberList }
type batchRetriedOutput struct{ Body BatchRetried }

func registerBatches(api huma.API, h *handlers) {
	tags := []string{tagBatches}
	unprocessable := errorStatuses(http.StatusNotFound, http.StatusUnprocessableEntity)
	huma.Register(api, huma.Operation{
		OperationID: "start-batch", Method: http.MethodPost, Path: "/batches", Summary: "Start a batch of runs",
		Description: "Starts up to 10,000 runs in one transaction. When any member is invalid (unknown workflow or version, bad input or options), nothing starts: the 422 names every bad member (`body.members[i]`) with its reason. SQL callers use `SELECT baton.start_batch(jsonb)`.",
		Tags:        tags, DefaultStatus: http.StatusCreated, Errors: errorStatuses(http.StatusConflict, http.StatusUnprocessableEntity),
	}, h.startBatch)
	huma.Register(api, huma.Operation{
		OperationID: "get-batch", Method: http.MethodGet, Path: "/batches/{id}", Summary: "Get a batch's progress",
		Tags: tags, Errors: unprocessable,
	}, h.getBatch)
	huma.Register(api, huma.Operation{
		OperationID: "wait-batch", Method: http.MethodGet, Path: "/batches/{id}/wait", Summary: "Wait for a batch to finish",
		Description: "A long poll: answers when the batch has finished or after `timeout` seconds, with its progress either way.",
		Tags:        tags, Errors: unprocessable,
	}, h.waitBatch)
	huma.Register(api, huma.Operation{
		OperationID: "list-batch-members", Method: http.MethodGet, Path: "/batches/{id}/members", Summary: "List a batch's members",
		Tags: tags, Errors: unprocessable,
	}, h.listBatchMembers)
	huma.Register(api, huma.Operation{
		OperationID: "retry-batch", Method: http.MethodPost, Path: "/batches/{id}/retry", Summary: "Retry a batch's failed members",
		Description: "Starts every failed or cancelled member again as a new run with the same workflow version, input, priority, owner and tags; the batch runs again.",
		Tags:        tags, Errors: unprocessable,
	}, h.retryBatch)
	huma.Register(api, huma.Operation{
		OperationID: "cancel-batch", Method: http.MethodPost, Path: "/batches/{id}/cancel", Summary: "Cancel a batch",
		Description: "Cancels every unfinished member (running attempts are interrupted) and ends the batch as cancelled. 409 when it had already finished.",
		Tags:        tags, Errors: errorStatuses(http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity),
	}, h.cancelBatch)
}

func (h *handlers) batchService() (*batch.Service, error) {
	if h.batches == nil {
		return nil, unavailable("batches are not configured on this server")
	}
	return h.batches, nil
}

func batchFrom(p *batch.Progress) Batch {
	return Batch{ID: p.ID, Name: p.Name, Status: p.Status, OnMemberFailure: p.OnMemberFailure, MembersTotal: p.MembersTotal,
		Members: p.Members, TasksDone: p.TasksDone, TasksTotal: p.TasksTotal, Percent: p.Percent,
		CreatedAt: p.CreatedAt.UTC(), StartedAt: utcPtr(p.StartedAt), FinishedAt: utcPtr(p.FinishedAt),
		EstimatedFinish: utcPtr(p.EstimatedFinish)}
}

func actorOr(actor string) string {
	if actor == "" {
		return "api"
	}
	return actor
}

func (h *handlers) startBatch(ctx context.Context, in *batchCreateInput) (*batchOutput, error) {
	svc, err := h.batchService()
	if err != nil {
		return nil, err
	}
	spec := batch.Spec{Name: in.Body.Name, OnMemberFailure: in.Body.OnMemberFailure, Members: make([]batch.Member, len(in.Body.Members))}
	for i, m := range in.Body.Members {
		spec.Members[i] = batch.Member{Workflow: m.Workflow, Input: json.RawMessage(m.Input), IdempotencyKey: m.IdempotencyKey,
			Priority: m.Priority, Version: m.Version, Owner: m.Owner, Tags: m.Tags}
	}
	// Every member counts against the caller's daily run quota, all or none.
	refund, err := h.takeRunsQuota(ctx, len(spec.Members))
	if err != nil {
		return nil, err
	}
	p, err := svc.Start(ctx, spec, actorOr(in.Actor))
	if err != nil {
		refund()
		return nil, h.problem(ctx, err)
	}
	return &batchOutput{Body: batchFrom(p)}, nil
}

func (h *handlers) getBatch(ctx context.Context, in *idInput) (*batchOutput, error) {
	svc, err := h.batchService()
	if err != nil {
		return nil, err
	}
	p, err := svc.Get(ctx, in.ID)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &batchOutput{Body: batchFrom(p)}, nil
}

func (h *handlers) waitBatch(ctx context.Context, in *batchWaitInput) (*batchOutput, error) {
	svc, err := h.batchService()
	if err != nil {
		return nil, err
	}
	p, err := svc.Wait(ctx, in.ID, time.Duration(in.Timeout)*time.Second, 200*time.Millisecond)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &batchOutput{Body: batchFrom(p)}, nil
}

func (h *handlers) listBatchMembers(ctx context.Context, in *batchMembersInput) (*batchMembersOutput, error) {
	svc, err := h.batchService()
	if err != nil {
		return nil, err
	}
	list, err := svc.Members(ctx, in.ID, in.After, in.Limit)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &batchMembersOutput{Body: BatchMemberList{Members: make([]BatchMemberRun, len(list))}}
	for i, m := range list {
		out.Body.Members[i] = BatchMemberRun{Index: m.Index, RunID: m.RunID, Retries: m.Retries, Workflow: m.Workflow,
			Status: m.Status, Error: m.Error}
	}
	if len(list) == in.Limit {
		out.Body.NextCursor = &list[len(list)-1].Index
	}
	return out, nil
}

func (h *handlers) retryBatch(ctx context.Context, in *batchActionInput) (*batchRetriedOutput, error) {
	svc, err := h.batchService()
	if err != nil {
		return nil, err
	}
	n, p, err := svc.Retry(ctx, in.ID, actorOr(in.Actor))
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &batchRetriedOutput{Body: BatchRetried{Retried: n, Batch: batchFrom(p)}}, nil
}

func (h *handlers) cancelBatch(ctx context.Context, in *batchActionInput) (*batchOutput, error) {
	svc, err := h.batchService()
	if err != nil {
		return nil, err
	}
	p, err := svc.Cancel(ctx, in.ID, actorOr(in.Actor))
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &batchOutput{Body: batchFrom(p)}, nil
}
