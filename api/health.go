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
}

type healthOutput struct {
	Body Health
}

// readyTimeout bounds the readiness check.
const readyTimeout = 5 * time.Second

func (h *handlers) health(_ context.Context, _ *struct{}) (*healthOutput, error) {
	return &healthOutput{Body: Health{Status: "ok"}}, nil
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
