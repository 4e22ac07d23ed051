package mcpserver

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Tool inputs. Required properties have no omitempty; the SDK checks types
// and required properties against the derived schema before a handler runs,
// and the API validates the rest.

// NoInput is the input of a tool without arguments.
type NoInput struct{}

// WorkflowInput names a workflow.
type WorkflowInput struct {
	Name    string `json:"name" jsonschema:"the workflow's name"`
	Version int    `json:"version,omitempty" jsonschema:"a version; the latest when left out"`
}

// StartRunInput starts a run.
type StartRunInput struct {
	Workflow       string         `json:"workflow" jsonschema:"the workflow's name"`
	Input          map[string]any `json:"input,omitempty" jsonschema:"the run input, available to step params as {{ .input.field }}"`
	Version        int            `json:"version,omitempty" jsonschema:"pins a workflow version; the latest when left out"`
	Priority       int            `json:"priority,omitempty" jsonschema:"overrides the workflow's priority: 1 (high) to 4 (background)"`
	Owner          string         `json:"owner,omitempty" jsonschema:"who the run is for"`
	Tags           []string       `json:"tags,omitempty" jsonschema:"labels for search and analytics"`
	IdempotencyKey string         `json:"idempotency_key,omitempty" jsonschema:"a second start with the same key returns the first run instead of starting another"`
}

// RunInput names a run.
type RunInput struct {
	RunID int64 `json:"run_id" jsonschema:"the run's id"`
}

// TaskInput names a task of a run by its step.
type TaskInput struct {
	RunID int64  `json:"run_id" jsonschema:"the run's id"`
	Step  string `json:"step" jsonschema:"the step name of the task"`
}

// RetryTaskInput retries a task.
type RetryTaskInput struct {
	RunID  int64          `json:"run_id" jsonschema:"the run's id"`
	Step   string         `json:"step" jsonschema:"the step name of the task"`
	Params map[string]any `json:"params,omitempty" jsonschema:"params to merge over the task's params (a key given as null is removed); omit to retry with the same params"`
}

// SearchRunsInput searches runs (GET /v2/runs).
type SearchRunsInput struct {
	Workflow    string   `json:"workflow,omitempty" jsonschema:"runs of this workflow"`
	Status      []string `json:"status,omitempty" jsonschema:"run statuses, any of: queued, running, paused, succeeded, failed, cancelled"`
	Owner       string   `json:"owner,omitempty"`
	Trigger     string   `json:"trigger,omitempty" jsonschema:"api, sql, schedule, event, batch or library"`
	TagsAll     []string `json:"tags_all,omitempty" jsonschema:"tags the run has all of"`
	TagsAny     []string `json:"tags_any,omitempty" jsonschema:"tags the run has any of"`
	Query       string   `json:"q,omitempty" jsonschema:"full text over input, outputs, errors, tags, owner and workflow, in web-search syntax (\"quoted phrase\", or, -not)"`
	Step        string   `json:"step,omitempty" jsonschema:"runs having a task of this step"`
	StepStatus  string   `json:"step_status,omitempty" jsonschema:"runs having a task in this status (of step, when given)"`
	CreatedFrom string   `json:"created_from,omitempty" jsonschema:"RFC 3339, inclusive"`
	CreatedTo   string   `json:"created_to,omitempty" jsonschema:"RFC 3339, exclusive"`
	Sort        string   `json:"sort,omitempty" jsonschema:"created (newest first, the default), finished or duration (longest first)"`
	Limit       int      `json:"limit,omitempty" jsonschema:"1 to 500 (default 50)"`
	Cursor      string   `json:"cursor,omitempty" jsonschema:"next_cursor of the previous page"`
}

// DeadLettersInput filters the dead-letter queue.
type DeadLettersInput struct {
	Workflow   string `json:"workflow,omitempty"`
	TaskType   string `json:"task_type,omitempty"`
	ErrorClass string `json:"error_class,omitempty" jsonschema:"transient or permanent"`
	Since      string `json:"since,omitempty" jsonschema:"RFC 3339: entries whose last failure is at or after this time"`
	Until      string `json:"until,omitempty" jsonschema:"RFC 3339: entries whose last failure is before this time"`
	Limit      int    `json:"limit,omitempty" jsonschema:"1 to 500 (default 50)"`
	Cursor     string `json:"cursor,omitempty" jsonschema:"next_cursor of the previous page"`
}

// ResubmitInput resubmits a dead letter.
type ResubmitInput struct {
	ID     int64          `json:"id" jsonschema:"the dead letter's id"`
	Params map[string]any `json:"params,omitempty" jsonschema:"params to merge over the task's params (a key given as null is removed); omit to retry with the same params"`
}

// tools is the server's tool set: one API call or two each.
type tools struct{ c *Client }

func (t tools) listWorkflows(ctx context.Context, h http.Header, _ NoInput) (WorkflowList, error) {
	var out WorkflowList
	// API v2 serves GET /v2/workflows as the success-rate report; the list
	// of definitions is v1's (same handler as every v2 read).
	err := t.c.call(ctx, h, http.MethodGet, "/v1/workflows", nil, nil, &out)
	return out, err
}

func (t tools) getWorkflow(ctx context.Context, h http.Header, in WorkflowInput) (Workflow, error) {
	var out Workflow
	if err := checkName("name", in.Name); err != nil {
		return out, err
	}
	path := "/v2/workflows/" + url.PathEscape(in.Name)
	if in.Version != 0 {
		if in.Version < 0 {
			return out, fmt.Errorf("version must be 1 or more, not %d", in.Version)
		}
		path += "/versions/" + strconv.Itoa(in.Version)
	}
	err := t.c.call(ctx, h, http.MethodGet, path, nil, nil, &out)
	return out, err
}

func (t tools) startRun(ctx context.Context, h http.Header, in StartRunInput) (Run, error) {
	var out Run
	if err := checkName("workflow", in.Workflow); err != nil {
		return out, err
	}
	err := t.c.call(ctx, h, http.MethodPost, "/v2/runs", nil, in, &out)
	return out, err
}

func (t tools) getRun(ctx context.Context, h http.Header, in RunInput) (RunDetail, error) {
	var out RunDetail
	if err := checkID("run_id", in.RunID); err != nil {
		return out, err
	}
	path := "/v2/runs/" + strconv.FormatInt(in.RunID, 10)
	if err := t.c.call(ctx, h, http.MethodGet, path, nil, nil, &out.Run); err != nil {
		return out, err
	}
	var gantt struct {
		Tasks []struct {
			Step      string `json:"step"`
			Status    string `json:"status"`
			ElapsedMs int64  `json:"elapsed_ms"`
			SlackMs   int64  `json:"slack_ms"`
			Critical  bool   `json:"critical"`
		} `json:"tasks"`
		CriticalPath   []string `json:"critical_path"`
		CriticalPathMs int64    `json:"critical_path_ms"`
	}
	if err := t.c.call(ctx, h, http.MethodGet, path+"/gantt", nil, nil, &gantt); err != nil {
		return out, err
	}
	out.Timeline = make([]TimelineTask, 0, len(gantt.Tasks))
	for _, g := range gantt.Tasks {
		out.Timeline = append(out.Timeline, TimelineTask(g))
	}
	out.CriticalPath = append([]string{}, gantt.CriticalPath...)
	out.CriticalPathMs = gantt.CriticalPathMs
	out.FailingTask = failingTask(out.Run.Tasks)
	return out, nil
}

// failingTask is the first dead task in step order, else the first failed
// one, else the first unfinished one with an error (retrying); nil when
// none.
func failingTask(tasks []Task) *Task {
	for _, match := range []func(Task) bool{
		func(t Task) bool { return t.Status == "dead" },
		func(t Task) bool { return t.Status == "failed" },
		func(t Task) bool { return t.Error != "" && (t.Status == "queued" || t.Status == "running") },
	} {
		for i := range tasks {
			if match(tasks[i]) {
				t := tasks[i]
				return &t
			}
		}
	}
	return nil
}

func (t tools) searchRuns(ctx context.Context, h http.Header, in SearchRunsInput) (RunSearchPage, error) {
	var out RunSearchPage
	q := url.Values{}
	set := func(name, value string) {
		if value != "" {
			q.Set(name, value)
		}
	}
	set("workflow", in.Workflow)
	set("status", strings.Join(in.Status, ","))
	set("owner", in.Owner)
	set("trigger", in.Trigger)
	set("tags_all", strings.Join(in.TagsAll, ","))
	set("tags_any", strings.Join(in.TagsAny, ","))
	set("q", in.Query)
	set("step", in.Step)
	set("step_status", in.StepStatus)
	set("created_from", in.CreatedFrom)
	set("created_to", in.CreatedTo)
	set("sort", in.Sort)
	set("cursor", in.Cursor)
	if in.Limit != 0 {
		q.Set("limit", strconv.Itoa(in.Limit))
	}
	err := t.c.call(ctx, h, http.MethodGet, "/v2/runs", q, nil, &out)
	return out, err
}

func (t tools) listDeadLetters(ctx context.Context, h http.Header, in DeadLettersInput) (DeadLetterList, error) {
	var out DeadLetterList
	q := url.Values{}
	for name, value := range map[string]string{
		"workflow": in.Workflow, "task_type": in.TaskType, "error_class": in.ErrorClass,
		"since": in.Since, "until": in.Until, "cursor": in.Cursor,
	} {
		if value != "" {
			q.Set(name, value)
		}
	}
	if in.Limit != 0 {
		q.Set("limit", strconv.Itoa(in.Limit))
	}
	err := t.c.call(ctx, h, http.MethodGet, "/v2/dead-letters", q, nil, &out)
	return out, err
}

func (t tools) resubmitDeadLetter(ctx context.Context, h http.Header, in ResubmitInput) (ResubmitResult, error) {
	var out ResubmitResult
	if err := checkID("id", in.ID); err != nil {
		return out, err
	}
	body := map[string]any{}
	if in.Params != nil {
		body["params"] = in.Params
	}
	err := t.c.call(ctx, h, http.MethodPost, "/v2/dead-letters/"+strconv.FormatInt(in.ID, 10)+"/resubmit", nil, body, &out)
	return out, err
}

// runAction returns the handler of a run action: POST /v2/runs/{id}/<action>.
func (t tools) runAction(action string) func(context.Context, http.Header, RunInput) (Run, error) {
	return func(ctx context.Context, h http.Header, in RunInput) (Run, error) {
		var out Run
		if err := checkID("run_id", in.RunID); err != nil {
			return out, err
		}
		err := t.c.call(ctx, h, http.MethodPost, "/v2/runs/"+strconv.FormatInt(in.RunID, 10)+"/"+action, nil, nil, &out)
		return out, err
	}
}

func (t tools) skipTask(ctx context.Context, h http.Header, in TaskInput) (Run, error) {
	var out Run
	path, err := taskPath(in.RunID, in.Step)
	if err != nil {
		return out, err
	}
	err = t.c.call(ctx, h, http.MethodPost, path+"/skip", nil, nil, &out)
	return out, err
}

func (t tools) retryTask(ctx context.Context, h http.Header, in RetryTaskInput) (Run, error) {
	var out Run
	path, err := taskPath(in.RunID, in.Step)
	if err != nil {
		return out, err
	}
	body := map[string]any{}
	if in.Params != nil {
		body["params"] = in.Params
	}
	err = t.c.call(ctx, h, http.MethodPost, path+"/retry", nil, body, &out)
	return out, err
}

func taskPath(runID int64, step string) (string, error) {
	if err := checkID("run_id", runID); err != nil {
		return "", err
	}
	if err := checkName("step", step); err != nil {
		return "", err
	}
	return "/v2/runs/" + strconv.FormatInt(runID, 10) + "/tasks/" + url.PathEscape(step), nil
}

func checkID(field string, id int64) error {
	if id <= 0 {
		return fmt.Errorf("%s must be a positive integer, not %d", field, id)
	}
	return nil
}

func checkName(field, name string) error {
	if strings.TrimSpace(name) == "" {
		return fmt.Errorf("%s is required", field)
	}
	if len(name) > 200 {
		return fmt.Errorf("%s is longer than 200 characters", field)
	}
	return nil
}
