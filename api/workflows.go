package api

import (
	"context"
	"net/http"
	"time"

	"github.com/baton-run/baton/internal/engine"
)

// WorkflowDefinition is a workflow as written by its author: the body of
// apply-workflow, and the definition stored with each version.
type WorkflowDefinition struct {
	Kind        string            `json:"kind,omitempty" enum:"workflow" doc:"Optional; \"workflow\" when given, as in definition files."`
	Name        string            `json:"name" example:"nightly-report" doc:"Identifies the workflow. 1 to 100 lowercase letters, digits, '_', '.' or '-'."`
	Description string            `json:"description,omitempty" doc:"Free text for people."`
	Priority    *int              `json:"priority,omitempty" minimum:"1" maximum:"4" doc:"Default priority of the workflow's runs, 1 (high) to 4 (background). Default 2."`
	Tags        []string          `json:"tags,omitempty" doc:"Labels for search and analytics."`
	Owner       string            `json:"owner,omitempty" doc:"The team or person responsible for the workflow."`
	SLA         string            `json:"sla,omitempty" example:"15m" doc:"How long a run may take from its creation (a Go duration, at most 8784h). A run projected to miss it is escalated one priority level per SLA check (event sla_at_risk); a run that misses it gets one sla_violated event."`
	Concurrency []ConcurrencyRule `json:"concurrency,omitempty" maxItems:"10" doc:"Caps on the running tasks of the workflow's runs, across every worker node: a rule without a key caps all of them, a rule with a key those sharing its value."`
	Steps       []StepDefinition  `json:"steps" doc:"The steps, in declaration order. Dependencies must form a DAG."`
}

// StepDefinition is one step of a workflow definition.
type StepDefinition struct {
	Name        string            `json:"name" example:"extract" doc:"Identifies the step within its workflow."`
	Type        string            `json:"type" example:"resize-image" doc:"The name of the step's task type."`
	Params      JSONObject        `json:"params,omitempty" doc:"Params given to the executor, merged over the task type's defaults. String values may be Go templates over the run input and upstream outputs."`
	DependsOn   []string          `json:"depends_on,omitempty" doc:"Steps that must finish before this one runs."`
	When        string            `json:"when,omitempty" enum:"on_success,on_failure,always" doc:"When the step runs once its dependencies finished. Default on_success."`
	MaxRetries  *int              `json:"max_retries,omitempty" minimum:"0" doc:"Overrides the task type's retry count."`
	Backoff     *Backoff          `json:"backoff,omitempty" doc:"Overrides the task type's wait between attempts."`
	Timeout     string            `json:"timeout,omitempty" example:"30s" doc:"Overrides the task type's timeout (a Go duration)."`
	Priority    *int              `json:"priority,omitempty" minimum:"1" maximum:"4" doc:"Overrides the workflow's and task type's priority."`
	Optional    bool              `json:"optional,omitempty" doc:"A failure of this step does not fail the run."`
	Resources   *Resources        `json:"resources,omitempty" doc:"Overrides the task type's resources, field by field (non-zero fields win)."`
	Concurrency []ConcurrencyRule `json:"concurrency,omitempty" maxItems:"10" doc:"Caps on the running tasks of this step, on top of the workflow's and the task type's."`
}

// ConcurrencyRule caps how many tasks run at once across every worker node.
// A task over a cap waits (without using an attempt) until a slot frees.
type ConcurrencyRule struct {
	Key   string `json:"key,omitempty" maxLength:"500" example:"{{ .input.customer }}" doc:"The group the cap applies to: a literal names a group shared by every workflow using it; a Go template of .input makes one group per value. Omit for the whole workflow (or step)."`
	Limit int    `json:"limit" minimum:"1" maximum:"100000" example:"2" doc:"How many tasks of the group may run at once."`
}

func concurrencySpec(rules []ConcurrencyRule) []engine.ConcurrencyRule {
	if rules == nil {
		return nil
	}
	out := make([]engine.ConcurrencyRule, len(rules))
	for i, r := range rules {
		out[i] = engine.ConcurrencyRule{Key: r.Key, Limit: r.Limit}
	}
	return out
}

func concurrencyFrom(rules []engine.ConcurrencyRule) []ConcurrencyRule {
	if rules == nil {
		return nil
	}
	out := make([]ConcurrencyRule, len(rules))
	for i, r := range rules {
		out[i] = ConcurrencyRule{Key: r.Key, Limit: r.Limit}
	}
	return out
}

// Workflow is one stored version of a workflow. Listings leave out the
// definition.
type Workflow struct {
	Name        string              `json:"name" example:"nightly-report"`
	Version     int                 `json:"version" minimum:"1" example:"3"`
	Description string              `json:"description"`
	Priority    int                 `json:"priority" minimum:"1" maximum:"4"`
	Owner       string              `json:"owner"`
	Tags        []string            `json:"tags"`
	Steps       int                 `json:"steps" doc:"The number of steps."`
	CreatedAt   time.Time           `json:"created_at"`
	Definition  *WorkflowDefinition `json:"definition,omitempty" doc:"The full definition; left out of listings."`
}

// WorkflowList is the body of list-workflows.
type WorkflowList struct {
	Workflows []Workflow `json:"workflows"`
}

type applyWorkflowInput struct {
	Body WorkflowDefinition
}

type workflowNameInput struct {
	Name string `path:"name" pattern:"^[a-z0-9][a-z0-9_.-]{0,99}$" doc:"The workflow's name."`
}

type workflowVersionInput struct {
	Name    string `path:"name" pattern:"^[a-z0-9][a-z0-9_.-]{0,99}$" doc:"The workflow's name."`
	Version int    `path:"version" minimum:"1" maximum:"2147483647" doc:"The version number."`
}

type workflowOutput struct {
	Status int
	Body   Workflow
}

type workflowListOutput struct {
	Body WorkflowList
}

func (h *handlers) applyWorkflow(ctx context.Context, in *applyWorkflowInput) (*workflowOutput, error) {
	wf, created, err := h.engine.ApplyWorkflow(ctx, workflowSpecFrom(&in.Body))
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return &workflowOutput{Status: status, Body: workflowFrom(wf, true)}, nil
}

func (h *handlers) listWorkflows(ctx context.Context, _ *struct{}) (*workflowListOutput, error) {
	workflows, err := h.engine.ListWorkflows(ctx)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &workflowListOutput{Body: WorkflowList{Workflows: make([]Workflow, len(workflows))}}
	for i, wf := range workflows {
		out.Body.Workflows[i] = workflowFrom(wf, false)
	}
	return out, nil
}

func (h *handlers) getWorkflow(ctx context.Context, in *workflowNameInput) (*workflowOutput, error) {
	wf, err := h.engine.GetWorkflow(ctx, in.Name, 0)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &workflowOutput{Status: http.StatusOK, Body: workflowFrom(wf, true)}, nil
}

func (h *handlers) getWorkflowVersion(ctx context.Context, in *workflowVersionInput) (*workflowOutput, error) {
	wf, err := h.engine.GetWorkflow(ctx, in.Name, in.Version)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &workflowOutput{Status: http.StatusOK, Body: workflowFrom(wf, true)}, nil
}

func workflowSpecFrom(d *WorkflowDefinition) *engine.WorkflowSpec {
	spec := &engine.WorkflowSpec{
		Kind:        d.Kind,
		Name:        d.Name,
		Description: d.Description,
		Priority:    d.Priority,
		Tags:        d.Tags,
		Owner:       d.Owner,
		SLA:         d.SLA,
		Concurrency: concurrencySpec(d.Concurrency),
		Steps:       make([]engine.StepSpec, len(d.Steps)),
	}
	for i, s := range d.Steps {
		spec.Steps[i] = engine.StepSpec{
			Name:        s.Name,
			Type:        s.Type,
			Params:      s.Params.raw(),
			DependsOn:   s.DependsOn,
			When:        s.When,
			MaxRetries:  s.MaxRetries,
			Backoff:     s.Backoff.spec(),
			Timeout:     s.Timeout,
			Priority:    s.Priority,
			Optional:    s.Optional,
			Resources:   s.Resources.spec(),
			Concurrency: concurrencySpec(s.Concurrency),
		}
	}
	return spec
}

func workflowFrom(wf *engine.Workflow, withDefinition bool) Workflow {
	out := Workflow{
		Name:        wf.Name,
		Version:     wf.Version,
		Description: wf.Description,
		Priority:    wf.Priority,
		Owner:       wf.Owner,
		Tags:        nonNil(wf.Tags),
		Steps:       wf.StepCount,
		CreatedAt:   wf.CreatedAt.UTC(),
	}
	if withDefinition && wf.Spec != nil {
		out.Definition = definitionFrom(wf.Spec)
	}
	return out
}

func definitionFrom(spec *engine.WorkflowSpec) *WorkflowDefinition {
	d := &WorkflowDefinition{
		Name:        spec.Name,
		Description: spec.Description,
		Priority:    spec.Priority,
		Tags:        spec.Tags,
		Owner:       spec.Owner,
		SLA:         spec.SLA,
		Concurrency: concurrencyFrom(spec.Concurrency),
		Steps:       make([]StepDefinition, len(spec.Steps)),
	}
	for i, s := range spec.Steps {
		d.Steps[i] = StepDefinition{
			Name:        s.Name,
			Type:        s.Type,
			Params:      JSONObject(s.Params),
			DependsOn:   s.DependsOn,
			When:        s.When,
			MaxRetries:  s.MaxRetries,
			Backoff:     backoffFrom(s.Backoff),
			Timeout:     s.Timeout,
			Priority:    s.Priority,
			Optional:    s.Optional,
			Resources:   resourcesFrom(s.Resources),
			Concurrency: concurrencyFrom(s.Concurrency),
		}
	}
	return d
}
