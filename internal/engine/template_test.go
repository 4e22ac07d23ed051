package engine

import (
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/stretchr/testify/require"
)

// tmplTestData is the data the RenderParams tests render with.
func tmplTestData() TemplateData {
	return TemplateData{
		Input: map[string]any{
			"day":     "2026-11-27",
			"n":       3,
			"million": 1000000,
			"ratio":   0.25,
			"flag":    true,
			"empty":   "",
			"nothing": nil,
			"tags":    []string{"a", "b"},
			"nested":  map[string]any{"region": "eu-west-1"},
		},
		Steps: map[string]StepResult{
			"build": {
				Output: map[string]any{
					"count":    42,
					"ok":       true,
					"artifact": map[string]any{"name": "app.tar.gz", "size": 1024},
					"files":    []any{"a.txt", "b.txt"},
					"label":    "v1.2.3",
					"none":     nil,
				},
				Status: "succeeded",
			},
			// Output as stored: raw JSON, with an integer too big for float64.
			"raw": {Output: json.RawMessage(`{"id": 12345678901234567890, "name": "raw"}`), Status: "failed"},
			"nil": {Status: "succeeded"},
		},
	}
}

func TestRenderParams(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		params string
		want   string
	}{
		{
			name:   "NoTemplatesUnchangedValues",
			params: `{"url": "https://x", "n": 1.50, "big": 12345678901234567890, "list": [1, "a", null, false], "html": "<a>&"}`,
			want:   `{"big":12345678901234567890,"html":"<a>&","list":[1,"a",null,false],"n":1.50,"url":"https://x"}`,
		},
		{
			name:   "SingleActionKeepsType",
			params: `{"count": "{{ .steps.build.output.count }}", "ok": "{{ .steps.build.output.ok }}", "artifact": "{{ .steps.build.output.artifact }}", "files": "{{ .steps.build.output.files }}", "none": "{{ .steps.build.output.none }}", "ratio": "{{ .input.ratio }}"}`,
			want:   `{"artifact":{"name":"app.tar.gz","size":1024},"count":42,"files":["a.txt","b.txt"],"none":null,"ok":true,"ratio":0.25}`,
		},
		{
			name:   "SingleActionString",
			params: `{"label": "{{ .steps.build.output.label }}", "status": "{{ .steps.build.status }}", "day": "{{ .input.day }}"}`,
			want:   `{"day":"2026-11-27","label":"v1.2.3","status":"succeeded"}`,
		},
		{
			name:   "SingleActionWithTrimMarkersAndPipeline",
			params: `{"n": "{{- .input.n -}}", "d": "{{ .input.empty | default 7 }}", "s": "{{ index .input \"missing\" | default \"eu\" }}"}`,
			want:   `{"d":7,"n":3,"s":"eu"}`,
		},
		{
			name:   "BigIntegersSurvive",
			params: `{"id": "{{ .steps.raw.output.id }}", "url": "https://x/{{ .steps.raw.output.id }}/{{ .input.million }}"}`,
			want:   `{"id":12345678901234567890,"url":"https://x/12345678901234567890/1000000"}`,
		},
		{
			name:   "TextAroundActionIsString",
			params: `{"a": "count={{ .steps.build.output.count }}", "b": " {{ .input.n }}", "c": "{{ .input.n }}{{ .input.n }}", "d": "{{ if .input.flag }}yes{{ else }}no{{ end }}"}`,
			want:   `{"a":"count=42","b":" 3","c":"33","d":"yes"}`,
		},
		{
			name:   "DeclarationRendersEmpty",
			params: `{"a": "{{ $x := .input.n }}"}`,
			want:   `{"a":""}`,
		},
		{
			name:   "JSONFunc",
			params: `{"body": "{{ json .steps.build.output.artifact }}", "tags": "tags={{ json .input.tags }}", "html": "{{ json \"<b>\" }}"}`,
			want:   `{"body":"{\"name\":\"app.tar.gz\",\"size\":1024}","html":"\"<b>\"","tags":"tags=[\"a\",\"b\"]"}`,
		},
		{
			name:   "NestedObjectsAndArrays",
			params: `{"outer": {"list": [1, "{{ .input.n }}", ["{{ .steps.build.status }}", {"deep": "{{ .input.nested.region }}"}]], "keep": "plain"}, "top": ["{{ .steps.build.output.files }}"]}`,
			want:   `{"outer":{"keep":"plain","list":[1,3,["succeeded",{"deep":"eu-west-1"}]]},"top":[["a.txt","b.txt"]]}`,
		},
		{
			name:   "RangeAndWith",
			params: `{"r": "{{ range $i, $f := .steps.build.output.files }}{{ if $i }},{{ end }}{{ $f }}{{ end }}", "w": "{{ with .steps.build.output.artifact }}{{ .name }}:{{ .size }}{{ end }}"}`,
			want:   `{"r":"a.txt,b.txt","w":"app.tar.gz:1024"}`,
		},
		{
			name:   "NilOutputAndNullInput",
			params: `{"o": "{{ .steps.nil.output }}", "n": "{{ .input.nothing }}", "s": "{{ .steps.raw.status }}"}`,
			want:   `{"n":null,"o":null,"s":"failed"}`,
		},
		{
			name:   "TopLevelArray",
			params: `["{{ .input.n }}", "x"]`,
			want:   `[3,"x"]`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := RenderParams(t.Context(), json.RawMessage(tt.params), tmplTestData())
			require.NoError(t, err)
			require.Equal(t, tt.want, string(got))
		})
	}

	t.Run("EmptyParams", func(t *testing.T) {
		t.Parallel()

		got, err := RenderParams(t.Context(), nil, TemplateData{})
		require.NoError(t, err)
		require.Nil(t, got)

		got, err = RenderParams(t.Context(), json.RawMessage(`null`), TemplateData{})
		require.NoError(t, err)
		require.Equal(t, "null", string(got))
	})

	t.Run("NilInput", func(t *testing.T) {
		t.Parallel()

		_, err := RenderParams(t.Context(), json.RawMessage(`{"a": "{{ .input.x }}"}`), TemplateData{})
		require.EqualError(t, err, `params.a: template: param:1:9: executing "param" at <.input.x>: map has no entry for key "x"`)
	})
}

func TestRenderParamsErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		params string
		want   string
	}{
		{
			name:   "MissingInputKey",
			params: `{"url": "https://x/{{ .input.nope }}"}`,
			want:   `params.url: template: param:1:19: executing "param" at <.input.nope>: map has no entry for key "nope"`,
		},
		{
			name:   "MissingKeyInSingleAction",
			params: `{"n": "{{ .steps.build.output.missing }}"}`,
			want:   `params.n: template: param:1:9: executing "param" at <.steps.build.output.missing>: map has no entry for key "missing"`,
		},
		{
			name:   "MissingStep",
			params: `{"list": [1, {"deep": "{{ .steps.ghost.output }}"}]}`,
			want:   `params.list[1].deep: template: param:1:9: executing "param" at <.steps.ghost.output>: map has no entry for key "ghost"`,
		},
		{
			name:   "OddKey",
			params: `{"a key": "{{ .input.nope }}"}`,
			want:   `params["a key"]: template: param:1:9: executing "param" at <.input.nope>: map has no entry for key "nope"`,
		},
		{
			name:   "SyntaxError",
			params: `{"url": "{{ .input.day "}`,
			want:   `params.url: template: param:1: unclosed action`,
		},
		{
			name:   "UnknownFunction",
			params: `{"url": "{{ upper .input.day }}"}`,
			want:   `params.url: template: param:1: function "upper" not defined`,
		},
		{
			name:   "InvalidJSON",
			params: `{"url": `,
			want:   `params: invalid JSON: unexpected EOF`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := RenderParams(t.Context(), json.RawMessage(tt.params), tmplTestData())
			require.EqualError(t, err, tt.want)
			require.Nil(t, got)
		})
	}
}

func TestParamsNeedRender(t *testing.T) {
	t.Parallel()

	tests := []struct {
		params string
		want   bool
	}{
		{``, false},
		{`null`, false},
		{`{}`, false},
		{`{"url": "https://x", "n": 1, "o": {"a": "{b}"}}`, false},
		{`{"url": "https://x/{{ .input.id }}"}`, true},
		{`{"deep": [1, {"x": "{{.input.a}}"}]}`, true},
		{`{"escaped": "\u007b\u007B .input.a }}"}`, true},
		{`{"escaped": "\u007b only one"}`, false},
		{`{"bad json \u007b`, false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, ParamsNeedRender(json.RawMessage(tt.params)), "params %s", tt.params)
	}
}

func TestRenderParamsMergedWithDefaults(t *testing.T) {
	t.Parallel()

	merged, err := MergeParams(
		json.RawMessage(`{"method": "GET", "url": "https://api/{{ .input.day }}"}`),
		json.RawMessage(`{"body": {"count": "{{ .steps.build.output.count }}"}}`),
	)
	require.NoError(t, err)
	require.True(t, ParamsNeedRender(merged))

	got, err := RenderParams(t.Context(), merged, tmplTestData())
	require.NoError(t, err)
	require.Equal(t, `{"body":{"count":42},"method":"GET","url":"https://api/2026-11-27"}`, string(got))
}

// tmplLimitTestData is template data with large and numeric inputs for the
// tests of the rendering limits.
func tmplLimitTestData(items int) TemplateData {
	list := make([]any, items)
	for i := range list {
		list[i] = i
	}
	return TemplateData{Input: map[string]any{
		"items": list,
		"small": []any{1, 2, 3},
		"n":     20000000000,
		"text":  strings.Repeat("x", 100_000),
	}}
}

// tmplHundredChars is 100 characters of literal template text.
var tmplHundredChars = strings.Repeat("0123456789", 10)

func TestRenderParamsLimits(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		params string
		items  int    // length of .input.items
		want   string // the error
	}{
		{
			// Fault: kept a core busy for minutes after its task was cancelled.
			name:   "RangeOverHugeIntegerLiteral",
			params: `{"x": "{{ range 20000000000 }}{{ end }}"}`,
			want:   `params.x: template: param:1:9: range over a number is not allowed; range over a list or an object`,
		},
		{
			// Fault: outlived a 1 s step timeout.
			name:   "RangeOverIntegerLiteralThenText",
			params: `{"x": "{{ range 150000000 }}{{ end }}done"}`,
			want:   `params.x: template: param:1:9: range over a number is not allowed; range over a list or an object`,
		},
		{
			name:   "RangeOverLen",
			params: `{"x": "{{ range len .input.small }}{{ end }}"}`,
			want:   `params.x: template: param:1:9: range over a number is not allowed; range over a list or an object`,
		},
		{
			// A number from the input passes validation; rendering refuses it.
			name:   "RangeOverIntegerFromInput",
			params: `{"x": "{{ range .input.n }}{{ end }}"}`,
			want:   `params.x: range over a number is not allowed; range over a list or an object`,
		},
		{
			name:   "RangeOverIntegerVariable",
			params: `{"x": "{{ $n := 150000000 }}{{ range $n }}{{ end }}done"}`,
			want:   `params.x: range over a number is not allowed; range over a list or an object`,
		},
		{
			name:   "RangeOverString",
			params: `{"x": "{{ range .input.text }}{{ end }}"}`,
			want:   `params.x: range over string is not allowed; range over a list or an object`,
		},
		{
			// Fault: a range writing 100 characters per item took 2.1 GB.
			name:   "OutputOverOneMiB",
			params: `{"x": "{{ range .input.items }}` + tmplHundredChars + `{{ end }}"}`,
			items:  20_000,
			want:   `params.x: template output exceeds 1 MiB`,
		},
		{
			name:   "OutputOfAllParamsTogether",
			params: `{"a": "{{ printf \"%01000000d\" 1 }}", "b": "{{ printf \"%0100000d\" 1 }}"}`,
			want:   `params.b: template output exceeds 1 MiB`,
		},
		{
			name:   "TooManyItems",
			params: `{"x": "{{ range .input.items }}{{ end }}"}`,
			items:  tmplMaxSteps + 1,
			want:   `params.x: range over 100001 items exceeds the limit of 100000`,
		},
		{
			// Each range is allowed; together they iterate a million times
			// without writing anything.
			name:   "NestedRangesSpendSteps",
			params: `{"x": "{{ range .input.items }}{{ range $.input.items }}{{ end }}{{ end }}"}`,
			items:  1_000,
			want:   `params.x: template exceeds 100000 steps (range iterations and function calls)`,
		},
		{
			name:   "FunctionCallsSpendSteps",
			params: `{"x": "{{ range .input.items }}{{ $a := print 1 }}{{ $b := print 2 }}{{ end }}"}`,
			items:  60_000,
			want:   `params.x: template exceeds 100000 steps (range iterations and function calls)`,
		},
		{
			// Fault: passed validation and failed only when run.
			name:   "Call",
			params: `{"x": "{{ call .input.f }}"}`,
			want:   `params.x: template: param:1:3: function "call" is not allowed; templates can use json, default and text/template's built-ins but call`,
		},
		{
			// Fault: passed validation and failed only when run.
			name:   "RecursiveDefine",
			params: `{"x": "{{ define \"x\" }}{{ template \"x\" }}{{ end }}{{ template \"x\" }}"}`,
			want:   `params.x: template: define, block and template are not allowed (found "x")`,
		},
		{
			name:   "Block",
			params: `{"x": "{{ block \"b\" . }}a{{ end }}"}`,
			want:   `params.x: template: define, block and template are not allowed (found "b")`,
		},
		{
			name:   "InternalFunction",
			params: `{"x": "{{ range .input.small }}{{ batonRangeTick_ }}{{ end }}"}`,
			want:   `params.x: template: param:1:27: function "batonRangeTick_" is not allowed; templates can use json, default and text/template's built-ins but call`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := RenderParams(t.Context(), json.RawMessage(tt.params), tmplLimitTestData(tt.items))
			require.EqualError(t, err, tt.want)
			require.Nil(t, got)
			var guard *tmplGuardError
			if !strings.Contains(tt.want, "template: ") {
				require.ErrorAs(t, err, &guard, "limits reached while rendering are tmplGuardErrors")
			}
		})
	}

	t.Run("WithinLimits", func(t *testing.T) {
		t.Parallel()

		got, err := RenderParams(t.Context(), json.RawMessage(`{"x": "{{ range .input.small }}{{ . }}{{ end }}", "n": "{{ len .input.items }}"}`), tmplLimitTestData(tmplMaxSteps))
		require.NoError(t, err)
		require.Equal(t, `{"n":100000,"x":"123"}`, string(got))
	})
}

// TestRenderParamsStopsAtDeadline renders a template that writes nothing and
// stays within the step limit but is slow (each step formats 100 kB): the
// deadline of its context stops it.
func TestRenderParamsStopsAtDeadline(t *testing.T) {
	t.Parallel()

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	params := `{"x": "{{ range .input.items }}{{ $a := printf \"%v%v%v\" $.input.text $.input.text $.input.text }}{{ end }}"}`
	start := time.Now()
	_, err := RenderParams(ctx, json.RawMessage(params), tmplLimitTestData(tmplMaxSteps/2))
	require.EqualError(t, err, "params.x: template rendering interrupted: context deadline exceeded")
	require.Less(t, time.Since(start), 2*time.Second)

	t.Run("Cancelled", func(t *testing.T) {
		t.Parallel()

		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := RenderParams(ctx, json.RawMessage(`{"x": "{{ range .input.small }}{{ end }}"}`), tmplLimitTestData(0))
		require.ErrorIs(t, err, context.Canceled)
	})
}

// TestRenderGuardStopsUncheckedRange executes templates that bypass
// tmplCheckTree (as a definition stored before the check existed could) and
// checks that the render-time guards alone stop them promptly and leave no
// goroutine behind. It does not run in parallel, to count goroutines.
func TestRenderGuardStopsUncheckedRange(t *testing.T) {
	tests := []struct {
		name string
		text string
		want string
	}{
		{"HugeIntegerLiteral", `{{ range 20000000000 }}{{ end }}`, "range over a number is not allowed; range over a list or an object"},
		{"HugeLen", `{{ range len .input.items }}{{ end }}`, "range over a number is not allowed; range over a list or an object"},
		{"ListLiteralInBody", `{{ range .input.items }}{{ range $.input.items }}{{ range $.input.items }}{{ end }}{{ end }}{{ end }}`, "template exceeds 100000 steps (range iterations and function calls)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			data, err := tmplDataMap(tmplLimitTestData(1_000))
			require.NoError(t, err)
			r := &tmplRenderer{data: data, budget: newTmplBudget(t.Context())}
			r.funcs = tmplFuncs(r.budget, nil)
			tmpl, err := template.New(tmplName).Funcs(r.funcs).Parse(tt.text)
			require.NoError(t, err)

			done := make(chan error, 1)
			go func() { done <- r.execute(tmpl, &tmplWriter{budget: r.budget}) }()
			select {
			case err := <-done:
				require.EqualError(t, err, tt.want)
			case <-time.After(5 * time.Second):
				t.Fatal("render still running after 5s")
			}

			// Nothing keeps running once the render returned.
			deadline := time.Now().Add(5 * time.Second)
			for runtime.NumGoroutine() > before {
				require.False(t, time.Now().After(deadline), "goroutines: %d before, %d after", before, runtime.NumGoroutine())
				runtime.Gosched()
			}
		})
	}
}

// TestRenderParamsHugeListMemory renders 100 characters per item of a list of
// 3,000,000 items: it must fail at once, without building the 300 MB text.
// The renderer is given data as tmplDataMap makes it, so that the
// measurement leaves out the input's JSON round trip. It does not run in
// parallel, to measure allocations.
func TestRenderParamsHugeListMemory(t *testing.T) {
	items := make([]any, 3_000_000)
	for i := range items {
		items[i] = json.Number("1")
	}
	data := map[string]any{"input": map[string]any{"items": items}, "steps": map[string]any{}}
	params := map[string]any{"x": "{{ range .input.items }}" + tmplHundredChars + "{{ end }}"}

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	r := &tmplRenderer{data: data, budget: newTmplBudget(t.Context())}
	r.funcs = tmplFuncs(r.budget, nil)
	_, err := r.render(params, "params")
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)

	require.EqualError(t, err, "params.x: range over 3000000 items exceeds the limit of 100000")
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d kB in %s", allocated>>10, elapsed)
	require.Less(t, allocated, uint64(1<<20))
	require.Less(t, elapsed, 5*time.Second)
}

// FuzzRenderTemplate renders arbitrary template text with arbitrary input:
// no panic may escape (from validation or rendering), and rendering must
// return within its time limit with output within its size limit.
func FuzzRenderTemplate(f *testing.F) {
	seeds := []struct{ text, input string }{
		{`{{ .input.day }}`, `{"day": "2026-11-27"}`},
		{`{{ range $i, $v := .input.list }}{{ if $i }},{{ end }}{{ $v }}{{ end }}`, `{"list": [1, "a", null, {"b": 2}]}`},
		{`{{ range .input.n }}x{{ end }}`, `{"n": 20000000000}`},
		{`{{ range 20000000000 }}{{ end }}`, `{}`},
		{`{{ range 150000000 }}{{ end }}done`, `{}`},
		{`{{ range .input.list }}{{ range $.input.list }}{{ range $.input.list }}{{ printf "%v" $.input }}{{ end }}{{ end }}{{ end }}`, `{"list": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50]}`},
		{`{{ call .input.f }}`, `{"f": 1}`},
		{`{{ define "x" }}{{ template "x" }}{{ end }}{{ template "x" }}`, `{}`},
		{`{{ block "b" . }}{{ . }}{{ end }}`, `{}`},
		{`{{ printf "%01000000d" 1 }}{{ printf "%01000000d" 2 }}`, `{}`},
		{`{{ json .input | printf "%s%s" (json .input) }}`, `{"a": [1, 2, {"b": "c"}]}`},
		{`{{ index .input "k" | default "eu" }} {{ slice .input.s 1 2 }} {{ len .input.s }}`, `{"s": "abc"}`},
		{`{{ $x := 5 }}{{ range $x }}{{ end }}{{ with .input.m }}{{ range $k, $v := . }}{{ $k }}={{ $v }}{{ break }}{{ end }}{{ end }}`, `{"m": {"a": 1, "b": 2}}`},
		{`{{ .steps.a.output }}`, `[1, 2]`},
	}
	for _, seed := range seeds {
		f.Add(seed.text, seed.input)
	}
	f.Fuzz(func(t *testing.T, text, input string) {
		var in map[string]any
		if json.Unmarshal([]byte(input), &in) != nil {
			in = nil // not an object: render without input
		}
		var problems specProblems
		tmplCheckParams(text, "params.x", "a", nil, &problems)

		params, err := json.Marshal(map[string]string{"x": text})
		require.NoError(t, err)
		start := time.Now()
		out, err := RenderParams(t.Context(), params, TemplateData{Input: in})
		elapsed := time.Since(start)
		require.Less(t, elapsed, tmplMaxDuration+2*time.Second, "render of %q took %s", text, elapsed)
		if err == nil {
			// JSON escaping may make a character up to 6 bytes.
			require.LessOrEqual(t, len(out), 6*tmplMaxOutput+len(params))
		}
	})
}
