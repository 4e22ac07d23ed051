package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/baton-run/baton/internal/dbsqlc"
	"github.com/baton-run/baton/internal/engine"
)

// maxDuePerTick bounds the schedules one tick handles; the rest wait for
// the next tick.
const maxDuePerTick = 100

// maxEnumerate bounds the fire times one tick walks through for one
// schedule (a per-second schedule disabled for weeks); the walk goes on at
// the next tick.
const maxEnumerate = 200_000

// TickResult counts what a tick did.
type TickResult struct {
	Schedules int // schedules handled
	Started   int // runs started
}

// Tick starts the runs of every fire that is due. When nothing is due it
// costs one indexed query. Many nodes may tick at once: each schedule is
// handled by one of them at a time (row lock, SKIP LOCKED), and each fire is
// unique in baton.schedule_fires.
func (s *Service) Tick(ctx context.Context) (TickResult, error) {
	var res TickResult
	now := s.now()
	names, err := s.queries.ScheduleListDue(ctx, s.pool, &dbsqlc.ScheduleListDueParams{Now: now, MaxRows: maxDuePerTick})
	if err != nil {
		return res, translate(err, "list due schedules")
	}
	var errs []error
	for _, name := range names {
		started, handled, err := s.fireSchedule(ctx, name, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("schedule %q: %w", name, err))
			continue
		}
		if handled {
			res.Schedules++
		}
		res.Started += started
	}
	return res, errors.Join(errs...)
}

// dueFire is a fire time the tick decided about.
type dueFire struct {
	fire, due time.Time
	kind      string
	start     bool // start it (subject to overlap); else record it missed
}

// fireSchedule handles one due schedule in one transaction.
func (s *Service) fireSchedule(ctx context.Context, name string, now time.Time) (started int, handled bool, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		row, err := s.queries.ScheduleLockDue(ctx, tx, &dbsqlc.ScheduleLockDueParams{Name: name, Now: now})
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // another node has it, or it is no longer due
		}
		if err != nil {
			return translate(err, "lock schedule")
		}
		handled = true
		expr, err := ParseExpr(row.Cron, row.TimeZone)
		if err != nil {
			// Changed through SQL into something invalid: look again in a minute.
			msg := err.Error()
			next := now.Add(time.Minute)
			return s.queries.ScheduleAdvance(ctx, tx, &dbsqlc.ScheduleAdvanceParams{
				Name: name, CursorAt: row.CursorAt, NextDueAt: &next, LastError: &msg})
		}
		f := &firer{s: s, tx: tx, row: row, expr: expr}
		if err := f.loadState(ctx); err != nil {
			return err
		}
		// A queued fire starts once the previous run has finished.
		if len(f.queued) > 0 && len(f.active) == 0 {
			q := f.queued[0]
			f.queued = f.queued[1:]
			if err := f.start(ctx, q.FireTime, q.DueAt, q.Kind, true); err != nil {
				return err
			}
		}
		fires, cursor := s.dueFires(row, expr, now)
		for _, d := range fires {
			if !d.start {
				if _, err := f.record(ctx, d, FireMissed); err != nil {
					return err
				}
				continue
			}
			if err := f.fire(ctx, d); err != nil {
				return err
			}
		}
		nextDue := never
		if nf := nextFire(expr, cursor, row.StartAt, row.EndAt); !nf.IsZero() {
			nextDue = nf.Add(Jitter(name, nf, time.Duration(row.JitterMs)*time.Millisecond))
		}
		if len(f.queued) > 0 && nextDue.After(now.Add(time.Second)) {
			nextDue = now.Add(time.Second) // poll the previous run while fires wait
		}
		started = f.started
		return s.queries.ScheduleAdvance(ctx, tx, &dbsqlc.ScheduleAdvanceParams{
			Name: name, CursorAt: cursor, NextDueAt: &nextDue, LastError: f.lastError})
	})
	return started, handled, err
}

// dueFires lists the fires after the cursor that are due at now, with the
// catch-up policy applied, and returns the new cursor.
func (s *Service) dueFires(row *dbsqlc.BatonSchedule, expr *Expr, now time.Time) ([]dueFire, time.Time) {
	jitter := time.Duration(row.JitterMs) * time.Millisecond
	cursor := row.CursorAt
	after := cursor
	if row.StartAt != nil && !row.StartAt.Before(after) {
		after = row.StartAt.Add(-time.Nanosecond)
	}
	maxKeep := int(row.MaxCatchup)
	var late, onTime []dueFire
	lateCount := 0
	for f, n := expr.Next(after), 0; !f.IsZero() && !f.After(now) && n < maxEnumerate; f, n = expr.Next(f), n+1 {
		if row.EndAt != nil && f.After(*row.EndAt) {
			break
		}
		due := f.Add(Jitter(row.Name, f, jitter))
		if due.After(now) {
			break
		}
		cursor = f
		d := dueFire{fire: f, due: due, kind: KindScheduled, start: true}
		if now.Sub(due) > s.grace {
			d.kind = KindCatchup
			lateCount++
			late = append(late, d)
			if len(late) > maxKeep { // keep the newest maxKeep late fires
				late = late[1:]
			}
			continue
		}
		onTime = append(onTime, d)
	}
	switch row.Catchup {
	case CatchupNone:
		for i := range late {
			late[i].start = false
		}
	case CatchupLatest:
		for i := range late {
			late[i].start = i == len(late)-1 && len(onTime) == 0
		}
	}
	if lateCount > len(late) {
		s.logger.Warn("schedule: late fires beyond max_catchup dropped",
			slog.String("schedule", row.Name), slog.Int("dropped", lateCount-len(late)))
	}
	return append(late, onTime...), cursor
}

// firer starts the fires of one schedule inside the tick's transaction.
type firer struct {
	s         *Service
	tx        pgx.Tx
	row       *dbsqlc.BatonSchedule
	expr      *Expr
	active    []int64
	queued    []*dbsqlc.ScheduleQueuedFiresRow
	started   int
	lastError *string
}

func (f *firer) loadState(ctx context.Context) error {
	if f.row.Overlap == OverlapAllow {
		return nil
	}
	var err error
	if f.active, err = f.s.queries.ScheduleActiveRuns(ctx, f.tx, f.row.Name); err != nil {
		return translate(err, "active runs")
	}
	if f.row.Overlap == OverlapQueue {
		if f.queued, err = f.s.queries.ScheduleQueuedFires(ctx, f.tx, f.row.Name); err != nil {
			return translate(err, "queued fires")
		}
	}
	return nil
}

// fire applies the overlap policy to a due fire.
func (f *firer) fire(ctx context.Context, d dueFire) error {
	switch f.row.Overlap {
	case OverlapSkip:
		if len(f.active) > 0 {
			_, err := f.record(ctx, d, FireSkipped)
			return err
		}
	case OverlapQueue:
		if len(f.active) > 0 || len(f.queued) > 0 {
			ok, err := f.record(ctx, d, FireQueued)
			if ok {
				f.queued = append(f.queued, &dbsqlc.ScheduleQueuedFiresRow{FireTime: d.fire, DueAt: d.due, Kind: d.kind})
			}
			return err
		}
	case OverlapCancelPrevious:
		for _, id := range f.active {
			if _, err := f.s.queries.RunCancel(ctx, f.tx, &dbsqlc.RunCancelParams{ID: id, Actor: "schedule:" + f.row.Name}); err != nil {
				return translate(err, fmt.Sprintf("cancel run %d", id))
			}
		}
		f.active = nil
	}
	return f.start(ctx, d.fire, d.due, d.kind, false)
}

// record inserts a fire row; false when the fire was already recorded.
func (f *firer) record(ctx context.Context, d dueFire, status string) (bool, error) {
	n, err := f.s.queries.ScheduleFireInsert(ctx, f.tx, &dbsqlc.ScheduleFireInsertParams{
		Schedule: f.row.Name, FireTime: d.fire, DueAt: d.due, Status: status, Kind: d.kind})
	if err != nil {
		return false, translate(err, "record fire")
	}
	return n == 1, nil
}

// start records the fire (unless it was queued, hence recorded already) and
// starts its run in a savepoint: a fire whose run cannot start (its
// workflow was deleted, its input does not render) is recorded missed with
// the error on the schedule, and the tick goes on.
func (f *firer) start(ctx context.Context, fire, due time.Time, kind string, wasQueued bool) error {
	if !wasQueued {
		ok, err := f.record(ctx, dueFire{fire: fire, due: due, kind: kind}, FireStarted)
		if err != nil || !ok {
			return err
		}
	}
	id, err := startRun(ctx, f.s, f.tx, f.row, f.expr, fire)
	if err != nil {
		if engine.IsUnavailable(err) {
			return err
		}
		msg := fmt.Sprintf("fire %s: %v", fire.UTC().Format(time.RFC3339), err)
		f.lastError = &msg
		f.s.logger.WarnContext(ctx, "schedule: fire not started", slog.String("schedule", f.row.Name), slog.String("error", msg))
		if err := f.s.queries.ScheduleFireMissed(ctx, f.tx, &dbsqlc.ScheduleFireMissedParams{Schedule: f.row.Name, FireTime: fire}); err != nil {
			return translate(err, "record missed fire")
		}
		return nil
	}
	f.active = []int64{id}
	f.started++
	return nil
}

// startRun renders the input and starts the run of a fire (in a savepoint
// of tx) and links it to its fire row.
func startRun(ctx context.Context, s *Service, tx pgx.Tx, row *dbsqlc.BatonSchedule, expr *Expr, fire time.Time) (int64, error) {
	input, err := renderInput(ctx, row.Name, row.Input, expr, fire)
	if err != nil {
		return 0, err
	}
	p := engine.StartParams{
		Workflow: row.Workflow, Input: input, Trigger: "schedule",
		TriggerRef: row.Name + "@" + fire.UTC().Format(time.RFC3339),
	}
	if row.Priority != nil {
		p.Priority = int(*row.Priority)
	}
	var id int64
	err = pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
		ids, err := s.engine.StartRunsTx(ctx, sp, []engine.StartParams{p})
		if err != nil {
			return err
		}
		id = ids[0]
		return s.queries.ScheduleFireStarted(ctx, sp, &dbsqlc.ScheduleFireStartedParams{RunID: &id, Schedule: row.Name, FireTime: fire})
	})
	return id, err
}

// BackfillFire is one fire of a backfill.
type BackfillFire struct {
	FireTime time.Time
	// Exists: the fire is already recorded (started, skipped, queued or
	// missed) and the backfill leaves it alone.
	Exists bool
	RunID  *int64
}

// Backfill starts a run for every fire time of the schedule in [from, to]
// not already recorded (at most MaxBackfill; to must not be in the future),
// ignoring the overlap policy and jitter. With dryRun it only lists them.
func (s *Service) Backfill(ctx context.Context, name string, from, to time.Time, dryRun bool) ([]BackfillFire, error) {
	var problems []engine.Problem
	now := s.now()
	if !to.After(from) {
		problems = append(problems, engine.Problem{Field: "to", Message: "must be after from"})
	}
	if to.After(now) {
		problems = append(problems, engine.Problem{Field: "to", Message: "must not be in the future"})
	}
	if len(problems) > 0 {
		return nil, &engine.ValidationError{Kind: "schedule", Name: name, Problems: problems}
	}
	var out []BackfillFire
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		out = nil
		row, err := s.queries.ScheduleLock(ctx, tx, name)
		if err != nil {
			return translate(err, fmt.Sprintf("schedule %q", name))
		}
		expr, err := ParseExpr(row.Cron, row.TimeZone)
		if err != nil {
			return fmt.Errorf("schedule %q: %w", name, err)
		}
		fires, more := expr.Between(from.Add(-time.Nanosecond), to, MaxBackfill)
		if more {
			return &engine.ValidationError{Kind: "schedule", Name: name, Problems: []engine.Problem{
				{Field: "to", Message: fmt.Sprintf("the range holds more than %d fires; split it", MaxBackfill)}}}
		}
		existing, err := s.queries.ScheduleFireTimes(ctx, tx, &dbsqlc.ScheduleFireTimesParams{Schedule: name, FromTime: from, ToTime: to})
		if err != nil {
			return translate(err, "existing fires")
		}
		seen := make(map[int64]bool, len(existing))
		for _, e := range existing {
			seen[e.UnixNano()] = true
		}
		for _, fire := range fires {
			b := BackfillFire{FireTime: fire, Exists: seen[fire.UnixNano()]}
			if !b.Exists && !dryRun {
				n, err := s.queries.ScheduleFireInsert(ctx, tx, &dbsqlc.ScheduleFireInsertParams{
					Schedule: name, FireTime: fire, DueAt: fire, Status: FireStarted, Kind: KindBackfill})
				if err != nil {
					return translate(err, "record fire")
				}
				if n == 1 {
					id, err := startRun(ctx, s, tx, row, expr, fire)
					if err != nil {
						return fmt.Errorf("fire %s: %w", fire.Format(time.RFC3339), err)
					}
					b.RunID = &id
				}
			}
			out = append(out, b)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
