package executor

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	reg := setup(t, nil)

	tests := []struct {
		executor string
		params   string
		want     string // the whole error message; "" for valid params
	}{
		// http
		{NameHTTP, `{"url": "https://example.com/x"}`, ""},
		{NameHTTP, `{"method": "post", "url": "http://example.com", "headers": {"Accept": "application/json"}, "body": {"a": [1, 2]}, "timeout": "30s"}`, ""},
		{NameHTTP, `{"url": "http://example.com", "body": "plain text"}`, ""},
		{NameHTTP, `{"method": "{{ .input.method }}", "url": "{{ .input.base }}/users/{{ .input.id }}", "headers": {"Authorization": "Bearer {{ .secrets.token }}"}, "body": "{{ toJson .input }}", "timeout": "{{ .input.timeout }}"}`, ""},
		{NameHTTP, `{"url": "http://example.com", "headers": "{{ .input.headers }}", "body": "{{ .steps.build.output }}"}`, ""},
		{NameHTTP, `"{{ .input.request }}"`, ""}, // the whole params object from a template
		{NameHTTP, `"plain"`, "params: must be a JSON object"},
		{NameHTTP, `{}`, "params.url: required"},
		{NameHTTP, `null`, "params.url: required"},
		{NameHTTP, ``, "params.url: required"},
		{NameHTTP, `{"url": ""}`, "params.url: required"},
		{NameHTTP, `{"url": 42}`, "params.url: must be a string"},
		{NameHTTP, `{"url": "ftp://example.com"}`, `params.url: scheme must be http or https, got "ftp"`},
		{NameHTTP, `{"url": "http://"}`, "params.url: missing host"},
		{NameHTTP, `{"url": "http://example.com", "method": "FETCH"}`, "params.method: must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"},
		{NameHTTP, `{"url": "http://example.com", "timeout": "abc"}`, `params.timeout: invalid duration "abc"`},
		{NameHTTP, `{"url": "http://example.com", "timeout": 30}`, "params.timeout: must be a string"},
		{NameHTTP, `{"url": "http://example.com", "timeout": "-1s"}`, `params.timeout: must not be negative, got "-1s"`},
		{NameHTTP, `{"url": "http://example.com", "headers": {"Accept": 1}}`, "params.headers.Accept: must be a string"},
		{NameHTTP, `{"url": "http://example.com", "headers": {"Bad Name": "x"}}`, "params.headers.Bad Name: invalid header name"},
		{NameHTTP, `{"url": "http://example.com", "headers": ["Accept"]}`, "params.headers: must be an object of strings"},
		{NameHTTP, `{"url": "http://example.com", "foo": 1, "bar": 2}`, "params.bar: unknown field; params.foo: unknown field"},
		{NameHTTP, `{"method": "FETCH", "timeout": "abc"}`, `params.method: must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS; params.url: required; params.timeout: invalid duration "abc"`},
		{NameHTTP, `["http://example.com"]`, "params: must be a JSON object"},
		{NameHTTP, `{"url": `, "params: invalid JSON: unexpected end of JSON input"},

		// exec
		{NameExec, `{"command": "pg_dump", "args": ["-d", "{{ .input.db }}"], "env": {"PGPASSWORD": "{{ .secrets.pg }}"}, "dir": "/tmp", "timeout": "5m"}`, ""},
		{NameExec, `{"command": "{{ .input.cmd }}", "args": "{{ .input.args }}", "env": "{{ .input.env }}"}`, ""},
		{NameExec, `{}`, "params.command: required"},
		{NameExec, `{"command": ["sh"]}`, "params.command: must be a string"},
		{NameExec, `{"command": "sh", "args": "-c true"}`, "params.args: must be an array of strings"},
		{NameExec, `{"command": "sh", "args": ["-c", 1, null]}`, "params.args[1]: must be a string; params.args[2]: must be a string"},
		{NameExec, `{"command": "sh", "env": {"A=B": "x", "C": 2}}`, "params.env.A=B: invalid variable name; params.env.C: must be a string"},
		{NameExec, `{"command": "sh", "dir": 5}`, "params.dir: must be a string"},
		{NameExec, `{"command": "sh", "env_allowlist": ["PATH", "HOME"]}`, ""},
		{NameExec, `{"command": "sh", "env_allowlist": "PATH"}`, "params.env_allowlist: must be an array of strings"},
		{NameExec, `{"command": "sh", "env_allowlist": ["PATH", "A=B", ""]}`, "params.env_allowlist[1]: invalid variable name; params.env_allowlist[2]: invalid variable name"},
		{NameExec, `{"command": "sh", "shell": true}`, "params.shell: unknown field"},

		// sleep
		{NameSleep, `{"duration": "1.5s"}`, ""},
		{NameSleep, `{"duration": "{{ .input.wait }}"}`, ""},
		{NameSleep, `{}`, "params.duration: required"},
		{NameSleep, `{"duration": "soon"}`, `params.duration: invalid duration "soon"`},

		// sim
		{NameSim, `{}`, ""},
		{NameSim, `{"min": "1s", "max": "2s", "fail_rate": 0.5, "permanent_fail_rate": 0, "output": {"any": ["json"]}}`, ""},
		{NameSim, `{"min": "{{ .input.min }}", "max": "{{ .input.max }}"}`, ""},
		{NameSim, `{"fail_rate": "{{ .input.rate }}", "permanent_fail_rate": "{{ .input.prate }}", "output": "{{ .input.out }}"}`, ""},
		{NameSim, `{"min": "{{ .input.min }}", "max": "1s"}`, ""},
		{NameSim, `{"min": "2s", "max": "1s"}`, "params.max: must not be less than min (2s), got 1s"},
		{NameSim, `{"fail_rate": 1.5}`, "params.fail_rate: must be between 0 and 1, got 1.5"},
		{NameSim, `{"permanent_fail_rate": "0.5"}`, "params.permanent_fail_rate: must be a number between 0 and 1"},

		// go
		{NameGo, `{"function": "send-email", "args": {"to": "{{ .input.email }}"}}`, ""},
		{NameGo, `{"function": "not-registered-anywhere"}`, ""},
		{NameGo, `{}`, "params.function: required"},
		{NameGo, `{"function": 3}`, "params.function: must be a string"},
		{NameGo, `{"function": "f", "argz": 1}`, "params.argz: unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.executor+" "+tt.params, func(t *testing.T) {
			t.Parallel()
			ex, err := reg.Get(tt.executor)
			require.NoError(t, err)

			err = ex.Validate(json.RawMessage(tt.params))
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.want)

			var fe *FieldError
			require.True(t, errors.As(err, &fe))
			require.Contains(t, tt.want, fe.Field+": ")

			// Execute refuses the same params as a permanent error.
			_, err = ex.Execute(context.Background(), Request{Params: json.RawMessage(tt.params)})
			require.Equal(t, ClassPermanent, ClassOf(err))
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestExecuteChecksRenderedParams(t *testing.T) {
	t.Parallel()
	reg := setup(t, nil)

	// A template left unrendered is accepted by Validate but is not a valid
	// value at run time.
	_, err := run(context.Background(), t, reg, NameSleep, map[string]any{"duration": "{{ .input.wait }}"})
	require.Equal(t, ClassPermanent, ClassOf(err))
	require.ErrorContains(t, err, `params.duration: invalid duration "{{ .input.wait }}"`)

	_, err = run(context.Background(), t, reg, NameHTTP, map[string]any{"url": "{{ .input.url }}"})
	require.Equal(t, ClassPermanent, ClassOf(err))
	require.ErrorContains(t, err, "params.url")
}
