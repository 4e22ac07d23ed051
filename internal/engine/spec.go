package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// Spec kinds, the value of the `kind` field of a definition file.
const (
	specKindTaskType = "task_type"
	specKindWorkflow = "workflow"
)

// Values of StepSpec.When.
const (
	// WhenOnSuccess runs a step once all of its dependencies succeeded. It is
	// the default.
	WhenOnSuccess = "on_success"

	// WhenOnFailure runs a step only when at least one of its dependencies
	// failed.
	WhenOnFailure = "on_failure"

	// WhenAlways runs a step once all of its dependencies finished, whatever
	// their outcome.
	WhenAlways = "always"
)

// TaskTypeSpec is a task type as written in YAML or JSON (kind: task_type).
type TaskTypeSpec struct {
	// Kind is "task_type" (optional in JSON bodies that can only hold a task
	// type).
	Kind string `json:"kind,omitempty" enum:"task_type"`

	// Name identifies the task type; steps refer to it by this name.
	Name string `json:"name" pattern:"^[a-z0-9][a-z0-9_.-]{0,99}$"`

	// Executor runs tasks of this type: http, exec, go, sleep or sim.
	Executor string `json:"executor" minLength:"1"`

	// Description is free text for people.
	Description string `json:"description,omitempty"`

	// Defaults are default params, merged under each step's params (a
	// shallow merge of top-level keys, see MergeParams).
	Defaults json.RawMessage `json:"defaults,omitempty"`

	// MaxRetries is how many times a failed task is retried (default 3).
	MaxRetries *int `json:"max_retries,omitempty" minimum:"0"`

	// Timeout is a Go duration bounding one attempt (default "5m").
	Timeout string `json:"timeout,omitempty" pattern:"^(0|(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$"`

	// Priority is 1 (high) to 4 (background), default 2.
	Priority *int `json:"priority,omitempty" minimum:"1" maximum:"4"`

	// Queue is the River queue tasks of this type go to (default "default").
	Queue string `json:"queue,omitempty"`

	// PermanentExitCodes are exit codes of the exec executor that fail a task
	// without retry.
	PermanentExitCodes []int `json:"permanent_exit_codes,omitempty"`

	// Backoff is the wait between attempts (default 1 s doubling to 16 s).
	Backoff *BackoffSpec `json:"backoff,omitempty"`

	// CircuitBreaker, when set, guards the tasks of this type with a
	// cluster-wide circuit breaker.
	CircuitBreaker *CircuitBreakerSpec `json:"circuit_breaker,omitempty"`

	// CostPerSecond prices a second of an attempt of this type, for the
	// cost breakdown (unset: 0).
	CostPerSecond *float64 `json:"cost_per_second,omitempty"`

	// CostPerRun prices each attempt of this type on top of its seconds
	// (unset: 0).
	CostPerRun *float64 `json:"cost_per_run,omitempty"`

	// Resources is what each task of this type reserves on the node that
	// runs it (unset: nothing, and no placement check).
	Resources *Resources `json:"resources,omitempty"`

	// ConcurrencyLimit is how many tasks of this type may run at once
	// across every worker node (unset: no limit). A task over the limit
	// waits without using an attempt.
	ConcurrencyLimit *int `json:"concurrency_limit,omitempty" minimum:"1" maximum:"100000"`
}

// BackoffSpec configures the exponential wait between attempts: after
// failed attempt n the task waits Base * Factor^(n-1), capped at Max, with
// up to ±50% random jitter when Jitter is true. Empty fields keep the
// defaults (1s, 2, 16s, no jitter).
type BackoffSpec struct {
	Base   string  `json:"base,omitempty" pattern:"^(0|(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$"`
	Factor float64 `json:"factor,omitempty"`
	Max    string  `json:"max,omitempty" pattern:"^(0|(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$"`
	Jitter bool    `json:"jitter,omitempty"`
}

// CircuitBreakerSpec configures a task type's circuit breaker. It opens when
// more than FailureRate of the last Window attempts failed, lets one probe
// through after Cooldown, and closes when the probe succeeds. Empty fields
// keep the defaults (0.5, 10, 30s). PerHost keys the breaker by the target
// host of http tasks (params.url) instead of by task type.
type CircuitBreakerSpec struct {
	FailureRate float64 `json:"failure_rate,omitempty"`
	Window      int     `json:"window,omitempty"`
	Cooldown    string  `json:"cooldown,omitempty" pattern:"^(0|(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$"`
	PerHost     bool    `json:"per_host,omitempty"`
}

// WorkflowSpec is a workflow definition (kind: workflow).
type WorkflowSpec struct {
	// Kind is "workflow" (optional when the document has steps).
	Kind string `json:"kind,omitempty" enum:"workflow"`

	// Name identifies the workflow.
	Name string `json:"name" pattern:"^[a-z0-9][a-z0-9_.-]{0,99}$"`

	// Description is free text for people.
	Description string `json:"description,omitempty"`

	// Priority is the default priority of the workflow's runs, 1 (high) to 4
	// (background).
	Priority *int `json:"priority,omitempty" minimum:"1" maximum:"4"`

	// Tags label the workflow for search and analytics.
	Tags []string `json:"tags,omitempty"`

	// Owner is the team or person responsible for the workflow.
	Owner string `json:"owner,omitempty"`

	// SLA is how long a run may take from its creation (a Go duration such
	// as "15m", at most a year). A run gets the deadline created_at + SLA;
	// the periodic SLA check escalates the priority of a run projected to
	// miss it (event sla_at_risk) and reports a missed one (sla_violated).
	SLA string `json:"sla,omitempty"`

	// Concurrency limits the running tasks of the workflow's runs across
	// every worker node: a rule without a key caps all of them, a rule with
	// a key caps those sharing its value (such as "{{ .input.customer }}").
	Concurrency []ConcurrencyRule `json:"concurrency,omitempty" maxItems:"10"`

	// Steps are the workflow's steps, in declaration order.
	Steps []StepSpec `json:"steps" minItems:"1"`
}

// StepSpec is one step of a workflow.
type StepSpec struct {
	// Name identifies the step within its workflow.
	Name string `json:"name" pattern:"^[a-z0-9][a-z0-9_.-]{0,99}$"`

	// Type is the name of the step's task type.
	Type string `json:"type" pattern:"^[a-z0-9][a-z0-9_.-]{0,99}$"`

	// Params is a JSON object given to the executor, merged over the task
	// type's defaults. String values may be Go templates (see RenderParams).
	Params json.RawMessage `json:"params,omitempty"`

	// DependsOn names the steps that must finish before this one runs.
	DependsOn []string `json:"depends_on,omitempty"`

	// When is WhenOnSuccess (default), WhenOnFailure or WhenAlways.
	When string `json:"when,omitempty" enum:"on_success,on_failure,always"`

	// MaxRetries overrides the task type's retry count.
	MaxRetries *int `json:"max_retries,omitempty" minimum:"0"`

	// Backoff overrides the task type's backoff for this step.
	Backoff *BackoffSpec `json:"backoff,omitempty"`

	// Timeout overrides the task type's timeout (a Go duration).
	Timeout string `json:"timeout,omitempty" pattern:"^(0|(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$"`

	// Priority overrides the workflow's and task type's priority (1..4).
	Priority *int `json:"priority,omitempty" minimum:"1" maximum:"4"`

	// Optional means a failure of this step does not fail the run.
	Optional bool `json:"optional,omitempty"`

	// Resources overrides the task type's resources, field by field.
	Resources *Resources `json:"resources,omitempty"`

	// Concurrency limits the running tasks of this step, on top of the
	// workflow's and the task type's limits: a rule without a key caps the
	// step's tasks in all runs, a rule with a key those sharing its value.
	Concurrency []ConcurrencyRule `json:"concurrency,omitempty" maxItems:"10"`

	// Compensate undoes the step (saga semantics): when a batch with
	// on_member_failure rollback rolls back, every run of it whose step
	// succeeded runs this task, named "compensate:<step>", after the
	// compensations of every step downstream of it have finished.
	Compensate *CompensateSpec `json:"compensate,omitempty"`
}

// CompensateSpec is the task that undoes a step: a task type and params,
// with the retry, timeout and priority overrides of a step. Its params may
// use templates over .input and .steps.NAME where NAME is the step itself
// or one of its upstream steps (.steps.STEP.output is what the step
// returned).
type CompensateSpec struct {
	// Type is the name of the compensation's task type.
	Type string `json:"type" pattern:"^[a-z0-9][a-z0-9_.-]{0,99}$"`

	// Params is a JSON object given to the executor, merged over the task
	// type's defaults. String values may be Go templates.
	Params json.RawMessage `json:"params,omitempty"`

	// MaxRetries overrides the task type's retry count.
	MaxRetries *int `json:"max_retries,omitempty" minimum:"0"`

	// Backoff overrides the task type's backoff.
	Backoff *BackoffSpec `json:"backoff,omitempty"`

	// Timeout overrides the task type's timeout (a Go duration).
	Timeout string `json:"timeout,omitempty" pattern:"^(0|(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$"`

	// Priority overrides the compensated task's priority (1..4).
	Priority *int `json:"priority,omitempty" minimum:"1" maximum:"4"`
}

// ParseSpec parses one YAML or JSON document holding a task type, a
// workflow or a schedule and returns a *TaskTypeSpec, a *WorkflowSpec or a
// *ScheduleSpec according to its `kind` field. A document without `kind` is a workflow if it has `steps`.
// Unknown fields are rejected. On failure the error is a *ValidationError
// whose problems name the offending field, such as "steps[2].retries".
//
// ParseSpec checks only the shape of the document; call Validate on the
// result to check its content.
func ParseSpec(data []byte) (any, error) {
	jsonData, err := specToJSON(data)
	if err != nil {
		return nil, specParseError("", "", "", err.Error())
	}

	var top map[string]json.RawMessage
	if err := json.Unmarshal(jsonData, &top); err != nil {
		return nil, specParseError("", "", "", "document must be a mapping of fields (a JSON object)")
	}
	if top == nil {
		return nil, specParseError("", "", "", "document is empty")
	}

	var kind, name string
	if raw, ok := top["kind"]; ok {
		if err := json.Unmarshal(raw, &kind); err != nil {
			return nil, specParseError("", "", "kind", "must be a string")
		}
	}
	if raw, ok := top["name"]; ok {
		_ = json.Unmarshal(raw, &name) // best effort, only for the error message
	}
	if kind == "" {
		if _, ok := top["steps"]; !ok {
			return nil, specParseError("", name, "kind", `missing; expected "workflow" or "task_type"`)
		}
		kind = specKindWorkflow
	}

	switch kind {
	case specKindTaskType:
		var spec TaskTypeSpec
		if problem := specDecodeStrict(jsonData, &spec, ""); problem != nil {
			return nil, &ValidationError{Kind: kind, Name: name, Problems: []Problem{*problem}}
		}
		spec.Kind = specKindTaskType
		spec.Defaults = specNullToEmpty(spec.Defaults)
		return &spec, nil

	case specKindWorkflow:
		return specParseWorkflow(top, name)

	case specKindSchedule:
		var spec ScheduleSpec
		if problem := specDecodeStrict(jsonData, &spec, ""); problem != nil {
			return nil, &ValidationError{Kind: kind, Name: name, Problems: []Problem{*problem}}
		}
		spec.Kind = specKindSchedule
		spec.Input = specNullToEmpty(spec.Input)
		return &spec, nil

	default:
		return nil, specParseError("", name, "kind", fmt.Sprintf(`unknown kind %q; expected "workflow", "task_type" or "schedule"`, kind))
	}
}

// specParseWorkflow decodes a workflow document field by field so that
// problems in steps carry the step's index. It reports the problems of every
// step, not only the first.
func specParseWorkflow(top map[string]json.RawMessage, name string) (*WorkflowSpec, error) {
	stepsRaw, hasSteps := top["steps"]
	delete(top, "steps")

	rest, err := json.Marshal(top)
	if err != nil {
		return nil, specParseError(specKindWorkflow, name, "", err.Error())
	}

	var (
		spec     WorkflowSpec
		problems []Problem
	)
	if problem := specDecodeStrict(rest, &spec, ""); problem != nil {
		problems = append(problems, *problem)
	}
	spec.Kind = specKindWorkflow

	if hasSteps && !specIsNull(stepsRaw) {
		var items []json.RawMessage
		if err := json.Unmarshal(stepsRaw, &items); err != nil {
			problems = append(problems, Problem{Field: "steps", Message: "must be a list of steps"})
		}
		for i, item := range items {
			field := fmt.Sprintf("steps[%d]", i)
			if trimmed := bytes.TrimSpace(item); len(trimmed) == 0 || trimmed[0] != '{' {
				problems = append(problems, Problem{Field: field, Message: "must be a mapping of fields (a JSON object)"})
				continue
			}
			var step StepSpec
			if problem := specDecodeStrict(item, &step, field); problem != nil {
				problems = append(problems, *problem)
				continue
			}
			step.Params = specNullToEmpty(step.Params)
			if step.Compensate != nil {
				step.Compensate.Params = specNullToEmpty(step.Compensate.Params)
			}
			spec.Steps = append(spec.Steps, step)
		}
	}

	if len(problems) > 0 {
		return nil, &ValidationError{Kind: specKindWorkflow, Name: name, Problems: problems}
	}
	return &spec, nil
}

// specToJSON converts a YAML document to JSON. A document that already looks
// like a JSON object is kept as is, so its numbers and key order survive
// exactly.
func specToJSON(data []byte) ([]byte, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, errors.New("document is empty")
	}
	if trimmed[0] == '{' && json.Valid(trimmed) {
		return trimmed, nil
	}
	jsonData, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		if strings.Contains(err.Error(), "invalid map key") {
			// An unquoted `key: {{ .input.x }}` reads as a nested flow mapping.
			return nil, fmt.Errorf(`invalid YAML (quote values that start with "{{", as in url: "{{ .input.url }}"): %w`, err)
		}
		return nil, fmt.Errorf("invalid YAML: %w", err)
	}
	return jsonData, nil
}

// specDecodeStrict decodes one JSON object into dst, rejecting unknown fields,
// and translates the decoder's error into a Problem whose field is prefixed
// with prefix (such as "steps[2]").
func specDecodeStrict(data []byte, dst any, prefix string) *Problem {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil {
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return &Problem{Field: prefix, Message: "unexpected data after the document"}
		}
		return nil
	}

	if rest, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		field := strings.Trim(rest, `"`)
		known := specKnownFields(reflect.TypeOf(dst))
		return &Problem{
			Field:   specJoinField(prefix, field),
			Message: "unknown field; known fields are " + strings.Join(known, ", "),
		}
	}

	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return &Problem{
			Field:   specJoinField(prefix, typeErr.Field),
			Message: fmt.Sprintf("must be %s, not %s", specDescribeType(typeErr.Type), typeErr.Value),
		}
	}

	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return &Problem{Field: prefix, Message: fmt.Sprintf("invalid JSON at offset %d: %s", syntaxErr.Offset, syntaxErr.Error())}
	}

	return &Problem{Field: prefix, Message: err.Error()}
}

// specKnownFields lists the JSON field names of the struct t points to.
func specKnownFields(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}

// specDescribeType names a Go type the way a YAML author thinks of it.
func specDescribeType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list of " + strings.TrimPrefix(strings.TrimPrefix(specDescribeType(t.Elem()), "a "), "an ") + "s"
	case reflect.Map, reflect.Struct:
		return "a mapping (object)"
	default:
		return t.String()
	}
}

// specJoinField joins a field path prefix and a dotted field name.
func specJoinField(prefix, field string) string {
	switch {
	case prefix == "":
		return field
	case field == "":
		return prefix
	default:
		return prefix + "." + field
	}
}

// specParseError builds a *ValidationError holding one problem.
func specParseError(kind, name, field, message string) *ValidationError {
	return &ValidationError{Kind: kind, Name: name, Problems: []Problem{{Field: field, Message: message}}}
}

// specIsNull reports whether raw is empty or the JSON null.
func specIsNull(raw json.RawMessage) bool {
	trimmed := bytes.TrimSpace(raw)
	return len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null"))
}

// specNullToEmpty returns nil for an empty or null raw value, raw otherwise.
func specNullToEmpty(raw json.RawMessage) json.RawMessage {
	if specIsNull(raw) {
		return nil
	}
	return raw
}

// specDecodeObject decodes a JSON object into its top-level fields. Empty and
// null input decode to a nil map.
func specDecodeObject(raw json.RawMessage) (map[string]json.RawMessage, error) {
	if specIsNull(raw) {
		return nil, nil
	}
	if trimmed := bytes.TrimSpace(raw); trimmed[0] != '{' {
		return nil, errors.New("must be a JSON object")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("must be a JSON object: %w", err)
	}
	return fields, nil
}

// MergeParams shallow-merges a step's params over its task type's defaults:
// every top-level key of params replaces the same key of defaults. Both must
// be JSON objects, or empty or null. The result is always a JSON object ("{}"
// when both are empty); when only one side has keys it is returned unchanged.
func MergeParams(defaults, params json.RawMessage) (json.RawMessage, error) {
	defaultFields, err := specDecodeObject(defaults)
	if err != nil {
		return nil, fmt.Errorf("defaults: %w", err)
	}
	paramFields, err := specDecodeObject(params)
	if err != nil {
		return nil, fmt.Errorf("params: %w", err)
	}

	switch {
	case len(defaultFields) == 0 && len(paramFields) == 0:
		return json.RawMessage("{}"), nil
	case len(defaultFields) == 0:
		return params, nil
	case len(paramFields) == 0:
		return defaults, nil
	}

	merged := make(map[string]json.RawMessage, len(defaultFields)+len(paramFields))
	for key, value := range defaultFields {
		merged[key] = value
	}
	for key, value := range paramFields {
		merged[key] = value
	}
	return specMarshal(merged)
}

// specMarshal marshals v to JSON without escaping <, > and &, and without a
// trailing newline. Map keys come out sorted.
func specMarshal(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return json.RawMessage(bytes.TrimRight(buf.Bytes(), "\n")), nil
}

// specSortedKeys returns the keys of m in sorted order.
func specSortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for key := range m {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	return keys
}
