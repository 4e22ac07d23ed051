package devcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// runner runs the PostgreSQL binaries of one bin directory. It is the only
// place in the package that starts a process: arguments go to the program
// as they are, never through a shell.
type runner struct {
	binDir  string
	workDir string              // working directory, reachable by the user the binaries run as
	cred    *syscall.Credential // nil: run as the current user
}

// run runs prog from the bin directory with args and returns its combined
// output. A non-zero exit is an error that carries the output; callers that
// care about the exit code use errors.As with *exec.ExitError.
func (r runner) run(ctx context.Context, prog string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(r.binDir, prog), args...)
	cmd.Dir = r.workDir
	cmd.Env = childEnv(os.Environ())
	// Setpgid keeps the server that pg_ctl starts out of our process group,
	// so a Ctrl-C in the terminal reaches baton only, which then drains its
	// workers and stops the cluster itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: r.cred}
	// pg_ctl leaves the server running; should it ever keep our output pipe
	// open, don't wait for it forever.
	cmd.WaitDelay = 5 * time.Second

	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		var exitErr *exec.ExitError
		if msg == "" || !errors.As(err, &exitErr) {
			return string(out), fmt.Errorf("%s %s: %w", prog, strings.Join(args, " "), err)
		}
		return string(out), fmt.Errorf("%s %s: %w: %s", prog, strings.Join(args, " "), err, msg)
	}
	return string(out), nil
}

// childEnv is env without the libpq and server variables (PGDATA, PGPORT,
// PGOPTIONS, ...) that could point the binaries at another cluster.
func childEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if strings.HasPrefix(kv, "PG") {
			continue
		}
		out = append(out, kv)
	}
	return out
}
