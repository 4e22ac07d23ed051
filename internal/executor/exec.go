package executor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// stderrTailBytes is how much of the end of stderr is kept for the error
// message.
const stderrTailBytes = 4 << 10

// execWaitDelay bounds how long Execute waits, after the command exits or is
// killed, for its stdout and stderr to close (a background child may hold
// them open).
const execWaitDelay = 2 * time.Second

// isDefaultPermanentExitCode reports whether code is in the default permanent
// set: the sysexits.h codes 64–78, except 75 (EX_TEMPFAIL).
func isDefaultPermanentExitCode(code int) bool {
	return code >= 64 && code <= 78 && code != 75
}

// DefaultExecPath is the PATH an exec command gets when its params neither
// allow-list PATH nor set it in env.
const DefaultExecPath = "/usr/local/bin:/usr/bin:/bin"

// execParams are the params of the exec executor.
type execParams struct {
	Command string
	Args    []string
	// Env are variables set for the command.
	Env map[string]string
	// EnvAllowlist names variables of the worker's own environment the
	// command inherits (usually from the task type's defaults). The command
	// sees nothing else of that environment.
	EnvAllowlist []string
	Dir          string
	Timeout      time.Duration // zero for none
}

func parseExecParams(params json.RawMessage, templates bool) (execParams, error) {
	r := newParamReader(params, templates, "command", "args", "env", "env_allowlist", "dir", "timeout")
	var p execParams

	if c, ok := r.str("command", true); ok {
		p.Command = c
		if c == "" {
			r.fail("params.command", "required")
		}
	}
	p.Args = r.stringList("args")
	p.Env = r.stringMap("env", func(k string) string {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return "invalid variable name"
		}
		return ""
	})
	p.EnvAllowlist = r.stringList("env_allowlist")
	for i, k := range p.EnvAllowlist {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			r.fail(fmt.Sprintf("params.env_allowlist[%d]", i), "invalid variable name")
		}
	}
	p.Dir, _ = r.str("dir", false)
	p.Timeout, _ = r.duration("timeout", false)

	return p, r.err()
}

// execOutput is the output of a successful exec task.
type execOutput struct {
	Stdout    string          `json:"stdout"`
	ExitCode  int             `json:"exit_code"`
	JSON      json.RawMessage `json:"json,omitempty"`
	Truncated bool            `json:"truncated,omitempty"`
}

// execExecutor runs a command directly, without a shell.
type execExecutor struct {
	maxOutput int
	logger    *slog.Logger
}

// Validate implements Executor.
func (e *execExecutor) Validate(params json.RawMessage) error {
	_, err := parseExecParams(params, true)
	return err
}

// Execute implements Executor. The command runs in its own process group,
// which is killed as a whole when ctx is done or the timeout expires, and
// again once the command has exited, so it leaves no children behind. Its
// environment holds only the allow-listed variables and the step's env (see
// commandEnv). The command name itself is looked up in the worker's PATH.
func (e *execExecutor) Execute(ctx context.Context, req Request) (Result, error) {
	p, err := parseExecParams(req.Params, false)
	if err != nil {
		return Result{}, Permanent(fmt.Errorf("exec: %w", err))
	}
	name := fmt.Sprintf("exec %q", p.Command)

	if p.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.Timeout)
		defer cancel()
	}

	stdout := &cappedBuffer{max: e.maxOutput}
	stderr := &tailBuffer{max: stderrTailBytes}

	cmd := exec.CommandContext(ctx, p.Command, p.Args...)
	cmd.Dir = p.Dir
	cmd.Env = commandEnv(os.LookupEnv, p.EnvAllowlist, p.Env)
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.WaitDelay = execWaitDelay
	setProcessGroup(cmd)

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Result{}, classifyStartError(name, err)
	}
	waitErr := cmd.Wait()
	killProcessGroup(cmd.Process.Pid)

	e.logger.DebugContext(ctx, "exec task done",
		slog.Int64("run_id", req.RunID), slog.Int64("task_id", req.TaskID),
		slog.String("command", p.Command), slog.Int("exit_code", cmd.ProcessState.ExitCode()),
		slog.Duration("duration", time.Since(start)))

	if err := classifyWaitError(ctx, name, p.Timeout, waitErr, stderr.String(), req.PermanentExitCodes); err != nil {
		return Result{}, err
	}
	if errors.Is(waitErr, exec.ErrWaitDelay) {
		e.logger.WarnContext(ctx, "exec task exited but its output stayed open; output may be incomplete",
			slog.Int64("run_id", req.RunID), slog.Int64("task_id", req.TaskID),
			slog.String("command", p.Command))
	}

	out := execOutput{
		Stdout:    strings.ToValidUTF8(stdout.buf.String(), "\uFFFD"),
		ExitCode:  0,
		Truncated: stdout.truncated,
	}
	if trimmed := bytes.TrimSpace(stdout.buf.Bytes()); !stdout.truncated && len(trimmed) > 0 && json.Valid(trimmed) {
		out.JSON = trimmed
	}
	return marshalOutput(out)
}

// classifyStartError classifies a failure to start a command: a command that
// is missing or not executable, or a bad directory, is permanent; anything
// else (out of processes, say) is transient.
func classifyStartError(name string, err error) error {
	err = fmt.Errorf("%s: %w", name, err)
	switch {
	case errors.Is(err, exec.ErrNotFound),
		errors.Is(err, exec.ErrDot),
		errors.Is(err, fs.ErrNotExist),
		errors.Is(err, fs.ErrPermission),
		errors.Is(err, syscall.ENOEXEC),
		errors.Is(err, syscall.ENOTDIR),
		errors.Is(err, syscall.EISDIR):
		return Permanent(err)
	default:
		return Transient(err)
	}
}

// classifyWaitError classifies the end of a command. It returns nil when the
// command exited 0.
func classifyWaitError(ctx context.Context, name string, timeout time.Duration, waitErr error, stderr string, permanentCodes []int) error {
	if waitErr == nil || errors.Is(waitErr, exec.ErrWaitDelay) {
		return nil
	}
	tail := ""
	if stderr != "" {
		tail = ": " + stderr
	}

	if ctxErr := ctx.Err(); ctxErr != nil {
		if errors.Is(ctxErr, context.DeadlineExceeded) && timeout > 0 {
			return Transient(fmt.Errorf("%s: timed out after %s, killed%s", name, timeout, tail))
		}
		return Transient(fmt.Errorf("%s: %w, killed%s", name, ctxErr, tail))
	}

	var exitErr *exec.ExitError
	if !errors.As(waitErr, &exitErr) {
		return Transient(fmt.Errorf("%s: %w%s", name, waitErr, tail))
	}
	code := exitErr.ExitCode()
	if code < 0 {
		return Transient(fmt.Errorf("%s: %s%s", name, exitErr.String(), tail))
	}

	err := fmt.Errorf("%s: exit code %d%s", name, code, tail)
	if isPermanentExitCode(code, permanentCodes) {
		return Permanent(err)
	}
	return Transient(err)
}

// isPermanentExitCode reports whether code is permanent under the task type's
// list, or under the default set when the list is nil.
func isPermanentExitCode(code int, permanentCodes []int) bool {
	if permanentCodes == nil {
		return isDefaultPermanentExitCode(code)
	}
	for _, c := range permanentCodes {
		if c == code {
			return true
		}
	}
	return false
}

// commandEnv returns the environment of a command, in a stable order: the
// allow-listed variables that lookup (the worker's environment) has, then
// the step's env, which wins over them. The worker's other variables (such
// as DATABASE_URL) are never passed on. PATH is DefaultExecPath when neither
// source sets it, so that commands started by the command still resolve.
func commandEnv(lookup func(string) (string, bool), allowlist []string, env map[string]string) []string {
	vars := make(map[string]string, len(allowlist)+len(env)+1)
	for _, k := range allowlist {
		if v, ok := lookup(k); ok {
			vars[k] = v
		}
	}
	for k, v := range env {
		vars[k] = v
	}
	if _, ok := vars["PATH"]; !ok {
		vars["PATH"] = DefaultExecPath
	}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+"="+vars[k])
	}
	return out
}

// cappedBuffer keeps the first max bytes written to it and drops the rest,
// never failing a write (so the command is not killed by a broken pipe).
type cappedBuffer struct {
	max       int
	buf       bytes.Buffer
	truncated bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	room := b.max - b.buf.Len()
	if room >= len(p) {
		b.buf.Write(p)
		return len(p), nil
	}
	if room > 0 {
		b.buf.Write(p[:room])
	}
	b.truncated = true
	return len(p), nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max  int
	buf  []byte
	lost bool
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= b.max {
		b.lost = b.lost || len(b.buf) > 0 || len(p) > b.max
		b.buf = append(b.buf[:0], p[len(p)-b.max:]...)
		return n, nil
	}
	if over := len(b.buf) + len(p) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
		b.lost = true
	}
	b.buf = append(b.buf, p...)
	return n, nil
}

// String returns the kept tail, trimmed, as valid UTF-8, marked with a
// leading "…" when its start was dropped.
func (b *tailBuffer) String() string {
	data := b.buf
	if b.lost {
		// Skip a UTF-8 sequence cut at the start.
		for len(data) > 0 && !utf8.RuneStart(data[0]) {
			data = data[1:]
		}
	}
	s := strings.TrimSpace(strings.ToValidUTF8(string(data), "\uFFFD"))
	if b.lost && s != "" {
		s = "…" + s
	}
	return s
}
