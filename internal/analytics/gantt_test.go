package analytics

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestComputeCriticalPath(t *testing.T) {
	t.Parallel()
	s := time.Second
	// Two parallel branches from A joining at F, plus a side branch G and a
	// lone task H:
	//
	//	A(4) ─┬─ B(3) ── C(5) ─┬─ F(2)     A-B-C-F = 14
	//	      ├─ D(6) ── E(1) ─┘           A-D-E-F = 13
	//	      └─ G(2)                      A-G     = 6
	//	H(9)                               H       = 9
	tasks := []PathTask{
		{Name: "A", Elapsed: 4 * s},
		{Name: "B", Deps: []string{"A"}, Elapsed: 3 * s},
		{Name: "C", Deps: []string{"B"}, Elapsed: 5 * s},
		{Name: "D", Deps: []string{"A"}, Elapsed: 6 * s},
		{Name: "E", Deps: []string{"D"}, Elapsed: 1 * s},
		{Name: "F", Deps: []string{"C", "E", "missing"}, Elapsed: 2 * s},
		{Name: "G", Deps: []string{"A"}, Elapsed: 2 * s},
		{Name: "H", Elapsed: 9 * s},
	}
	cp, err := ComputeCriticalPath(tasks)
	require.NoError(t, err)
	require.Equal(t, []string{"A", "B", "C", "F"}, cp.Steps)
	require.Equal(t, 14*s, cp.Length)
	require.Equal(t, map[string]time.Duration{
		"A": 0, "B": 0, "C": 0, "F": 0, "D": 1 * s, "E": 1 * s, "G": 8 * s, "H": 5 * s,
	}, cp.Slack)
}

func TestComputeCriticalPathTies(t *testing.T) {
	t.Parallel()
	// Equal branches: the first listed wins.
	cp, err := ComputeCriticalPath([]PathTask{
		{Name: "a", Elapsed: time.Second},
		{Name: "b", Deps: []string{"a"}, Elapsed: time.Second},
		{Name: "c", Deps: []string{"a"}, Elapsed: time.Second},
		{Name: "d", Deps: []string{"c", "b"}, Elapsed: 0},
	})
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "d"}, cp.Steps)
	require.Equal(t, time.Duration(0), cp.Slack["c"])

	empty, err := ComputeCriticalPath(nil)
	require.NoError(t, err)
	require.Empty(t, empty.Steps)

	_, err = ComputeCriticalPath([]PathTask{{Name: "x", Deps: []string{"y"}}, {Name: "y", Deps: []string{"x"}}})
	require.Error(t, err)
}
