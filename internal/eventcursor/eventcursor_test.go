package eventcursor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAdvanceRemembersGapsUntilSeenOrGivenUp(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	c := Cursor{Last: 10}
	// 11 and 13 are in flight: 12 and 14 are visible.
	st := c.Advance([]int64{12, 14}, nil, now, Options{})
	require.Equal(t, int64(14), st.Upto)
	require.Equal(t, []int64{11, 13}, st.Skip)
	require.True(t, st.Skipped(13))
	require.False(t, st.Skipped(12))
	require.Equal(t, []int64{11, 13}, st.Next.Pending)

	// 13 commits; 11 never does and is given up after the grace period.
	st = st.Next.Advance(nil, []int64{13}, now.Add(time.Second), Options{})
	require.Equal(t, int64(14), st.Upto)
	require.Equal(t, []int64{13}, st.Visible)
	require.Equal(t, []int64{11}, st.Next.Pending)
	st = st.Next.Advance(nil, nil, now.Add(time.Minute), Options{GiveUpAfter: 30 * time.Second})
	require.Empty(t, st.Next.Pending)
	require.NotNil(t, st.Next.Pending)
}

func TestAdvanceCapsPending(t *testing.T) {
	t.Parallel()
	st := Cursor{}.Advance([]int64{100}, nil, time.Now(), Options{MaxPending: 5})
	require.Len(t, st.Next.Pending, 5)
	require.Equal(t, int64(100), st.Next.Last)
}
