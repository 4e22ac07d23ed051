package clients_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestPythonClient runs the Python client's unittest suites (clients/python/tests)
// against a real baton on a fresh database: the live suite with an admin, an
// operator, a viewer and a rate-limited key (the 429 test in its own process, as
// it waits up to 10 s), and, beside them, the packaging check
// (build a wheel, install it into a fresh venv, import it). It is skipped unless
// BATON_CLIENT_TESTS=1; the binary comes from BATON_BIN (`make build`) and the
// interpreter from BATON_PYTHON (default python3).
func TestPythonClient(t *testing.T) {
	srv := startBaton(t)
	python := os.Getenv("BATON_PYTHON")
	if python == "" {
		python = "python3"
	}
	dir := filepath.Join(clientsDir(t), "python")
	env := []string{
		"PYTHONUNBUFFERED=1",
		"PYTHONDONTWRITEBYTECODE=1",
		"BATON_ADMIN_KEY=" + srv.CreateKey(t, "py-admin", "admin"),
		"BATON_OPERATOR_KEY=" + srv.CreateKey(t, "py-operator", "operator"),
		"BATON_VIEWER_KEY=" + srv.CreateKey(t, "py-viewer", "viewer"),
		"BATON_LIMITED_KEY=" + srv.CreateKey(t, "py-limited", "operator", "--rate-limit", "6/min", "--burst", "1"),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)

	t.Run("live", func(t *testing.T) {
		t.Parallel()
		srv.RunScript(t, ctx, dir, env, python, "-m", "unittest", "-v",
			"tests.test_offline", "tests.test_live.LiveTest", "tests.test_live.ReadmeExampleTest")
	})
	// Waiting out a 6/min limit takes up to 10 s: beside the rest, not after it.
	t.Run("ratelimit", func(t *testing.T) {
		t.Parallel()
		srv.RunScript(t, ctx, dir, env, python, "-m", "unittest", "-v", "tests.test_live.RateLimitTest")
	})
	t.Run("package", func(t *testing.T) {
		t.Parallel()
		srv.RunScript(t, ctx, dir, env, python, "-m", "unittest", "-v", "tests.test_packaging")
	})
}
