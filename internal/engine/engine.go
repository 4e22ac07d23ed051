// Package engine is Baton's workflow engine: the workflow model, DAG
// validation, and the run and task state machine with its transactional
// start and advance. The state machine itself runs in PostgreSQL (functions
// in db/migrations, so that plain SQL callers get the same behaviour); this
// package is its typed front: it validates, translates rows into domain types
// and database errors into domain errors. It holds no HTTP.
//
// # Lock order
//
// Every function of the state machine that changes a run or its tasks takes
// its locks in one order, so that concurrent writers wait for one another
// but never deadlock:
//
//  1. the runs it changes, all at once and in id order (baton._lock_runs,
//     or baton._task_for_update for one task);
//  2. then the rows of those runs' tasks, events and River jobs.
//
// A writer that needs a lock outside this order must not wait for it:
// baton.tasks_started, a best-effort status hint, takes no run lock and locks
// its tasks with SKIP LOCKED (a task being recorded is skipped). The task
// worker routes successes to its flushers by run, so two success batches
// never hold the same run.
package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
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

// ErrIdempotencyConflict is returned when an idempotency key is reused for
// another workflow or another input (SQLSTATE ZB409 from baton.start_run).
// It wraps ErrConflict.
var ErrIdempotencyConflict = fmt.Errorf("idempotency key reused for a different request: %w", ErrConflict)

// ErrUnavailable wraps errors caused by the database being unreachable,
// shutting down or out of connections: the request may succeed if retried
// later.
var ErrUnavailable = errors.New("database unavailable")

// domainError is an error whose text is msg alone (no driver message, no
// sentinel suffix) and which matches kind with errors.Is.
type domainError struct {
	msg  string
	kind error
}

func (e *domainError) Error() string { return e.msg }
func (e *domainError) Unwrap() error { return e.kind }

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
	// MaxJSONBytes caps the size of a run's input. Zero, or anything above
	// it, means DefaultMaxJSONBytes (1 MB), which the database enforces too.
	MaxJSONBytes int
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

// MapDBError maps a database error met by a package beside the engine (alert
// channels, webhooks) to the engine's domain errors, keeping the
// database's message for bad data: no rows → ErrNotFound, a unique
// violation → ErrConflict, a data or integrity exception → ErrInvalid, an
// unreachable database → ErrUnavailable. what names the object, such as
// "alert rule 3".
func MapDBError(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s not found: %w", what, ErrNotFound)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "23505":
			return fmt.Errorf("%s: already exists: %w", what, ErrConflict)
		case len(pgErr.Code) == 5 && (pgErr.Code[:2] == "22" || pgErr.Code[:2] == "23"):
			return fmt.Errorf("%s: %s: %w", what, pgErr.Message, ErrInvalid)
		}
	}
	if IsUnavailable(err) {
		return fmt.Errorf("%s: %w: %w", what, ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// translateError maps database errors to domain errors. what names the
// object of the failed operation, such as "run 42". Errors raised by baton.*
// functions keep their message (without its "baton: " prefix), which names
// the culprit; other database errors get a message of their own, never the
// driver's.
func translateError(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return &domainError{msg: what + " not found", kind: ErrNotFound}
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return translatePgError(pgErr, what)
	}
	if isUnavailable(err) {
		return &domainError{msg: what + ": " + ErrUnavailable.Error(), kind: fmt.Errorf("%w: %w", ErrUnavailable, err)}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// translatePgError maps an error reported by PostgreSQL by its SQLSTATE.
func translatePgError(pgErr *pgconn.PgError, what string) error {
	ours := strings.HasPrefix(pgErr.Message, batonPrefix)
	msg := trimBatonPrefix(pgErr.Message)
	code := pgErr.Code
	switch {
	case code == "P0002" && ours: // no_data_found, raised by baton.* functions
		return &domainError{msg: msg, kind: ErrNotFound}
	case code == "ZB409": // idempotency key reused for another request
		return &domainError{msg: msg, kind: ErrIdempotencyConflict}
	case code == "55000": // object_not_in_prerequisite_state
		return &domainError{msg: msg, kind: ErrConflict}
	case code == "23505": // unique_violation
		return &domainError{msg: what + ": already exists" + constraintSuffix(pgErr), kind: ErrConflict}
	case strings.HasPrefix(code, "22"), strings.HasPrefix(code, "23"), code == "54000":
		// data_exception, integrity_constraint_violation, program_limit_exceeded.
		if !ours {
			msg = what + ": " + dataExceptionText(pgErr)
		}
		return &domainError{msg: msg, kind: ErrInvalid}
	case unavailableCode(code):
		return &domainError{msg: what + ": " + ErrUnavailable.Error(), kind: fmt.Errorf("%w: %w", ErrUnavailable, pgErr)}
	}
	return fmt.Errorf("%s: %w", what, pgErr)
}

// dataExceptionText describes a data exception that no baton.* function
// raised: PostgreSQL's message for the common input problems, which names
// the value's type but not the driver.
func dataExceptionText(pgErr *pgconn.PgError) string {
	switch pgErr.Code {
	case "22P05", "22021": // untranslatable_character, character_not_in_repertoire
		return `text must be valid UTF-8 without NUL (\u0000) characters`
	case "22003": // numeric_value_out_of_range
		return "a number is out of range"
	case "54000":
		return "a value is too large"
	}
	text := pgErr.Message
	if pgErr.ColumnName != "" {
		text = pgErr.ColumnName + ": " + text
	}
	return text + constraintSuffix(pgErr)
}

func constraintSuffix(pgErr *pgconn.PgError) string {
	if pgErr.ConstraintName == "" {
		return ""
	}
	return " (constraint " + pgErr.ConstraintName + ")"
}

// IsUnavailable reports whether err says the database could not be reached
// or went away mid-statement (a restart, a failover, a dropped connection,
// no connection slot left), as opposed to refusing the statement: the
// operation may succeed once the database is back. It recognises both
// translated errors (ErrUnavailable) and the driver's own.
func IsUnavailable(err error) bool {
	return errors.Is(err, ErrUnavailable) || isUnavailable(err)
}

// isUnavailable classifies an untranslated driver error (see IsUnavailable).
func isUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return unavailableCode(pgErr.Code)
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) || pgconn.SafeToRetry(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		strings.Contains(err.Error(), "conn closed")
}

// unavailableCode reports whether a SQLSTATE says the database is not
// serving: connection_exception, insufficient_resources, admin or crash
// shutdown, cannot_connect_now.
func unavailableCode(code string) bool {
	return strings.HasPrefix(code, "08") || strings.HasPrefix(code, "53") ||
		code == "57P01" || code == "57P02" || code == "57P03"
}

const batonPrefix = "baton: "

func trimBatonPrefix(msg string) string {
	return strings.TrimPrefix(msg, batonPrefix)
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
