package api

import (
	"context"
	"time"

	"github.com/baton-run/baton/internal/engine"
)

// TaskTypeSpec is the body of apply-task-type.
type TaskTypeSpec struct {
	Kind               string                `json:"kind,omitempty" enum:"task_type" doc:"Optional; \"task_type\" when given, as in definition files."`
	Name               string                `json:"name" example:"resize-image" doc:"Identifies the task type; steps refer to it by this name. 1 to 100 lowercase letters, digits, '_', '.' or '-'."`
	Executor           string                `json:"executor" example:"http" doc:"The executor that runs tasks of this type: http, exec, go, sleep or sim."`
	Description        string                `json:"description,omitempty" doc:"Free text for people."`
	Defaults           JSONObject            `json:"defaults,omitempty" doc:"Default params, shallow-merged under each step's params (top-level keys of the step win)."`
	MaxRetries         *int                  `json:"max_retries,omitempty" minimum:"0" doc:"How many times a failed task is retried. Default 3."`
	Timeout            string                `json:"timeout,omitempty" example:"30s" doc:"Go duration bounding one attempt. Default \"5m\"."`
	Priority           *int                  `json:"priority,omitempty" minimum:"1" maximum:"4" doc:"1 (high) to 4 (background). Default 2."`
	Queue              string                `json:"queue,omitempty" example:"default" doc:"The River queue tasks of this type go to. Default \"default\"."`
	PermanentExitCodes []int                 `json:"permanent_exit_codes,omitempty" doc:"Exit codes of the exec executor that fail a task without retry."`
	Backoff            *Backoff              `json:"backoff,omitempty" doc:"Wait between attempts. Default 1 s doubling to 16 s, no jitter."`
	CircuitBreaker     *CircuitBreakerPolicy `json:"circuit_breaker,omitempty" doc:"Guard the type's tasks with a cluster-wide circuit breaker; omit for none."`
	CostPerSecond      *float64              `json:"cost_per_second,omitempty" minimum:"0" maximum:"1000000000" example:"0.0004" doc:"Price of one second of an attempt, for the cost breakdown. Omit for 0."`
	CostPerRun         *float64              `json:"cost_per_run,omitempty" minimum:"0" maximum:"1000000000" example:"0.01" doc:"Price of each attempt on top of its seconds. Omit for 0."`
	Resources          *Resources            `json:"resources,omitempty" doc:"What each task of the type reserves on the node that runs it; omit for nothing (no placement check)."`
	ConcurrencyLimit   *int                  `json:"concurrency_limit,omitempty" minimum:"1" maximum:"100000" example:"4" doc:"How many tasks of this type may run at once across every worker node; omit for no limit. A task over the limit waits without using an attempt."`
}

// Backoff is an exponential retry schedule.
type Backoff struct {
	Base   string  `json:"base,omitempty" example:"1s" doc:"Wait after the first failed attempt (Go duration). Default 1s."`
	Factor float64 `json:"factor,omitempty" minimum:"1" maximum:"10" doc:"Multiplier per attempt. Default 2."`
	Max    string  `json:"max,omitempty" example:"16s" doc:"Longest wait. Default 16s."`
	Jitter bool    `json:"jitter,omitempty" doc:"Randomise each wait between half and one and a half times its value."`
}

// CircuitBreakerPolicy configures a task type's circuit breaker.
type CircuitBreakerPolicy struct {
	FailureRate float64 `json:"failure_rate,omitempty" doc:"Opens when more than this share of the last window attempts failed. Default 0.5."`
	Window      int     `json:"window,omitempty" minimum:"1" maximum:"1000" doc:"How many recent attempts count. Default 10."`
	Cooldown    string  `json:"cooldown,omitempty" example:"30s" doc:"How long it stays open before letting one probe through. Default 30s."`
	PerHost     bool    `json:"per_host,omitempty" doc:"One breaker per target host of http tasks (params.url) instead of one per task type."`
}

func (b *Backoff) spec() *engine.BackoffSpec {
	if b == nil {
		return nil
	}
	return &engine.BackoffSpec{Base: b.Base, Factor: b.Factor, Max: b.Max, Jitter: b.Jitter}
}

func backoffFrom(s *engine.BackoffSpec) *Backoff {
	if s == nil {
		return nil
	}
	return &Backoff{Base: s.Base, Factor: s.Factor, Max: s.Max, Jitter: s.Jitter}
}

func (c *CircuitBreakerPolicy) spec() *engine.CircuitBreakerSpec {
	if c == nil {
		return nil
	}
	return &engine.CircuitBreakerSpec{FailureRate: c.FailureRate, Window: c.Window, Cooldown: c.Cooldown, PerHost: c.PerHost}
}

func circuitBreakerFrom(s *engine.CircuitBreakerSpec) *CircuitBreakerPolicy {
	if s == nil {
		return nil
	}
	return &CircuitBreakerPolicy{FailureRate: s.FailureRate, Window: s.Window, Cooldown: s.Cooldown, PerHost: s.PerHost}
}

// TaskType is a stored task type.
type TaskType struct {
	Name               string                `json:"name" example:"resize-image"`
	Executor           string                `json:"executor" example:"http"`
	Description        string                `json:"description"`
	Defaults           JSONObject            `json:"defaults" doc:"Default params of the type's tasks."`
	MaxRetries         int                   `json:"max_retries"`
	Timeout            string                `json:"timeout" example:"5m0s" doc:"Timeout of one attempt, as a Go duration."`
	TimeoutMs          int64                 `json:"timeout_ms" example:"300000" doc:"Timeout of one attempt in milliseconds."`
	Priority           int                   `json:"priority" minimum:"1" maximum:"4"`
	Queue              string                `json:"queue"`
	PermanentExitCodes []int                 `json:"permanent_exit_codes"`
	Backoff            *Backoff              `json:"backoff" doc:"Null: the default schedule."`
	CircuitBreaker     *CircuitBreakerPolicy `json:"circuit_breaker" doc:"Null: no circuit breaker."`
	CostPerSecond      *float64              `json:"cost_per_second" doc:"Price of one second of an attempt; null: unset (0)."`
	CostPerRun         *float64              `json:"cost_per_run" doc:"Price of each attempt; null: unset (0)."`
	Resources          *Resources            `json:"resources" doc:"What each task reserves on its node; null: nothing."`
	ConcurrencyLimit   *int                  `json:"concurrency_limit" doc:"Cluster-wide cap on the type's running tasks; null: none."`
	CreatedAt          time.Time             `json:"created_at"`
	UpdatedAt          time.Time             `json:"updated_at"`
}

// TaskTypeList is the body of list-task-types.
type TaskTypeList struct {
	TaskTypes []TaskType `json:"task_types"`
}

type applyTaskTypeInput struct {
	Body TaskTypeSpec
}

type taskTypeNameInput struct {
	Name string `path:"name" pattern:"^[a-z0-9][a-z0-9_.-]{0,99}$" doc:"The task type's name."`
}

type taskTypeOutput struct {
	Body TaskType
}

type taskTypeListOutput struct {
	Body TaskTypeList
}

func (h *handlers) applyTaskType(ctx context.Context, in *applyTaskTypeInput) (*taskTypeOutput, error) {
	b := in.Body
	tt, err := h.engine.ApplyTaskType(ctx, &engine.TaskTypeSpec{
		Kind:               b.Kind,
		Name:               b.Name,
		Executor:           b.Executor,
		Description:        b.Description,
		Defaults:           b.Defaults.raw(),
		MaxRetries:         b.MaxRetries,
		Timeout:            b.Timeout,
		Priority:           b.Priority,
		Queue:              b.Queue,
		PermanentExitCodes: b.PermanentExitCodes,
		Backoff:            b.Backoff.spec(),
		CircuitBreaker:     b.CircuitBreaker.spec(),
		CostPerSecond:      b.CostPerSecond,
		CostPerRun:         b.CostPerRun,
		Resources:          b.Resources.spec(),
		ConcurrencyLimit:   b.ConcurrencyLimit,
	})
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &taskTypeOutput{Body: taskTypeFrom(tt)}, nil
}

func (h *handlers) listTaskTypes(ctx context.Context, _ *struct{}) (*taskTypeListOutput, error) {
	types, err := h.engine.ListTaskTypes(ctx)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &taskTypeListOutput{Body: TaskTypeList{TaskTypes: make([]TaskType, len(types))}}
	for i, tt := range types {
		out.Body.TaskTypes[i] = taskTypeFrom(tt)
	}
	return out, nil
}

func (h *handlers) getTaskType(ctx context.Context, in *taskTypeNameInput) (*taskTypeOutput, error) {
	tt, err := h.engine.GetTaskType(ctx, in.Name)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &taskTypeOutput{Body: taskTypeFrom(tt)}, nil
}

func taskTypeFrom(tt *engine.TaskType) TaskType {
	return TaskType{
		Name:               tt.Name,
		Executor:           tt.Executor,
		Description:        tt.Description,
		Defaults:           JSONObject(tt.Defaults),
		MaxRetries:         tt.MaxRetries,
		Timeout:            tt.Timeout.String(),
		TimeoutMs:          tt.Timeout.Milliseconds(),
		Priority:           tt.Priority,
		Queue:              tt.Queue,
		PermanentExitCodes: nonNil(tt.PermanentExitCodes),
		Backoff:            backoffFrom(tt.Backoff),
		CircuitBreaker:     circuitBreakerFrom(tt.CircuitBreaker),
		CostPerSecond:      tt.CostPerSecond,
		CostPerRun:         tt.CostPerRun,
		Resources:          resourcesFrom(tt.Resources),
		ConcurrencyLimit:   tt.ConcurrencyLimit,
		CreatedAt:          tt.CreatedAt.UTC(),
		UpdatedAt:          tt.UpdatedAt.UTC(),
	}
}

// nonNil returns s, or an empty slice for nil so that JSON gets [] rather
// than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// utcPtr returns t in UTC, or nil.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
