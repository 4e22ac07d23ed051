package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/baton-run/baton/internal/engine"
)

// problem translates an engine error into a Huma error, which Huma writes as
// an RFC 9457 problem body:
//
//   - a *engine.ValidationError → 422 with one error detail per problem,
//     located at "body." plus the problem's field;
//   - engine.ErrNotFound → 404;
//   - engine.ErrInvalid → 422;
//   - engine.ErrConflict (among them engine.ErrIdempotencyConflict) → 409;
//   - engine.ErrUnavailable (the database is unreachable, shutting down or
//     out of connections) → 503 with Retry-After;
//   - anything else → 500 with a generic message; the error is logged, never
//     sent.
func (h *handlers) problem(ctx context.Context, err error) error {
	var invalid *engine.ValidationError
	switch {
	case errors.As(err, &invalid):
		details := make([]error, len(invalid.Problems))
		for i, p := range invalid.Problems {
			location := "body"
			if p.Field != "" {
				location += "." + p.Field
			}
			details[i] = &huma.ErrorDetail{Location: location, Message: p.Message}
		}
		return huma.Error422UnprocessableEntity(invalid.Error(), details...)
	case errors.Is(err, engine.ErrNotFound):
		return huma.Error404NotFound(err.Error())
	case errors.Is(err, engine.ErrInvalid):
		return huma.Error422UnprocessableEntity(invalidText(err))
	case errors.Is(err, engine.ErrConflict):
		return huma.Error409Conflict(strings.TrimSuffix(err.Error(), ": "+engine.ErrConflict.Error()))
	case errors.Is(err, engine.ErrUnavailable):
		h.logger.WarnContext(ctx, "database unavailable", slog.String("error", err.Error()))
		return unavailable("the database is unavailable; retry later")
	default:
		h.logger.ErrorContext(ctx, "request failed", slog.String("error", err.Error()))
		return huma.Error500InternalServerError("internal server error")
	}
}

// invalidText is the message of an engine.ErrInvalid error without the
// sentinel's own text ("invalid input: ..." or "...: invalid input"), which
// the 422 status already says.
func invalidText(err error) string {
	text := err.Error()
	sentinel := engine.ErrInvalid.Error()
	text = strings.TrimPrefix(text, sentinel+": ")
	text = strings.TrimSuffix(text, ": "+sentinel)
	return text
}

// retryAfterSeconds is the Retry-After of 503 answers.
const retryAfterSeconds = "5"

// unavailable is a 503 problem with a Retry-After header.
func unavailable(detail string) error {
	return huma.ErrorWithHeaders(huma.Error503ServiceUnavailable(detail), http.Header{"Retry-After": {retryAfterSeconds}})
}
