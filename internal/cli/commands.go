package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/baton-run/baton/api"
	"github.com/baton-run/baton/db"
	"github.com/baton-run/baton/db/devcluster"
	"github.com/baton-run/baton/internal/batch"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/executor"
	"github.com/baton-run/baton/internal/metrics"
	"github.com/baton-run/baton/internal/placement"
	"github.com/baton-run/baton/internal/ratelimit"
	"github.com/baton-run/baton/internal/resilience"
	"github.com/baton-run/baton/internal/rollup"
	"github.com/baton-run/baton/internal/schedule"
	"github.com/baton-run/baton/internal/search"
	"github.com/baton-run/baton/internal/stream"
	"github.com/baton-run/baton/jobs"
	"github.com/baton-run/baton/web"
)

// runtime is an opened database with the engine and executors on it.
type runtime struct {
	pool      *pgxpool.Pool
	engine    *engine.Engine
	executors *executor.Registry
	breakers  *resilience.Breakers
}

func (env *environment) open(ctx context.Context, url string, maxConns int32) (*runtime, error) {
	pool, err := db.Open(ctx, url, db.PoolOptions{MaxConns: maxConns, ApplicationName: "baton"})
	if err != nil {
		return nil, err
	}
	executors := executor.NewRegistry(executor.Options{
		Logger:           env.logger,
		AllowPrivateHTTP: os.Getenv("BATON_ALLOW_PRIVATE_HTTP") == "true",
		Enabled:          env.executors,
	})
	eng := engine.New(pool, engine.Options{
		Logger: env.logger,
		KnownExecutor: func(name string) bool {
			_, err := executors.Get(name)
			return err == nil
		},
		ValidateParams: func(name string, params json.RawMessage) error {
			ex, err := executors.Get(name)
			if err != nil {
				return err
			}
			return ex.Validate(params)
		},
	})
	breakers := resilience.NewBreakers(pool, resilience.Options{Logger: env.logger})
	return &runtime{pool: pool, engine: eng, executors: executors, breakers: breakers}, nil
}

func (r *runtime) close() {
	r.executors.Close()
	r.pool.Close()
}

func (env *environment) migrate(ctx context.Context, args []string) error {
	if len(args) != 1 {
		return &usageError{"expected one of: up, down, status"}
	}
	if err := env.requireDatabaseURL(); err != nil {
		return err
	}
	pool, err := db.Open(ctx, env.databaseURL, db.PoolOptions{MaxConns: 2, ApplicationName: "baton-migrate"})
	if err != nil {
		return err
	}
	defer pool.Close()
	m, err := db.NewMigrator(pool)
	if err != nil {
		return err
	}
	defer m.Close()
	switch args[0] {
	case "up":
		res, err := m.Up(ctx)
		for _, r := range res {
			fmt.Fprintf(env.stdout, "applied %d %s (%s)\n", r.Source.Version, migrationName(r.Source.Path), r.Duration.Round(time.Millisecond))
		}
		if err == nil && len(res) == 0 {
			fmt.Fprintln(env.stdout, "up to date")
		}
		return err
	case "down":
		res, err := m.Down(ctx)
		if res != nil {
			fmt.Fprintf(env.stdout, "rolled back %d %s\n", res.Source.Version, migrationName(res.Source.Path))
		} else if err == nil {
			fmt.Fprintln(env.stdout, "nothing to roll back")
		}
		return err
	case "status":
		statuses, err := m.Status(ctx)
		if err != nil {
			return err
		}
		for _, s := range statuses {
			applied := "pending"
			if s.State == "applied" {
				applied = "applied " + s.AppliedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(env.stdout, "%5d  %-40s %s\n", s.Source.Version, migrationName(s.Source.Path), applied)
		}
		return nil
	default:
		return &usageError{fmt.Sprintf("unknown migrate action %q (want up, down or status)", args[0])}
	}
}

func (env *environment) apply(ctx context.Context, args []string) error {
	fs := env.flags("apply")
	path := fs.String("f", "", "a definition file, or a directory of *.yaml, *.yml and *.json files")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" {
		return &usageError{"-f is required"}
	}
	if err := env.setExecutors(env.executorsEnv); err != nil {
		return err
	}
	if err := env.requireDatabaseURL(); err != nil {
		return err
	}
	rt, err := env.open(ctx, env.databaseURL, 4)
	if err != nil {
		return err
	}
	defer rt.close()
	triggers, err := env.triggerService(rt)
	if err != nil {
		return err
	}
	return applyPath(ctx, rt.engine, triggers, *path, env.stdout, nil)
}

func (env *environment) serve(ctx context.Context, args []string) error {
	fs := env.flags("serve")
	maxConns := maxConnsFlag(fs)
	addr := addrFlag(fs)
	executors := env.executorsFlag(fs)
	retentionDays := retentionFlag(fs)
	insecure := fs.Bool("insecure-no-auth", false, "serve every request, from anywhere, without an API key (never in production)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := env.setRetention(*retentionDays); err != nil {
		return err
	}
	if err := env.setExecutors(*executors); err != nil {
		return err
	}
	if err := env.requireDatabaseURL(); err != nil {
		return err
	}
	conns, err := checkMaxConns(*maxConns)
	if err != nil {
		return err
	}
	rt, err := env.open(ctx, env.databaseURL, conns)
	if err != nil {
		return err
	}
	defer rt.close()
	if *insecure {
		env.access = env.accessFor(rt, api.AnonymousEveryone)
		env.logger.Warn("INSECURE: --insecure-no-auth: every request is served, from anywhere, without an API key; anyone who reaches " + *addr + " can run commands on the workers")
	} else {
		env.access = env.accessFor(rt, api.AnonymousNone)
		n, err := env.access.Keys.CountUsable(ctx)
		if err != nil {
			return fmt.Errorf("check API keys (is the database migrated?): %w", err)
		}
		if n == 0 {
			return &usageError{"no usable API key: create one with `baton keys create --name NAME --role admin`, or start with --insecure-no-auth (never in production)"}
		}
	}
	return env.run(ctx, rt, *addr, 0)
}

func (env *environment) worker(ctx context.Context, args []string) error {
	fs := env.flags("worker")
	maxConns := maxConnsFlag(fs)
	workers := fs.Int("workers", 100, "tasks worked at once")
	retention := fs.Duration("dead-letter-retention", 0, "how long dead-letter entries are kept (default: --retention)")
	taskJobRetention := taskJobRetentionFlag(fs)
	executors := env.executorsFlag(fs)
	retentionDays := retentionFlag(fs)
	capacity := addCapacityFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := env.setRetention(*retentionDays); err != nil {
		return err
	}
	if err := env.setExecutors(*executors); err != nil {
		return err
	}
	if err := env.setCapacity(capacity); err != nil {
		return err
	}
	env.deadLetterRetention = *retention
	env.taskJobRetention = *taskJobRetention
	if err := env.requireDatabaseURL(); err != nil {
		return err
	}
	conns, err := checkMaxConns(*maxConns)
	if err != nil {
		return err
	}
	rt, err := env.open(ctx, env.databaseURL, conns)
	if err != nil {
		return err
	}
	defer rt.close()
	return env.run(ctx, rt, "", *workers)
}

func (env *environment) dev(ctx context.Context, args []string) error {
	fs := env.flags("dev")
	maxConns := maxConnsFlag(fs)
	addr := addrFlag(fs)
	examples := fs.String("examples", "examples", "directory of definitions to apply at start ('' for none)")
	home := fs.String("home", ".baton", "where the local PostgreSQL cluster lives")
	workers := fs.Int("workers", 50, "tasks worked at once")
	retention := fs.Duration("dead-letter-retention", 0, "how long dead-letter entries are kept (default: --retention)")
	taskJobRetention := taskJobRetentionFlag(fs)
	executors := env.executorsFlag(fs)
	retentionDays := retentionFlag(fs)
	capacity := addCapacityFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := env.setRetention(*retentionDays); err != nil {
		return err
	}
	if err := env.setExecutors(*executors); err != nil {
		return err
	}
	if err := env.setCapacity(capacity); err != nil {
		return err
	}
	env.deadLetterRetention = *retention
	env.taskJobRetention = *taskJobRetention
	env.secretKeyFile = filepath.Join(*home, "secret.key")
	url := env.databaseURL
	if url == "" {
		cluster, err := devcluster.Start(ctx, devcluster.Options{Dir: filepath.Join(*home, "pg"), Logger: env.logger})
		if err != nil {
			return fmt.Errorf("start local PostgreSQL: %w", err)
		}
		defer func() {
			stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := cluster.Stop(stopCtx); err != nil {
				env.logger.Error("stop local PostgreSQL", slog.String("error", err.Error()))
			} else {
				fmt.Fprintln(env.stdout, "local PostgreSQL stopped")
			}
		}()
		url = cluster.URL()
	}
	conns, err := checkMaxConns(*maxConns)
	if err != nil {
		return err
	}
	rt, err := env.open(ctx, url, conns)
	if err != nil {
		return err
	}
	defer rt.close()
	if err := db.Migrate(ctx, rt.pool); err != nil {
		return err
	}
	if *examples != "" {
		// Example task types of a disabled executor are skipped, not fatal.
		enabled := func(name string) bool { _, err := rt.executors.Get(name); return err == nil }
		triggers, err := env.triggerService(rt)
		if err != nil {
			return err
		}
		if err := applyPath(ctx, rt.engine, triggers, *examples, env.stdout, enabled); err != nil {
			return fmt.Errorf("apply examples: %w", err)
		}
	}
	env.access = env.accessFor(rt, api.AnonymousLoopback)
	// The dashboard polls several endpoints every few seconds: the anonymous
	// (per-IP) limit of dev leaves it room.
	env.access.AnonymousPolicy = ratelimit.Policy{Limit: devAnonymousRate, Burst: devAnonymousRate / 5}
	devToken, err := devKey(ctx, env.access.Keys)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "\nAnonymous requests are accepted from this machine only (loopback address and Host).\nAn admin API key for trying authentication (rotated at every start):\n  %s\n  curl -H 'Authorization: Bearer %s' %s/v2/me\n", devToken, devToken, baseURL(*addr))
	fmt.Fprintf(env.stdout, "\nBaton is running.\n  dashboard  %s/\n  API docs   %s/docs\n  OpenAPI    %s/openapi.json\n  database   %s\nStart a run:\n  curl -X POST %s/v1/runs -H 'Content-Type: application/json' -d '{\"workflow\":\"release-pipeline\"}'\nPress Ctrl-C to stop.\n\n",
		baseURL(*addr), baseURL(*addr), baseURL(*addr), url, baseURL(*addr))
	return env.run(ctx, rt, *addr, *workers)
}

// run serves the API on addr (when not empty) and works tasks with the
// given number of workers (when > 0) until ctx is cancelled, then drains.
func (env *environment) run(ctx context.Context, rt *runtime, addr string, workers int) error {
	group, ctx := errgroup.WithContext(ctx)
	// A job still running a minute after it started and past its task's
	// timeout has lost its worker: River's rescuer hands it to another.
	const rescueAfter = time.Minute
	alerts, err := env.alertService(rt)
	if err != nil {
		return err
	}
	schedules := schedule.New(rt.pool, rt.engine, schedule.Options{Logger: env.logger})
	triggers, err := env.triggerService(rt)
	if err != nil {
		return err
	}
	webhooks, err := env.webhookService(rt)
	if err != nil {
		return err
	}
	node := nodeName()
	var tracker *placement.Tracker
	if workers > 0 {
		tracker = env.startNode(ctx, rt, node, workers, group.Go)
	}
	client, err := jobs.NewClient(rt.pool, jobs.ClientOptions{
		Node: node, Placement: tracker,
		Engine: rt.engine, Executors: rt.executors, Breakers: rt.breakers, Logger: env.logger,
		Workers: workers, ReservedShare: env.reservedShare, InsertOnly: workers == 0, RescueAfter: rescueAfter,
		DeadLetterRetention: env.deadLetterRetention, Retention: env.retention, TaskJobRetention: env.taskJobRetention,
		Alerts: alerts, Triggers: triggers,
		Schedules: schedules, Webhooks: webhooks, Batches: batch.New(rt.pool), Search: search.New(rt.pool),
	})
	if err != nil {
		return err
	}
	if workers > 0 {
		if err := client.Start(ctx); err != nil {
			return fmt.Errorf("start workers: %w", err)
		}
		env.logger.Info("workers started", slog.Int("workers", workers), slog.Duration("rescue_after", rescueAfter))
		group.Go(func() error { return stopRiver(ctx, client) })
		// The webhook dispatcher runs on every worker node; dispatches
		// take turns on the dispatcher row.
		group.Go(func() error { return webhooks.Run(ctx, client) })
	}
	if addr != "" {
		// The live event stream's hub: one LISTEN connection for the
		// process; it ends every stream when ctx ends, so that Shutdown
		// does not wait for them.
		hub := stream.New(rt.pool, stream.Options{Logger: env.logger})
		group.Go(func() error { return hub.Run(ctx) })
		if env.access != nil {
			group.Go(func() error { return env.access.Keys.Run(ctx) })
		}
		ui, err := withRiverUI(ctx, client.Client, env.logger, web.Handler())
		if err != nil {
			return err
		}
		handler, _ := api.New(api.Options{
			Access: env.access,
			Engine: rt.engine, Breakers: rt.breakers, Queues: client, Stream: hub, Alerts: alerts, Triggers: triggers, Logger: env.logger, UI: ui,
			Schedules: schedules, Webhooks: webhooks, Jobs: client,
			Metrics: metricsFor(rt.pool, hub, env.logger),
		})
		srv := &http.Server{Addr: addr, Handler: handler, ReadHeaderTimeout: 10 * time.Second}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", addr, err)
		}
		env.logger.Info("serving", slog.String("addr", ln.Addr().String()))
		group.Go(func() error {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("serve: %w", err)
			}
			return nil
		})
		group.Go(func() error {
			<-ctx.Done()
			shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			return srv.Shutdown(shutdownCtx)
		})
	}
	return group.Wait()
}

// stopRiver waits for ctx to end, then stops the client, letting running
// tasks finish for up to 30 s before cancelling them.
func stopRiver(ctx context.Context, client *jobs.Client) error {
	<-ctx.Done()
	softCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := client.Stop(softCtx); err != nil {
		hardCtx, cancelHard := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancelHard()
		return client.StopAndCancel(hardCtx)
	}
	return nil
}

// defaultAddr is where dev and serve listen unless --addr says otherwise:
// loopback only, so that nothing else on the network reaches an API that
// can run commands. `--addr :8080` listens on every interface.
const defaultAddr = "127.0.0.1:8080"

// addrFlag adds --addr to fs.
func addrFlag(fs *flag.FlagSet) *string {
	return fs.String("addr", defaultAddr, "listen address; :8080 listens on every interface")
}

// retentionFlag adds --retention (days) to fs.
func retentionFlag(fs *flag.FlagSet) *int {
	return fs.Int("retention", rollup.DefaultRetentionDays, fmt.Sprintf(
		"days to keep task events, finished runs, dead letters and rollups (%d to %d)", rollup.MinRetentionDays, rollup.MaxRetentionDays))
}

// taskJobRetentionFlag is --task-job-retention of the commands that run
// workers (jobs.ClientOptions.TaskJobRetention).
func taskJobRetentionFlag(fs *flag.FlagSet) *time.Duration {
	return fs.Duration("task-job-retention", 0, "how long River keeps a succeeded task's job row (0: deleted with the success)")
}

// setRetention validates --retention and records it.
func (env *environment) setRetention(days int) error {
	d, err := rollup.ValidateRetentionDays(days)
	if err != nil {
		return &usageError{"--" + err.Error()}
	}
	env.retention = d
	return nil
}

// executorsFlag adds --executors to fs, defaulting to BATON_EXECUTORS.
func (env *environment) executorsFlag(fs *flag.FlagSet) *string {
	return fs.String("executors", env.executorsEnv,
		"comma-separated executors to enable, of "+strings.Join(executor.BuiltinNames(), ",")+" (default: all, or BATON_EXECUTORS)")
}

// setExecutors sets the executors the command's registry holds from a
// comma-separated list; an empty list enables all of them.
func (env *environment) setExecutors(list string) error {
	names, err := parseExecutors(list)
	if err != nil {
		return &usageError{err.Error()}
	}
	env.executors = names
	return nil
}

// parseExecutors parses a comma-separated list of built-in executor names.
// It returns nil (all executors) for an empty list.
func parseExecutors(list string) ([]string, error) {
	builtin := executor.BuiltinNames()
	var names []string
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !slices.Contains(builtin, name) {
			return nil, fmt.Errorf("--executors: unknown executor %q (want some of %s)", name, strings.Join(builtin, ","))
		}
		names = append(names, name)
	}
	if len(names) == 0 {
		return nil, nil
	}
	return names, nil
}

func baseURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// migrationName names a migration for people: its file, or River's for the
// Go migration that runs River's own.
func migrationName(path string) string {
	if name := filepath.Base(path); name != "." && name != "" {
		return name
	}
	return "river (River's own migrations)"
}

// metricsFor returns the Prometheus metrics of the process, with the live
// stream's client count.
func metricsFor(pool *pgxpool.Pool, hub *stream.Hub, logger *slog.Logger) *metrics.Metrics {
	m := metrics.New(pool, metrics.Options{Logger: logger, GoCollectors: true})
	m.SetSSEClients(hub.Clients)
	return m
}
