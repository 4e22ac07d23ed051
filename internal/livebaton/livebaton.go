// Package livebaton starts a real baton process for tests that drive it from
// outside Go: the dashboard's browser tests and the client libraries' suites.
// The binary is the one `make build` produced (named by BATON_BIN); the
// database is a fresh one from package testdb.
package livebaton

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baton-run/baton/internal/testdb"
)

// EnvBin names the variable holding the path of the baton binary.
const EnvBin = "BATON_BIN"

// Options says how to start the server.
type Options struct {
	// Bin is the baton binary; empty means $BATON_BIN.
	Bin string
	// Examples is the folder of example workflows `baton dev` loads; empty
	// loads none beyond what dev loads by default.
	Examples string
	// LogPath receives the server's stdout and stderr; empty means a file in
	// t.TempDir().
	LogPath string
	// Args are extra arguments after `baton dev --addr ADDR`.
	Args []string
	// Env holds extra NAME=value variables for the server, such as
	// BATON_ALLOW_PRIVATE_HTTP=true for webhooks to a local receiver.
	Env []string
}

// Server is a running baton.
type Server struct {
	// URL is the base URL, http://127.0.0.1:PORT.
	URL string
	// DatabaseURL is the server's database, for `baton keys create` and
	// direct checks.
	DatabaseURL string
	// Bin is the binary it runs.
	Bin string
	// LogPath holds its output.
	LogPath string
}

// Start runs `baton dev` on a free loopback port against a fresh database,
// waits until /readyz answers 200, and stops the process (SIGINT) when t ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := opts.Bin
	if bin == "" {
		bin = os.Getenv(EnvBin)
	}
	if bin == "" {
		t.Fatalf("%s must name the baton binary (make build)", EnvBin)
	}
	logPath := opts.LogPath
	if logPath == "" {
		logPath = filepath.Join(t.TempDir(), "baton.log")
	}
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		t.Fatal(err)
	}
	logs, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logs.Close() })

	dbURL := testdb.New(t)
	addr := FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())

	args := []string{"dev", "--addr", addr}
	if opts.Examples != "" {
		args = append(args, "--examples", opts.Examples)
	}
	args = append(args, opts.Args...)
	srv := exec.CommandContext(ctx, bin, args...)
	srv.Env = append(append(os.Environ(), opts.Env...), "DATABASE_URL="+dbURL)
	srv.Dir = t.TempDir()
	srv.Stdout, srv.Stderr = logs, logs
	srv.Cancel = func() error { return srv.Process.Signal(os.Interrupt) }
	srv.WaitDelay = 10 * time.Second
	if err := srv.Start(); err != nil {
		cancel()
		t.Fatalf("start baton: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = srv.Wait()
	})

	s := &Server{URL: "http://" + addr, DatabaseURL: dbURL, Bin: bin, LogPath: logPath}
	s.waitReady(t, 60*time.Second)
	return s
}

// CreateKey runs `baton keys create` against the server's database and
// returns the secret it prints. extra holds further flags (--rate-limit ...).
func (s *Server) CreateKey(t testing.TB, name, role string, extra ...string) string {
	t.Helper()
	args := append([]string{"keys", "create", "--name", name, "--role", role}, extra...)
	cmd := exec.Command(s.Bin, args...)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+s.DatabaseURL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("baton keys create %s: %v\n%s", name, err, out)
	}
	for _, field := range strings.Fields(string(out)) {
		if strings.HasPrefix(field, "baton_") {
			return field
		}
	}
	t.Fatalf("baton keys create %s printed no key:\n%s", name, out)
	return ""
}

// RunScript runs a command (node, python3, npm ...) in dir with BATON_URL and
// env set, copying its output into the test log line by line, and fails t
// when it exits non-zero.
func (s *Server) RunScript(t testing.TB, ctx context.Context, dir string, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(append(os.Environ(), "BATON_URL="+s.URL), env...)
	cmd.Dir = dir
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	PrintLines(out)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%s %s failed: %v (baton's log: %s)", name, strings.Join(args, " "), err, s.LogPath)
	}
}

// FreeAddr returns a loopback address with a port nothing listens on.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitReady polls /readyz until it answers 200 or the timeout passes.
func (s *Server) waitReady(t testing.TB, timeout time.Duration) {
	t.Helper()
	url := s.URL + "/readyz"
	deadline := time.Now().Add(timeout)
	for {
		res, err := http.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("baton not ready at %s after %s (last error: %v; log: %s)", url, timeout, err, s.LogPath)
		}
		time.Sleep(100 * time.Millisecond) // polling a deadline, not waiting for work
	}
}

// PrintLines copies a script's output to stdout, indented, line by line, so
// that `go test -v` shows it as it comes.
func PrintLines(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) != "" {
			fmt.Println("    " + line)
		}
	}
}
