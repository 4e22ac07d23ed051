package engine

import (
	"encoding/json"
	"time"
)

// TaskKind is the River job kind of Baton tasks. Jobs of this kind are
// inserted by baton._enqueue in SQL, so the kind and the argument fields
// below must match that function.
const TaskKind = "baton_task"

// TaskArgs are the River job arguments of a task: everything a worker needs
// to execute it. The job itself carries only TaskID and TimeoutMs (see
// baton._enqueue); the worker reads the rest, RunID included, with
// TaskDefinitions. Jobs enqueued by earlier versions carry RunID too, or
// all of it.
type TaskArgs struct {
	TaskID             int64           `json:"task_id"`
	RunID              int64           `json:"run_id"`
	Step               string          `json:"step"`
	TaskType           string          `json:"task_type"`
	Executor           string          `json:"executor"`
	Params             json.RawMessage `json:"params"`
	TimeoutMs          int64           `json:"timeout_ms"`
	PermanentExitCodes []int           `json:"permanent_exit_codes"`
	// Backoff is the task's retry schedule (nil: the default).
	Backoff *BackoffSpec `json:"backoff"`
	// CircuitBreaker guards the task's type (nil: no breaker).
	CircuitBreaker *CircuitBreakerSpec `json:"circuit_breaker"`
	// Resources is what the task reserves on its node (nil: nothing, and
	// the worker skips the placement check).
	Resources *Resources `json:"resources,omitempty"`
	// Concurrency lists the task's concurrency rules (nil: none, and the
	// worker skips the concurrency check).
	Concurrency []TaskConcurrency `json:"concurrency,omitempty"`
}

// Complete reports whether the args hold the whole task, not just the ids
// and timeout its job carries.
func (a TaskArgs) Complete() bool { return a.Executor != "" }

// Kind implements river.JobArgs.
func (TaskArgs) Kind() string { return TaskKind }

// Timeout is the task's execution timeout.
func (a TaskArgs) Timeout() time.Duration { return msToDuration(a.TimeoutMs) }
