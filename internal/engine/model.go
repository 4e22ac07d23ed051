package engine

import (
	"encoding/json"
	"time"
)

// Run statuses.
const (
	RunQueued    = "queued"
	RunRunning   = "running"
	RunPaused    = "paused"
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
	RunCancelled = "cancelled"
)

// Task statuses.
const (
	TaskPending   = "pending"
	TaskQueued    = "queued"
	TaskRunning   = "running"
	TaskSucceeded = "succeeded"
	TaskFailed    = "failed"
	TaskSkipped   = "skipped"
	TaskCancelled = "cancelled"
	TaskDead      = "dead"
)

// TaskType is a stored task type.
type TaskType struct {
	Name               string
	Executor           string
	Description        string
	Defaults           json.RawMessage
	MaxRetries         int
	Timeout            time.Duration
	Priority           int
	Queue              string
	PermanentExitCodes []int
	Backoff            *BackoffSpec
	CircuitBreaker     *CircuitBreakerSpec
	// CostPerSecond and CostPerRun price the type's attempts (nil: unset).
	CostPerSecond *float64
	CostPerRun    *float64
	// Resources is what each task of the type reserves (nil: nothing).
	Resources *Resources
	// ConcurrencyLimit caps the type's running tasks across the cluster
	// (nil: no limit).
	ConcurrencyLimit *int
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Workflow is one stored version of a workflow.
type Workflow struct {
	ID          int64
	Name        string
	Version     int
	Description string
	Priority    int
	Owner       string
	Tags        []string
	StepCount   int
	Spec        *WorkflowSpec
	CreatedAt   time.Time
}

// Run is one execution of a workflow.
type Run struct {
	ID              int64
	Workflow        string
	WorkflowVersion int
	Status          string
	Priority        int
	Input           json.RawMessage
	Trigger         string
	TriggerRef      string
	IdempotencyKey  string
	Owner           string
	Tags            []string
	Error           string
	// Attention says why the run needs an operator (a dead task waiting in
	// the dead-letter queue); empty otherwise.
	Attention      string
	TasksTotal     int
	TasksRemaining int
	TaskCounts     map[string]int
	CreatedAt      time.Time
	StartedAt      *time.Time
	FinishedAt     *time.Time
	// SLADeadline is created_at + the workflow's SLA (nil without one), and
	// SLAState the SLA check's verdict: open, met, violated or closed
	// (cancelled in time); empty without an SLA.
	SLADeadline *time.Time
	SLAState    string
	// Compensation is where the run's saga compensation is (ADR 0015):
	// running, compensated or failed; empty when it has none.
	Compensation string
	Tasks        []*Task // filled by GetRun only
}

// Task is one step of a run.
type Task struct {
	ID                 int64
	RunID              int64
	Step               string
	StepIndex          int
	TaskType           string
	Executor           string
	Status             string
	When               string
	DependsOn          []string
	Optional           bool
	ManualSkip         bool
	Params             json.RawMessage
	ResolvedParams     json.RawMessage
	Priority           int
	Queue              string
	Attempts           int
	MaxAttempts        int
	Timeout            time.Duration
	PermanentExitCodes []int
	RiverJobID         *int64
	Output             json.RawMessage
	Error              string
	ErrorClass         string
	CreatedAt          time.Time
	QueuedAt           *time.Time
	StartedAt          *time.Time
	FinishedAt         *time.Time
	// Compensates names the step a compensation task undoes (its step is
	// "compensate:<step>"); empty for every other task.
	Compensates string
}

// Event is one row of the task event log.
type Event struct {
	ID         int64
	Time       time.Time
	RunID      int64
	TaskID     *int64
	Step       string
	Kind       string
	Attempt    *int
	DurationMs *int64
	Error      string
	ErrorClass string
	Node       string
	Actor      string
	Data       json.RawMessage
}

// DeadLetter is a task that failed for good, waiting for an operator.
type DeadLetter struct {
	ID              int64
	TaskID          int64
	RunID           int64
	Workflow        string
	WorkflowVersion int
	Step            string
	TaskType        string
	Params          json.RawMessage
	Error           string
	ErrorClass      string
	Attempts        int
	FirstFailedAt   time.Time
	LastFailedAt    time.Time
	CreatedAt       time.Time
}
