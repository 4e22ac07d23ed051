package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/baton-run/baton/internal/resilience"
)

// tagBreakers groups the circuit-breaker operations.
const tagBreakers = "Circuit breakers"

// CircuitBreaker is the state of one circuit breaker.
type CircuitBreaker struct {
	Key            string     `json:"key" example:"http:api.example.com" doc:"The breaker's key: a task type name, or \"type:host\" for a per-host breaker."`
	State          string     `json:"state" enum:"closed,open,half_open" doc:"closed: attempts run; open: attempts wait; half_open: one probe attempt is in flight."`
	ErrorRate      float64    `json:"error_rate" minimum:"0" maximum:"1" example:"0.6" doc:"Share of failures among the outcomes in the window (0 without outcomes)."`
	Outcomes       int        `json:"outcomes" example:"10" doc:"How many recent attempt outcomes the window holds (at most window)."`
	Failures       int        `json:"failures" example:"6" doc:"How many of those outcomes were failures."`
	Window         int        `json:"window" example:"10" doc:"How many recent outcomes are considered."`
	FailureRate    float64    `json:"failure_rate" example:"0.5" doc:"The breaker opens when the window is full and more than this share of it failed."`
	CooldownMs     int64      `json:"cooldown_ms" example:"30000" doc:"How long the breaker stays open before it lets a probe through."`
	OpenedAt       *time.Time `json:"opened_at" doc:"When the breaker opened; null while closed."`
	HalfOpenAt     *time.Time `json:"half_open_at" doc:"When an open breaker lets a probe through, or when a half-open one did; null while closed or forced open."`
	ProbeExpiresAt *time.Time `json:"probe_expires_at" doc:"When the in-flight probe's lease ends and another probe may go; null unless half-open."`
	Forced         bool       `json:"forced" doc:"True while an operator holds the breaker open."`
	UpdatedAt      time.Time  `json:"updated_at"`
}

// CircuitBreakerList is the body of list-breakers.
type CircuitBreakerList struct {
	Breakers []CircuitBreaker `json:"breakers"`
}

type breakerKeyInput struct {
	Key string `path:"key" minLength:"1" maxLength:"400" doc:"The breaker's key."`
}

type forceBreakerInput struct {
	Key   string `path:"key" minLength:"1" maxLength:"400" doc:"The breaker's key."`
	Actor string `header:"X-Baton-Actor" maxLength:"200" default:"api" doc:"Who makes the change, recorded in the event log."`
}

type breakerOutput struct {
	Body CircuitBreaker
}

type breakerListOutput struct {
	Body CircuitBreakerList
}

// registerBreakers registers the circuit-breaker operations on api.
func registerBreakers(api huma.API, h *handlers) {
	huma.Register(api, huma.Operation{
		OperationID: "list-breakers",
		Method:      http.MethodGet,
		Path:        "/breakers",
		Summary:     "List circuit breakers",
		Description: "Lists every circuit breaker, by key, with its state and recent error rate. A breaker exists once a task guarded by it has been attempted.",
		Tags:        []string{tagBreakers},
		Errors:      errorStatuses(),
	}, h.listBreakers)
	huma.Register(api, huma.Operation{
		OperationID: "get-breaker",
		Method:      http.MethodGet,
		Path:        "/breakers/{key}",
		Summary:     "Get a circuit breaker",
		Tags:        []string{tagBreakers},
		Errors:      errorStatuses(http.StatusNotFound, http.StatusUnprocessableEntity),
	}, h.getBreaker)
	huma.Register(api, huma.Operation{
		OperationID: "open-breaker",
		Method:      http.MethodPost,
		Path:        "/breakers/{key}/open",
		Summary:     "Force a circuit breaker open",
		Description: "Holds the breaker open: its tasks wait, and no probe goes, until the breaker is forced closed. The change is logged with the actor from `X-Baton-Actor`.",
		Tags:        []string{tagBreakers},
		Errors:      errorStatuses(http.StatusNotFound, http.StatusUnprocessableEntity),
	}, h.openBreaker)
	huma.Register(api, huma.Operation{
		OperationID: "close-breaker",
		Method:      http.MethodPost,
		Path:        "/breakers/{key}/close",
		Summary:     "Force a circuit breaker closed",
		Description: "Closes the breaker whatever its state, with an empty window of outcomes, so its tasks run again. The change is logged with the actor from `X-Baton-Actor`.",
		Tags:        []string{tagBreakers},
		Errors:      errorStatuses(http.StatusNotFound, http.StatusUnprocessableEntity),
	}, h.closeBreaker)
}

func (h *handlers) listBreakers(ctx context.Context, _ *struct{}) (*breakerListOutput, error) {
	svc, err := h.breakerService()
	if err != nil {
		return nil, err
	}
	breakers, err := svc.List(ctx)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &breakerListOutput{Body: CircuitBreakerList{Breakers: make([]CircuitBreaker, len(breakers))}}
	for i, b := range breakers {
		out.Body.Breakers[i] = breakerFrom(b)
	}
	return out, nil
}

func (h *handlers) getBreaker(ctx context.Context, in *breakerKeyInput) (*breakerOutput, error) {
	breakers, err := h.breakerService()
	if err != nil {
		return nil, err
	}
	b, err := breakers.Get(ctx, in.Key)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &breakerOutput{Body: breakerFrom(b)}, nil
}

func (h *handlers) openBreaker(ctx context.Context, in *forceBreakerInput) (*breakerOutput, error) {
	breakers, err := h.breakerService()
	if err != nil {
		return nil, err
	}
	b, err := breakers.ForceOpen(ctx, in.Key, in.Actor)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &breakerOutput{Body: breakerFrom(b)}, nil
}

func (h *handlers) closeBreaker(ctx context.Context, in *forceBreakerInput) (*breakerOutput, error) {
	breakers, err := h.breakerService()
	if err != nil {
		return nil, err
	}
	b, err := breakers.ForceClose(ctx, in.Key, in.Actor)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &breakerOutput{Body: breakerFrom(b)}, nil
}

func breakerFrom(b *resilience.Breaker) CircuitBreaker {
	return CircuitBreaker{
		Key:            b.Key,
		State:          b.State,
		ErrorRate:      b.ErrorRate,
		Outcomes:       b.Outcomes,
		Failures:       b.Failures,
		Window:         b.Window,
		FailureRate:    b.FailureRate,
		CooldownMs:     b.Cooldown.Milliseconds(),
		OpenedAt:       utcPtr(b.OpenedAt),
		HalfOpenAt:     utcPtr(b.HalfOpenAt),
		ProbeExpiresAt: utcPtr(b.ProbeExpiresAt),
		Forced:         b.Forced,
		UpdatedAt:      b.UpdatedAt.UTC(),
	}
}

// breakerService returns the circuit breakers, or a 503 when the server
// was built without them.
func (h *handlers) breakerService() (*resilience.Breakers, error) {
	if h.breakers == nil {
		return nil, unavailable("circuit breakers are not configured on this server")
	}
	return h.breakers, nil
}
