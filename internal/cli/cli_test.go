package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/executor"
	"github.com/baton-run/baton/internal/testdb"
)

// TestListenLoopbackByDefault checks that dev and serve listen on loopback
// unless --addr says otherwise (their -h output shows the flag's default).
func TestListenLoopbackByDefault(t *testing.T) {
	t.Parallel()
	host, _, err := net.SplitHostPort(defaultAddr)
	require.NoError(t, err)
	require.True(t, net.ParseIP(host).IsLoopback(), "default address %s is not loopback", defaultAddr)

	for _, cmd := range []string{"dev", "serve"} {
		var stdout, stderr bytes.Buffer
		require.Equal(t, 0, Main(context.Background(), []string{cmd, "-h"}, &stdout, &stderr))
		require.Contains(t, stderr.String(), `(default "127.0.0.1:8080")`, "baton %s", cmd)
	}
}

func TestParseExecutors(t *testing.T) {
	t.Parallel()
	names, err := parseExecutors("")
	require.NoError(t, err)
	require.Nil(t, names)

	names, err = parseExecutors(" http, sleep ,sim,go")
	require.NoError(t, err)
	require.Equal(t, []string{"http", "sleep", "sim", "go"}, names)

	_, err = parseExecutors("http,shell")
	require.ErrorContains(t, err, `unknown executor "shell"`)

	for _, cmd := range []string{"dev", "serve", "worker"} {
		var stdout, stderr bytes.Buffer
		require.Equal(t, 2, Main(context.Background(), []string{cmd, "--executors", "http,teleport"}, &stdout, &stderr))
		require.Contains(t, stderr.String(), `unknown executor "teleport"`)
	}
}

// TestDisabledExecutorRefused checks that with --executors leaving exec
// out, a task type using exec cannot be created, a workflow using an exec
// task type created earlier cannot be applied, and the worker's registry
// refuses to run one with an error naming the flag.
func TestDisabledExecutorRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testdb.New(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))

	// A task type created while exec was enabled.
	all := &environment{stdout: io.Discard, stderr: io.Discard, logger: logger}
	rt, err := all.open(ctx, url, 2)
	require.NoError(t, err)
	_, err = rt.engine.ApplyTaskType(ctx, &engine.TaskTypeSpec{Name: "shell", Executor: executor.NameExec})
	require.NoError(t, err)
	rt.close()

	env := &environment{stdout: io.Discard, stderr: io.Discard, logger: logger}
	require.NoError(t, env.setExecutors("http,sleep,sim,go"))
	rt, err = env.open(ctx, url, 2)
	require.NoError(t, err)
	defer rt.close()

	_, err = rt.engine.ApplyTaskType(ctx, &engine.TaskTypeSpec{Name: "shell2", Executor: executor.NameExec})
	require.ErrorIs(t, err, engine.ErrInvalid)
	require.ErrorContains(t, err, `executor "exec"`)

	_, _, err = rt.engine.ApplyWorkflow(ctx, &engine.WorkflowSpec{
		Name:  "pwned",
		Steps: []engine.StepSpec{{Name: "run", Type: "shell", Params: json.RawMessage(`{"command": "true"}`)}},
	})
	require.ErrorIs(t, err, engine.ErrInvalid)

	_, err = rt.executors.Get(executor.NameExec)
	require.ErrorIs(t, err, executor.ErrExecutorDisabled)
	require.ErrorContains(t, err, "--executors")
	_, err = rt.executors.Get(executor.NameSleep)
	require.NoError(t, err)
}

// TestRetentionFlagRange: --retention outside 30..365 days is a usage error
// of dev, serve and worker, before anything starts.
func TestRetentionFlagRange(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"dev", "serve", "worker"} {
		for _, days := range []string{"29", "366", "0", "-5"} {
			var stderr strings.Builder
			code := Main(context.Background(), []string{cmd, "--retention", days}, io.Discard, &stderr)
			require.Equal(t, 2, code, "%s --retention %s: %s", cmd, days, stderr.String())
			require.Contains(t, stderr.String(), "retention: must be between 30 and 365 days")
		}
	}
}
