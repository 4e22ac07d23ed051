// Package eventcursor keeps a reader's place in baton.task_events, whose
// ids come from a sequence: a transaction may commit an id lower than ids
// already visible, so a plain high-water mark would skip it. The cursor
// remembers the ids missing below the mark (their transactions still in
// flight, or rolled back) and looks for them again until they appear or a
// grace period passes.
package eventcursor

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/baton-run/baton/internal/dbsqlc"
)

// Cursor is a reader's place: every id up to Last was read or is Pending.
// PendingSeenMs[i] is when Pending[i] was first found missing (Unix ms).
type Cursor struct {
	Last          int64
	Pending       []int64
	PendingSeenMs []int64
}

// Options bounds a Cursor's bookkeeping.
type Options struct {
	// GiveUpAfter is how long a missing id is looked for (default 30 s).
	GiveUpAfter time.Duration
	// MaxPending caps the ids remembered (default 10,000); the oldest are
	// dropped first.
	MaxPending int
}

// Step is one read: events with Last < id <= Upto, or id in Visible, are
// read, except those in Skip (ids that were missing when the ids were
// listed and became visible since: they are read on the next step, so that
// none is read twice). Next is the cursor to save with what was read.
type Step struct {
	Upto    int64
	Visible []int64
	Skip    []int64
	Next    Cursor
	// Listed is how many ids past c.Last Read found (at most its maxRows):
	// when it is maxRows, more may follow.
	Listed int
}

// Advance plans a read. ids are the visible ids past c.Last in ascending
// order (bounded by the caller); visiblePending are the ids of c.Pending
// visible now.
func (c Cursor) Advance(ids, visiblePending []int64, now time.Time, opts Options) Step {
	if opts.GiveUpAfter <= 0 {
		opts.GiveUpAfter = 30 * time.Second
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = 10000
	}
	st := Step{Upto: c.Last, Visible: visiblePending}
	if len(ids) > 0 {
		st.Upto = ids[len(ids)-1]
	}
	next := c.Last + 1
	for _, id := range ids {
		for ; next < id && len(st.Skip) < opts.MaxPending; next++ {
			st.Skip = append(st.Skip, next)
		}
		next = id + 1
	}
	nowMs := now.UnixMilli()
	cutoff := now.Add(-opts.GiveUpAfter).UnixMilli()
	var pending, seen []int64
	for i, id := range c.Pending {
		at := nowMs
		if i < len(c.PendingSeenMs) {
			at = c.PendingSeenMs[i]
		}
		if slices.Contains(visiblePending, id) || at < cutoff {
			continue
		}
		pending = append(pending, id)
		seen = append(seen, at)
	}
	for _, id := range st.Skip {
		pending = append(pending, id)
		seen = append(seen, nowMs)
	}
	if len(pending) > opts.MaxPending {
		pending = pending[len(pending)-opts.MaxPending:]
		seen = seen[len(seen)-opts.MaxPending:]
	}
	st.Next = Cursor{Last: st.Upto, Pending: nonNil(pending), PendingSeenMs: nonNil(seen)}
	return st
}

// Skipped reports whether id is one the step must not read.
func (st *Step) Skipped(id int64) bool {
	_, found := slices.BinarySearch(st.Skip, id)
	return found
}

func nonNil(ids []int64) []int64 {
	if ids == nil {
		return []int64{}
	}
	return ids
}

// Read lists the visible ids past c (at most maxRows) and the pending ids
// visible now, and plans the step (Advance with default options).
func Read(ctx context.Context, db dbsqlc.DBTX, c Cursor, maxRows int, now time.Time) (Step, error) {
	q := dbsqlc.New()
	ids, err := q.EventCursorIDsAfter(ctx, db, &dbsqlc.EventCursorIDsAfterParams{AfterID: c.Last, MaxRows: int32(maxRows)})
	if err != nil {
		return Step{}, fmt.Errorf("read event ids: %w", err)
	}
	var visible []int64
	if len(c.Pending) > 0 {
		if visible, err = q.EventCursorIDsVisible(ctx, db, c.Pending); err != nil {
			return Step{}, fmt.Errorf("read pending event ids: %w", err)
		}
	}
	st := c.Advance(ids, visible, now, Options{})
	st.Visible = nonNil(st.Visible)
	st.Listed = len(ids)
	return st, nil
}

// Moved reports whether the step reads anything.
func (st *Step) Moved(c Cursor) bool { return st.Upto > c.Last || len(st.Visible) > 0 }
