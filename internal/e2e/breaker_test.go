package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/api"
)

// TestCircuitBreakerIsSharedByTwoNodes runs tasks against a target that
// always fails, on two worker nodes sharing one breaker: the breaker opens
// after 10 attempts, the target then sees no call until the half-open probe,
// and once the target recovers the probe closes the breaker and the waiting
// tasks finish.
func TestCircuitBreakerIsSharedByTwoNodes(t *testing.T) {
	t.Parallel()
	const cooldown = 2 * time.Second
	var healthy atomic.Bool
	calls := &callLog{}
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.add()
		if !healthy.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(target.Close)

	e := setup(t, 2, 1) // two nodes, one worker each: at most two calls in flight
	e.call(http.MethodPost, "/v1/task-types", fmt.Sprintf(`{"name":"payments","executor":"http","max_retries":10,
		"backoff":{"base":"100ms","max":"200ms"},
		"circuit_breaker":{"failure_rate":0.5,"window":10,"cooldown":%q}}`, cooldown), http.StatusCreated, nil)
	e.call(http.MethodPost, "/v1/workflows", fmt.Sprintf(`{"name":"charge","steps":[{"name":"charge","type":"payments","params":{"url":%q}}]}`, target.URL), http.StatusCreated, nil)
	ids := make([]int64, 8)
	for i := range ids {
		ids[i] = e.start("charge", "{}")
	}

	// The breaker opens once ten attempts failed.
	var breaker api.CircuitBreaker
	deadline := time.Now().Add(30 * time.Second)
	for {
		if breakerState(e, &breaker) == "open" {
			break
		}
		require.True(t, time.Now().Before(deadline), "breaker did not open; calls so far %d", len(calls.snapshot()))
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	require.NotNil(t, breaker.OpenedAt)
	openedAt := *breaker.OpenedAt
	atOpen := len(calls.snapshot())
	// Ten failures opened it; an eleventh call may have been in flight on
	// the other node when the tenth failure was recorded.
	require.GreaterOrEqual(t, atOpen, 10)
	require.LessOrEqual(t, atOpen, 11)
	require.Equal(t, 10, breaker.Outcomes)

	// Nothing reaches the target until the half-open probe.
	probeDeadline := time.Now().Add(cooldown + 10*time.Second)
	for len(calls.snapshot()) == atOpen {
		require.True(t, time.Now().Before(probeDeadline), "no probe after the cooldown")
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	probe := calls.snapshot()[atOpen]
	require.GreaterOrEqual(t, probe.Sub(openedAt), cooldown-100*time.Millisecond,
		"the first call after opening is the probe, one cooldown later")
	require.Equal(t, atOpen+1, len(calls.snapshot()), "exactly one probe while half-open")

	// The probe failed: open again. Now the target recovers.
	healthy.Store(true)
	for _, id := range ids {
		run := e.waitStatus(id, 60*time.Second, "succeeded")
		require.Equal(t, "succeeded", task(run, "charge").Status)
	}
	breakerState(e, &breaker)
	require.Equal(t, "closed", breaker.State)

	t.Logf("breaker: %d calls before opening, probe %.1fs after opening, %d calls in all",
		atOpen, probe.Sub(openedAt).Seconds(), len(calls.snapshot()))
}

func breakerState(e *env, out *api.CircuitBreaker) string {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.api.URL+"/v1/breakers/payments", nil)
	require.NoError(e.t, err)
	resp, err := e.api.Client().Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return ""
	}
	require.Equal(e.t, http.StatusOK, resp.StatusCode)
	require.NoError(e.t, json.NewDecoder(resp.Body).Decode(out))
	return out.State
}
