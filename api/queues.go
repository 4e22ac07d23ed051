package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/baton-run/baton/internal/engine"
)

// QueueController pauses, resumes and lists River queues cluster-wide; the
// jobs package's Client implements it.
type QueueController interface {
	PauseQueue(ctx context.Context, name, actor string) error
	ResumeQueue(ctx context.Context, name, actor string) error
	ListQueues(ctx context.Context) ([]engine.Queue, error)
}

// Queue is a River queue.
type Queue struct {
	Name      string     `json:"name" example:"default"`
	Paused    bool       `json:"paused"`
	PausedAt  *time.Time `json:"paused_at" doc:"When the queue was paused; null while it runs."`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at" doc:"Last time a worker node reported working the queue."`
}

// QueueList is the body of list-queues.
type QueueList struct {
	Queues []Queue `json:"queues"`
}

type queueNameInput struct {
	Name  string `path:"name" maxLength:"64" pattern:"^[a-z0-9]+(?:[_-][a-z0-9]+)*$" doc:"The queue's name."`
	Actor string `header:"X-Baton-Actor" maxLength:"200" doc:"Who performs the action, recorded as an event (default \"api\")."`
}

type queueListOutput struct{ Body QueueList }

func registerQueues(api huma.API, h *handlers) {
	const tag = "Queues"
	huma.Register(api, huma.Operation{
		OperationID: "list-queues", Method: http.MethodGet, Path: "/queues",
		Summary: "List queues", Description: "The River queues worker nodes work, paused or not.",
		Tags: []string{tag}, Errors: errorStatuses(),
	}, h.listQueues)
	huma.Register(api, huma.Operation{
		OperationID: "pause-queue", Method: http.MethodPost, Path: "/queues/{name}/pause",
		Summary:     "Pause a queue",
		Description: "Pauses the queue on every node: running tasks finish, no new task of the queue starts until it is resumed.",
		Tags:        []string{tag}, DefaultStatus: http.StatusNoContent,
		Errors: errorStatuses(http.StatusNotFound, http.StatusUnprocessableEntity),
	}, h.pauseQueue)
	huma.Register(api, huma.Operation{
		OperationID: "resume-queue", Method: http.MethodPost, Path: "/queues/{name}/resume",
		Summary: "Resume a queue", Tags: []string{tag}, DefaultStatus: http.StatusNoContent,
		Errors: errorStatuses(http.StatusNotFound, http.StatusUnprocessableEntity),
	}, h.resumeQueue)
}

func (h *handlers) listQueues(ctx context.Context, _ *struct{}) (*queueListOutput, error) {
	if h.queues == nil {
		return nil, errNoQueueControl()
	}
	queues, err := h.queues.ListQueues(ctx)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &queueListOutput{Body: QueueList{Queues: make([]Queue, len(queues))}}
	for i, q := range queues {
		out.Body.Queues[i] = Queue{Name: q.Name, Paused: q.PausedAt != nil, PausedAt: utcPtr(q.PausedAt),
			CreatedAt: q.CreatedAt.UTC(), UpdatedAt: q.UpdatedAt.UTC()}
	}
	return out, nil
}

func (h *handlers) pauseQueue(ctx context.Context, in *queueNameInput) (*struct{}, error) {
	if h.queues == nil {
		return nil, errNoQueueControl()
	}
	if err := h.queues.PauseQueue(ctx, in.Name, in.Actor); err != nil {
		return nil, h.problem(ctx, err)
	}
	return nil, nil
}

func (h *handlers) resumeQueue(ctx context.Context, in *queueNameInput) (*struct{}, error) {
	if h.queues == nil {
		return nil, errNoQueueControl()
	}
	if err := h.queues.ResumeQueue(ctx, in.Name, in.Actor); err != nil {
		return nil, h.problem(ctx, err)
	}
	return nil, nil
}

// errNoQueueControl answers queue operations on a server built without a
// River client.
func errNoQueueControl() error {
	return huma.Error503ServiceUnavailable("queue control is not available on this server")
}
