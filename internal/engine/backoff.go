package engine

import "time"

// Backoff is an exponential retry schedule: the wait after failed attempt n
// (1-based) is Base * Factor^(n-1), capped at Max.
type Backoff struct {
	Base   time.Duration
	Factor float64
	Max    time.Duration
}

// DefaultBackoff waits 1, 2, 4, 8, 16 s (and 16 s after that).
func DefaultBackoff() Backoff {
	return Backoff{Base: time.Second, Factor: 2, Max: 16 * time.Second}
}

// Delay returns the wait after failed attempt n (1-based).
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
