package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/baton-run/baton/internal/dbsqlc"
)

// DeadLetterFilter selects dead-letter entries. Empty fields match everything.
type DeadLetterFilter struct {
	Workflow   string
	TaskType   string
	ErrorClass string
	// Since and Until bound the last failure time (Until exclusive).
	Since, Until *time.Time
	// Cursor continues a previous listing; Limit caps the page (1..500, default 50).
	Cursor string
	Limit  int
}

// DeadLetterPage is one page of dead letters, newest first.
type DeadLetterPage struct {
	DeadLetters []*DeadLetter
	NextCursor  string
}

// ListDeadLetters lists dead-letter entries newest first.
func (e *Engine) ListDeadLetters(ctx context.Context, f DeadLetterFilter) (*DeadLetterPage, error) {
	limit := f.Limit
	if limit == 0 {
		limit = 50
	}
	if limit < 1 || limit > 500 {
		return nil, fmt.Errorf("%w: limit must be between 1 and 500, got %d", ErrInvalid, limit)
	}
	params := &dbsqlc.DeadLetterListParams{
		Workflow: nonEmpty(f.Workflow), TaskType: nonEmpty(f.TaskType), ErrorClass: nonEmpty(f.ErrorClass),
		Since: f.Since, Until: f.Until, MaxRows: int32(limit + 1),
	}
	if f.Cursor != "" {
		before, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, err
		}
		params.BeforeID = &before
	}
	rows, err := e.queries.DeadLetterList(ctx, e.pool, params)
	if err != nil {
		return nil, translateError(err, "list dead letters")
	}
	page := &DeadLetterPage{}
	if len(rows) > limit {
		rows = rows[:limit]
		page.NextCursor = encodeCursor(rows[limit-1].ID)
	}
	page.DeadLetters = make([]*DeadLetter, len(rows))
	for i, row := range rows {
		page.DeadLetters[i] = deadLetterFromRow(row)
	}
	return page, nil
}

// GetDeadLetter returns one dead-letter entry.
func (e *Engine) GetDeadLetter(ctx context.Context, id int64) (*DeadLetter, error) {
	row, err := e.queries.DeadLetterGet(ctx, e.pool, id)
	if err != nil {
		return nil, translateError(err, fmt.Sprintf("dead letter %d", id))
	}
	return deadLetterFromRow(row), nil
}

// DeadLetterStats describes the dead-letter queue, for alerting.
type DeadLetterStats struct {
	Size   int64
	Oldest *time.Time
}

// GetDeadLetterStats returns the queue's size and the age of its oldest entry.
func (e *Engine) GetDeadLetterStats(ctx context.Context) (*DeadLetterStats, error) {
	row, err := e.queries.DeadLetterStats(ctx, e.pool)
	if err != nil {
		return nil, translateError(err, "dead letter stats")
	}
	stats := &DeadLetterStats{Size: row.Size}
	if row.Size > 0 {
		stats.Oldest = &row.Oldest
	}
	return stats, nil
}

// ResubmitDeadLetter retries the entry's task, removes the entry, and lets
// the run continue from that task. A non-nil params (a JSON object) is
// merged over the task's params as in RetryTask. It returns the task's id.
func (e *Engine) ResubmitDeadLetter(ctx context.Context, id int64, params json.RawMessage, actor string) (int64, error) {
	if err := checkNewParams(params); err != nil {
		return 0, err
	}
	taskID, err := e.queries.DeadLetterResubmit(ctx, e.pool, &dbsqlc.DeadLetterResubmitParams{
		ID: id, Params: params, Actor: actorOrDefault(actor),
	})
	if err != nil {
		return 0, translateError(err, fmt.Sprintf("resubmit dead letter %d", id))
	}
	return taskID, nil
}

// BulkResubmitResult reports a bulk resubmission: the entries resubmitted and
// those that could not be, with why.
type BulkResubmitResult struct {
	Resubmitted []int64
	Failed      map[int64]string
}

// ResubmitDeadLetters resubmits every entry matching the filter (up to
// limit, default 100, at most 1000), each in its own transaction so that one
// entry that cannot be resubmitted does not hold back the others.
func (e *Engine) ResubmitDeadLetters(ctx context.Context, f DeadLetterFilter, limit int, actor string) (*BulkResubmitResult, error) {
	if limit <= 0 {
		limit = 100
	}
	if limit > 1000 {
		return nil, fmt.Errorf("%w: limit must be at most 1000, got %d", ErrInvalid, limit)
	}
	f.Cursor, f.Limit = "", min(limit, 500)
	res := &BulkResubmitResult{Resubmitted: []int64{}, Failed: map[int64]string{}}
	for len(res.Resubmitted)+len(res.Failed) < limit {
		page, err := e.ListDeadLetters(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, d := range page.DeadLetters {
			if len(res.Resubmitted)+len(res.Failed) >= limit {
				break
			}
			if _, err := e.ResubmitDeadLetter(ctx, d.ID, nil, actor); err != nil {
				res.Failed[d.ID] = err.Error()
				continue
			}
			res.Resubmitted = append(res.Resubmitted, d.ID)
		}
		if page.NextCursor == "" {
			break
		}
		f.Cursor = page.NextCursor
	}
	return res, nil
}

// DiscardDeadLetter removes an entry; its task stays dead.
func (e *Engine) DiscardDeadLetter(ctx context.Context, id int64, actor string) error {
	_, err := e.queries.DeadLetterDiscard(ctx, e.pool, &dbsqlc.DeadLetterDiscardParams{ID: id, Actor: actorOrDefault(actor)})
	return translateError(err, fmt.Sprintf("discard dead letter %d", id))
}

// PurgeDeadLetters removes entries older than retention and returns how many.
func (e *Engine) PurgeDeadLetters(ctx context.Context, retention time.Duration) (int, error) {
	n, err := e.queries.DeadLetterPurge(ctx, e.pool, durationInterval(retention))
	if err != nil {
		return 0, translateError(err, "purge dead letters")
	}
	return int(n), nil
}

func deadLetterFromRow(r *dbsqlc.BatonDeadLetter) *DeadLetter {
	return &DeadLetter{
		ID: r.ID, TaskID: r.TaskID, RunID: r.RunID, Workflow: r.WorkflowName, WorkflowVersion: int(r.WorkflowVersion),
		Step: r.StepName, TaskType: r.TaskType, Params: r.Params, Error: r.Error, ErrorClass: r.ErrorClass,
		Attempts: int(r.Attempts), FirstFailedAt: r.FirstFailedAt, LastFailedAt: r.LastFailedAt, CreatedAt: r.CreatedAt,
	}
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
