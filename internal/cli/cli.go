// Package cli implements the baton command: dev, serve, worker, migrate,
// apply and version. cmd/baton only hands over to Main.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/baton-run/baton/api"
)

// Version is the build's version, set with -ldflags at release time.
const Version = "0.1.0-dev"

const usage = `baton: a PostgreSQL-native workflow orchestrator on River.

Usage:
  baton dev     [--addr 127.0.0.1:8080] [--examples DIR] [--executors LIST]
                                                 everything in one process; starts a local
                                                 PostgreSQL under ./.baton when DATABASE_URL is unset
  baton serve   [--addr 127.0.0.1:8080] [--executors LIST] [--insecure-no-auth]
                                                 API and dashboard (production); --addr :8080
                                                 listens on every interface; refuses to start
                                                 without an API key unless --insecure-no-auth
  baton worker  [--workers 100] [--reserved-share 0.2] [--dead-letter-retention 720h]
                [--executors LIST]               task workers (production); --reserved-share of
                                                 the workers only run priority-1 tasks
  baton migrate up|down|status                   manage the schema
  baton apply   -f DIR|FILE                      create or update task types and workflows
  baton keys    create --name NAME --role viewer|operator|admin [--rate-limit 100/min]
                       [--burst 20] [--daily-run-quota 1000] [--expires 90d]
  baton keys    list | rotate NAME | revoke NAME API keys (shown once, stored hashed)
  baton mcp     [--url http://127.0.0.1:8080] [--key KEY]
                                                 Model Context Protocol server on stdio for
                                                 AI assistants; its tools call the API with the
                                                 key, whose role decides what they may do
                                                 (serve and dev also serve MCP at /mcp)
  baton version

Environment:
  DATABASE_URL     PostgreSQL URL (required except for dev)
  BATON_URL        default of mcp's --url
  BATON_API_KEY    default of mcp's --key
  BATON_LOG        log level: debug, info (default), warn, error
  BATON_DB_MAX_CONNS  default of --db-max-conns of dev, serve and worker: the most
                   connections one process opens (default 30, plus one for the
                   live stream of dev and serve)
  BATON_EXECUTORS  default of --executors: a comma-separated list of http, exec,
                   sleep, sim, go (default: all). A task type of a disabled
                   executor is refused; a task of one fails on this worker.
`

// Main runs the command line args (without the program name) and returns
// the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	logger := newLogger(stderr, os.Getenv("BATON_LOG"))
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	env := &environment{
		stdin: os.Stdin, stdout: stdout, stderr: stderr, logger: logger,
		databaseURL: os.Getenv("DATABASE_URL"), executorsEnv: os.Getenv("BATON_EXECUTORS"),
	}
	var err error
	switch args[0] {
	case "dev":
		err = env.dev(ctx, args[1:])
	case "serve":
		err = env.serve(ctx, args[1:])
	case "worker":
		err = env.worker(ctx, args[1:])
	case "migrate":
		err = env.migrate(ctx, args[1:])
	case "apply":
		err = env.apply(ctx, args[1:])
	case "keys":
		err = env.keys(ctx, args[1:])
	case "mcp":
		err = env.mcpServe(ctx, args[1:])
	case "testdb":
		err = env.testDB(ctx, args[1:])
	case "openapi":
		err = env.openAPI(ctx, args[1:])
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "baton", Version)
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "baton: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		var usageErr *usageError
		if errors.As(err, &usageErr) {
			fmt.Fprintf(stderr, "baton %s: %s\n", args[0], usageErr.msg)
			return 2
		}
		fmt.Fprintf(stderr, "baton %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// environment is what every command shares.
type environment struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	logger         *slog.Logger
	databaseURL    string
	// deadLetterRetention is set by the worker and dev commands' flags.
	deadLetterRetention time.Duration
	// taskJobRetention is set by the worker and dev commands' flags
	// (jobs.ClientOptions.TaskJobRetention).
	taskJobRetention time.Duration
	// capacity is what this worker node offers to tasks that declare
	// resources (detected, overridden by --cpu-millis, --memory-mb, --disk-mb).
	capacity nodeCapacity
	// reservedShare is --reserved-share as jobs.ClientOptions takes it.
	reservedShare float64
	// retention is --retention of serve, worker and dev (validated, 30 to 365 days).
	retention time.Duration
	// executorsEnv is BATON_EXECUTORS, the default of --executors.
	executorsEnv string
	// executors are the built-in executors to enable (nil: all), from
	// --executors or BATON_EXECUTORS.
	executors []string
	// access is the API's access control, set by serve and dev.
	access *api.Access
	// secretKeyFile keeps the alert channels' secret key when
	// BATON_SECRET_KEY is unset (set by the dev command).
	secretKeyFile string
}

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func (env *environment) requireDatabaseURL() error {
	if env.databaseURL == "" {
		return &usageError{"DATABASE_URL is not set (use `baton dev` for a local database)"}
	}
	return nil
}

func (env *environment) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("baton "+name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	return fs
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var lv slog.Level
	switch strings.ToLower(level) {
	case "debug":
		lv = slog.LevelDebug
	case "warn":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	default:
		lv = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lv}))
}
