// Package batch starts and steers many runs as one: a batch is started in
// one transaction by baton.start_batch (all-or-nothing: any invalid member
// refuses the whole batch, naming every bad member), its progress is read
// from its members' runs, a periodic check (baton.check_batches) ends it
// and applies its on_member_failure policy, and it can be retried or
// cancelled as a whole.
//
// Errors wrap the engine's domain errors, so the API maps them as it maps
// the engine's.
package batch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/baton-run/baton/internal/dbsqlc"
	"github.com/baton-run/baton/internal/engine"
)

// MaxMembers is the largest batch.
const MaxMembers = 10000

// Member is one run to start.
type Member struct {
	Workflow       string          `json:"workflow"`
	Input          json.RawMessage `json:"input,omitempty"`
	IdempotencyKey string          `json:"idempotency_key,omitempty"`
	Priority       int             `json:"priority,omitempty"`
	Version        int             `json:"version,omitempty"`
	Owner          string          `json:"owner,omitempty"`
	Tags           []string        `json:"tags,omitempty"`
}

// Spec is a batch to start.
type Spec struct {
	Name            string   `json:"name,omitempty"`
	OnMemberFailure string   `json:"on_member_failure,omitempty"` // continue (default) or rollback
	Members         []Member `json:"members"`
}

// Progress is a batch with its members counted by status.
type Progress struct {
	ID              int64
	Name            string
	Status          string // running, succeeded, failed, cancelled
	OnMemberFailure string
	MembersTotal    int
	Members         map[string]int // by run status
	TasksDone       int64
	TasksTotal      int64
	Percent         float64
	CreatedAt       time.Time
	StartedAt       *time.Time
	FinishedAt      *time.Time
	// EstimatedFinish extrapolates the pace so far (nil until a task is
	// done, or once finished).
	EstimatedFinish *time.Time
}

// Finished reports whether the batch has ended.
func (p *Progress) Finished() bool { return p.Status != "running" }

// MemberRun is a member and its current run.
type MemberRun struct {
	Index    int
	RunID    int64
	Retries  int
	Workflow string
	Status   string
	Error    *string
}

// Service starts and steers batches.
type Service struct {
	pool    *pgxpool.Pool
	queries *dbsqlc.Queries
	now     func() time.Time
}

// New returns a Service on pool.
func New(pool *pgxpool.Pool) *Service {
	return &Service{pool: pool, queries: dbsqlc.New(), now: time.Now}
}

// Start starts a batch in one transaction and returns its progress.
func (s *Service) Start(ctx context.Context, spec Spec, actor string) (*Progress, error) {
	if len(spec.Members) == 0 || len(spec.Members) > MaxMembers {
		return nil, &engine.ValidationError{Problems: []engine.Problem{{Field: "members",
			Message: fmt.Sprintf("must hold 1 to %d members, got %d", MaxMembers, len(spec.Members))}}}
	}
	body, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("encode batch: %w", err)
	}
	var id int64
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		id, err = s.StartTx(ctx, tx, body, actor)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, id)
}

// StartTx starts a batch (spec as baton.start_batch takes it) in tx.
func (s *Service) StartTx(ctx context.Context, tx pgx.Tx, spec json.RawMessage, actor string) (int64, error) {
	id, err := s.queries.BatchStart(ctx, tx, &dbsqlc.BatchStartParams{Spec: spec, Actor: actor})
	if err != nil {
		return 0, batchError(err, "batch")
	}
	return id, nil
}

// fieldPrefix finds "field: message" in a function's error.
var fieldPrefix = regexp.MustCompile(`^baton: ([a-z_]+): (.*)$`)

// batchError maps start_batch's errors: 22023 with a DETAIL listing the bad
// members becomes a ValidationError naming members[i] for each.
func batchError(err error, what string) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "22023" {
		var bad []struct {
			Index  int    `json:"index"`
			Reason string `json:"reason"`
		}
		if pgErr.Detail != "" && json.Unmarshal([]byte(pgErr.Detail), &bad) == nil && len(bad) > 0 {
			v := &engine.ValidationError{}
			for _, b := range bad {
				v.Problems = append(v.Problems, engine.Problem{Field: fmt.Sprintf("members[%d]", b.Index), Message: b.Reason})
			}
			return v
		}
		if m := fieldPrefix.FindStringSubmatch(pgErr.Message); m != nil {
			return &engine.ValidationError{Problems: []engine.Problem{{Field: m[1], Message: m[2]}}}
		}
		return fmt.Errorf("%s: %s: %w", what, pgErr.Message, engine.ErrInvalid)
	}
	if errors.As(err, &pgErr) && pgErr.Code == "P0002" {
		return fmt.Errorf("%s not found: %w", what, engine.ErrNotFound)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s not found: %w", what, engine.ErrNotFound)
	}
	if engine.IsUnavailable(err) {
		return fmt.Errorf("%s: %w: %w", what, engine.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Get returns a batch's progress.
func (s *Service) Get(ctx context.Context, id int64) (*Progress, error) {
	what := fmt.Sprintf("batch %d", id)
	b, err := s.queries.BatchGet(ctx, s.pool, id)
	if err != nil {
		return nil, batchError(err, what)
	}
	counts, err := s.queries.BatchRunCounts(ctx, s.pool, id)
	if err != nil {
		return nil, batchError(err, what)
	}
	done, err := s.queries.BatchTasksDone(ctx, s.pool, id)
	if err != nil {
		return nil, batchError(err, what)
	}
	p := &Progress{ID: b.ID, Name: b.Name, Status: b.Status, OnMemberFailure: b.OnMemberFailure,
		MembersTotal: int(b.MembersTotal), Members: map[string]int{}, TasksDone: done, CreatedAt: b.CreatedAt,
		FinishedAt: b.FinishedAt}
	for _, c := range counts {
		p.Members[c.Status] = int(c.Runs)
		p.TasksTotal += c.TasksTotal
		if p.StartedAt == nil || c.FirstStarted.Before(*p.StartedAt) {
			p.StartedAt = new(c.FirstStarted)
		}
	}
	switch {
	case p.Finished():
		p.Percent = 100
	case p.TasksTotal > 0:
		p.Percent = min(99.9, float64(p.TasksDone)*100/float64(p.TasksTotal))
	}
	if !p.Finished() && p.TasksDone > 0 && p.StartedAt != nil {
		elapsed := s.now().Sub(*p.StartedAt)
		left := time.Duration(float64(elapsed) * float64(p.TasksTotal-p.TasksDone) / float64(p.TasksDone))
		p.EstimatedFinish = new(s.now().Add(left))
	}
	return p, nil
}

// Members lists a batch's members by index, after afterIndex.
func (s *Service) Members(ctx context.Context, id int64, afterIndex, limit int) ([]MemberRun, error) {
	if _, err := s.queries.BatchGet(ctx, s.pool, id); err != nil {
		return nil, batchError(err, fmt.Sprintf("batch %d", id))
	}
	rows, err := s.queries.BatchMembers(ctx, s.pool, &dbsqlc.BatchMembersParams{BatchID: id, AfterIdx: int32(afterIndex), MaxRows: int32(limit)})
	if err != nil {
		return nil, batchError(err, fmt.Sprintf("batch %d", id))
	}
	out := make([]MemberRun, len(rows))
	for i, r := range rows {
		out[i] = MemberRun{Index: int(r.Idx), RunID: r.RunID, Retries: int(r.Retries), Workflow: r.WorkflowName,
			Status: r.Status, Error: r.Error}
	}
	return out, nil
}

// Wait returns the batch's progress once it has finished or timeout has
// passed (whichever comes first), checking every poll.
func (s *Service) Wait(ctx context.Context, id int64, timeout, poll time.Duration) (*Progress, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		p, err := s.Get(ctx, id)
		if err != nil || p.Finished() {
			return p, err
		}
		select {
		case <-ctx.Done():
			return p, nil
		case <-deadline.C:
			return p, nil
		case <-tick.C:
		}
	}
}

// Cancel cancels every unfinished member and ends the batch as cancelled.
// It answers engine.ErrConflict when the batch had already finished.
func (s *Service) Cancel(ctx context.Context, id int64, actor string) (*Progress, error) {
	ok, err := s.queries.BatchCancel(ctx, s.pool, &dbsqlc.BatchCancelParams{ID: id, Actor: actor})
	if err != nil {
		return nil, batchError(err, fmt.Sprintf("batch %d", id))
	}
	if !ok {
		return nil, fmt.Errorf("batch %d has already finished: %w", id, engine.ErrConflict)
	}
	return s.Get(ctx, id)
}

// Retry starts the failed and cancelled members again (new runs with the
// same input) and returns how many, with the batch's progress.
func (s *Service) Retry(ctx context.Context, id int64, actor string) (int, *Progress, error) {
	n, err := s.queries.BatchRetry(ctx, s.pool, &dbsqlc.BatchRetryParams{ID: id, Actor: actor})
	if err != nil {
		return 0, nil, batchError(err, fmt.Sprintf("batch %d", id))
	}
	p, err := s.Get(ctx, id)
	return int(n), p, err
}

// Check ends the running batches whose members have finished and applies
// their on_member_failure policy (baton.check_batches); it returns how many
// ended.
func (s *Service) Check(ctx context.Context) (int, error) {
	n, err := s.queries.BatchCheck(ctx, s.pool, 1000)
	if err != nil {
		return 0, batchError(err, "batch check")
	}
	return int(n), nil
}
