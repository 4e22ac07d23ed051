package executor

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// setup returns a registry for one test, closed when the test ends. Private
// addresses are allowed unless opts says otherwise.
func setup(t *testing.T, opts *Options) *Registry {
	t.Helper()
	if opts == nil {
		opts = &Options{MaxOutputBytes: 1 << 20, AllowPrivateHTTP: true}
	}
	reg := NewRegistry(*opts)
	t.Cleanup(reg.Close)
	return reg
}

// run executes the named executor with params marshalled to JSON.
func run(ctx context.Context, t *testing.T, reg *Registry, name string, params any, mods ...func(*Request)) (Result, error) {
	t.Helper()
	ex, err := reg.Get(name)
	require.NoError(t, err)
	raw, err := json.Marshal(params)
	require.NoError(t, err)
	req := Request{RunID: 1, TaskID: 2, Step: "step", TaskType: name, Attempt: 1, Params: raw}
	for _, mod := range mods {
		mod(&req)
	}
	res, err := ex.Execute(ctx, req)
	if err == nil {
		require.True(t, json.Valid(res.Output), "output must be valid JSON: %q", res.Output)
	}
	return res, err
}

// decode unmarshals a result's output into a map.
func decode(t *testing.T, res Result) map[string]any {
	t.Helper()
	var out map[string]any
	require.NoError(t, json.Unmarshal(res.Output, &out))
	return out
}
