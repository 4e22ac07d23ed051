package executor

import (
	"errors"
	"time"
)

// Class tells the task runner what to do with a failed attempt.
type Class string

// The two classes. (The constructors Transient and Permanent take those names,
// so the constants carry the type as a prefix, as in slog.LevelInfo.)
const (
	// ClassTransient marks a failure that may succeed when retried (timeouts, 5xx,
	// 429, connection errors, exit code 75). Unclassified errors are transient.
	ClassTransient Class = "transient"

	// ClassPermanent marks a failure that no retry will fix (bad params, 4xx,
	// exit codes 64–78 but 75, missing commands). The task goes dead at once.
	ClassPermanent Class = "permanent"
)

// Error is an error carrying a retry class and an optional retry hint.
// Build one with Permanent, Transient or WithRetryAfter, and read it back
// with ClassOf and RetryAfterOf.
type Error struct {
	// Class is the retry class of the failure.
	Class Class

	// RetryAfter is a hint (from a Retry-After header, say) of how long to
	// wait before the next attempt. Zero means no hint.
	RetryAfter time.Duration

	// Err is the underlying error.
	Err error
}

// Error returns the message of the underlying error.
func (e *Error) Error() string {
	if e.Err == nil {
		return string(e.Class) + " error"
	}
	return e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Permanent marks err as permanent: the task is not retried. It returns nil
// when err is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Class: ClassPermanent, Err: err}
}

// Transient marks err as transient: the task is retried on its backoff
// policy. It returns nil when err is nil.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Class: ClassTransient, Err: err}
}

// WithRetryAfter marks err as transient with a hint to wait d before the next
// attempt. A non-positive d gives a plain transient error. It returns nil when
// err is nil.
func WithRetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	if d < 0 {
		d = 0
	}
	return &Error{Class: ClassTransient, RetryAfter: d, Err: err}
}

// ClassOf returns the class of the outermost *Error in err's chain. Errors
// without one (context deadlines, timeouts, anything unclassified) are
// Transient. ClassOf(nil) is "".
func ClassOf(err error) Class {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Class != "" {
		return e.Class
	}
	return ClassTransient
}

// RetryAfterOf returns the retry hint of the outermost *Error in err's chain,
// or 0 when there is none.
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}
