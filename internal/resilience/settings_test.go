package resilience_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/resilience"
)

func TestSettingsFrom(t *testing.T) {
	t.Parallel()
	defaults := resilience.Settings{FailureRate: 0.5, Window: 10, Cooldown: 30 * time.Second}

	s, err := resilience.SettingsFrom(nil)
	require.NoError(t, err)
	require.Equal(t, defaults, s)

	s, err = resilience.SettingsFrom(&engine.CircuitBreakerSpec{PerHost: true})
	require.NoError(t, err)
	require.Equal(t, defaults, s)

	s, err = resilience.SettingsFrom(&engine.CircuitBreakerSpec{FailureRate: 0.25, Window: 40, Cooldown: "2m"})
	require.NoError(t, err)
	require.Equal(t, resilience.Settings{FailureRate: 0.25, Window: 40, Cooldown: 2 * time.Minute}, s)

	for _, bad := range []engine.CircuitBreakerSpec{
		{FailureRate: 1},
		{FailureRate: -0.1},
		{Window: 1001},
		{Window: -1},
		{Cooldown: "soon"},
		{Cooldown: "-1s"},
	} {
		_, err := resilience.SettingsFrom(&bad)
		require.ErrorIs(t, err, engine.ErrInvalid, "%+v", bad)
	}
}

func TestHostKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		params string
		want   string
	}{
		{`{"url": "https://API.Example.com:8443/v1/x?y=1"}`, "http:api.example.com"},
		{`{"url": "http://10.0.0.7/health"}`, "http:10.0.0.7"},
		{`{"url": "https://{{ .input.host }}/x"}`, "http"},
		{`{"url": "/relative/path"}`, "http"},
		{`{"url": 42}`, "http"},
		{`{"method": "GET"}`, "http"},
		{``, "http"},
		{`null`, "http"},
	} {
		require.Equal(t, tc.want, resilience.HostKey("http", json.RawMessage(tc.params)), tc.params)
	}
}
