package trigger_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/trigger"
)

// TestParseSpec decodes a kind: trigger YAML document, reads its secret
// from the environment, and refuses unknown fields and bad durations by
// name.
func TestParseSpec(t *testing.T) {
	t.Parallel()
	doc := []byte(`kind: trigger
name: deploy-on-push
event_type: github.push
condition: '$.ref == "refs/heads/main"'
workflow: deploy
input: {commit: "{{ .payload.after }}"}
dedup_window: 1h
secret_env: HOOK_SECRET
`)
	require.True(t, trigger.IsSpec(doc))
	require.False(t, trigger.IsSpec([]byte("name: w\nsteps: []\n")))
	p, err := trigger.ParseSpec(doc, func(name string) string {
		if name == "HOOK_SECRET" {
			return "0123456789abcdef0123"
		}
		return ""
	})
	require.NoError(t, err)
	require.Equal(t, "deploy-on-push", p.Name)
	require.Equal(t, `$.ref == "refs/heads/main"`, p.Condition)
	require.JSONEq(t, `{"commit": "{{ .payload.after }}"}`, string(p.InputTemplate))
	require.Equal(t, time.Hour, *p.DedupWindow)
	require.Equal(t, "0123456789abcdef0123", *p.Secret)

	for field, bad := range map[string]string{
		"colour":       "kind: trigger\nname: t\ncolour: red\n",
		"dedup_window": "kind: trigger\nname: t\ndedup_window: soon\n",
		"secret_env":   "kind: trigger\nname: t\nsecret_env: UNSET_FOR_SURE\n",
	} {
		_, err := trigger.ParseSpec([]byte(bad), func(string) string { return "" })
		var invalid *engine.ValidationError
		require.ErrorAs(t, err, &invalid, field)
		require.Equal(t, field, invalid.Problems[0].Field)
	}
}
