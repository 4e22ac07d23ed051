package engine

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseSpec(t *testing.T) {
	t.Parallel()

	t.Run("WorkflowYAML", func(t *testing.T) {
		t.Parallel()

		parsed, err := ParseSpec([]byte(`
kind: workflow
name: nightly-report
description: Builds the nightly report.
priority: 2
tags: [reports, nightly]
owner: data-team
steps:
  - name: extract
    type: http-call
    params:
      url: "https://example.com/export?day={{ .input.day }}"
      headers: {Accept: application/json}
      retries: [1, 2.5, true, null]
    max_retries: 5
    timeout: 30s
  - name: load
    type: shell
    depends_on: [extract]
    params:
      count: "{{ .steps.extract.output.count }}"
  - name: alert
    type: noop
    depends_on: [load]
    when: on_failure
    optional: true
    priority: 1
`))
		require.NoError(t, err)
		spec, ok := parsed.(*WorkflowSpec)
		require.True(t, ok, "got %T", parsed)

		require.Equal(t, "workflow", spec.Kind)
		require.Equal(t, "nightly-report", spec.Name)
		require.Equal(t, "Builds the nightly report.", spec.Description)
		require.Equal(t, 2, *spec.Priority)
		require.Equal(t, []string{"reports", "nightly"}, spec.Tags)
		require.Equal(t, "data-team", spec.Owner)
		require.Len(t, spec.Steps, 3)

		extract := spec.Steps[0]
		require.Equal(t, "extract", extract.Name)
		require.Equal(t, "http-call", extract.Type)
		require.JSONEq(t, `{
			"url": "https://example.com/export?day={{ .input.day }}",
			"headers": {"Accept": "application/json"},
			"retries": [1, 2.5, true, null]
		}`, string(extract.Params))
		require.Equal(t, 5, *extract.MaxRetries)
		require.Equal(t, "30s", extract.Timeout)

		require.Equal(t, []string{"extract"}, spec.Steps[1].DependsOn)
		require.Equal(t, WhenOnFailure, spec.Steps[2].When)
		require.True(t, spec.Steps[2].Optional)
		require.Equal(t, 1, *spec.Steps[2].Priority)
		require.Nil(t, spec.Steps[2].Params)
	})

	t.Run("WorkflowJSONWithoutKind", func(t *testing.T) {
		t.Parallel()

		parsed, err := ParseSpec([]byte(`{
			"name": "wf",
			"steps": [{"name": "a", "type": "noop", "params": {"big": 12345678901234567890, "z": 1, "a": 2}}]
		}`))
		require.NoError(t, err)
		spec, ok := parsed.(*WorkflowSpec)
		require.True(t, ok, "got %T", parsed)
		require.Equal(t, "workflow", spec.Kind)
		// JSON input is kept byte for byte: big numbers and key order survive.
		require.Equal(t, `{"big": 12345678901234567890, "z": 1, "a": 2}`, string(spec.Steps[0].Params))
	})

	t.Run("TaskTypeYAML", func(t *testing.T) {
		t.Parallel()

		parsed, err := ParseSpec([]byte(`
kind: task_type
name: http-call
executor: http
description: Calls an HTTP endpoint.
defaults:
  method: GET
  timeout_ms: 2000
max_retries: 4
timeout: 1m
priority: 3
queue: io_bound
permanent_exit_codes: [64, 65]
`))
		require.NoError(t, err)
		spec, ok := parsed.(*TaskTypeSpec)
		require.True(t, ok, "got %T", parsed)
		require.Equal(t, "task_type", spec.Kind)
		require.Equal(t, "http-call", spec.Name)
		require.Equal(t, "http", spec.Executor)
		require.JSONEq(t, `{"method": "GET", "timeout_ms": 2000}`, string(spec.Defaults))
		require.Equal(t, 4, *spec.MaxRetries)
		require.Equal(t, "1m", spec.Timeout)
		require.Equal(t, 3, *spec.Priority)
		require.Equal(t, "io_bound", spec.Queue)
		require.Equal(t, []int{64, 65}, spec.PermanentExitCodes)
		require.NoError(t, spec.Validate(nil))
	})

	t.Run("TaskTypeJSON", func(t *testing.T) {
		t.Parallel()

		parsed, err := ParseSpec([]byte(`{"kind": "task_type", "name": "sleepy", "executor": "sleep", "defaults": null}`))
		require.NoError(t, err)
		spec, ok := parsed.(*TaskTypeSpec)
		require.True(t, ok, "got %T", parsed)
		require.Equal(t, "sleepy", spec.Name)
		require.Nil(t, spec.Defaults)
	})

	t.Run("NullParamsBecomeNil", func(t *testing.T) {
		t.Parallel()

		parsed, err := ParseSpec([]byte("name: wf\nsteps:\n  - name: a\n    type: noop\n    params: null\n"))
		require.NoError(t, err)
		require.Nil(t, parsed.(*WorkflowSpec).Steps[0].Params)
	})
}

func TestParseSpecErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		doc   string
		field string
		want  []string // substrings of the error message
	}{
		{
			name:  "UnknownTopLevelFieldYAML",
			doc:   "kind: workflow\nname: wf\nowners: [me]\nsteps: []\n",
			field: "owners",
			want:  []string{`invalid workflow "wf": owners: unknown field; known fields are kind, name, description, priority, tags, owner, sla, concurrency, steps`},
		},
		{
			name:  "UnknownStepFieldJSON",
			doc:   `{"name": "wf", "steps": [{"name": "a", "type": "t"}, {"name": "b", "type": "t", "retries": 3}]}`,
			field: "steps[1].retries",
			want:  []string{"steps[1].retries: unknown field; known fields are name, type, params, depends_on"},
		},
		{
			name:  "UnknownTaskTypeField",
			doc:   "kind: task_type\nname: tt\nexecutor: http\nretries: 3\n",
			field: "retries",
			want:  []string{`invalid task type "tt": retries: unknown field; known fields are kind, name, executor`},
		},
		{
			name:  "WrongTypeInStep",
			doc:   "name: wf\nsteps:\n  - name: a\n    type: t\n    max_retries: three\n",
			field: "steps[0].max_retries",
			want:  []string{"steps[0].max_retries: must be an integer, not string"},
		},
		{
			name:  "WrongTypeDependsOn",
			doc:   "name: wf\nsteps:\n  - name: a\n    type: t\n    depends_on: b\n",
			field: "steps[0].depends_on",
			want:  []string{"steps[0].depends_on: must be a list of strings, not string"},
		},
		{
			name:  "WrongTypeTopLevel",
			doc:   "name: wf\npriority: high\nsteps: []\n",
			field: "priority",
			want:  []string{"priority: must be an integer, not string"},
		},
		{
			name:  "MissingKindWithoutSteps",
			doc:   "name: something\n",
			field: "kind",
			want:  []string{`kind: missing; expected "workflow" or "task_type"`},
		},
		{
			name:  "UnknownKind",
			doc:   "kind: pipeline\nname: p\n",
			field: "kind",
			want:  []string{`kind: unknown kind "pipeline"`},
		},
		{
			name:  "KindNotString",
			doc:   "kind: [workflow]\n",
			field: "kind",
			want:  []string{"kind: must be a string"},
		},
		{
			name: "InvalidYAML",
			doc:  "name: wf\nsteps: [\n",
			want: []string{"invalid YAML"},
		},
		{
			name: "UnquotedTemplate",
			doc:  "name: wf\nsteps:\n  - name: a\n    type: t\n    params:\n      url: {{ .input.day }}\n",
			want: []string{`invalid YAML (quote values that start with "{{"`},
		},
		{
			name: "DuplicateYAMLKey",
			doc:  "name: wf\nname: other\nsteps: []\n",
			want: []string{"invalid YAML", "name"},
		},
		{
			name: "NotAMapping",
			doc:  "- a\n- b\n",
			want: []string{"document must be a mapping"},
		},
		{
			name: "Empty",
			doc:  "  \n",
			want: []string{"document is empty"},
		},
		{
			name:  "StepsNotAList",
			doc:   "name: wf\nsteps: {a: 1}\n",
			field: "steps",
			want:  []string{"steps: must be a list of steps"},
		},
		{
			name:  "StepNotAMapping",
			doc:   "name: wf\nsteps: [build]\n",
			field: "steps[0]",
			want:  []string{"steps[0]: must be a mapping"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			parsed, err := ParseSpec([]byte(tt.doc))
			require.Error(t, err)
			require.Nil(t, parsed)
			for _, want := range tt.want {
				require.Contains(t, err.Error(), want)
			}

			var validationErr *ValidationError
			require.True(t, errors.As(err, &validationErr))
			require.NotEmpty(t, validationErr.Problems)
			if tt.field != "" {
				require.Equal(t, tt.field, validationErr.Problems[0].Field)
			}
		})
	}

	t.Run("ReportsEveryBadStep", func(t *testing.T) {
		t.Parallel()

		_, err := ParseSpec([]byte(`
name: wf
color: blue
steps:
  - name: a
    type: t
    retry: 1
  - name: b
    type: t
  - name: c
    type: t
    timeout: 5
`))
		var validationErr *ValidationError
		require.ErrorAs(t, err, &validationErr)
		fields := make([]string, len(validationErr.Problems))
		for i, p := range validationErr.Problems {
			fields[i] = p.Field
		}
		require.Equal(t, []string{"color", "steps[0].retry", "steps[2].timeout"}, fields)
	})
}

func TestMergeParams(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		defaults string
		params   string
		want     string
		wantErr  string
	}{
		{name: "BothEmpty", want: `{}`},
		{name: "BothNull", defaults: "null", params: "null", want: `{}`},
		{name: "OnlyDefaults", defaults: `{"a":1}`, want: `{"a":1}`},
		{name: "OnlyParams", params: `{"b": 2}`, want: `{"b": 2}`},
		{
			name:     "ParamsWinShallow",
			defaults: `{"method":"GET","headers":{"A":"1","B":"2"},"timeout_ms":1000}`,
			params:   `{"headers":{"C":"3"},"url":"https://x/<a>&b"}`,
			want:     `{"headers":{"C":"3"},"method":"GET","timeout_ms":1000,"url":"https://x/<a>&b"}`,
		},
		{name: "DefaultsNotObject", defaults: `[1]`, params: `{}`, wantErr: "defaults: must be a JSON object"},
		{name: "ParamsNotObject", defaults: `{}`, params: `"x"`, wantErr: "params: must be a JSON object"},
		{name: "ParamsBadJSON", params: `{"a":`, wantErr: "params: must be a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := MergeParams(json.RawMessage(tt.defaults), json.RawMessage(tt.params))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, string(got))
		})
	}
}
