package cli

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/testdb"
)

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

var keyRE = regexp.MustCompile(`baton_[a-z2-7]{10}_[a-z2-7]{52}`)

// TestServeWithKeys runs `baton keys` and two `baton serve` on one
// database: serve refuses to start without a key; then no key → 401, a
// viewer → 403 on writes, an operator → 403 on an exec task type, an admin
// succeeds, a revoked key → 401, the keys table holds no key in clear, and
// the rate limit holds across both servers.
func TestServeWithKeys(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url := testdb.New(t)
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	newEnv := func(stdout io.Writer) *environment {
		return &environment{stdout: stdout, stderr: io.Discard, logger: logger, databaseURL: url}
	}

	err := newEnv(io.Discard).serve(ctx, []string{"--addr", freeAddr(t)})
	var usage *usageError
	require.True(t, errors.As(err, &usage), "%v", err)
	require.Contains(t, err.Error(), "no usable API key")

	keys := map[string]string{}
	for _, role := range []string{"viewer", "operator", "admin"} {
		var out strings.Builder
		require.NoError(t, newEnv(&out).keys(ctx, []string{"create", "--name", role, "--role", role, "--rate-limit", "6000/min"}))
		keys[role] = keyRE.FindString(out.String())
		require.NotEmpty(t, keys[role], out.String())
	}
	var out strings.Builder
	require.NoError(t, newEnv(&out).keys(ctx, []string{"create", "--name", "busy", "--role", "viewer", "--expires", "90d"}))
	busy := keyRE.FindString(out.String())

	addrs := []string{freeAddr(t), freeAddr(t)}
	done := make(chan error, len(addrs))
	for _, addr := range addrs {
		go func() { done <- newEnv(io.Discard).serve(ctx, []string{"--addr", addr}) }()
	}
	defer func() {
		cancel()
		for range addrs {
			require.NoError(t, <-done)
		}
	}()
	call := func(node int, method, path, key, body string) int {
		req, err := http.NewRequest(method, "http://"+addrs[node]+path, strings.NewReader(body))
		require.NoError(t, err)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	for node := range addrs {
		require.Eventually(t, func() bool { return call(node, http.MethodGet, "/healthz", "", "") == http.StatusOK },
			30*time.Second, 20*time.Millisecond)
	}

	require.Equal(t, http.StatusUnauthorized, call(0, http.MethodGet, "/v1/runs", "", ""))
	require.Equal(t, http.StatusUnauthorized, call(1, http.MethodPost, "/v1/runs", "", `{"workflow": "x"}`))
	require.Equal(t, http.StatusOK, call(0, http.MethodGet, "/readyz", "", ""))
	require.Equal(t, http.StatusOK, call(1, http.MethodGet, "/v2/openapi.json", "", ""))
	require.Equal(t, http.StatusOK, call(0, http.MethodGet, "/v1/runs", keys["viewer"], ""))
	require.Equal(t, http.StatusForbidden, call(0, http.MethodPost, "/v1/workflows", keys["viewer"], `{"name": "w", "steps": []}`))
	execType := `{"name": "shell", "executor": "exec"}`
	require.Equal(t, http.StatusForbidden, call(1, http.MethodPost, "/v1/task-types", keys["operator"], execType))
	require.Equal(t, http.StatusCreated, call(1, http.MethodPost, "/v1/task-types", keys["admin"], execType))

	require.NoError(t, newEnv(io.Discard).keys(ctx, []string{"revoke", "viewer"}))
	// Another process revoked it: each server stops accepting it within
	// its 5 s cache.
	for node := range addrs {
		require.Eventually(t, func() bool {
			return call(node, http.MethodGet, "/v1/runs", keys["viewer"], "") == http.StatusUnauthorized
		},
			10*time.Second, 100*time.Millisecond)
	}

	rt, err := newEnv(io.Discard).open(ctx, url, 2)
	require.NoError(t, err)
	defer rt.close()
	var dump string
	require.NoError(t, rt.pool.QueryRow(ctx, `SELECT string_agg(to_jsonb(k)::text, ' ') FROM baton.api_keys k`).Scan(&dump))
	for _, key := range append([]string{busy}, keys["viewer"], keys["operator"], keys["admin"]) {
		require.NotContains(t, dump, key[len(key)-52:len(key)-36])
	}

	// The default limit (100 a minute, burst 20) across both servers.
	start := time.Now()
	admitted := 0
	for i := range 300 {
		switch code := call(i%2, http.MethodGet, "/v2/me", busy, ""); code {
		case http.StatusOK:
			admitted++
		case http.StatusTooManyRequests:
		default:
			t.Fatalf("request %d: status %d", i, code)
		}
	}
	allowed := 120 + time.Since(start).Seconds()*100/60
	t.Logf("two servers: admitted %d of 300 in %s (the bucket allows %.1f)", admitted, time.Since(start).Round(time.Millisecond), allowed)
	require.InDelta(t, allowed, float64(admitted), allowed*0.05)
}

// TestDevAcceptsLoopbackOnly runs `baton dev` on a test database: the
// README's curl examples work without a key, a request naming another host
// is refused, and the admin key dev prints works.
func TestDevAcceptsLoopbackOnly(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	var stdout lockedBuilder
	env := &environment{stdout: &stdout, stderr: io.Discard, logger: logger, databaseURL: testdb.New(t)}
	addr := freeAddr(t)
	done := make(chan error, 1)
	go func() {
		done <- env.dev(ctx, []string{"--addr", addr, "--examples", "../../examples", "--home", t.TempDir(), "--workers", "4"})
	}()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()
	call := func(method, path, host, key, body string) int {
		req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		require.NoError(t, err)
		if host != "" {
			req.Host = host
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	require.Eventually(t, func() bool { return call(http.MethodGet, "/healthz", "", "", "") == http.StatusOK },
		60*time.Second, 50*time.Millisecond)

	// The README's examples, as curl sends them (Host: 127.0.0.1:port or
	// localhost:port).
	require.Equal(t, http.StatusCreated, call(http.MethodPost, "/v1/runs", "", "", `{"workflow":"release-pipeline"}`))
	_, port, _ := net.SplitHostPort(addr)
	require.Equal(t, http.StatusOK, call(http.MethodGet, "/v1/runs/1", "localhost:"+port, "", ""))
	// A DNS-rebound page names its own host.
	require.Equal(t, http.StatusUnauthorized, call(http.MethodGet, "/v1/runs/1", "attacker.example:"+port, "", ""))
	require.Equal(t, http.StatusUnauthorized, call(http.MethodPost, "/v1/runs", "attacker.example", "", `{"workflow":"release-pipeline"}`))
	// The printed admin key works, whatever the Host.
	key := keyRE.FindString(stdout.String())
	require.NotEmpty(t, key, stdout.String())
	require.Equal(t, http.StatusOK, call(http.MethodGet, "/v2/me", "attacker.example", key, ""))
}

// lockedBuilder is a strings.Builder safe for a writer and a reader.
type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
