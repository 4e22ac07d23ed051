package executor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime/debug"
)

// goExecutor calls a Go function registered with Registry.RegisterFunc.
type goExecutor struct {
	registry *Registry
	params   paramCache[goParams]
}

// goParams are the params of the go executor.
type goParams struct {
	Function string
	Args     json.RawMessage // `null` when absent
}

func parseGoParams(params json.RawMessage, templates bool) (goParams, error) {
	r := newParamReader(params, templates, "function", "args")
	p := goParams{Args: json.RawMessage(nullOutput)}

	if f, ok := r.str("function", true); ok {
		p.Function = f
		if f == "" {
			r.fail("params.function", "required")
		}
	}
	if args := r.raw("args"); args != nil {
		p.Args = args
	}
	return p, r.err()
}

// Validate implements Executor. It checks only the shape of the params: the
// function may be registered by another process.
func (e *goExecutor) Validate(params json.RawMessage) error {
	_, err := parseGoParams(params, true)
	return err
}

// Execute implements Executor. An unknown function and a panic are permanent
// errors; the function's own error keeps its class (transient when it has
// none).
func (e *goExecutor) Execute(ctx context.Context, req Request) (Result, error) {
	p, err := e.params.parse(req.Params, func(params json.RawMessage) (goParams, error) {
		return parseGoParams(params, false)
	})
	if err != nil {
		return Result{}, Permanent(fmt.Errorf("go: %w", err))
	}
	fn, ok := e.registry.lookupFunc(p.Function)
	if !ok {
		return Result{}, Permanent(fmt.Errorf("go: function %q: %w", p.Function, ErrUnknownFunction))
	}

	// The parsed params are shared: the function gets its own copy of its args.
	v, err := e.call(ctx, req, p.Function, fn, bytes.Clone(p.Args))
	if err != nil {
		return Result{}, err
	}
	if v == nil {
		return Result{Output: json.RawMessage(nullOutput)}, nil
	}
	res, err := marshalOutput(v)
	if err != nil {
		return Result{}, fmt.Errorf("go: function %q: %w", p.Function, err)
	}
	return res, nil
}

// call runs fn, turning a panic into a permanent error.
func (e *goExecutor) call(ctx context.Context, req Request, name string, fn GoFunc, args json.RawMessage) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			e.registry.logger.ErrorContext(ctx, "go task panicked",
				slog.Int64("run_id", req.RunID), slog.Int64("task_id", req.TaskID),
				slog.String("function", name), slog.Any("panic", r),
				slog.String("stack", string(debug.Stack())))
			v, err = nil, Permanent(fmt.Errorf("go: function %q panicked: %v", name, r))
		}
	}()

	v, err = fn(ctx, args)
	if err != nil {
		return nil, fmt.Errorf("go: function %q: %w", name, err)
	}
	return v, nil
}
