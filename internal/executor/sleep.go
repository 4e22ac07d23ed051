package executor

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// sleepExecutor waits for a while.
type sleepExecutor struct {
	params paramCache[time.Duration]
}

func parseSleepParams(params json.RawMessage, templates bool) (time.Duration, error) {
	r := newParamReader(params, templates, "duration")
	d, _ := r.duration("duration", true)
	return d, r.err()
}

// Validate implements Executor.
func (*sleepExecutor) Validate(params json.RawMessage) error {
	_, err := parseSleepParams(params, true)
	return err
}

// Execute implements Executor. It returns early, with a transient error, when
// ctx is done.
func (e *sleepExecutor) Execute(ctx context.Context, req Request) (Result, error) {
	d, err := e.params.parse(req.Params, func(params json.RawMessage) (time.Duration, error) {
		return parseSleepParams(params, false)
	})
	if err != nil {
		return Result{}, Permanent(fmt.Errorf("sleep: %w", err))
	}
	if err := sleepContext(ctx, d); err != nil {
		return Result{}, Transient(fmt.Errorf("sleep %s: %w", d, err))
	}
	return marshalOutput(map[string]string{"slept": d.String()})
}

// sleepContext waits for d or until ctx is done, returning ctx's error then.
func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()

	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
