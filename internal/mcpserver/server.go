// Package mcpserver is Baton's Model Context Protocol server: tools and
// resources with which an AI assistant reads and steers workflows, runs and
// the dead-letter queue. Each tool is a call to Baton's HTTP API (v2, v1's
// workflow list), made by a Client: over the network for `baton mcp` on
// stdio, in process for the /mcp endpoint of the API server. The API's own
// role checks therefore decide what a tool may do (docs/adr/0018).
package mcpserver

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Options configures the server.
type Options struct {
	// Version is reported to clients as the server's version.
	Version string
	// Logger receives tool panics; nil discards.
	Logger *slog.Logger
}

// instructions tell the assistant what the server is.
const instructions = `Baton is a PostgreSQL-native workflow orchestrator. A workflow is a versioned DAG of steps; a run executes one; each step of a run is a task.
Read tools (list_workflows, get_workflow, get_run, search_runs, list_dead_letters) need a viewer key; start_run, pause_run, resume_run, cancel_run, skip_task, retry_task and resubmit_dead_letter need an operator key. A refusal comes back as a tool error naming the role needed.
get_run returns the run with its tasks, its critical path and the failing task. Runs move asynchronously: call get_run again to see progress.`

// New returns an MCP server whose tools and resources call Baton through c.
func New(c *Client, opts Options) *mcp.Server {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	version := opts.Version
	if version == "" {
		version = "dev"
	}
	s := mcp.NewServer(&mcp.Implementation{Name: "baton", Title: "Baton", Version: version}, &mcp.ServerOptions{
		Instructions: instructions,
		Logger:       quiet(logger),
	})
	t := tools{c: c}
	read := &mcp.ToolAnnotations{ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: ptr(false)}
	change := func(destructive, idempotent bool) *mcp.ToolAnnotations {
		return &mcp.ToolAnnotations{DestructiveHint: ptr(destructive), IdempotentHint: idempotent, OpenWorldHint: ptr(false)}
	}
	add(s, logger, &mcp.Tool{Name: "list_workflows", Title: "List workflows", Annotations: read,
		Description: "Lists every workflow (its latest version) by name, without definitions. Needs the viewer role."}, t.listWorkflows)
	add(s, logger, &mcp.Tool{Name: "get_workflow", Title: "Get a workflow definition", Annotations: read,
		Description: "Gets a workflow's definition (its steps, task types, params, dependencies), the latest version or a given one. Needs the viewer role."}, t.getWorkflow)
	add(s, logger, &mcp.Tool{Name: "start_run", Title: "Start a run", Annotations: change(false, false),
		Description: "Starts a run of a workflow with an input and answers the run, queued. Poll get_run to follow it. Needs the operator role."}, t.startRun)
	add(s, logger, &mcp.Tool{Name: "get_run", Title: "Get a run", Annotations: read,
		Description: "Gets a run with its tasks, its Gantt timeline, its critical path (the chain of steps that set its duration) and the failing task with its error. Needs the viewer role."}, t.getRun)
	add(s, logger, &mcp.Tool{Name: "search_runs", Title: "Search runs", Annotations: read,
		Description: "Searches runs by workflow, status, owner, tags, trigger, step, creation time and full text; newest first unless sorted otherwise; paged with cursor. Needs the viewer role."}, t.searchRuns)
	add(s, logger, &mcp.Tool{Name: "list_dead_letters", Title: "List dead letters", Annotations: read,
		Description: "Lists the dead-letter queue (tasks that failed for good), newest first, filtered by workflow, task type, error class and time; paged with cursor. Needs the viewer role."}, t.listDeadLetters)
	add(s, logger, &mcp.Tool{Name: "resubmit_dead_letter", Title: "Resubmit a dead letter", Annotations: change(false, false),
		Description: "Retries the dead task of a dead letter (optionally with params merged over its own) and resumes its run. Needs the operator role."}, t.resubmitDeadLetter)
	add(s, logger, &mcp.Tool{Name: "pause_run", Title: "Pause a run", Annotations: change(false, true),
		Description: "Pauses a run: no new task starts until it is resumed; running attempts finish. Needs the operator role."}, t.runAction("pause"))
	add(s, logger, &mcp.Tool{Name: "resume_run", Title: "Resume a run", Annotations: change(false, true),
		Description: "Resumes a paused run. Needs the operator role."}, t.runAction("resume"))
	add(s, logger, &mcp.Tool{Name: "cancel_run", Title: "Cancel a run", Annotations: change(true, true),
		Description: "Cancels a run that has not finished: its unfinished tasks are cancelled and running attempts interrupted. Needs the operator role."}, t.runAction("cancel"))
	add(s, logger, &mcp.Tool{Name: "skip_task", Title: "Skip a task", Annotations: change(true, true),
		Description: "Skips a task of a run that has not succeeded: its dependents run as if it had succeeded. Needs the operator role."}, t.skipTask)
	add(s, logger, &mcp.Tool{Name: "retry_task", Title: "Retry a task", Annotations: change(false, false),
		Description: "Retries a failed, dead or cancelled task of a run, optionally with params merged over its own. Needs the operator role."}, t.retryTask)
	addResources(s, c)
	return s
}

// add registers a tool whose handler gets the Header of the HTTP request
// that carried the call (nil over stdio) and turns a panic into a tool
// error.
func add[In, Out any](s *mcp.Server, logger *slog.Logger, tool *mcp.Tool, f func(context.Context, http.Header, In) (Out, error)) {
	mcp.AddTool(s, tool, func(ctx context.Context, req *mcp.CallToolRequest, in In) (res *mcp.CallToolResult, out Out, err error) {
		defer func() {
			if p := recover(); p != nil {
				logger.ErrorContext(ctx, "mcp tool panicked", slog.String("tool", tool.Name), slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
				var zero Out
				res, out, err = nil, zero, fmt.Errorf("internal error in %s", tool.Name)
			}
		}()
		out, err = f(ctx, callHeader(req.Extra), in)
		return nil, out, err
	})
}

func callHeader(extra *mcp.RequestExtra) http.Header {
	if extra == nil {
		return nil
	}
	return extra.Header
}

func ptr[T any](v T) *T { return &v }

// Handler serves the server over MCP's streamable HTTP transport,
// stateless: any request may reach any process of a cluster, and each one
// is authorized on its own.
func Handler(s *mcp.Server, logger *slog.Logger) http.Handler {
	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, &mcp.StreamableHTTPOptions{
		Stateless:    true,
		JSONResponse: true,
		Logger:       quiet(logger),
	})
}

// quiet returns logger without its debug and info records: the SDK logs
// every stateless request's session at info, a pair of lines per call.
func quiet(logger *slog.Logger) *slog.Logger {
	if logger == nil {
		return nil
	}
	return slog.New(warnOnly{logger.Handler()})
}

type warnOnly struct{ slog.Handler }

func (h warnOnly) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= slog.LevelWarn && h.Handler.Enabled(ctx, level)
}

func (h warnOnly) WithAttrs(attrs []slog.Attr) slog.Handler {
	return warnOnly{h.Handler.WithAttrs(attrs)}
}

func (h warnOnly) WithGroup(name string) slog.Handler { return warnOnly{h.Handler.WithGroup(name)} }
