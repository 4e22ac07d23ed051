package mcpserver

import "time"

// The tools' outputs are the API's answers trimmed to what an assistant
// needs; their JSON names are the API's, so the API reference describes
// them.

// Workflow is a workflow's latest (or a given) version.
type Workflow struct {
	Name        string   `json:"name"`
	Version     int      `json:"version"`
	Description string   `json:"description,omitempty"`
	Priority    int      `json:"priority,omitempty" jsonschema:"default priority of its runs: 1 (high) to 4 (background)"`
	Owner       string   `json:"owner,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	Steps       int      `json:"steps" jsonschema:"the number of steps"`
	CreatedAt   string   `json:"created_at"`
	Definition  any      `json:"definition,omitempty" jsonschema:"the full definition: steps with task types, params, depends_on, when; left out of listings"`
}

// WorkflowList lists workflows.
type WorkflowList struct {
	Workflows []Workflow `json:"workflows"`
}

// Run is a run of a workflow.
type Run struct {
	ID              int64          `json:"id"`
	Workflow        string         `json:"workflow"`
	WorkflowVersion int            `json:"workflow_version"`
	Status          string         `json:"status" jsonschema:"queued, running, paused, succeeded, failed or cancelled"`
	Priority        int            `json:"priority" jsonschema:"1 (high) to 4 (background)"`
	Input           map[string]any `json:"input,omitempty"`
	Trigger         string         `json:"trigger" jsonschema:"what started it: api, sql, schedule, event, batch or library"`
	TriggerRef      string         `json:"trigger_ref,omitempty"`
	IdempotencyKey  string         `json:"idempotency_key,omitempty"`
	Owner           string         `json:"owner,omitempty"`
	Tags            []string       `json:"tags,omitempty"`
	Error           string         `json:"error,omitempty" jsonschema:"why the run failed"`
	Attention       string         `json:"attention,omitempty" jsonschema:"why the run waits for an operator (a dead task in the dead-letter queue)"`
	TasksTotal      int            `json:"tasks_total"`
	TasksRemaining  int            `json:"tasks_remaining" jsonschema:"tasks not finished yet"`
	TaskCounts      map[string]int `json:"task_counts,omitempty" jsonschema:"the number of tasks in each status"`
	CreatedAt       time.Time      `json:"created_at"`
	StartedAt       *time.Time     `json:"started_at,omitempty"`
	FinishedAt      *time.Time     `json:"finished_at,omitempty"`
	SLADeadline     *time.Time     `json:"sla_deadline,omitempty"`
	SLAState        string         `json:"sla_state,omitempty" jsonschema:"open, met, violated or closed; absent without an SLA"`
	Tasks           []Task         `json:"tasks,omitempty" jsonschema:"the run's tasks in step order"`
}

// Task is one step of a run.
type Task struct {
	Step        string     `json:"step"`
	TaskType    string     `json:"task_type"`
	Status      string     `json:"status" jsonschema:"pending, queued, running, succeeded, failed, skipped, cancelled or dead"`
	When        string     `json:"when,omitempty" jsonschema:"on_success, on_failure or always"`
	DependsOn   []string   `json:"depends_on,omitempty"`
	Optional    bool       `json:"optional,omitempty"`
	ManualSkip  bool       `json:"manual_skip,omitempty" jsonschema:"an operator skipped it"`
	Attempts    int        `json:"attempts"`
	MaxAttempts int        `json:"max_attempts"`
	Error       string     `json:"error,omitempty" jsonschema:"the last attempt's error"`
	ErrorClass  string     `json:"error_class,omitempty" jsonschema:"transient or permanent"`
	Output      any        `json:"output,omitempty" jsonschema:"the executor's output once succeeded"`
	QueuedAt    *time.Time `json:"queued_at,omitempty"`
	StartedAt   *time.Time `json:"started_at,omitempty"`
	FinishedAt  *time.Time `json:"finished_at,omitempty"`
}

// RunDetail is a run with its tasks, its critical path and the task that
// makes it fail.
type RunDetail struct {
	Run Run `json:"run"`
	// Timeline is the Gantt data of the run, task by task (GET
	// /v2/runs/{id}/gantt).
	Timeline       []TimelineTask `json:"timeline"`
	CriticalPath   []string       `json:"critical_path" jsonschema:"the longest chain of steps by summed elapsed time, first step first"`
	CriticalPathMs int64          `json:"critical_path_ms" jsonschema:"the summed elapsed time of the critical path"`
	FailingTask    *Task          `json:"failing_task,omitempty" jsonschema:"the first dead task, else the first failed one, else the first still retrying after an error; absent when no task has failed"`
}

// TimelineTask is one bar of a run's Gantt chart.
type TimelineTask struct {
	Step      string `json:"step"`
	Status    string `json:"status"`
	ElapsedMs int64  `json:"elapsed_ms" jsonschema:"queue wait, attempts and backoffs (until now while unfinished)"`
	SlackMs   int64  `json:"slack_ms" jsonschema:"how much longer it could have taken without lengthening the critical path"`
	Critical  bool   `json:"critical" jsonschema:"on the critical path"`
}

// RunFound is a run in search results.
type RunFound struct {
	ID         int64      `json:"id"`
	Workflow   string     `json:"workflow"`
	Version    int        `json:"version"`
	Status     string     `json:"status"`
	Priority   int        `json:"priority"`
	Owner      string     `json:"owner,omitempty"`
	Tags       []string   `json:"tags,omitempty"`
	Trigger    string     `json:"trigger"`
	Error      string     `json:"error,omitempty"`
	TasksTotal int        `json:"tasks_total"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	DurationMs *int64     `json:"duration_ms,omitempty"`
	Highlight  string     `json:"highlight,omitempty" jsonschema:"where the full-text query matched, matches in <mark>...</mark>"`
}

// RunSearchPage is a page of search results.
type RunSearchPage struct {
	Runs       []RunFound `json:"runs"`
	NextCursor string     `json:"next_cursor,omitempty" jsonschema:"pass as cursor for the next page; absent on the last"`
	Query      string     `json:"query" jsonschema:"the search as the query string of GET /v2/runs"`
}

// DeadLetter is a task that failed for good.
type DeadLetter struct {
	ID              int64     `json:"id"`
	TaskID          int64     `json:"task_id"`
	RunID           int64     `json:"run_id"`
	Workflow        string    `json:"workflow"`
	WorkflowVersion int       `json:"workflow_version"`
	Step            string    `json:"step"`
	TaskType        string    `json:"task_type"`
	Params          any       `json:"params,omitempty" jsonschema:"the params of the last attempt, templates rendered"`
	Error           string    `json:"error"`
	ErrorClass      string    `json:"error_class" jsonschema:"transient (retries ran out) or permanent (no retry allowed)"`
	Attempts        int       `json:"attempts"`
	FirstFailedAt   time.Time `json:"first_failed_at"`
	LastFailedAt    time.Time `json:"last_failed_at"`
}

// DeadLetterList is a page of the dead-letter queue.
type DeadLetterList struct {
	DeadLetters []DeadLetter `json:"dead_letters"`
	NextCursor  string       `json:"next_cursor,omitempty" jsonschema:"pass as cursor for the next page; absent on the last"`
}

// ResubmitResult is a resubmitted dead letter and its run, continuing.
type ResubmitResult struct {
	DeadLetterID int64 `json:"dead_letter_id"`
	TaskID       int64 `json:"task_id"`
	Run          Run   `json:"run"`
}
