package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// specTestTypes resolves the task types the validation tests use.
func specTestTypes(name string) (string, bool) {
	executor, ok := map[string]string{
		"shell":     "exec",
		"http-call": "http",
		"noop":      "sim",
	}[name]
	return executor, ok
}

// specTestParams is a ParamsValidator that wants a "url" for the http
// executor.
func specTestParams(executor string, params json.RawMessage) error {
	if executor != "http" {
		return nil
	}
	var fields map[string]any
	_ = json.Unmarshal(params, &fields)
	if _, ok := fields["url"]; !ok {
		return errors.New("params.url: required")
	}
	return nil
}

// specTestStep builds a step of type noop.
func specTestStep(name string, deps ...string) StepSpec {
	return StepSpec{Name: name, Type: "noop", DependsOn: deps}
}

func specTestInt(i int) *int { return &i }

// specTestWorkflow builds a valid workflow with the given steps.
func specTestWorkflow(steps ...StepSpec) *WorkflowSpec {
	return &WorkflowSpec{Kind: "workflow", Name: "wf", Steps: steps}
}

// specTestParamsStep builds a noop step with params.
func specTestParamsStep(name, params string, deps ...string) StepSpec {
	step := specTestStep(name, deps...)
	step.Params = json.RawMessage(params)
	return step
}

func TestWorkflowSpecValidateRejects(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		spec *WorkflowSpec
		want []string // each must be one problem, as "field: message" (a prefix of it)
	}{
		{
			name: "EmptyName",
			spec: &WorkflowSpec{Steps: []StepSpec{specTestStep("a")}},
			want: []string{"name: required"},
		},
		{
			name: "InvalidName",
			spec: &WorkflowSpec{Name: "Nightly Report", Steps: []StepSpec{specTestStep("a")}},
			want: []string{`name: invalid name "Nightly Report"`},
		},
		{
			name: "NameTooLong",
			spec: &WorkflowSpec{Name: strings.Repeat("a", 101), Steps: []StepSpec{specTestStep("a")}},
			want: []string{`name: invalid name "aaaa`},
		},
		{
			name: "WrongKind",
			spec: &WorkflowSpec{Kind: "task_type", Name: "wf", Steps: []StepSpec{specTestStep("a")}},
			want: []string{`kind: must be "workflow", not "task_type"`},
		},
		{
			name: "NoSteps",
			spec: &WorkflowSpec{Name: "wf"},
			want: []string{"steps: a workflow needs at least one step"},
		},
		{
			name: "WorkflowPriority",
			spec: &WorkflowSpec{Name: "wf", Priority: specTestInt(5), Steps: []StepSpec{specTestStep("a")}},
			want: []string{"priority: must be between 1 (high) and 4 (background), not 5"},
		},
		{
			name: "EmptyTag",
			spec: &WorkflowSpec{Name: "wf", Tags: []string{"ok", " "}, Steps: []StepSpec{specTestStep("a")}},
			want: []string{"tags[1]: must not be empty"},
		},
		{
			name: "EmptyStepName",
			spec: specTestWorkflow(specTestStep("")),
			want: []string{"steps[0].name: required"},
		},
		{
			name: "InvalidStepName",
			spec: specTestWorkflow(specTestStep("a"), specTestStep("Build Linux")),
			want: []string{`steps[1].name: invalid name "Build Linux"`},
		},
		{
			name: "DuplicateStepName",
			spec: specTestWorkflow(specTestStep("a"), specTestStep("b"), specTestStep("a")),
			want: []string{`steps[2].name: duplicate step name "a" (first declared at steps[0])`},
		},
		{
			name: "UnknownDependency",
			spec: specTestWorkflow(specTestStep("a"), specTestStep("b", "a", "nope")),
			want: []string{`steps[1].depends_on[1]: unknown step "nope"`},
		},
		{
			name: "EmptyDependency",
			spec: specTestWorkflow(specTestStep("a", "")),
			want: []string{`steps[0].depends_on[0]: must not be empty`},
		},
		{
			name: "SelfDependency",
			spec: specTestWorkflow(specTestStep("a"), specTestStep("b", "b")),
			want: []string{`steps[1].depends_on[0]: step "b" depends on itself`},
		},
		{
			name: "DuplicateDependency",
			spec: specTestWorkflow(specTestStep("a"), specTestStep("b", "a", "a")),
			want: []string{`steps[1].depends_on[1]: duplicate dependency "a"`},
		},
		{
			name: "TwoStepCycle",
			spec: specTestWorkflow(specTestStep("a", "b"), specTestStep("b", "a")),
			want: []string{"steps[0].depends_on: cycle: a -> b -> a"},
		},
		{
			// c runs before a, a before b, b before c.
			name: "ThreeStepCycle",
			spec: specTestWorkflow(specTestStep("a", "c"), specTestStep("b", "a"), specTestStep("c", "b")),
			want: []string{"steps[0].depends_on: cycle: a -> b -> c -> a"},
		},
		{
			name: "CycleBelowARoot",
			spec: specTestWorkflow(
				specTestStep("root"),
				specTestStep("x", "root", "z"),
				specTestStep("y", "x"),
				specTestStep("z", "y"),
				specTestStep("leaf", "z"),
			),
			want: []string{"steps[1].depends_on: cycle: x -> y -> z -> x"},
		},
		{
			name: "TwoCycles",
			spec: specTestWorkflow(
				specTestStep("a", "b"), specTestStep("b", "a"),
				specTestStep("c", "d"), specTestStep("d", "e"), specTestStep("e", "c"),
			),
			want: []string{
				"steps[0].depends_on: cycle: a -> b -> a",
				"steps[2].depends_on: cycle: c -> e -> d -> c",
			},
		},
		{
			name: "MissingType",
			spec: specTestWorkflow(StepSpec{Name: "a"}),
			want: []string{"steps[0].type: required"},
		},
		{
			name: "UnknownType",
			spec: specTestWorkflow(StepSpec{Name: "a", Type: "teleport"}),
			want: []string{`steps[0].type: unknown task type "teleport"`},
		},
		{
			name: "BadWhen",
			spec: specTestWorkflow(specTestStep("a"), StepSpec{Name: "b", Type: "noop", DependsOn: []string{"a"}, When: "sometimes"}),
			want: []string{`steps[1].when: unknown value "sometimes"; expected "on_success", "on_failure" or "always"`},
		},
		{
			name: "OnFailureWithoutDependencies",
			spec: specTestWorkflow(StepSpec{Name: "a", Type: "noop", When: WhenOnFailure}),
			want: []string{`steps[0].when: "on_failure" needs depends_on`},
		},
		{
			name: "AlwaysWithoutDependencies",
			spec: specTestWorkflow(StepSpec{Name: "a", Type: "noop", When: WhenAlways}),
			want: []string{`steps[0].when: "always" needs depends_on`},
		},
		{
			name: "NegativeMaxRetries",
			spec: specTestWorkflow(StepSpec{Name: "a", Type: "noop", MaxRetries: specTestInt(-1)}),
			want: []string{"steps[0].max_retries: must be between 0 and 25, not -1"},
		},
		{
			name: "TooManyRetries",
			spec: specTestWorkflow(StepSpec{Name: "a", Type: "noop", MaxRetries: specTestInt(26)}),
			want: []string{"steps[0].max_retries: must be between 0 and 25, not 26"},
		},
		{
			name: "UnparsableTimeout",
			spec: specTestWorkflow(StepSpec{Name: "a", Type: "noop", Timeout: "soon"}),
			want: []string{`steps[0].timeout: invalid duration "soon"`},
		},
		{
			name: "ZeroTimeout",
			spec: specTestWorkflow(StepSpec{Name: "a", Type: "noop", Timeout: "0s"}),
			want: []string{`steps[0].timeout: must be positive, not "0s"`},
		},
		{
			name: "NegativeTimeout",
			spec: specTestWorkflow(StepSpec{Name: "a", Type: "noop", Timeout: "-1m"}),
			want: []string{`steps[0].timeout: must be positive, not "-1m"`},
		},
		{
			name: "StepPriorityTooHigh",
			spec: specTestWorkflow(StepSpec{Name: "a", Type: "noop", Priority: specTestInt(0)}),
			want: []string{"steps[0].priority: must be between 1 (high) and 4 (background), not 0"},
		},
		{
			name: "ParamsNotObject",
			spec: specTestWorkflow(specTestParamsStep("a", `[1, 2]`)),
			want: []string{"steps[0].params: must be a JSON object"},
		},
		{
			name: "ParamsRejectedByValidator",
			spec: specTestWorkflow(StepSpec{Name: "fetch", Type: "http-call", Params: json.RawMessage(`{"method": "GET"}`)}),
			want: []string{"steps[0].params: params.url: required"},
		},
		{
			name: "MissingParamsRejectedByValidator",
			spec: specTestWorkflow(StepSpec{Name: "fetch", Type: "http-call"}),
			want: []string{"steps[0].params: params.url: required"},
		},
		{
			name: "TemplateSyntaxError",
			spec: specTestWorkflow(specTestParamsStep("a", `{"url": "https://x/{{ .input.id "}`)),
			want: []string{"steps[0].params.url: template: param:1: unclosed action"},
		},
		{
			name: "TemplateUnknownFunction",
			spec: specTestWorkflow(specTestParamsStep("a", `{"url": "{{ shout .input.id }}"}`)),
			want: []string{`steps[0].params.url: template: param:1: function "shout" not defined`},
		},
		{
			// Fault: passed validation and failed only when the task ran.
			name: "TemplateCall",
			spec: specTestWorkflow(specTestParamsStep("a", `{"x": "{{ call .input.f }}"}`)),
			want: []string{`steps[0].params.x: template: param:1:3: function "call" is not allowed`},
		},
		{
			// Fault: passed validation and failed only when the task ran.
			name: "TemplateRecursiveDefine",
			spec: specTestWorkflow(specTestParamsStep("a", `{"x": "{{ define \"x\" }}{{ template \"x\" }}{{ end }}{{ template \"x\" }}"}`)),
			want: []string{`steps[0].params.x: template: define, block and template are not allowed (found "x")`},
		},
		{
			name: "TemplateBlock",
			spec: specTestWorkflow(specTestParamsStep("a", `{"x": "{{ block \"b\" . }}a{{ end }}"}`)),
			want: []string{`steps[0].params.x: template: define, block and template are not allowed (found "b")`},
		},
		{
			// Fault: kept a core busy for minutes after its task was cancelled.
			name: "TemplateRangeOverIntegerLiteral",
			spec: specTestWorkflow(specTestParamsStep("a", `{"x": "{{ range 20000000000 }}{{ end }}"}`)),
			want: []string{`steps[0].params.x: template: param:1:9: range over a number is not allowed`},
		},
		{
			// Fault: outlived a 1 s step timeout.
			name: "TemplateRangeOverIntegerLiteralWithDecl",
			spec: specTestWorkflow(specTestParamsStep("a", `{"x": "{{ range $i := (150000000) }}{{ end }}done"}`)),
			want: []string{`steps[0].params.x: template: param:1:9: range over a number is not allowed`},
		},
		{
			name: "TemplateRangeOverLen",
			spec: specTestWorkflow(specTestParamsStep("a", `{"x": "{{ range len .input.list }}{{ end }}"}`)),
			want: []string{`steps[0].params.x: template: param:1:9: range over a number is not allowed`},
		},
		{
			name: "TemplateInternalFunction",
			spec: specTestWorkflow(specTestParamsStep("a", `{"x": "{{ batonCaptureValue_ 1 }}"}`)),
			want: []string{`steps[0].params.x: template: param:1:3: function "batonCaptureValue_" is not allowed`},
		},
		{
			name: "TemplateCallNested",
			spec: specTestWorkflow(specTestParamsStep("a", `{"deep": [{"x": "{{ if .input.ok }}{{ call .input.f 1 }}{{ end }}"}]}`)),
			want: []string{`steps[0].params.deep[0].x: template: param:1:21: function "call" is not allowed`},
		},
		{
			name: "TemplateUnknownTopLevelField",
			spec: specTestWorkflow(specTestParamsStep("a", `{"url": "{{ .inputs.id }}"}`)),
			want: []string{`steps[0].params.url: .inputs.id: unknown field "inputs"; templates can use .input and .steps`},
		},
		{
			name: "TemplateSiblingStep",
			spec: specTestWorkflow(
				specTestStep("root"),
				specTestStep("left", "root"),
				specTestParamsStep("right", `{"msg": "{{ .steps.left.output.text }}"}`, "root"),
			),
			want: []string{`steps[2].params.msg: .steps.left.output.text: step "left" is not upstream of step "right"`},
		},
		{
			name: "TemplateDownstreamStep",
			spec: specTestWorkflow(
				specTestParamsStep("a", `{"msg": "{{ .steps.b.status }}"}`),
				specTestStep("b", "a"),
			),
			want: []string{`steps[0].params.msg: .steps.b.status: step "b" is not upstream of step "a"`},
		},
		{
			name: "TemplateOwnStep",
			spec: specTestWorkflow(specTestParamsStep("a", `{"msg": "{{ .steps.a.output }}"}`)),
			want: []string{`steps[0].params.msg: .steps.a.output: step "a" is not upstream of step "a"`},
		},
		{
			name: "TemplateUnknownStep",
			spec: specTestWorkflow(specTestParamsStep("a", `{"msg": "{{ .steps.ghost.output }}"}`)),
			want: []string{`steps[0].params.msg: .steps.ghost.output: unknown step "ghost"`},
		},
		{
			name: "TemplateUnknownStepField",
			spec: specTestWorkflow(specTestStep("a"), specTestParamsStep("b", `{"msg": "{{ .steps.a.result }}"}`, "a")),
			want: []string{`steps[1].params.msg: .steps.a.result: step "a" has no field "result"; expected output or status`},
		},
		{
			name: "TemplateFieldOfStatus",
			spec: specTestWorkflow(specTestStep("a"), specTestParamsStep("b", `{"msg": "{{ .steps.a.status.code }}"}`, "a")),
			want: []string{`steps[1].params.msg: .steps.a.status.code: status of step "a" is a string and has no field "code"`},
		},
		{
			name: "TemplateRefsInsideControlStructuresAndArgs",
			spec: specTestWorkflow(
				specTestStep("a"),
				specTestParamsStep("b", `{
					"if":    "{{ if eq .steps.s1.status \"failed\" }}x{{ else if .steps.s2.output }}y{{ end }}",
					"range": "{{ range .steps.s3.output.items }}{{ $.steps.s4.output }}{{ .ignored }}{{ end }}",
					"with":  "{{ with .steps.s5.output }}{{ .count }}{{ else }}{{ .steps.s6.output }}{{ end }}",
					"args":  "{{ printf \"%v-%v\" (json .steps.s7.output) (.steps.s8.output | default .nope) }}",
					"index": "{{ index .steps \"s9\" \"output\" }} {{ index $.steps \"a\" \"output\" }}"
				}`, "a"),
			),
			want: []string{
				`steps[1].params.args: .steps.s7.output: unknown step "s7"`,
				`steps[1].params.args: .steps.s8.output: unknown step "s8"`,
				`steps[1].params.args: .nope: unknown field "nope"`,
				`steps[1].params.if: .steps.s1.status: unknown step "s1"`,
				`steps[1].params.if: .steps.s2.output: unknown step "s2"`,
				`steps[1].params.index: .steps.s9.output: unknown step "s9"`,
				`steps[1].params.range: .steps.s3.output.items: unknown step "s3"`,
				`steps[1].params.range: .steps.s4.output: unknown step "s4"`,
				`steps[1].params.with: .steps.s5.output: unknown step "s5"`,
				`steps[1].params.with: .steps.s6.output: unknown step "s6"`,
			},
		},
		{
			name: "TemplateInNestedParams",
			spec: specTestWorkflow(specTestParamsStep("a", `{"body": {"items": [1, {"id": "{{ .bad }}"}], "odd key": "{{ .worse }}"}}`)),
			want: []string{
				`steps[0].params.body.items[1].id: .bad: unknown field "bad"`,
				`steps[0].params.body["odd key"]: .worse: unknown field "worse"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			err := tt.spec.Validate(specTestTypes, specTestParams)
			require.Error(t, err)

			var validationErr *ValidationError
			require.ErrorAs(t, err, &validationErr)
			require.Equal(t, "workflow", validationErr.Kind)

			got := make([]string, len(validationErr.Problems))
			for i, p := range validationErr.Problems {
				got[i] = p.String()
			}
			require.Len(t, got, len(tt.want), "problems: %q", got)
			for i, want := range tt.want {
				require.True(t, strings.HasPrefix(got[i], want), "problem %d is %q, want prefix %q", i, got[i], want)
				require.Contains(t, err.Error(), want)
			}
		})
	}
}

func TestWorkflowSpecValidateCollectsEveryProblem(t *testing.T) {
	t.Parallel()

	spec := &WorkflowSpec{
		Name: "Bad",
		Steps: []StepSpec{
			{Name: "a", Type: "nope", Timeout: "x"},
			{Name: "b", Type: "noop", DependsOn: []string{"c", "ghost"}, When: "never"},
			{Name: "c", Type: "noop", DependsOn: []string{"b"}, Params: json.RawMessage(`{"x": "{{ .steps.a.output }}"}`)},
		},
	}
	err := spec.Validate(specTestTypes, nil)
	require.EqualError(t, err, `invalid workflow "Bad": `+strings.Join([]string{
		`name: invalid name "Bad": must be 1 to 100 lowercase letters, digits, '_', '.' or '-', starting with a letter or digit`,
		`steps[0].type: unknown task type "nope"`,
		`steps[0].timeout: invalid duration "x": use a Go duration such as "30s" or "5m"`,
		`steps[1].depends_on[1]: unknown step "ghost"`,
		`steps[1].when: unknown value "never"; expected "on_success", "on_failure" or "always"`,
		`steps[2].params.x: .steps.a.output: step "a" is not upstream of step "c"; add it to depends_on (directly or through another step)`,
		`steps[1].depends_on: cycle: b -> c -> b`,
	}, "; "))
}

func TestWorkflowSpecValidateAccepts(t *testing.T) {
	t.Parallel()

	t.Run("TemplatesOfAncestors", func(t *testing.T) {
		t.Parallel()

		spec := specTestWorkflow(
			specTestStep("a"),
			specTestStep("b", "a"),
			specTestStep("c", "b"),
			specTestParamsStep("d", `{
				"plain":    "no template",
				"input":    "{{ .input.day }} {{ .input }} {{ $.input.deep.er }}",
				"parent":   "{{ .steps.c.output.count }}",
				"grand":    "{{ .steps.a.output }} {{ .steps.a.status }} {{ .steps.a }} {{ .steps }}",
				"index":    "{{ index .steps \"b\" \"output\" \"x\" }}",
				"with":     "{{ with .steps.b.output }}{{ .anything.goes }}{{ end }}",
				"range":    "{{ range $i, $item := .input.list }}{{ $i }}={{ $item.name }} {{ end }}",
				"vars":     "{{ $x := .steps.a.output }}{{ $x.whatever }}",
				"funcs":    "{{ json .steps.b.output }} {{ .input.region | default \"eu\" }}",
				"nested":   {"list": ["{{ .steps.a.status }}", 3, true, null]}
			}`, "c"),
			StepSpec{Name: "cleanup", Type: "shell", DependsOn: []string{"d"}, When: WhenAlways},
			StepSpec{Name: "page", Type: "http-call", DependsOn: []string{"d"}, When: WhenOnFailure, Params: json.RawMessage(`{"url": "https://pager/{{ .steps.d.status }}"}`)},
		)
		require.NoError(t, spec.Validate(specTestTypes, specTestParams))
	})

	t.Run("NilLookupSkipsTypeChecks", func(t *testing.T) {
		t.Parallel()

		spec := specTestWorkflow(StepSpec{Name: "a", Type: "anything"})
		require.NoError(t, spec.Validate(nil, nil))
	})

	t.Run("ReleasePipeline", func(t *testing.T) {
		t.Parallel()

		spec := specTestReleasePipeline(t)
		require.Len(t, spec.Steps, 22)
		require.NoError(t, spec.Validate(specTestTypes, specTestParams))
	})
}

// specTestReleasePipeline parses a 22-step release pipeline with fan-out and
// fan-in. notify and rollback are declared first on purpose.
func specTestReleasePipeline(t *testing.T) *WorkflowSpec {
	t.Helper()

	parsed, err := ParseSpec([]byte(`
kind: workflow
name: release-pipeline
priority: 1
tags: [release]
owner: platform
steps:
  - {name: notify, type: http-call, depends_on: [deploy_prod, release_notes], when: always,
     params: {url: "https://chat/hooks/release", body: {status: "{{ .steps.deploy_prod.status }}", notes: "{{ .steps.release_notes.output }}"}}}
  - {name: rollback, type: shell, depends_on: [deploy_prod], when: on_failure,
     params: {cmd: ["./rollback.sh", "{{ .input.version }}"]}}
  - {name: checkout, type: shell, params: {cmd: ["git", "checkout", "{{ .input.ref }}"]}}
  - {name: lint, type: shell, depends_on: [checkout]}
  - {name: unit_tests, type: shell, depends_on: [checkout], max_retries: 1}
  - {name: build_linux, type: shell, depends_on: [checkout], timeout: 20m}
  - {name: build_darwin, type: shell, depends_on: [checkout], timeout: 20m}
  - {name: build_windows, type: shell, depends_on: [checkout], timeout: 20m}
  - {name: integration_tests, type: shell, depends_on: [build_linux]}
  - {name: security_scan, type: shell, depends_on: [build_linux, build_darwin, build_windows], optional: true}
  - {name: package_linux, type: shell, depends_on: [build_linux, unit_tests]}
  - {name: package_darwin, type: shell, depends_on: [build_darwin, unit_tests]}
  - {name: package_windows, type: shell, depends_on: [build_windows, unit_tests]}
  - {name: sign, type: shell, depends_on: [package_linux, package_darwin, package_windows]}
  - {name: sbom, type: noop, depends_on: [sign]}
  - {name: publish_artifacts, type: http-call, depends_on: [sign, sbom, security_scan],
     params: {url: "https://artifacts/upload", count: "{{ .steps.sign.output.count }}"}}
  - {name: docker_image, type: shell, depends_on: [package_linux]}
  - {name: push_image, type: shell, depends_on: [docker_image, integration_tests]}
  - {name: deploy_staging, type: http-call, depends_on: [push_image, publish_artifacts, lint],
     params: {url: "https://deploy/staging", image: "{{ .steps.push_image.output.digest }}"}}
  - {name: smoke_tests, type: shell, depends_on: [deploy_staging]}
  - {name: deploy_prod, type: http-call, depends_on: [smoke_tests], priority: 1,
     params: {url: "https://deploy/prod", image: "{{ index .steps \"push_image\" \"output\" \"digest\" }}", checks: "{{ .steps.checkout.status }}"}}
  - {name: release_notes, type: noop, depends_on: [checkout]}
`))
	require.NoError(t, err)
	return parsed.(*WorkflowSpec)
}

func TestWorkflowSpecTopoOrder(t *testing.T) {
	t.Parallel()

	t.Run("ReleasePipeline", func(t *testing.T) {
		t.Parallel()

		spec := specTestReleasePipeline(t)
		want := []string{
			"checkout", "lint", "unit_tests", "build_linux", "build_darwin", "build_windows",
			"integration_tests", "security_scan", "package_linux", "package_darwin", "package_windows",
			"sign", "sbom", "publish_artifacts", "docker_image", "push_image", "deploy_staging",
			"smoke_tests", "deploy_prod", "rollback", "release_notes", "notify",
		}
		for range 5 {
			require.Equal(t, want, spec.TopoOrder())
		}

		position := map[string]int{}
		for i, name := range spec.TopoOrder() {
			position[name] = i
		}
		for _, step := range spec.Steps {
			for _, dep := range step.DependsOn {
				require.Less(t, position[dep], position[step.Name], "%s must come after %s", step.Name, dep)
			}
		}
	})

	t.Run("TiesByDeclarationOrder", func(t *testing.T) {
		t.Parallel()

		spec := specTestWorkflow(
			specTestStep("z", "m"),
			specTestStep("m"),
			specTestStep("a"),
			specTestStep("b", "z", "a"),
		)
		require.Equal(t, []string{"m", "z", "a", "b"}, spec.TopoOrder())
	})

	t.Run("CycleStepsAppended", func(t *testing.T) {
		t.Parallel()

		spec := specTestWorkflow(specTestStep("x", "y"), specTestStep("y", "x"), specTestStep("r"))
		require.Equal(t, []string{"r", "x", "y"}, spec.TopoOrder())
	})

	t.Run("Wide", func(t *testing.T) {
		t.Parallel()

		// 200 independent steps, then one fan-in step depending on all of them.
		var steps []StepSpec
		var names []string
		for i := range 200 {
			name := fmt.Sprintf("s%03d", i)
			steps = append(steps, specTestStep(name))
			names = append(names, name)
		}
		steps = append([]StepSpec{specTestStep("join", names...)}, steps...)
		spec := specTestWorkflow(steps...)
		require.NoError(t, spec.Validate(specTestTypes, nil))
		require.Equal(t, append(names, "join"), spec.TopoOrder())
	})
}

func TestTaskTypeSpecValidate(t *testing.T) {
	t.Parallel()

	valid := func() *TaskTypeSpec {
		return &TaskTypeSpec{
			Kind:               "task_type",
			Name:               "http-call",
			Executor:           "http",
			Defaults:           json.RawMessage(`{"method": "GET", "url": "https://x/{{ .input.id }}"}`),
			MaxRetries:         specTestInt(3),
			Timeout:            "5m",
			Priority:           specTestInt(2),
			Queue:              "io_bound",
			PermanentExitCodes: []int{64, 78},
		}
	}
	require.NoError(t, valid().Validate(nil))
	require.NoError(t, (&TaskTypeSpec{Name: "minimal", Executor: "sim"}).Validate(nil))

	tests := []struct {
		name   string
		mutate func(*TaskTypeSpec)
		known  func(string) bool
		want   string
	}{
		{name: "WrongKind", mutate: func(s *TaskTypeSpec) { s.Kind = "workflow" }, want: `kind: must be "task_type", not "workflow"`},
		{name: "EmptyName", mutate: func(s *TaskTypeSpec) { s.Name = "" }, want: "name: required"},
		{name: "InvalidName", mutate: func(s *TaskTypeSpec) { s.Name = "-http" }, want: `name: invalid name "-http"`},
		{name: "MissingExecutor", mutate: func(s *TaskTypeSpec) { s.Executor = "" }, want: "executor: required"},
		{name: "UnknownBuiltinExecutor", mutate: func(s *TaskTypeSpec) { s.Executor = "grpc" }, want: `executor: unknown executor "grpc"`},
		{
			name:   "UnknownCustomExecutor",
			mutate: func(s *TaskTypeSpec) {},
			known:  func(name string) bool { return name == "exec" },
			want:   `executor: unknown executor "http"`,
		},
		{name: "DefaultsNotObject", mutate: func(s *TaskTypeSpec) { s.Defaults = json.RawMessage(`"GET"`) }, want: "defaults: must be a JSON object"},
		{
			name:   "DefaultsTemplateSyntax",
			mutate: func(s *TaskTypeSpec) { s.Defaults = json.RawMessage(`{"url": "{{ .input.id"}`) },
			want:   "defaults.url: template: param:1: unclosed action",
		},
		{
			name:   "DefaultsTemplateRangeOverNumber",
			mutate: func(s *TaskTypeSpec) { s.Defaults = json.RawMessage(`{"url": "{{ range 9 }}x{{ end }}"}`) },
			want:   "defaults.url: template: param:1:9: range over a number is not allowed; range over a list or an object",
		},
		{
			name:   "DefaultsTemplateField",
			mutate: func(s *TaskTypeSpec) { s.Defaults = json.RawMessage(`{"url": "{{ .run.id }}"}`) },
			want:   `defaults.url: .run.id: unknown field "run"`,
		},
		{name: "NegativeRetries", mutate: func(s *TaskTypeSpec) { s.MaxRetries = specTestInt(-2) }, want: "max_retries: must be between 0 and 25, not -2"},
		{name: "TooManyRetries", mutate: func(s *TaskTypeSpec) { s.MaxRetries = specTestInt(100) }, want: "max_retries: must be between 0 and 25, not 100"},
		{name: "BadTimeout", mutate: func(s *TaskTypeSpec) { s.Timeout = "5 minutes" }, want: `timeout: invalid duration "5 minutes"`},
		{name: "ZeroTimeout", mutate: func(s *TaskTypeSpec) { s.Timeout = "0" }, want: `timeout: must be positive, not "0"`},
		{name: "PriorityLow", mutate: func(s *TaskTypeSpec) { s.Priority = specTestInt(0) }, want: "priority: must be between 1 (high) and 4 (background), not 0"},
		{name: "PriorityHigh", mutate: func(s *TaskTypeSpec) { s.Priority = specTestInt(5) }, want: "priority: must be between 1 (high) and 4 (background), not 5"},
		{name: "BadQueue", mutate: func(s *TaskTypeSpec) { s.Queue = "IO Bound" }, want: `queue: invalid queue name "IO Bound"`},
		{name: "LongQueue", mutate: func(s *TaskTypeSpec) { s.Queue = strings.Repeat("q", 65) }, want: "queue: must be at most 64 characters"},
		{name: "ExitCodeZero", mutate: func(s *TaskTypeSpec) { s.PermanentExitCodes = []int{64, 0} }, want: "permanent_exit_codes[1]: must be between 1 and 255, not 0"},
		{name: "ExitCodeLarge", mutate: func(s *TaskTypeSpec) { s.PermanentExitCodes = []int{256} }, want: "permanent_exit_codes[0]: must be between 1 and 255, not 256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			spec := valid()
			tt.mutate(spec)
			err := spec.Validate(tt.known)
			var validationErr *ValidationError
			require.ErrorAs(t, err, &validationErr)
			require.Equal(t, "task_type", validationErr.Kind)
			require.Len(t, validationErr.Problems, 1, "problems: %v", validationErr.Problems)
			require.True(t, strings.HasPrefix(validationErr.Problems[0].String(), tt.want), "got %q, want prefix %q", validationErr.Problems[0].String(), tt.want)
			prefix := "invalid task type: "
			if spec.Name != "" {
				prefix = `invalid task type "` + spec.Name + `": `
			}
			require.Contains(t, err.Error(), prefix+tt.want)
		})
	}

	t.Run("CollectsEveryProblem", func(t *testing.T) {
		t.Parallel()

		err := (&TaskTypeSpec{Name: "X", Timeout: "-1s", Priority: specTestInt(9)}).Validate(nil)
		var validationErr *ValidationError
		require.ErrorAs(t, err, &validationErr)
		require.Len(t, validationErr.Problems, 4)
	})
}

func TestValidationErrorMessage(t *testing.T) {
	t.Parallel()

	err := &ValidationError{Problems: []Problem{{Message: "document is empty"}}}
	require.Equal(t, "invalid definition: document is empty", err.Error())

	err = &ValidationError{Kind: "workflow", Name: "x", Problems: []Problem{
		{Field: "steps[2].depends_on[0]", Message: `unknown step "nope"`},
		{Field: "steps", Message: "more"},
	}}
	require.Equal(t, `invalid workflow "x": steps[2].depends_on[0]: unknown step "nope"; steps: more`, err.Error())
}
