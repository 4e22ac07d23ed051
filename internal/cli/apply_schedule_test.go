package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/testdb"
)

// TestApplySchedule: baton apply reads kind: schedule after the workflow it
// names, creates it, and updates it when applied again.
func TestApplySchedule(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	eng := engine.New(testdb.NewPool(t), engine.Options{})
	dir := t.TempDir()
	files := map[string]string{
		"a-schedule.yaml": "kind: schedule\nname: nightly\nworkflow: report\ncron: 30 2 * * *\ntime_zone: America/New_York\n" +
			"input:\n  day: \"{{ .schedule.logical_date }}\"\n",
		"b-workflow.yaml": "name: report\nsteps:\n  - name: a\n    type: noop\n",
		"c-type.yaml":     "kind: task_type\nname: noop\nexecutor: sleep\ndefaults: {duration: 0s}\n",
	}
	for name, body := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600))
	}
	var out bytes.Buffer
	require.NoError(t, applyPath(ctx, eng, nil, dir, &out, nil))
	require.Contains(t, out.String(), "schedule nightly created (30 2 * * * America/New_York)")
	out.Reset()
	require.NoError(t, applyPath(ctx, eng, nil, dir, &out, nil))
	require.Contains(t, out.String(), "schedule nightly updated")

	bad := filepath.Join(dir, "d-bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("kind: schedule\nname: bad\nworkflow: report\ncron: '@daily'\ntime_zone: Nowhere/Land\n"), 0o600))
	err := applyPath(ctx, eng, nil, dir, &out, nil)
	require.ErrorContains(t, err, "time_zone: unknown time zone")
}
