// Package clients_test runs the client libraries' own test suites against a
// real baton (package livebaton) on a fresh database. `make test-clients`
// runs them; `go test ./...` skips them unless BATON_CLIENT_TESTS=1.
package clients_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/baton-run/baton/internal/livebaton"
)

// clientsDir is the folder of this file: clients/.
func clientsDir(t *testing.T) string {
	t.Helper()
	_, here, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	return filepath.Dir(here)
}

// startBaton starts a baton for a client suite: the repository's example
// workflows, webhooks allowed to reach this machine's loopback receivers.
func startBaton(t *testing.T) *livebaton.Server {
	t.Helper()
	if os.Getenv("BATON_CLIENT_TESTS") != "1" {
		t.Skip("set BATON_CLIENT_TESTS=1 (make test-clients) to run the client suites against a live baton")
	}
	return livebaton.Start(t, livebaton.Options{
		Examples: filepath.Join(clientsDir(t), "..", "examples"),
		Env:      []string{"BATON_ALLOW_PRIVATE_HTTP=true"},
	})
}

func TestTypeScriptClient(t *testing.T) {
	srv := startBaton(t)
	dir := filepath.Join(clientsDir(t), "typescript")
	env := []string{
		"BATON_ADMIN_KEY=" + srv.CreateKey(t, "ts-admin", "admin"),
		"BATON_OPERATOR_KEY=" + srv.CreateKey(t, "ts-operator", "operator"),
		"BATON_VIEWER_KEY=" + srv.CreateKey(t, "ts-viewer", "viewer"),
		// Seven requests at once, then one every 10 s: the 429 test waits about that.
		"BATON_LIMITED_KEY=" + srv.CreateKey(t, "ts-limited", "viewer", "--rate-limit", "6/min", "--burst", "1"),
	}
	// Side by side: the suite mostly waits on the server (the 429 test on
	// Retry-After), the pack check mostly compiles. The server stops when
	// both have finished.
	t.Run("vitest", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		srv.RunScript(t, ctx, dir, env, "npm", "test")
	})
	t.Run("pack", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		// npm pack, install the tarball into an empty folder, import it,
		// type-check against it, start and await a run through it.
		srv.RunScript(t, ctx, dir, nil, "npm", "run", "--silent", "pack-check")

		// The dist/ that npm pack built, in Chromium.
		t.Run("browser", func(t *testing.T) {
			for _, need := range []string{"/usr/bin/chromium", filepath.Join(dir, "..", "..", "web", "node_modules", "playwright-core")} {
				if _, err := os.Stat(need); err != nil {
					t.Skipf("no %s (make web installs playwright-core; apt-get install chromium)", need)
				}
			}
			srv.RunScript(t, ctx, dir, nil, "npm", "run", "--silent", "browser-check")
		})
	})
}
