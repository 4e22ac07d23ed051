package api

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAnalyticsCacheReusesAnswersForTheTTL(t *testing.T) {
	t.Parallel()
	c := newAnalyticsCache(5 * time.Second)
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	c.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	var fills atomic.Int32
	release := make(chan struct{})
	fill := func(context.Context) (any, error) {
		n := fills.Add(1)
		<-release
		return &struct{ N int32 }{n}, nil
	}

	// Concurrent requests for one key share one fill.
	var wg sync.WaitGroup
	etags := make([]string, 10)
	for i := range etags {
		wg.Go(func() {
			_, etag, err := c.get(context.Background(), "k", fill)
			require.NoError(t, err)
			etags[i] = etag
		})
	}
	require.Eventually(t, func() bool { return fills.Load() == 1 }, 5*time.Second, time.Millisecond)
	close(release)
	wg.Wait()
	require.EqualValues(t, 1, fills.Load())
	for _, e := range etags {
		require.Equal(t, etags[0], e)
	}

	advance(4 * time.Second)
	_, _, err := c.get(context.Background(), "k", fill)
	require.NoError(t, err)
	require.EqualValues(t, 1, fills.Load(), "reused within the TTL")
	_, _, err = c.get(context.Background(), "other", fill)
	require.NoError(t, err)
	require.EqualValues(t, 2, fills.Load(), "another key is another question")

	advance(2 * time.Second)
	v, etag, err := c.get(context.Background(), "k", fill)
	require.NoError(t, err)
	require.EqualValues(t, 3, fills.Load(), "filled again after the TTL")
	require.EqualValues(t, 3, v.(*struct{ N int32 }).N)
	require.NotEqual(t, etags[0], etag)
}
