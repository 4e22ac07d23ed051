package mcpserver_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/baton-run/baton/api"
	"github.com/baton-run/baton/internal/auth"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/executor"
	"github.com/baton-run/baton/internal/mcpserver"
	"github.com/baton-run/baton/internal/testdb"
	"github.com/baton-run/baton/jobs"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// harness is a Baton API server with access control (keys required) and
// task workers on a fresh database, with the workflows "pipeline" (two
// quick steps), "slow" (one 30 s step) and "doomed" (one step that always
// fails for good).
type harness struct {
	url  string
	keys map[auth.Role]string
}

func setup(t *testing.T) *harness {
	t.Helper()
	pool := testdb.NewPool(t)
	eng := engine.New(pool, engine.Options{})
	executors := executor.NewRegistry(executor.Options{})
	t.Cleanup(executors.Close)
	client, err := jobs.NewClient(pool, jobs.ClientOptions{Engine: eng, Executors: executors, Workers: 10})
	require.NoError(t, err)
	require.NoError(t, client.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, client.StopAndCancel(ctx))
	})
	ctx := context.Background()
	zero := 0
	for _, tt := range []*engine.TaskTypeSpec{
		{Name: "quick", Executor: "sim"},
		{Name: "fragile", Executor: "sim", MaxRetries: &zero},
	} {
		_, err := eng.ApplyTaskType(ctx, tt)
		require.NoError(t, err)
	}
	for _, y := range []string{
		"name: pipeline\ndescription: two quick steps\nsteps:\n- {name: extract, type: quick, params: {min: 20ms, max: 50ms}}\n- {name: report, type: quick, depends_on: [extract], params: {min: 20ms, max: 50ms}}\n",
		"name: slow\nsteps: [{name: wait, type: quick, params: {min: 30s}}]\n",
		"name: doomed\nsteps:\n- {name: roll, type: fragile, params: {permanent_fail_rate: 1}}\n- {name: after, type: quick, depends_on: [roll]}\n",
	} {
		spec, err := engine.ParseSpec([]byte(y))
		require.NoError(t, err)
		_, _, err = eng.ApplyWorkflow(ctx, spec.(*engine.WorkflowSpec))
		require.NoError(t, err)
	}
	keys := auth.New(pool, auth.Options{})
	h, _ := api.New(api.Options{
		Engine: eng, Logger: slog.New(slog.NewTextHandler(t.Output(), nil)),
		Access: &api.Access{Keys: keys, Anonymous: api.AnonymousNone},
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	hs := &harness{url: srv.URL, keys: map[auth.Role]string{}}
	for _, role := range auth.Roles {
		_, token, err := keys.Create(ctx, auth.CreateParams{Name: "mcp-" + string(role), Role: role})
		require.NoError(t, err)
		hs.keys[role] = token
	}
	return hs
}

// bearer adds an API key to every request.
type bearer struct{ key string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if b.key != "" {
		r.Header.Set("Authorization", "Bearer "+b.key)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// connect opens an MCP session on the server's /mcp endpoint with key
// ("" for none).
func (h *harness) connect(t *testing.T, key string) (*mcp.ClientSession, error) {
	t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)
	session, err := client.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint:             h.url + api.MCPPath,
		HTTPClient:           &http.Client{Transport: bearer{key}, Timeout: 30 * time.Second},
		DisableStandaloneSSE: true,
	}, nil)
	if err == nil {
		t.Cleanup(func() { _ = session.Close() })
	}
	return session, err
}

func (h *harness) session(t *testing.T, role auth.Role) *mcp.ClientSession {
	t.Helper()
	s, err := h.connect(t, h.keys[role])
	require.NoError(t, err)
	return s
}

// call calls a tool, requires a result without isError and decodes its
// structured content into a T.
func call[T any](t *testing.T, s *mcp.ClientSession, tool string, args any) T {
	t.Helper()
	res, err := s.CallTool(context.Background(), &mcp.CallToolParams{Name: tool, Arguments: args})
	require.NoError(t, err)
	require.False(t, res.IsError, "%s: %s", tool, text(res))
	data, err := json.Marshal(res.StructuredContent)
	require.NoError(t, err)
	var out T
	require.NoError(t, json.Unmarshal(data, &out), "%s", data)
	return out
}

// callError calls a tool and requires an error result; it returns its text.
func callError(t *testing.T, s *mcp.ClientSession, tool string, args any) string {
	t.Helper()
	res, err := s.CallTool(context.Background(), &mcp.CallToolParams{Name: tool, Arguments: args})
	require.NoError(t, err, "a bad call is a tool error, not a protocol error")
	require.True(t, res.IsError, "%s(%v) succeeded: %s", tool, args, text(res))
	return text(res)
}

func text(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// waitRun polls get_run until done accepts it, for up to 30 s.
func waitRun(t *testing.T, s *mcp.ClientSession, id int64, done func(mcpserver.RunDetail) bool) mcpserver.RunDetail {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		d := call[mcpserver.RunDetail](t, s, "get_run", map[string]any{"run_id": id})
		if done(d) {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %d did not get there within 30 s; last: %+v", id, d.Run)
		}
		<-tick.C
	}
}

func finished(d mcpserver.RunDetail) bool { return d.Run.FinishedAt != nil }

var allTools = []string{
	"cancel_run", "get_run", "get_workflow", "list_dead_letters", "list_workflows", "pause_run",
	"resubmit_dead_letter", "resume_run", "retry_task", "search_runs", "skip_task", "start_run",
}

func TestStartRunAndReadItBack(t *testing.T) {
	t.Parallel()
	h := setup(t)
	s := h.session(t, auth.RoleOperator)
	ctx := context.Background()

	tools, err := s.ListTools(ctx, nil)
	require.NoError(t, err)
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
		require.NotNil(t, tool.InputSchema, tool.Name)
		require.NotNil(t, tool.OutputSchema, tool.Name)
		require.NotEmpty(t, tool.Description, tool.Name)
	}
	slices.Sort(names)
	require.Equal(t, allTools, names)

	workflows := call[mcpserver.WorkflowList](t, s, "list_workflows", map[string]any{})
	require.Len(t, workflows.Workflows, 3)
	wf := call[mcpserver.Workflow](t, s, "get_workflow", map[string]any{"name": "pipeline"})
	require.Equal(t, 2, wf.Steps)
	require.NotNil(t, wf.Definition)

	run := call[mcpserver.Run](t, s, "start_run", map[string]any{"workflow": "pipeline", "input": map[string]any{"day": "2026-12-02"}, "tags": []string{"mcp"}})
	require.Equal(t, "pipeline", run.Workflow)
	require.Equal(t, "2026-12-02", run.Input["day"])
	d := waitRun(t, s, run.ID, finished)
	require.Equal(t, "succeeded", d.Run.Status)
	require.Equal(t, []string{"extract", "report"}, d.CriticalPath)
	require.Positive(t, d.CriticalPathMs)
	require.Len(t, d.Timeline, 2)
	require.Nil(t, d.FailingTask)

	found := call[mcpserver.RunSearchPage](t, s, "search_runs", map[string]any{"workflow": "pipeline", "status": []string{"succeeded"}, "tags_any": []string{"mcp"}})
	require.Len(t, found.Runs, 1)
	require.Equal(t, run.ID, found.Runs[0].ID)

	// Resources: the run and the workflow definition.
	templates, err := s.ListResourceTemplates(ctx, nil)
	require.NoError(t, err)
	require.Len(t, templates.ResourceTemplates, 2)
	res, err := s.ReadResource(ctx, &mcp.ReadResourceParams{URI: "baton://runs/" + strconv.FormatInt(run.ID, 10)})
	require.NoError(t, err)
	require.Contains(t, res.Contents[0].Text, `"status":"succeeded"`)
	res, err = s.ReadResource(ctx, &mcp.ReadResourceParams{URI: "baton://workflows/pipeline"})
	require.NoError(t, err)
	require.Contains(t, res.Contents[0].Text, `"definition"`)
	_, err = s.ReadResource(ctx, &mcp.ReadResourceParams{URI: "baton://runs/999999"})
	require.Error(t, err)
}

func TestViewerCannotChangeAnything(t *testing.T) {
	t.Parallel()
	h := setup(t)
	viewer := h.session(t, auth.RoleViewer)
	operator := h.session(t, auth.RoleOperator)

	msg := callError(t, viewer, "start_run", map[string]any{"workflow": "pipeline"})
	require.Contains(t, msg, "403")
	require.Contains(t, msg, "operator role")
	found := call[mcpserver.RunSearchPage](t, viewer, "search_runs", map[string]any{})
	require.Empty(t, found.Runs, "the refused start started nothing")

	run := call[mcpserver.Run](t, operator, "start_run", map[string]any{"workflow": "slow"})
	for _, c := range []struct {
		tool string
		args map[string]any
	}{
		{"pause_run", map[string]any{"run_id": run.ID}},
		{"resume_run", map[string]any{"run_id": run.ID}},
		{"cancel_run", map[string]any{"run_id": run.ID}},
		{"skip_task", map[string]any{"run_id": run.ID, "step": "wait"}},
		{"retry_task", map[string]any{"run_id": run.ID, "step": "wait"}},
		{"resubmit_dead_letter", map[string]any{"id": 1}},
	} {
		require.Contains(t, callError(t, viewer, c.tool, c.args), "operator role", c.tool)
	}
	// The viewer reads.
	d := call[mcpserver.RunDetail](t, viewer, "get_run", map[string]any{"run_id": run.ID})
	require.NotEqual(t, "cancelled", d.Run.Status)
	call[mcpserver.DeadLetterList](t, viewer, "list_dead_letters", map[string]any{})

	// Without a key, or with a bad one, the endpoint itself refuses.
	_, err := h.connect(t, "")
	require.ErrorContains(t, err, "Unauthorized")
	_, err = h.connect(t, "baton_notakey")
	require.ErrorContains(t, err, "Unauthorized")
}

func TestBadInputIsAToolError(t *testing.T) {
	t.Parallel()
	h := setup(t)
	s := h.session(t, auth.RoleOperator)
	for _, c := range []struct {
		tool string
		args any
		want string
	}{
		{"get_run", map[string]any{"run_id": "abc"}, "run_id"},
		{"get_run", map[string]any{}, "run_id"},
		{"get_run", map[string]any{"run_id": -3}, "positive"},
		{"get_run", map[string]any{"run_id": 987654}, "404"},
		{"start_run", map[string]any{"workflow": ""}, "workflow is required"},
		{"start_run", map[string]any{"workflow": "nope"}, "404"},
		{"start_run", map[string]any{"workflow": "pipeline", "priority": 9}, "priority"},
		{"start_run", map[string]any{"workflow": "pipeline", "input": "not an object"}, "input"},
		{"get_workflow", map[string]any{"name": "../keys"}, "422"},
		{"search_runs", map[string]any{"sort": "sideways"}, "422"},
		{"list_dead_letters", map[string]any{"since": "yesterday"}, "422"},
		{"skip_task", map[string]any{"run_id": 1, "step": ""}, "step is required"},
	} {
		require.Contains(t, callError(t, s, c.tool, c.args), c.want, "%s %v", c.tool, c.args)
	}
	_, err := s.CallTool(context.Background(), &mcp.CallToolParams{Name: "drop_database"})
	require.Error(t, err, "an unknown tool is a protocol error")
}

func TestOperatorSteersRuns(t *testing.T) {
	t.Parallel()
	h := setup(t)
	s := h.session(t, auth.RoleOperator)

	slow := call[mcpserver.Run](t, s, "start_run", map[string]any{"workflow": "slow"})
	require.Equal(t, "paused", call[mcpserver.Run](t, s, "pause_run", map[string]any{"run_id": slow.ID}).Status)
	require.NotEqual(t, "paused", call[mcpserver.Run](t, s, "resume_run", map[string]any{"run_id": slow.ID}).Status)
	require.Equal(t, "cancelled", call[mcpserver.Run](t, s, "cancel_run", map[string]any{"run_id": slow.ID}).Status)

	// A dead task: the failing task, the dead-letter queue, a resubmission
	// (it dies again) and a skip that lets the run finish.
	doomed := call[mcpserver.Run](t, s, "start_run", map[string]any{"workflow": "doomed"})
	d := waitRun(t, s, doomed.ID, func(d mcpserver.RunDetail) bool { return d.FailingTask != nil && d.FailingTask.Status == "dead" })
	require.Equal(t, "roll", d.FailingTask.Step)
	require.NotEmpty(t, d.FailingTask.Error)
	dl := call[mcpserver.DeadLetterList](t, s, "list_dead_letters", map[string]any{"workflow": "doomed"})
	require.Len(t, dl.DeadLetters, 1)
	require.Equal(t, doomed.ID, dl.DeadLetters[0].RunID)
	resubmitted := call[mcpserver.ResubmitResult](t, s, "resubmit_dead_letter", map[string]any{"id": dl.DeadLetters[0].ID})
	require.Equal(t, doomed.ID, resubmitted.Run.ID)
	waitRun(t, s, doomed.ID, func(d mcpserver.RunDetail) bool { return d.FailingTask != nil && d.FailingTask.Status == "dead" })
	call[mcpserver.Run](t, s, "skip_task", map[string]any{"run_id": doomed.ID, "step": "roll"})
	d = waitRun(t, s, doomed.ID, finished)
	require.Equal(t, "succeeded", d.Run.Status)
}

// TestOverNetworkClient serves the tools as `baton mcp` does, with a Client
// of the server over the network and a fixed key, here over in-memory
// transports.
func TestOverNetworkClient(t *testing.T) {
	t.Parallel()
	h := setup(t)
	ctx := context.Background()
	connect := func(key string) *mcp.ClientSession {
		c, err := mcpserver.NewClient(mcpserver.ClientOptions{URL: h.url, Key: key})
		require.NoError(t, err)
		serverT, clientT := mcp.NewInMemoryTransports()
		ss, err := mcpserver.New(c, mcpserver.Options{Version: "test"}).Connect(ctx, serverT, nil)
		require.NoError(t, err)
		t.Cleanup(func() { _ = ss.Close() })
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(ctx, clientT, nil)
		require.NoError(t, err)
		t.Cleanup(func() { _ = cs.Close() })
		return cs
	}
	operator := connect(h.keys[auth.RoleOperator])
	run := call[mcpserver.Run](t, operator, "start_run", map[string]any{"workflow": "pipeline"})
	d := waitRun(t, operator, run.ID, finished)
	require.Equal(t, "succeeded", d.Run.Status)

	viewer := connect(h.keys[auth.RoleViewer])
	require.Contains(t, callError(t, viewer, "start_run", map[string]any{"workflow": "pipeline"}), "operator role")
	anonymous := connect("")
	require.Contains(t, callError(t, anonymous, "list_workflows", map[string]any{}), "401")

	_, err := mcpserver.NewClient(mcpserver.ClientOptions{URL: "localhost:8080"})
	require.Error(t, err)
}
