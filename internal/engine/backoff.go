package engine

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Backoff is an exponential retry schedule: the wait after failed attempt n
// (1-based) is Base * Factor^(n-1), capped at Max. With Jitter, the wait is
// drawn uniformly from [d/2, d*3/2) around that value (still capped at Max),
// which spreads out retries of tasks that failed together.
type Backoff struct {
	Base   time.Duration
	Factor float64
	Max    time.Duration
	Jitter bool
}

// DefaultBackoff waits 1, 2, 4, 8, 16 s (and 16 s after that), no jitter.
func DefaultBackoff() Backoff {
	return Backoff{Base: time.Second, Factor: 2, Max: 16 * time.Second}
}

// BackoffFrom applies a spec over the defaults. A nil spec is the default.
func BackoffFrom(spec *BackoffSpec) (Backoff, error) {
	b := DefaultBackoff()
	if spec == nil {
		return b, nil
	}
	if spec.Base != "" {
		d, err := time.ParseDuration(spec.Base)
		if err != nil {
			return b, fmt.Errorf("backoff.base: %w", err)
		}
		b.Base = d
	}
	if spec.Max != "" {
		d, err := time.ParseDuration(spec.Max)
		if err != nil {
			return b, fmt.Errorf("backoff.max: %w", err)
		}
		b.Max = d
	}
	if spec.Factor != 0 {
		b.Factor = spec.Factor
	}
	b.Jitter = spec.Jitter
	return b, nil
}

// Delay returns the wait after failed attempt n (1-based), without jitter.
func (b Backoff) Delay(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := float64(b.Base)
	for i := 1; i < attempt; i++ {
		d *= b.Factor
		if time.Duration(d) >= b.Max {
			return b.Max
		}
	}
	if time.Duration(d) > b.Max {
		return b.Max
	}
	return time.Duration(d)
}

// Next returns the wait after failed attempt n, with jitter when enabled.
// rnd returns a float in [0, 1); nil uses math/rand/v2.
func (b Backoff) Next(attempt int, rnd func() float64) time.Duration {
	d := b.Delay(attempt)
	if !b.Jitter {
		return d
	}
	if rnd == nil {
		rnd = rand.Float64
	}
	j := time.Duration(float64(d) * (0.5 + rnd()))
	return min(j, b.Max)
}
