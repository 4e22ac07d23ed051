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

// TestApplySchemaErrorsAreLinePrecise: baton apply checks each file against
// its kind's JSON Schema before applying anything, and names
// file:line:column and the field of each violation.
func TestApplySchemaErrorsAreLinePrecise(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	eng := engine.New(testdb.NewPool(t), engine.Options{})
	dir := t.TempDir()
	good := filepath.Join(dir, "a-type.yaml")
	require.NoError(t, os.WriteFile(good, []byte("kind: task_type\nname: noop\nexecutor: sleep\n"), 0o600))
	bad := filepath.Join(dir, "b-workflow.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("kind: workflow\nname: wf\nsteps:\n  - name: a\n    type: noop\n    timeout: 5 minutes\n"), 0o600))
	var out bytes.Buffer
	err := applyPath(ctx, eng, nil, dir, &out, nil)
	require.EqualError(t, err, bad+`:6:14: steps[0].timeout: must be a duration such as 30s, 5m or 1h30m, not "5 minutes"`)
	require.ErrorIs(t, err, engine.ErrInvalid)
	require.Empty(t, out.String(), "nothing is applied when a file fails its schema")

	// The examples apply cleanly through the schema check.
	out.Reset()
	require.NoError(t, applyPath(ctx, eng, nil, filepath.Join("..", "..", "examples"), &out, nil))
	require.Contains(t, out.String(), "workflow release-pipeline")
}
