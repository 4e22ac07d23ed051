package engine

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTaskTypePrices: cost_per_second and cost_per_run parse from YAML and
// are validated (0 to 1e9, finite).
func TestTaskTypePrices(t *testing.T) {
	t.Parallel()
	parsed, err := ParseSpec([]byte("kind: task_type\nname: render\nexecutor: sim\ncost_per_second: 0.0004\ncost_per_run: 0.01\n"))
	require.NoError(t, err)
	spec, ok := parsed.(*TaskTypeSpec)
	require.True(t, ok)
	require.Equal(t, 0.0004, *spec.CostPerSecond)
	require.Equal(t, 0.01, *spec.CostPerRun)
	require.NoError(t, spec.Validate(nil))

	for _, v := range []float64{-0.5, 2e9} {
		bad := &TaskTypeSpec{Name: "render", Executor: "sim", CostPerRun: &v}
		err := bad.Validate(nil)
		var invalid *ValidationError
		require.True(t, errors.As(err, &invalid), "%v", err)
		require.Equal(t, "cost_per_run", invalid.Problems[0].Field)
	}
}
