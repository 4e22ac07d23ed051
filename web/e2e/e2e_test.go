// Package e2e runs the dashboard's browser tests: a real baton (the binary that `make build`
// produced, with the dashboard embedded) on a fresh database, driven by headless Chromium
// through playwright-core (browser.mjs). `make test-browser` runs it; `go test ./...` skips
// it unless BATON_BROWSER_TESTS=1. BATON_E2E_SCRIPT names another script to run against the
// same setup (`make bench-web` runs load.mjs).
package e2e

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
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/baton-run/baton/internal/testdb"
)

func TestBrowser(t *testing.T) {
	if os.Getenv("BATON_BROWSER_TESTS") != "1" {
		t.Skip("set BATON_BROWSER_TESTS=1 (make test-browser) to run the browser tests")
	}
	bin := os.Getenv("BATON_BIN")
	if bin == "" {
		t.Fatal("BATON_BIN must name the baton binary built with the dashboard (make build)")
	}
	_, here, _, _ := runtime.Caller(0)
	dir := filepath.Dir(here)

	dbURL := testdb.New(t)
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	srv := exec.CommandContext(ctx, bin, "dev", "--addr", addr, "--examples", filepath.Join(dir, "..", "..", "examples"))
	srv.Env = append(os.Environ(), "DATABASE_URL="+dbURL)
	srv.Dir = t.TempDir()
	logs, err := os.Create(filepath.Join(dir, "screenshots", "baton.log"))
	if err != nil {
		if err := os.MkdirAll(filepath.Join(dir, "screenshots"), 0o755); err != nil {
			t.Fatal(err)
		}
		if logs, err = os.Create(filepath.Join(dir, "screenshots", "baton.log")); err != nil {
			t.Fatal(err)
		}
	}
	defer logs.Close()
	srv.Stdout, srv.Stderr = logs, logs
	srv.Cancel = func() error { return srv.Process.Signal(os.Interrupt) }
	srv.WaitDelay = 10 * time.Second
	if err := srv.Start(); err != nil {
		t.Fatalf("start baton: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = srv.Wait()
	})

	base := "http://" + addr
	waitReady(t, base+"/readyz", 60*time.Second)

	script := os.Getenv("BATON_E2E_SCRIPT")
	if script == "" {
		script = "browser.mjs"
	}
	node := exec.CommandContext(ctx, "node", filepath.Join(dir, script))
	node.Env = append(os.Environ(), "BATON_URL="+base, "SCREENSHOT_DIR="+filepath.Join(dir, "screenshots"))
	node.Dir = dir
	out, err := node.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	node.Stderr = node.Stdout
	if err := node.Start(); err != nil {
		t.Fatalf("start node: %v", err)
	}
	printLines(t, out)
	if err := node.Wait(); err != nil {
		t.Fatalf("browser tests failed: %v (baton's log: %s)", err, filepath.Join(dir, "screenshots", "baton.log"))
	}
}

// freeAddr returns a loopback address with a port nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitReady polls url until it answers 200 or the timeout passes.
func waitReady(t *testing.T, url string, timeout time.Duration) {
	t.Helper()
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
			t.Fatalf("baton not ready at %s after %s (last error: %v)", url, timeout, err)
		}
		time.Sleep(100 * time.Millisecond) // polling a deadline, not waiting for work
	}
}

// printLines copies the browser script's output into the test log, line by line.
func printLines(t *testing.T, r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) != "" {
			fmt.Println("    " + line)
		}
	}
}
