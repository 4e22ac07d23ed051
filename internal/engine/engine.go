// Package engine is Baton's workflow engine: the workflow model, DAG
// validation, and the run and task state machine with its transactional
// start and advance. The state machine itself runs in PostgreSQL (functions
// in db/migrations, so that plain SQL callers get the same behaviour); this
// package is its typed front: it validates, translates rows into domain types
// and database errors into domain errors. It holds no HTTP.
package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/baton-run/baton/internal/dbsqlc"
)

// ErrNotFound is returned when a task type, workflow or run does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when an action does not apply to the current state
// of a run or task (retrying a running task, pausing a finished run, ...).
var ErrConflict = errors.New("conflict")

// ErrInvalid wraps errors caused by bad input (as opposed to a failure of
// the engine or the database).
var ErrInvalid = errors.New("invalid input")

// Options configures an Engine.
type Options struct {
	// Logger receives the engine's logs. Defaults to a discarding logger.
	Logger *slog.Logger
	// KnownExecutor reports whether an executor name exists. Defaults to the
	// built-in set (http, exec, go, sleep, sim).
	KnownExecutor func(name string) bool
	// ValidateParams checks a step's params against its executor when a
	// workflow is applied. Nil skips the check.
	ValidateParams ParamsValidator
	// Now returns the current time. Defaults to time.Now.
	Now func() time.Time
}

// Engine starts, advances and inspects runs.
type Engine struct {
	pool    *pgxpool.Pool
	queries *dbsqlc.Queries
	opts    Options
}

// New returns an engine on pool.
func New(pool *pgxpool.Pool, opts Options) *Engine {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.KnownExecutor == nil {
		opts.KnownExecutor = func(name string) bool {
			switch name {
			case "http", "exec", "go", "sleep", "sim":
				return true
			}
			return false
		}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Engine{pool: pool, queries: dbsqlc.New(), opts: opts}
}

// Pool returns the engine's connection pool.
func (e *Engine) Pool() *pgxpool.Pool { return e.pool }

// translateError maps database errors to domain errors.
func translateError(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "P0002": // no_data_found, raised by baton.* functions
			return fmt.Errorf("%s: %w", trimBatonPrefix(pgErr.Message), ErrNotFound)
		case "22023", "22P02", "23514": // invalid_parameter_value, invalid_text_representation, check_violation
			return fmt.Errorf("%s: %w", trimBatonPrefix(pgErr.Message), ErrInvalid)
		case "55000": // object_not_in_prerequisite_state
			return fmt.Errorf("%s: %w", trimBatonPrefix(pgErr.Message), ErrConflict)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

func trimBatonPrefix(msg string) string {
	const prefix = "baton: "
	if len(msg) > len(prefix) && msg[:len(prefix)] == prefix {
		return msg[len(prefix):]
	}
	return msg
}

// jsonOrEmptyObject returns raw, or {} when raw is empty or null.
func jsonOrEmptyObject(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage(`{}`)
	}
	return raw
}

// inTx runs fn in a transaction on the pool and commits when fn succeeds.
func (e *Engine) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, e.pool, fn)
}
