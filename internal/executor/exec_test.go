package executor

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestExecSuccess(t *testing.T) {
	t.Parallel()
	reg := setup(t, nil)

	t.Run("True", func(t *testing.T) {
		t.Parallel()
		res, err := run(context.Background(), t, reg, NameExec, map[string]any{"command": "true"})
		require.NoError(t, err)
		require.JSONEq(t, `{"stdout": "", "exit_code": 0}`, string(res.Output))
	})

	t.Run("Echo", func(t *testing.T) {
		t.Parallel()
		res, err := run(context.Background(), t, reg, NameExec, map[string]any{"command": "echo", "args": []string{"hello", "world"}})
		require.NoError(t, err)
		require.JSONEq(t, `{"stdout": "hello world\n", "exit_code": 0}`, string(res.Output))
	})

	t.Run("JSONStdout", func(t *testing.T) {
		t.Parallel()
		res, err := run(context.Background(), t, reg, NameExec, map[string]any{"command": "echo", "args": []string{`{"rows": 3}`}})
		require.NoError(t, err)
		require.JSONEq(t, `{"stdout": "{\"rows\": 3}\n", "exit_code": 0, "json": {"rows": 3}}`, string(res.Output))
	})

	t.Run("NotASingleJSONValue", func(t *testing.T) {
		t.Parallel()
		res, err := run(context.Background(), t, reg, NameExec, map[string]any{"command": "echo", "args": []string{"1 2"}})
		require.NoError(t, err)
		require.NotContains(t, decode(t, res), "json")
	})

	t.Run("EnvAndDir", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		res, err := run(context.Background(), t, reg, NameExec, map[string]any{
			"command": "sh",
			"args":    []string{"-c", `printf '%s %s' "$BATON_TEST_VAR" "$(pwd -P)"`},
			"env":     map[string]string{"BATON_TEST_VAR": "hello"},
			"dir":     dir,
		})
		require.NoError(t, err)
		realDir, err := filepath.EvalSymlinks(dir)
		require.NoError(t, err)
		require.Equal(t, "hello "+realDir, decode(t, res)["stdout"])
	})
}

// TestExecEnvironment checks that a command sees none of the worker's
// environment (here a sentinel and a DATABASE_URL) except the variables its
// params allow-list, plus the step's env. It cannot run in parallel: it sets
// variables of the test process.
func TestExecEnvironment(t *testing.T) {
	t.Setenv("BATON_TEST_SENTINEL", "must-not-leak")
	t.Setenv("DATABASE_URL", "postgres://secret@db/baton")
	t.Setenv("BATON_TEST_ALLOWED", "shared")
	reg := setup(t, nil)

	// envLines runs env with params and returns its output, one variable a line.
	envLines := func(t *testing.T, params map[string]any) []string {
		t.Helper()
		params["command"] = "env"
		res, err := run(context.Background(), t, reg, NameExec, params)
		require.NoError(t, err)
		stdout, _ := decode(t, res)["stdout"].(string)
		return strings.Split(strings.TrimSpace(stdout), "\n")
	}

	t.Run("Nothing", func(t *testing.T) {
		require.Equal(t, []string{"PATH=" + DefaultExecPath}, envLines(t, map[string]any{}))
	})

	t.Run("AllowlistAndEnv", func(t *testing.T) {
		got := envLines(t, map[string]any{
			"env_allowlist": []string{"BATON_TEST_ALLOWED", "PATH", "BATON_TEST_UNSET"},
			"env":           map[string]string{"STEP_VAR": "x"},
		})
		require.Equal(t, []string{"BATON_TEST_ALLOWED=shared", "PATH=" + os.Getenv("PATH"), "STEP_VAR=x"}, got)
	})

	t.Run("EnvWinsOverAllowlist", func(t *testing.T) {
		got := envLines(t, map[string]any{
			"env_allowlist": []string{"BATON_TEST_ALLOWED"},
			"env":           map[string]string{"BATON_TEST_ALLOWED": "step", "PATH": "/bin"},
		})
		require.Equal(t, []string{"BATON_TEST_ALLOWED=step", "PATH=/bin"}, got)
	})
}

func TestExecExitCodes(t *testing.T) {
	t.Parallel()
	reg := setup(t, nil)

	tests := []struct {
		name      string
		code      int
		permanent []int
		class     Class
	}{
		{"1 transient", 1, nil, ClassTransient},
		{"3 transient", 3, nil, ClassTransient},
		{"64 permanent", 64, nil, ClassPermanent},
		{"70 permanent", 70, nil, ClassPermanent},
		{"75 transient", 75, nil, ClassTransient},
		{"78 permanent", 78, nil, ClassPermanent},
		{"79 transient", 79, nil, ClassTransient},
		{"custom list hit", 3, []int{3, 4}, ClassPermanent},
		{"custom list replaces default", 64, []int{3}, ClassTransient},
		{"empty list means none", 64, []int{}, ClassTransient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := run(context.Background(), t, reg, NameExec, map[string]any{
				"command": "sh",
				"args":    []string{"-c", "echo 'something went wrong' >&2; exit " + strconv.Itoa(tt.code)},
			}, func(r *Request) { r.PermanentExitCodes = tt.permanent })
			require.Equal(t, tt.class, ClassOf(err), "error: %v", err)
			require.Contains(t, err.Error(), "exit code "+strconv.Itoa(tt.code))
			require.Contains(t, err.Error(), "something went wrong")
		})
	}
}

func TestExecStartFailures(t *testing.T) {
	t.Parallel()
	reg := setup(t, nil)

	notExecutable := filepath.Join(t.TempDir(), "script.sh")
	require.NoError(t, os.WriteFile(notExecutable, []byte("#!/bin/sh\necho hi\n"), 0o644))

	for name, params := range map[string]map[string]any{
		"NotFound":      {"command": "baton-no-such-command"},
		"MissingPath":   {"command": "/nonexistent/bin/tool"},
		"NotExecutable": {"command": notExecutable},
		"MissingDir":    {"command": "true", "dir": "/nonexistent/dir"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := run(context.Background(), t, reg, NameExec, params)
			require.Equal(t, ClassPermanent, ClassOf(err), "error: %v", err)
		})
	}
}

func TestExecTimeoutKillsProcessGroup(t *testing.T) {
	t.Parallel()
	reg := setup(t, nil)

	// The background sleep keeps stdout open: unless the whole group is
	// killed, Execute waits for execWaitDelay.
	start := time.Now()
	_, err := run(context.Background(), t, reg, NameExec, map[string]any{
		"command": "sh",
		"args":    []string{"-c", "sleep 30 & echo started >&2; wait"},
		"timeout": "100ms",
	})
	elapsed := time.Since(start)
	require.Equal(t, ClassTransient, ClassOf(err))
	require.Contains(t, err.Error(), "timed out after 100ms")
	require.Less(t, elapsed, execWaitDelay)
}

func TestExecContextCancel(t *testing.T) {
	t.Parallel()
	reg := setup(t, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := run(ctx, t, reg, NameExec, map[string]any{"command": "sleep", "args": []string{"30"}})
	require.Equal(t, ClassTransient, ClassOf(err))
	require.Less(t, time.Since(start), execWaitDelay)
}

func TestExecKillsLeftoverChildren(t *testing.T) {
	t.Parallel()
	reg := setup(t, nil)

	// sh exits at once; its background child is killed with the group.
	res, err := run(context.Background(), t, reg, NameExec, map[string]any{
		"command": "sh",
		"args":    []string{"-c", "sleep 30 >/dev/null 2>&1 & echo $!"},
	})
	require.NoError(t, err)
	pid := strings.TrimSpace(decode(t, res)["stdout"].(string))
	require.NotEmpty(t, pid)

	// Gone, or a zombie waiting for a reaper that may not exist in a container.
	deadline := time.Now().Add(5 * time.Second)
	for {
		stat, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil || strings.Contains(string(stat), ") Z ") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("background child %s still alive: %s", pid, stat)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestExecOutputCaps(t *testing.T) {
	t.Parallel()
	reg := setup(t, &Options{MaxOutputBytes: 10})

	t.Run("Stdout", func(t *testing.T) {
		t.Parallel()
		res, err := run(context.Background(), t, reg, NameExec, map[string]any{
			"command": "sh", "args": []string{"-c", "printf 0123456789abcdef"},
		})
		require.NoError(t, err)
		require.JSONEq(t, `{"stdout": "0123456789", "exit_code": 0, "truncated": true}`, string(res.Output))
	})

	t.Run("StderrTail", func(t *testing.T) {
		t.Parallel()
		_, err := run(context.Background(), t, reg, NameExec, map[string]any{
			"command": "sh", "args": []string{"-c", "head -c 20000 /dev/zero | tr '\\0' x >&2; echo THE-END >&2; exit 2"},
		})
		require.Equal(t, ClassTransient, ClassOf(err))
		msg := err.Error()
		require.Contains(t, msg, "exit code 2")
		require.True(t, strings.HasSuffix(msg, "THE-END"), msg[len(msg)-50:])
		require.Less(t, len(msg), stderrTailBytes+200)
	})
}

func TestTailBuffer(t *testing.T) {
	t.Parallel()

	b := &tailBuffer{max: 8}
	_, _ = b.Write([]byte("abc"))
	require.Equal(t, "abc", b.String())
	_, _ = b.Write([]byte("defgh"))
	require.Equal(t, "abcdefgh", b.String())
	_, _ = b.Write([]byte("ij"))
	require.Equal(t, "…cdefghij", b.String())
	_, _ = b.Write([]byte("0123456789"))
	require.Equal(t, "…23456789", b.String())
}
