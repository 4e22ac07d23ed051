package jobs

import (
	"context"
	"errors"
	"runtime"
	"sync"
)

// errBatcherStopped is returned for items submitted after a batcher stopped.
var errBatcherStopped = errors.New("batcher stopped")

// batcher groups items submitted concurrently by many workers and hands them
// to flush in batches (group commit): while a flush runs, new items gather
// for the next. Under light load a batch is a single item and adds no delay;
// under heavy load one transaction records hundreds of items. Up to
// `flushers` batches are flushed at once; flush gets the index of the
// flusher (0..flushers-1) so that each can keep its own connection. With a
// shard function, each flusher has its own queue and an item always goes to
// flusher shard(item) % flushers: items of one shard (a run) are never
// flushed by two flushers at once, so flushers do not wait on each other's
// locks.
type batcher[T any] struct {
	flush    func(ctx context.Context, flusher int, items []T) error
	maxSize  int
	flushers int
	shard    func(T) uint64

	in      []chan batchItem[T]
	stopped chan struct{}
	// exited is closed once stop has seen every loop return: an item queued
	// after the last drain is never flushed, and its submitter must not wait.
	exited     chan struct{}
	done       sync.WaitGroup
	once, exit sync.Once
}

type batchItem[T any] struct {
	item  T
	reply chan error // nil: nobody waits for the outcome
}

func newBatcher[T any](maxSize, flushers int, flush func(ctx context.Context, flusher int, items []T) error) *batcher[T] {
	return &batcher[T]{
		flush:    flush,
		maxSize:  maxSize,
		flushers: flushers,
		in:       []chan batchItem[T]{make(chan batchItem[T], maxSize)},
		stopped:  make(chan struct{}),
		exited:   make(chan struct{}),
	}
}

// newShardedBatcher is newBatcher whose items are routed to flushers by
// shard (see batcher).
func newShardedBatcher[T any](maxSize, flushers int, shard func(T) uint64,
	flush func(ctx context.Context, flusher int, items []T) error,
) *batcher[T] {
	b := newBatcher(maxSize, flushers, flush)
	b.shard = shard
	b.in = make([]chan batchItem[T], flushers)
	for i := range b.in {
		b.in[i] = make(chan batchItem[T], maxSize)
	}
	return b
}

// queue returns the channel item goes to.
func (b *batcher[T]) queue(item T) chan batchItem[T] {
	if b.shard == nil {
		return b.in[0]
	}
	return b.in[b.shard(item)%uint64(len(b.in))]
}

// start runs the flushers until stop is called.
func (b *batcher[T]) start() {
	for i := range b.flushers {
		b.done.Add(1)
		go b.loop(i)
	}
}

// stop flushes what was submitted and ends the loop. Submissions after stop
// fail with errBatcherStopped.
func (b *batcher[T]) stop() {
	b.once.Do(func() { close(b.stopped) })
	b.done.Wait()
	b.exit.Do(func() { close(b.exited) })
}

// submit queues item and waits until the batch holding it was flushed.
func (b *batcher[T]) submit(ctx context.Context, item T) error {
	select {
	case <-b.stopped:
		return errBatcherStopped
	default:
	}
	reply := make(chan error, 1)
	select {
	case b.queue(item) <- batchItem[T]{item: item, reply: reply}:
	case <-b.stopped:
		return errBatcherStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-b.exited:
		// Queued while the batcher stopped: flushed by the last drain, or
		// never.
		select {
		case err := <-reply:
			return err
		default:
			return errBatcherStopped
		}
	case <-ctx.Done():
		// The item stays queued and will be flushed; the caller gives up waiting.
		return ctx.Err()
	}
}

// add queues item without waiting for its flush.
func (b *batcher[T]) add(item T) {
	select {
	case b.queue(item) <- batchItem[T]{item: item}:
	case <-b.stopped:
	}
}

func (b *batcher[T]) loop(flusher int) {
	defer b.done.Done()
	in := b.in[min(flusher, len(b.in)-1)]
	batch := make([]batchItem[T], 0, b.maxSize)
	for {
		select {
		case first := <-in:
			batch = append(batch[:0], first)
		case <-b.stopped:
			// Drain what was queued before stopping.
			for {
				select {
				case item := <-in:
					b.flushBatch(flusher, []batchItem[T]{item})
				default:
					return
				}
			}
		}
		yielded := false
	fill:
		for len(batch) < b.maxSize {
			select {
			case item := <-in:
				batch = append(batch, item)
			default:
				if yielded {
					break fill
				}
				// Let the goroutines that are ready to run submit first:
				// workers started together (River hands out a fetched
				// batch of jobs at once) then share one flush instead of
				// trickling into several small ones. Under light load this
				// costs one trip through the scheduler, not a timer.
				yielded = true
				runtime.Gosched()
			}
		}
		b.flushBatch(flusher, batch)
	}
}

func (b *batcher[T]) flushBatch(flusher int, batch []batchItem[T]) {
	items := make([]T, len(batch))
	for i, it := range batch {
		items[i] = it.item
	}
	err := b.flush(context.Background(), flusher, items)
	for _, it := range batch {
		if it.reply != nil {
			it.reply <- err
		}
	}
}
