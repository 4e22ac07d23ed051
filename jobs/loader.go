package jobs

import (
	"context"
	"fmt"

	"github.com/baton-run/baton/internal/engine"
)

// loader reads rows by id for many workers at once: workers that ask at the
// same time share one read instead of one read each, so reading holds at
// most loaderFlushers connections however many workers ask.
type loader[V any] struct {
	what    string
	read    func(ctx context.Context, ids []int64) (map[int64]V, error)
	batcher *batcher[*loadRequest[V]]
}

// loadRequest asks for the row of one id; the loader fills value or err
// before the request's batch is answered.
type loadRequest[V any] struct {
	id    int64
	value V
	err   error
}

// loaderFlushers is how many batches of one loader are read at once.
const loaderFlushers = 2

// newLoader returns a loader of what (named in errors) that reads with read.
func newLoader[V any](what string, read func(ctx context.Context, ids []int64) (map[int64]V, error)) *loader[V] {
	l := &loader[V]{what: what, read: read}
	l.batcher = newBatcher(maxBatch, loaderFlushers, l.flush)
	return l
}

// load returns the row of id, or an error wrapping engine.ErrNotFound when
// there is none. Values of one id are shared by its requests of a batch:
// callers only read them.
func (l *loader[V]) load(ctx context.Context, id int64) (V, error) {
	req := &loadRequest[V]{id: id}
	if err := l.batcher.submit(ctx, req); err != nil {
		var zero V
		return zero, err
	}
	return req.value, req.err
}

func (l *loader[V]) flush(ctx context.Context, _ int, reqs []*loadRequest[V]) error {
	ids := make([]int64, 0, len(reqs))
	seen := make(map[int64]bool, len(reqs))
	for _, r := range reqs {
		if !seen[r.id] {
			seen[r.id] = true
			ids = append(ids, r.id)
		}
	}
	all, err := l.read(ctx, ids)
	if err != nil {
		return err
	}
	for _, r := range reqs {
		value, ok := all[r.id]
		if !ok {
			r.err = fmt.Errorf("%s %d: %w", l.what, r.id, engine.ErrNotFound)
			continue
		}
		r.value = value
	}
	return nil
}
