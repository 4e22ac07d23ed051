package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// simParams are the params of the sim executor.
type simParams struct {
	Min, Max          time.Duration
	FailRate          float64
	PermanentFailRate float64
	Output            json.RawMessage // nil when absent or null
}

func parseSimParams(params json.RawMessage, templates bool) (simParams, error) {
	r := newParamReader(params, templates, "min", "max", "fail_rate", "permanent_fail_rate", "output")
	var p simParams

	p.Min, _ = r.duration("min", false)
	maxDur, hasMax := r.duration("max", false)
	p.Max = p.Min
	if hasMax {
		p.Max = maxDur
		if p.Max < p.Min {
			r.fail("params.max", fmt.Sprintf("must not be less than min (%s), got %s", p.Min, p.Max))
		}
	}
	p.FailRate, _ = r.fraction("fail_rate")
	p.PermanentFailRate, _ = r.fraction("permanent_fail_rate")
	p.Output = r.raw("output")

	return p, r.err()
}

// simExecutor simulates work for demos and chaos tests: it sleeps a random
// time and fails at random.
type simExecutor struct {
	registry *Registry
	params   paramCache[simParams]
}

// Validate implements Executor.
func (e *simExecutor) Validate(params json.RawMessage) error {
	_, err := parseSimParams(params, true)
	return err
}

// Execute implements Executor. It sleeps a uniformly random duration in
// [min, max] (returning early with a transient error when ctx is done), then
// fails permanently with probability permanent_fail_rate, or else
// transiently with probability fail_rate. On success the output is the
// `output` param when given, {"slept": "<duration>"} otherwise.
func (e *simExecutor) Execute(ctx context.Context, req Request) (Result, error) {
	p, err := e.params.parse(req.Params, func(params json.RawMessage) (simParams, error) {
		return parseSimParams(params, false)
	})
	if err != nil {
		return Result{}, Permanent(fmt.Errorf("sim: %w", err))
	}

	d := p.Min
	if p.Max > p.Min {
		d += time.Duration(e.registry.randInt64N(int64(p.Max-p.Min) + 1))
	}
	if err := sleepContext(ctx, d); err != nil {
		return Result{}, Transient(fmt.Errorf("sim: %w", err))
	}

	if p.PermanentFailRate > 0 && e.registry.randFloat64() < p.PermanentFailRate {
		return Result{}, Permanent(fmt.Errorf("sim: simulated permanent failure (attempt %d)", req.Attempt))
	}
	if p.FailRate > 0 && e.registry.randFloat64() < p.FailRate {
		return Result{}, Transient(fmt.Errorf("sim: simulated transient failure (attempt %d)", req.Attempt))
	}

	if p.Output != nil {
		var buf json.RawMessage
		if err := json.Unmarshal(p.Output, &buf); err != nil {
			return Result{}, Permanent(errors.New("sim: params.output: invalid JSON"))
		}
		return Result{Output: buf}, nil
	}
	return marshalOutput(map[string]string{"slept": d.String()})
}
