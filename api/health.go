package api

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// Health is the body of the probes.
type Health struct {
	Status string `json:"status" example:"ok" doc:"Always \"ok\"; failures are problem documents."`
	// Warning is set when the server runs without access control.
	Warning string `json:"warning,omitempty" doc:"Set when the server accepts anonymous requests from anywhere (baton serve --insecure-no-auth)."`
}

type healthOutput struct {
	Body Health
}

// readyTimeout bounds the readiness check.
const readyTimeout = 5 * time.Second

// insecureWarning is /healthz's warning on a server without access control.
const insecureWarning = "INSECURE: authentication is disabled (--insecure-no-auth): anyone who reaches this port can run commands on the workers"

func (h *handlers) health(_ context.Context, _ *struct{}) (*healthOutput, error) {
	out := &healthOutput{Body: Health{Status: "ok"}}
	if h.access != nil && h.access.Anonymous == AnonymousEveryone {
		out.Body.Warning = insecureWarning
	}
	return out, nil
}

func (h *handlers) readiness(ctx context.Context, _ *struct{}) (*healthOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := h.ready(ctx); err != nil {
		h.logger.WarnContext(ctx, "not ready", slog.String("error", err.Error()))
		return nil, huma.Error503ServiceUnavailable("not ready")
	}
	return &healthOutput{Body: Health{Status: "ok"}}, nil
}

// pingDatabase is the default readiness check.
func (h *handlers) pingDatabase(ctx context.Context) error {
	if h.engine == nil {
		return errors.New("no engine")
	}
	return h.engine.Pool().Ping(ctx)
}
