package cli

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/testdb"
)

// TestMCP runs `baton dev` on a test database, then an MCP client on its
// /mcp endpoint (anonymous from loopback: an admin, as in the API) and on
// `baton mcp` over stdio with a viewer key, which may read but not start a
// run.
func TestMCP(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	url := testdb.New(t)
	addr := freeAddr(t)
	done := make(chan error, 1)
	go func() {
		env := &environment{stdout: io.Discard, stderr: io.Discard, logger: logger, databaseURL: url}
		done <- env.dev(ctx, []string{"--addr", addr, "--examples", "../../examples", "--home", t.TempDir(), "--workers", "4"})
	}()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 60*time.Second, 50*time.Millisecond)
	mcpClient := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)

	// Streamable HTTP on /mcp, anonymous from loopback.
	session, err := mcpClient.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: "http://" + addr + "/mcp", DisableStandaloneSSE: true}, nil)
	require.NoError(t, err)
	defer func() { _ = session.Close() }()
	tools, err := session.ListTools(ctx, nil)
	require.NoError(t, err)
	require.Len(t, tools.Tools, 12)
	res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "start_run", Arguments: map[string]any{"workflow": "hello", "input": map[string]any{"name": "MCP"}}})
	require.NoError(t, err)
	require.False(t, res.IsError, "%v", res.Content)

	// stdio, with a viewer key.
	var out strings.Builder
	keysEnv := &environment{stdout: &out, stderr: io.Discard, logger: logger, databaseURL: url}
	require.NoError(t, keysEnv.keys(ctx, []string{"create", "--name", "assistant", "--role", "viewer"}))
	key := keyRE.FindString(out.String())
	require.NotEmpty(t, key)
	serverIn, clientOut := io.Pipe()
	clientIn, serverOut := io.Pipe()
	served := make(chan error, 1)
	go func() {
		env := &environment{stdin: serverIn, stdout: serverOut, stderr: io.Discard, logger: logger}
		served <- env.mcpServe(ctx, []string{"--url", "http://" + addr, "--key", key})
		_ = serverOut.Close()
	}()
	stdio, err := mcpClient.Connect(ctx, &mcp.IOTransport{Reader: clientIn, Writer: clientOut}, nil)
	require.NoError(t, err)
	res, err = stdio.CallTool(ctx, &mcp.CallToolParams{Name: "search_runs", Arguments: map[string]any{"workflow": "hello"}})
	require.NoError(t, err)
	require.False(t, res.IsError, "%v", res.Content)
	var page struct {
		Runs []struct{ ID int64 } `json:"runs"`
	}
	data, err := json.Marshal(res.StructuredContent)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &page))
	require.Len(t, page.Runs, 1)
	res, err = stdio.CallTool(ctx, &mcp.CallToolParams{Name: "start_run", Arguments: map[string]any{"workflow": "hello"}})
	require.NoError(t, err)
	require.True(t, res.IsError)
	require.Contains(t, res.Content[0].(*mcp.TextContent).Text, "needs the operator role; the caller has viewer")
	require.NoError(t, stdio.Close())
	require.NoError(t, <-served, "baton mcp ends cleanly when its client hangs up")
}
