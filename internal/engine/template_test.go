package engine

import (
	"encoding/json"
	"testing"

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
