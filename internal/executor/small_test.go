package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSleep(t *testing.T) {
	t.Parallel()
	reg := setup(t, nil)

	res, err := run(context.Background(), t, reg, NameSleep, map[string]any{"duration": "10ms"})
	require.NoError(t, err)
	require.JSONEq(t, `{"slept": "10ms"}`, string(res.Output))

	res, err = run(context.Background(), t, reg, NameSleep, map[string]any{"duration": "0s"})
	require.NoError(t, err)
	require.JSONEq(t, `{"slept": "0s"}`, string(res.Output))
}

func TestSleepCancel(t *testing.T) {
	t.Parallel()
	reg := setup(t, nil)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := run(ctx, t, reg, NameSleep, map[string]any{"duration": "1h"})
	require.Equal(t, ClassTransient, ClassOf(err))
	require.ErrorIs(t, err, context.Canceled)

	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = run(ctx, t, reg, NameSleep, map[string]any{"duration": "1h"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 5*time.Second)
}

func newSeeded() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }

func TestSimOutcomes(t *testing.T) {
	t.Parallel()
	reg := setup(t, &Options{Rand: newSeeded()})

	_, err := run(context.Background(), t, reg, NameSim, map[string]any{"fail_rate": 1})
	require.Equal(t, ClassTransient, ClassOf(err))
	require.Contains(t, err.Error(), "simulated transient failure (attempt 1)")

	_, err = run(context.Background(), t, reg, NameSim, map[string]any{"permanent_fail_rate": 1, "fail_rate": 1})
	require.Equal(t, ClassPermanent, ClassOf(err))

	res, err := run(context.Background(), t, reg, NameSim, map[string]any{"output": map[string]any{"rows": 42}})
	require.NoError(t, err)
	require.JSONEq(t, `{"rows": 42}`, string(res.Output))

	res, err = run(context.Background(), t, reg, NameSim, map[string]any{"min": "1ms", "max": "5ms"})
	require.NoError(t, err)
	slept, err := time.ParseDuration(decode(t, res)["slept"].(string))
	require.NoError(t, err)
	require.GreaterOrEqual(t, slept, time.Millisecond)
	require.LessOrEqual(t, slept, 5*time.Millisecond)
}

// simSequence runs the sim executor n times and records the outcomes.
func simSequence(t *testing.T, reg *Registry, n int) []string {
	t.Helper()
	outcomes := make([]string, n)
	for i := range outcomes {
		res, err := run(context.Background(), t, reg, NameSim, map[string]any{
			"max": "1ms", "fail_rate": 0.3, "permanent_fail_rate": 0.1,
		})
		if err != nil {
			outcomes[i] = string(ClassOf(err))
		} else {
			outcomes[i] = decode(t, res)["slept"].(string)
		}
	}
	return outcomes
}

func TestSimSeeded(t *testing.T) {
	t.Parallel()

	a := simSequence(t, setup(t, &Options{Rand: newSeeded()}), 200)
	b := simSequence(t, setup(t, &Options{Rand: newSeeded()}), 200)
	require.Equal(t, a, b, "the same seed gives the same outcomes")

	counts := map[string]int{}
	for _, o := range a {
		switch o {
		case string(ClassTransient), string(ClassPermanent):
			counts[o]++
		default:
			counts["ok"]++
		}
	}
	// Expected about 0.1 permanent, 0.27 transient, 0.63 ok.
	require.InDelta(t, 20, counts[string(ClassPermanent)], 15)
	require.InDelta(t, 54, counts[string(ClassTransient)], 25)
	require.InDelta(t, 126, counts["ok"], 30)
}

func TestSimCancel(t *testing.T) {
	t.Parallel()
	reg := setup(t, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := run(ctx, t, reg, NameSim, map[string]any{"min": "1h"})
	require.Equal(t, ClassTransient, ClassOf(err))
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestGoFunc(t *testing.T) {
	t.Parallel()
	reg := setup(t, nil)

	errBadAddress := errors.New("bad address")
	require.NoError(t, reg.RegisterFunc("send-email", func(ctx context.Context, params json.RawMessage) (any, error) {
		var args struct{ To string }
		if err := json.Unmarshal(params, &args); err != nil {
			return nil, Permanent(err)
		}
		if args.To == "" {
			return nil, Permanent(errBadAddress)
		}
		return map[string]string{"sent_to": args.To}, nil
	}))
	require.NoError(t, reg.RegisterFunc("args", func(ctx context.Context, params json.RawMessage) (any, error) {
		return params, nil
	}))
	require.NoError(t, reg.RegisterFunc("flaky", func(ctx context.Context, params json.RawMessage) (any, error) {
		return nil, errors.New("smtp busy")
	}))
	require.NoError(t, reg.RegisterFunc("nothing", func(ctx context.Context, params json.RawMessage) (any, error) {
		return nil, nil
	}))
	require.NoError(t, reg.RegisterFunc("panics", func(ctx context.Context, params json.RawMessage) (any, error) {
		panic("kaboom")
	}))
	require.NoError(t, reg.RegisterFunc("unmarshalable", func(ctx context.Context, params json.RawMessage) (any, error) {
		return make(chan int), nil
	}))

	err := reg.RegisterFunc("send-email", func(context.Context, json.RawMessage) (any, error) { return nil, nil })
	require.ErrorContains(t, err, "already registered")
	require.Equal(t, []string{"args", "flaky", "nothing", "panics", "send-email", "unmarshalable"}, reg.FuncNames())

	res, err := run(context.Background(), t, reg, NameGo, map[string]any{"function": "send-email", "args": map[string]string{"to": "a@b.c"}})
	require.NoError(t, err)
	require.JSONEq(t, `{"sent_to": "a@b.c"}`, string(res.Output))

	res, err = run(context.Background(), t, reg, NameGo, map[string]any{"function": "args"})
	require.NoError(t, err)
	require.Equal(t, "null", string(res.Output))

	res, err = run(context.Background(), t, reg, NameGo, map[string]any{"function": "nothing"})
	require.NoError(t, err)
	require.Equal(t, "null", string(res.Output))

	_, err = run(context.Background(), t, reg, NameGo, map[string]any{"function": "send-email", "args": map[string]string{}})
	require.Equal(t, ClassPermanent, ClassOf(err))
	require.ErrorIs(t, err, errBadAddress)

	_, err = run(context.Background(), t, reg, NameGo, map[string]any{"function": "flaky"})
	require.Equal(t, ClassTransient, ClassOf(err))
	require.ErrorContains(t, err, `go: function "flaky": smtp busy`)

	_, err = run(context.Background(), t, reg, NameGo, map[string]any{"function": "panics"})
	require.Equal(t, ClassPermanent, ClassOf(err))
	require.ErrorContains(t, err, "panicked: kaboom")

	_, err = run(context.Background(), t, reg, NameGo, map[string]any{"function": "unmarshalable"})
	require.Equal(t, ClassPermanent, ClassOf(err))

	_, err = run(context.Background(), t, reg, NameGo, map[string]any{"function": "missing"})
	require.Equal(t, ClassPermanent, ClassOf(err))
	require.ErrorIs(t, err, ErrUnknownFunction)
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	reg := setup(t, nil)

	require.Equal(t, []string{"exec", "go", "http", "sim", "sleep"}, reg.Names())

	_, err := reg.Get("ftp")
	require.ErrorIs(t, err, ErrUnknownExecutor)

	require.ErrorContains(t, reg.Register("http", &sleepExecutor{}), "already registered")
	require.NoError(t, reg.Register("nap", &sleepExecutor{}))
	ex, err := reg.Get("nap")
	require.NoError(t, err)
	require.NoError(t, ex.Validate(json.RawMessage(`{"duration": "1s"}`)))

	require.Error(t, reg.RegisterFunc("", func(context.Context, json.RawMessage) (any, error) { return nil, nil }))
	require.Error(t, reg.RegisterFunc("nil", nil))
}

func TestRegistryConcurrent(t *testing.T) {
	t.Parallel()
	reg := setup(t, &Options{Rand: newSeeded()})

	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("f%d", i)
			if err := reg.RegisterFunc(name, func(context.Context, json.RawMessage) (any, error) { return i, nil }); err != nil {
				t.Error(err)
				return
			}
			for range 20 {
				goEx, err := reg.Get(NameGo)
				if err != nil {
					t.Error(err)
					return
				}
				res, err := goEx.Execute(context.Background(), Request{Params: json.RawMessage(`{"function":"` + name + `"}`)})
				if err != nil || string(res.Output) != fmt.Sprint(i) {
					t.Errorf("go %s: %s, %v", name, res.Output, err)
				}
				simEx, _ := reg.Get(NameSim)
				_, _ = simEx.Execute(context.Background(), Request{Params: json.RawMessage(`{"max":"1us","fail_rate":0.5}`)})
				_ = reg.Names()
			}
		}()
	}
	wg.Wait()
}

func TestRegistryEnabled(t *testing.T) {
	t.Parallel()
	reg := setup(t, &Options{Enabled: []string{NameHTTP, NameSleep}})

	require.Equal(t, []string{NameHTTP, NameSleep}, reg.Names())
	for _, name := range []string{NameExec, NameSim, NameGo} {
		_, err := reg.Get(name)
		require.ErrorIs(t, err, ErrExecutorDisabled, name)
		require.NotErrorIs(t, err, ErrUnknownExecutor, name)
	}
	_, err := reg.Get("teleport")
	require.ErrorIs(t, err, ErrUnknownExecutor)
	require.ErrorIs(t, reg.Register(NameExec, &sleepExecutor{}), ErrExecutorDisabled)

	_, err = run(context.Background(), t, reg, NameSleep, map[string]any{"duration": "0s"})
	require.NoError(t, err)

	require.Len(t, setup(t, nil).Names(), len(BuiltinNames()))
}
