// Package e2e runs the dashboard's browser tests: a real baton (the binary that `make build`
// produced, with the dashboard embedded) on a fresh database, driven by headless Chromium
// through playwright-core (browser.mjs). `make test-browser` runs it; `go test ./...` skips
// it unless BATON_BROWSER_TESTS=1. Package livebaton starts the server. BATON_E2E_SCRIPT
// names another script to run against the same setup (`make bench-web` runs load.mjs).
package e2e

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/baton-run/baton/internal/livebaton"
)

func TestBrowser(t *testing.T) {
	if os.Getenv("BATON_BROWSER_TESTS") != "1" {
		t.Skip("set BATON_BROWSER_TESTS=1 (make test-browser) to run the browser tests")
	}
	_, here, _, _ := runtime.Caller(0)
	dir := filepath.Dir(here)
	shots := filepath.Join(dir, "screenshots")

	srv := livebaton.Start(t, livebaton.Options{
		Examples: filepath.Join(dir, "..", "..", "examples"),
		LogPath:  filepath.Join(shots, "baton.log"),
	})

	script := os.Getenv("BATON_E2E_SCRIPT")
	if script == "" {
		script = "browser.mjs"
	}
	env := []string{"SCREENSHOT_DIR=" + shots}
	if script == "load.mjs" {
		// The simulated users sign in with a key whose rate limit is above the load, so the
		// figures are the API's, not the anonymous per-IP limit's.
		env = append(env, "BATON_KEY="+srv.CreateKey(t, "load", "viewer", "--rate-limit", "100000/min"))
	}
	srv.RunScript(t, context.Background(), dir, env, "node", filepath.Join(dir, script))
}
