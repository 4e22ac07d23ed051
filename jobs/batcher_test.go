package jobs

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBatcherGroupsConcurrentSubmissions submits items from many goroutines
// started together, as River starts the jobs of one fetch: every item is
// flushed exactly once, each item's shard always by the same flusher, and
// items submitted together share flushes.
func TestBatcherGroupsConcurrentSubmissions(t *testing.T) {
	const items = 2000
	var (
		mu        sync.Mutex
		flushed   = map[int]int{}
		flusherOf = map[uint64]int{}
		flushes   int
	)
	b := newShardedBatcher(maxBatch, 2, func(i int) uint64 { return uint64(i % 7) },
		func(_ context.Context, flusher int, batch []int) error {
			mu.Lock()
			defer mu.Unlock()
			flushes++
			for _, i := range batch {
				flushed[i]++
				shard := uint64(i % 7)
				if f, ok := flusherOf[shard]; ok {
					require.Equal(t, f, flusher, "shard %d flushed by two flushers", shard)
				}
				flusherOf[shard] = flusher
			}
			return nil
		})
	b.start()
	var wg sync.WaitGroup
	for i := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, b.submit(context.Background(), i))
		}()
	}
	wg.Wait()
	b.stop()
	require.Len(t, flushed, items)
	for i, n := range flushed {
		require.Equal(t, 1, n, "item %d flushed %d times", i, n)
	}
	require.Less(t, flushes, items/10, "items submitted together should share flushes")
	require.ErrorIs(t, b.submit(context.Background(), 1), errBatcherStopped)
}

// TestBatcherSubmitAfterStopReturns submits, with a context that is never
// done, to a stopped batcher whose queue has room: it must return, not wait
// for a flush that will never come.
func TestBatcherSubmitAfterStopReturns(t *testing.T) {
	b := newBatcher(maxBatch, 1, func(context.Context, int, []int) error { return nil })
	b.start()
	b.stop()
	for range 1000 {
		require.ErrorIs(t, b.submit(context.Background(), 1), errBatcherStopped)
	}
}
