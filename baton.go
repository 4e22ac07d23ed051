// Package baton is the Go library face of Baton, a PostgreSQL-native
// workflow orchestrator on River: programs that embed Baton register Go
// functions as task implementations (executor "go") and classify their
// errors with Permanent, Transient and RetryAfter.
//
//	err := baton.RunWorker(ctx, baton.WorkerOptions{
//		DatabaseURL: os.Getenv("DATABASE_URL"),
//		Funcs: map[string]baton.Func{
//			"send-invoice": func(ctx context.Context, params json.RawMessage) (any, error) {
//				if err := send(ctx, params); errors.Is(err, errBadAddress) {
//					return nil, baton.Permanent(err) // no retry: the task goes to the dead-letter queue
//				}
//				return map[string]any{"sent": true}, err // other errors are retried with backoff
//			},
//		},
//	})
package baton

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/baton-run/baton/db"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/executor"
	"github.com/baton-run/baton/internal/resilience"
	"github.com/baton-run/baton/jobs"
)

// Func implements a task type whose executor is "go": a step with params
// {"function": NAME, "args": ...} calls the Func registered as NAME with the
// args. Its result is saved as the task's output (JSON).
type Func = executor.GoFunc

// Permanent marks err as permanent: the task is not retried; it goes to the
// dead-letter queue and its run follows its on_failure branches.
func Permanent(err error) error { return executor.Permanent(err) }

// Transient marks err as transient: the task is retried on its backoff
// schedule until its attempts run out. Unmarked errors are transient too.
func Transient(err error) error { return executor.Transient(err) }

// RetryAfter marks err as transient and asks for the next attempt no sooner
// than d from now (as an HTTP Retry-After header does); the task's backoff
// still applies when it is longer.
func RetryAfter(err error, d time.Duration) error { return executor.WithRetryAfter(err, d) }

// WorkerOptions configures RunWorker.
type WorkerOptions struct {
	// DatabaseURL is the PostgreSQL database holding Baton's schema
	// (`baton migrate up`). Required.
	DatabaseURL string
	// Funcs are the Go functions this process implements, by name.
	Funcs map[string]Func
	// Workers is how many tasks run at once (default 100).
	Workers int
	// MaxConns caps the process's connections to PostgreSQL (default
	// 30; workers wait for a connection, they do not need one each).
	MaxConns int32
	// Logger receives the worker's logs (default: discarded).
	Logger *slog.Logger
	// AllowPrivateHTTP lets http steps reach private and loopback addresses.
	AllowPrivateHTTP bool
}

// RunWorker works Baton tasks (all executors, plus Funcs) until ctx is
// cancelled, then lets running tasks finish (up to 30 s) and returns.
func RunWorker(ctx context.Context, opts WorkerOptions) error {
	if opts.DatabaseURL == "" {
		return fmt.Errorf("baton: DatabaseURL is required")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	pool, err := db.Open(ctx, opts.DatabaseURL, db.PoolOptions{MaxConns: opts.MaxConns, ApplicationName: "baton-worker"})
	if err != nil {
		return fmt.Errorf("baton: %w", err)
	}
	defer pool.Close()
	executors := executor.NewRegistry(executor.Options{Logger: logger, AllowPrivateHTTP: opts.AllowPrivateHTTP})
	defer executors.Close()
	for name, fn := range opts.Funcs {
		if err := executors.RegisterFunc(name, fn); err != nil {
			return fmt.Errorf("baton: %w", err)
		}
	}
	client, err := jobs.NewClient(pool, jobs.ClientOptions{
		Engine:      engine.New(pool, engine.Options{Logger: logger}),
		Executors:   executors,
		Breakers:    resilience.NewBreakers(pool, resilience.Options{Logger: logger}),
		Logger:      logger,
		Workers:     opts.Workers,
		RescueAfter: time.Minute,
	})
	if err != nil {
		return fmt.Errorf("baton: %w", err)
	}
	if err := client.Start(ctx); err != nil {
		return fmt.Errorf("baton: start workers: %w", err)
	}
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := client.Stop(stopCtx); err != nil {
		return fmt.Errorf("baton: stop workers: %w", err)
	}
	return nil
}
