// Package schedule runs cron schedules: it validates and stores them
// (baton.schedules), and its Tick, run every second by a River periodic job
// on any number of nodes, starts the runs of the fires that are due. Every
// fire is a row of baton.schedule_fires, unique by (schedule, fire time),
// inserted in the transaction that starts its run, so a fire is started once
// whatever the number of scheduler nodes, and a restarted scheduler resumes
// from the last recorded fire (the schedule's cursor).
package schedule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/baton-run/baton/internal/dbsqlc"
	"github.com/baton-run/baton/internal/engine"
)

// Overlap policies: what a fire does while the previous run of its schedule
// has not finished.
const (
	OverlapAllow          = "allow"
	OverlapSkip           = "skip"
	OverlapCancelPrevious = "cancel_previous"
	OverlapQueue          = "queue"
)

// Catch-up policies: what happens to fires missed during downtime or while
// the schedule was disabled (fires more than Grace late).
const (
	CatchupNone   = "none"
	CatchupLatest = "latest"
	CatchupAll    = "all"
)

// Fire statuses and kinds (baton.schedule_fires).
const (
	FireStarted = "started"
	FireSkipped = "skipped"
	FireQueued  = "queued"
	FireMissed  = "missed"

	KindScheduled = "scheduled"
	KindCatchup   = "catchup"
	KindBackfill  = "backfill"
)

// Defaults and bounds.
const (
	DefaultMaxCatchup = 100
	// DefaultGrace is how late a fire may be and still count as on time.
	DefaultGrace = time.Minute
	// MaxBackfill bounds the fires of one backfill.
	MaxBackfill = 1000
	// MaxPreview bounds a preview.
	MaxPreview = 100
	maxJitter  = time.Hour
)

// never is the next_due_at of a schedule that has no fire left.
var never = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

var namePattern = regexp.MustCompile(`^[a-z0-9]+([_.-][a-z0-9]+)*$`)

// Options configures a Service.
type Options struct {
	// Logger receives the scheduler's logs (default: discard).
	Logger *slog.Logger
	// Now is the clock (default time.Now); tests inject one.
	Now func() time.Time
	// Grace is how late a fire may be and still count as on time rather
	// than missed (default 1 minute).
	Grace time.Duration
}

// Service manages schedules and fires them.
type Service struct {
	pool    *pgxpool.Pool
	engine  *engine.Engine
	queries *dbsqlc.Queries
	logger  *slog.Logger
	now     func() time.Time
	grace   time.Duration
}

// New returns a Service on pool.
func New(pool *pgxpool.Pool, eng *engine.Engine, opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Grace <= 0 {
		opts.Grace = DefaultGrace
	}
	return &Service{pool: pool, engine: eng, queries: dbsqlc.New(), logger: opts.Logger, now: opts.Now, grace: opts.Grace}
}

// Schedule is a stored schedule.
type Schedule struct {
	Name        string
	Workflow    string
	Cron        string
	TimeZone    string
	Input       json.RawMessage
	Description string
	Enabled     bool
	StartAt     *time.Time
	EndAt       *time.Time
	Jitter      time.Duration
	Overlap     string
	Catchup     string
	MaxCatchup  int
	Priority    int
	// Cursor: fires at or before it are done.
	Cursor time.Time
	// NextFire is the next fire time (nil when none is left or it is being
	// computed).
	NextFire  *time.Time
	LastError string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// settings is a validated spec.
type settings struct {
	params *dbsqlc.ScheduleInsertParams
	expr   *Expr
}

// validate checks a spec and returns its settings, or a
// *engine.ValidationError naming every bad field.
func (s *Service) validate(ctx context.Context, spec *engine.ScheduleSpec) (*settings, error) {
	var problems []engine.Problem
	add := func(field, format string, args ...any) {
		problems = append(problems, engine.Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if spec.Kind != "" && spec.Kind != "schedule" {
		add("kind", "must be %q, not %q", "schedule", spec.Kind)
	}
	if !namePattern.MatchString(spec.Name) || len(spec.Name) > 128 {
		add("name", "must be 1 to 128 lower-case letters and digits, separated by single '-', '_' or '.'")
	}
	if spec.Workflow == "" {
		add("workflow", "is required")
	} else if s.engine != nil {
		if _, err := s.engine.GetWorkflow(ctx, spec.Workflow, 0); errors.Is(err, engine.ErrNotFound) {
			add("workflow", "unknown workflow %q", spec.Workflow)
		} else if err != nil {
			return nil, err
		}
	}
	expr, err := ParseExpr(spec.Cron, spec.TimeZone)
	var fe *FieldError
	switch {
	case errors.As(err, &fe):
		add(fe.Field, "%s", fe.Message)
	case err != nil:
		return nil, err
	case expr.Next(s.now()).IsZero():
		add("cron", "%s", errNever.Error())
	}
	p := &dbsqlc.ScheduleInsertParams{
		Name: spec.Name, Workflow: spec.Workflow, Cron: spec.Cron, TimeZone: spec.TimeZone,
		Description: spec.Description, Enabled: spec.Enabled == nil || *spec.Enabled,
		StartAt: utcPtr(spec.StartAt), EndAt: utcPtr(spec.EndAt),
		Overlap: orString(spec.Overlap, OverlapAllow), Catchup: orString(spec.Catchup, CatchupLatest),
		MaxCatchup: DefaultMaxCatchup, CursorAt: s.now().UTC(),
	}
	if p.TimeZone == "" {
		p.TimeZone = "UTC"
	}
	if len(spec.Description) > 2000 {
		add("description", "must be at most 2000 characters")
	}
	input := spec.Input
	if len(input) == 0 || string(input) == "null" {
		input = json.RawMessage(`{}`)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(input, &obj); err != nil || obj == nil {
		add("input", "must be a JSON object")
	} else if len(input) > 64<<10 {
		add("input", "must be at most 64 KiB")
	} else if expr != nil {
		if _, err := renderInput(ctx, spec.Name, input, expr, s.now()); err != nil {
			add("input", "%s", err.Error())
		}
	}
	p.Input = input
	if spec.Jitter != "" {
		d, err := time.ParseDuration(spec.Jitter)
		if err != nil || d < 0 || d > maxJitter {
			add("jitter", "must be a Go duration between 0s and 1h, such as 30s")
		}
		p.JitterMs = d.Milliseconds()
	}
	switch p.Overlap {
	case OverlapAllow, OverlapSkip, OverlapCancelPrevious, OverlapQueue:
	default:
		add("overlap", "must be allow, skip, cancel_previous or queue, not %q", p.Overlap)
	}
	switch p.Catchup {
	case CatchupNone, CatchupLatest, CatchupAll:
	default:
		add("catchup", "must be none, latest or all, not %q", p.Catchup)
	}
	if spec.MaxCatchup != nil {
		if *spec.MaxCatchup < 1 || *spec.MaxCatchup > 10000 {
			add("max_catchup", "must be between 1 and 10000")
		}
		p.MaxCatchup = int32(*spec.MaxCatchup)
	}
	if spec.Priority != nil {
		if *spec.Priority < 1 || *spec.Priority > 4 {
			add("priority", "must be between 1 (high) and 4 (background)")
		}
		pr := int16(*spec.Priority)
		p.Priority = &pr
	}
	if spec.StartAt != nil && spec.EndAt != nil && !spec.EndAt.After(*spec.StartAt) {
		add("end_at", "must be after start_at")
	}
	if len(problems) > 0 {
		return nil, &engine.ValidationError{Kind: "schedule", Name: spec.Name, Problems: problems}
	}
	return &settings{params: p, expr: expr}, nil
}

// Create stores a new schedule; a schedule of the same name is a conflict.
func (s *Service) Create(ctx context.Context, spec *engine.ScheduleSpec) (*Schedule, error) {
	set, err := s.validate(ctx, spec)
	if err != nil {
		return nil, err
	}
	row, err := s.queries.ScheduleInsert(ctx, s.pool, set.params)
	if err != nil {
		return nil, translate(err, fmt.Sprintf("schedule %q", spec.Name))
	}
	return s.fromRow(row), nil
}

// Update replaces the settings of an existing schedule. Its cursor is kept
// (fires missed while it was disabled follow its catch-up policy), except
// that a change of its cron expression or time zone moves the cursor to now.
func (s *Service) Update(ctx context.Context, spec *engine.ScheduleSpec) (*Schedule, error) {
	set, err := s.validate(ctx, spec)
	if err != nil {
		return nil, err
	}
	p := set.params
	row, err := s.queries.ScheduleUpdate(ctx, s.pool, &dbsqlc.ScheduleUpdateParams{
		Name: p.Name, Workflow: p.Workflow, Input: p.Input, Description: p.Description, Enabled: p.Enabled,
		StartAt: p.StartAt, EndAt: p.EndAt, JitterMs: p.JitterMs, Overlap: p.Overlap, Catchup: p.Catchup,
		MaxCatchup: p.MaxCatchup, Priority: p.Priority, Cron: p.Cron, TimeZone: p.TimeZone, CursorAt: p.CursorAt,
	})
	if err != nil {
		return nil, translate(err, fmt.Sprintf("schedule %q", spec.Name))
	}
	return s.fromRow(row), nil
}

// Apply creates the schedule or updates it (baton apply); created says which.
func (s *Service) Apply(ctx context.Context, spec *engine.ScheduleSpec) (*Schedule, bool, error) {
	sched, err := s.Update(ctx, spec)
	if errors.Is(err, engine.ErrNotFound) {
		sched, err = s.Create(ctx, spec)
		return sched, err == nil, err
	}
	return sched, false, err
}

// Get returns a schedule.
func (s *Service) Get(ctx context.Context, name string) (*Schedule, error) {
	row, err := s.queries.ScheduleGet(ctx, s.pool, name)
	if err != nil {
		return nil, translate(err, fmt.Sprintf("schedule %q", name))
	}
	return s.fromRow(row), nil
}

// List returns every schedule by name.
func (s *Service) List(ctx context.Context) ([]*Schedule, error) {
	rows, err := s.queries.ScheduleList(ctx, s.pool)
	if err != nil {
		return nil, translate(err, "list schedules")
	}
	out := make([]*Schedule, len(rows))
	for i, row := range rows {
		out[i] = s.fromRow(row)
	}
	return out, nil
}

// Delete removes a schedule and its fire history (runs stay).
func (s *Service) Delete(ctx context.Context, name string) error {
	n, err := s.queries.ScheduleDelete(ctx, s.pool, name)
	if err != nil {
		return translate(err, fmt.Sprintf("delete schedule %q", name))
	}
	if n == 0 {
		return fmt.Errorf("schedule %q not found: %w", name, engine.ErrNotFound)
	}
	return nil
}

// SetEnabled enables or disables a schedule (baton.set_schedule_enabled);
// it returns false when it was already so.
func (s *Service) SetEnabled(ctx context.Context, name string, enabled bool) (bool, error) {
	changed, err := s.queries.ScheduleSetEnabled(ctx, s.pool, &dbsqlc.ScheduleSetEnabledParams{Name: name, Enabled: enabled})
	if err != nil {
		return false, translate(err, fmt.Sprintf("schedule %q", name))
	}
	return changed, nil
}

// PreviewFire is one upcoming fire.
type PreviewFire struct {
	FireTime time.Time // in the schedule's zone
	Due      time.Time // with jitter, UTC
}

// Preview returns the next n fire times after now (and after the cursor),
// within the schedule's start and end dates.
func (s *Service) Preview(ctx context.Context, name string, n int) ([]PreviewFire, error) {
	if n < 1 || n > MaxPreview {
		return nil, fmt.Errorf("%w: n must be between 1 and %d", engine.ErrInvalid, MaxPreview)
	}
	sched, err := s.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	expr, err := ParseExpr(sched.Cron, sched.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w", name, err)
	}
	after := s.now()
	if sched.Cursor.After(after) {
		after = sched.Cursor
	}
	if sched.StartAt != nil && sched.StartAt.After(after) {
		after = sched.StartAt.Add(-time.Nanosecond)
	}
	var out []PreviewFire
	for f := expr.Next(after); !f.IsZero() && len(out) < n; f = expr.Next(f) {
		if sched.EndAt != nil && f.After(*sched.EndAt) {
			break
		}
		out = append(out, PreviewFire{FireTime: f.In(expr.Location()), Due: f.Add(Jitter(name, f, sched.Jitter))})
	}
	return out, nil
}

// HistoryEntry is one fire of a schedule.
type HistoryEntry struct {
	FireTime  time.Time
	Due       time.Time
	Status    string
	Kind      string
	StartedAt *time.Time
	// Lateness is StartedAt - FireTime (nil when no run started).
	Lateness  *time.Duration
	RunID     *int64
	RunStatus string
}

// History returns the schedule's last fires, newest first (limit 1..1000).
func (s *Service) History(ctx context.Context, name string, limit int) ([]HistoryEntry, error) {
	if limit < 1 || limit > 1000 {
		return nil, fmt.Errorf("%w: limit must be between 1 and 1000", engine.ErrInvalid)
	}
	if _, err := s.queries.ScheduleGet(ctx, s.pool, name); err != nil {
		return nil, translate(err, fmt.Sprintf("schedule %q", name))
	}
	rows, err := s.queries.ScheduleHistory(ctx, s.pool, &dbsqlc.ScheduleHistoryParams{Name: name, MaxRows: int32(limit)})
	if err != nil {
		return nil, translate(err, "schedule history")
	}
	out := make([]HistoryEntry, len(rows))
	for i, r := range rows {
		e := HistoryEntry{FireTime: r.FireTime.UTC(), Due: r.DueAt.UTC(), Status: r.Status, Kind: r.Kind,
			StartedAt: utcPtr(r.StartedAt), RunID: r.RunID}
		if r.RunStatus != nil {
			e.RunStatus = *r.RunStatus
		}
		if r.StartedAt != nil {
			l := r.StartedAt.Sub(r.FireTime)
			e.Lateness = &l
		}
		out[i] = e
	}
	return out, nil
}

func (s *Service) fromRow(r *dbsqlc.BatonSchedule) *Schedule {
	sched := &Schedule{
		Name: r.Name, Workflow: r.Workflow, Cron: r.Cron, TimeZone: r.TimeZone, Input: r.Input,
		Description: r.Description, Enabled: r.Enabled, StartAt: utcPtr(r.StartAt), EndAt: utcPtr(r.EndAt),
		Jitter: time.Duration(r.JitterMs) * time.Millisecond, Overlap: r.Overlap, Catchup: r.Catchup,
		MaxCatchup: int(r.MaxCatchup), Cursor: r.CursorAt.UTC(), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	if r.Priority != nil {
		sched.Priority = int(*r.Priority)
	}
	if r.LastError != nil {
		sched.LastError = *r.LastError
	}
	if r.Enabled {
		if expr, err := ParseExpr(r.Cron, r.TimeZone); err == nil {
			if f := nextFire(expr, r.CursorAt, r.StartAt, r.EndAt); !f.IsZero() {
				sched.NextFire = &f
			}
		}
	}
	return sched
}

// nextFire is the first fire after cursor within [start, end], or zero.
func nextFire(expr *Expr, cursor time.Time, start, end *time.Time) time.Time {
	after := cursor
	if start != nil && !start.Before(after) {
		after = start.Add(-time.Nanosecond)
	}
	f := expr.Next(after)
	if f.IsZero() || (end != nil && f.After(*end)) {
		return time.Time{}
	}
	return f
}

// renderInput renders a schedule's input template for a fire.
func renderInput(ctx context.Context, name string, input json.RawMessage, expr *Expr, fire time.Time) (json.RawMessage, error) {
	local := fire.In(expr.Location())
	data := map[string]any{"schedule": map[string]any{
		"name":            name,
		"fire_time":       fire.UTC().Format(time.RFC3339),
		"fire_time_local": local.Format(time.RFC3339),
		"logical_date":    local.Format(time.DateOnly),
		"time_zone":       expr.Location().String(),
		"unix":            fire.Unix(),
	}}
	return engine.RenderTemplateJSON(ctx, input, "input", data)
}

// translate maps database errors of this package's queries.
func translate(err error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s not found: %w", what, engine.ErrNotFound)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "P0002":
			return fmt.Errorf("%s not found: %w", what, engine.ErrNotFound)
		case pgErr.Code == "23505":
			return fmt.Errorf("%s already exists: %w", what, engine.ErrConflict)
		case len(pgErr.Code) == 5 && (pgErr.Code[:2] == "22" || pgErr.Code[:2] == "23"):
			return fmt.Errorf("%s: %s: %w", what, pgErr.Message, engine.ErrInvalid)
		}
	}
	if engine.IsUnavailable(err) {
		return fmt.Errorf("%s: %w", what, engine.ErrUnavailable)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func orString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
