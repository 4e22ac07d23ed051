// Package trigger turns inbound events into workflow runs: it stores events
// (POST /v1/events, baton.emit_event, inbound webhooks, run ends),
// deduplicates them by key, matches them against triggers (an event type
// and an optional SQL/JSON path predicate on the payload) and starts each
// matching trigger's workflow with an input rendered from the event by the
// engine's bounded template renderer, in the transaction that stores the
// event. It also replays stored events and verifies webhook signatures.
package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/baton-run/baton/internal/dbsqlc"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/secret"
)

// DefaultDedupWindow is how long an event's dedup key is remembered when no
// trigger of its type says otherwise.
const DefaultDedupWindow = 24 * time.Hour

// MaxDedupWindow bounds a trigger's dedup window.
const MaxDedupWindow = 30 * 24 * time.Hour

// Limits of the replay operation.
const (
	// MaxReplayRange is the longest time range one replay covers.
	MaxReplayRange = 31 * 24 * time.Hour
	// MaxReplayEvents is the most events one replay reads; a longer range
	// is reported as truncated with the time to continue from.
	MaxReplayEvents = 1000
)

// ErrNoSecretKey is returned when a trigger with a secret is created and the
// service has no secret key (BATON_SECRET_KEY), or a secret must be opened.
var ErrNoSecretKey = errors.New("no secret key is configured (set BATON_SECRET_KEY)")

// ErrUnauthorized is returned by Hook when the trigger has a secret and the
// request's signature is missing, wrong or stale.
var ErrUnauthorized = errors.New("unauthorized")

// sealedIn is the associated data webhook secrets are sealed with.
const sealedIn = "baton.triggers"

// Options configures a Service.
type Options struct {
	// Logger receives warnings (a trigger whose template fails). Defaults to
	// a discarding logger.
	Logger *slog.Logger
	// SecretKey is the 32-byte key sealing webhook secrets (nil: triggers
	// with a secret are refused).
	SecretKey []byte
	// Now is the clock (default time.Now); webhook timestamps are checked
	// against it.
	Now func() time.Time
}

// Service stores events and manages triggers.
type Service struct {
	pool    *pgxpool.Pool
	engine  *engine.Engine
	queries *dbsqlc.Queries
	sealer  *secret.Sealer
	logger  *slog.Logger
	now     func() time.Time
}

// New returns a Service. It fails when SecretKey is set but not 32 bytes.
func New(pool *pgxpool.Pool, eng *engine.Engine, opts Options) (*Service, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Service{pool: pool, engine: eng, queries: dbsqlc.New(), logger: opts.Logger, now: opts.Now}
	if opts.SecretKey != nil {
		sl, err := secret.New(opts.SecretKey)
		if err != nil {
			return nil, err
		}
		s.sealer = sl
	}
	return s, nil
}

// Trigger maps events of one type to runs of one workflow.
type Trigger struct {
	Name      string
	EventType string
	// Condition is a SQL/JSON path predicate on the payload ("" always holds).
	Condition string
	Workflow  string
	// InputTemplate is the run input's template (nil: the payload is the input).
	InputTemplate json.RawMessage
	DedupWindow   time.Duration
	Enabled       bool
	// HasSecret tells whether webhooks must be signed; the secret itself is
	// never returned.
	HasSecret   bool
	Description string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Params creates or replaces a trigger.
type Params struct {
	Name          string
	EventType     string
	Condition     string
	Workflow      string
	InputTemplate json.RawMessage
	// DedupWindow is the dedup window (nil: 24 h).
	DedupWindow *time.Duration
	// Enabled defaults to true.
	Enabled *bool
	// Secret is the webhook signing secret: nil keeps the current one on an
	// update (none on a create), "" removes it.
	Secret      *string
	Description string
}

var (
	namePattern      = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,99}$`)
	eventTypePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,199}$`)
)

// validate checks p, naming each culprit.
func (p *Params) validate(problems *[]engine.Problem) {
	add := func(field, msg string) { *problems = append(*problems, engine.Problem{Field: field, Message: msg}) }
	if !namePattern.MatchString(p.Name) {
		add("name", "must match ^[a-z0-9][a-z0-9_.-]{0,99}$")
	}
	if !eventTypePattern.MatchString(p.EventType) {
		add("event_type", "must match ^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,199}$")
	}
	if !namePattern.MatchString(p.Workflow) {
		add("workflow", "must match ^[a-z0-9][a-z0-9_.-]{0,99}$")
	}
	if len(p.Condition) > 2000 {
		add("condition", "must be at most 2000 characters")
	}
	if len(p.Description) > 1000 {
		add("description", "must be at most 1000 characters")
	}
	if p.InputTemplate != nil && !isNull(p.InputTemplate) {
		if err := engine.CheckJSON(p.InputTemplate, 0); err != nil {
			add("input_template", err.Error())
		} else if !isObject(p.InputTemplate) {
			add("input_template", "must be a JSON object")
		}
	}
	if p.DedupWindow != nil && (*p.DedupWindow < 0 || *p.DedupWindow > MaxDedupWindow || *p.DedupWindow%time.Second != 0) {
		add("dedup_window", "must be whole seconds between 0 and 30 days")
	}
	if p.Secret != nil && *p.Secret != "" && (len(*p.Secret) < 16 || len(*p.Secret) > 200) {
		add("secret", "must be 16 to 200 characters")
	}
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || strings.TrimSpace(string(raw)) == "null"
}

func isObject(raw json.RawMessage) bool {
	t := strings.TrimSpace(string(raw))
	if !strings.HasPrefix(t, "{") {
		return false
	}
	var m map[string]json.RawMessage
	return json.Unmarshal(raw, &m) == nil
}

func invalid(name string, problems []engine.Problem) error {
	return &engine.ValidationError{Kind: "trigger", Name: name, Problems: problems}
}

// Put creates the trigger p.Name or, when it exists and replace is true,
// replaces it (baton apply); it returns the trigger and whether it is new.
func (s *Service) Put(ctx context.Context, p Params, replace bool) (*Trigger, bool, error) {
	var problems []engine.Problem
	p.validate(&problems)
	if len(problems) > 0 {
		return nil, false, invalid(p.Name, problems)
	}
	var (
		out     *Trigger
		created bool
	)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := s.checkRefs(ctx, tx, &p); err != nil {
			return err
		}
		var sealed []byte
		if p.Secret != nil && *p.Secret != "" {
			if s.sealer == nil {
				return invalid(p.Name, []engine.Problem{{Field: "secret", Message: ErrNoSecretKey.Error()}})
			}
			sealed = s.sealer.Seal([]byte(*p.Secret), sealedIn)
		}
		window := int32(DefaultDedupWindow / time.Second)
		if p.DedupWindow != nil {
			window = int32(*p.DedupWindow / time.Second)
		}
		enabled := p.Enabled == nil || *p.Enabled
		var tmpl []byte
		if !isNull(p.InputTemplate) {
			tmpl = p.InputTemplate
		}
		cond := optional(p.Condition)
		existing, err := s.queries.TriggerGet(ctx, tx, p.Name)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			row, err := s.queries.TriggerInsert(ctx, tx, &dbsqlc.TriggerInsertParams{
				Name: p.Name, EventType: p.EventType, Condition: cond, Workflow: p.Workflow, InputTemplate: tmpl,
				DedupWindowSeconds: window, Enabled: enabled, SecretSealed: sealed, Description: p.Description,
			})
			if err != nil {
				return translate(err, "create trigger")
			}
			out, created = fromRow((*dbsqlc.TriggerGetRow)(row)), true
			return nil
		case err != nil:
			return translate(err, "get trigger")
		case !replace:
			return fmt.Errorf("trigger %q: already exists: %w", existing.Name, engine.ErrConflict)
		}
		row, err := s.queries.TriggerUpdate(ctx, tx, &dbsqlc.TriggerUpdateParams{
			Name: p.Name, EventType: p.EventType, Condition: cond, Workflow: p.Workflow, InputTemplate: tmpl,
			DedupWindowSeconds: window, Enabled: enabled, KeepSecret: p.Secret == nil, SecretSealed: sealed,
			Description: p.Description,
		})
		if err != nil {
			return translate(err, "update trigger")
		}
		out = fromRow((*dbsqlc.TriggerGetRow)(row))
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return out, created, nil
}

// Update replaces the existing trigger p.Name.
func (s *Service) Update(ctx context.Context, p Params) (*Trigger, error) {
	if _, err := s.Get(ctx, p.Name); err != nil {
		return nil, err
	}
	t, _, err := s.Put(ctx, p, true)
	return t, err
}

// checkRefs checks that the workflow exists and the condition is a
// SQL/JSON path predicate.
func (s *Service) checkRefs(ctx context.Context, tx pgx.Tx, p *Params) error {
	found, err := s.queries.TriggerWorkflowExists(ctx, tx, p.Workflow)
	if err != nil {
		return translate(err, "check workflow")
	}
	if !found {
		return invalid(p.Name, []engine.Problem{{Field: "workflow", Message: fmt.Sprintf("unknown workflow %q: apply it first", p.Workflow)}})
	}
	if p.Condition == "" {
		return nil
	}
	// A savepoint, so that a refused condition leaves tx usable.
	sp, err := tx.Begin(ctx)
	if err != nil {
		return translate(err, "check condition")
	}
	if _, err := s.queries.TriggerCheckCondition(ctx, sp, p.Condition); err != nil {
		_ = sp.Rollback(ctx)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			return invalid(p.Name, []engine.Problem{{Field: "condition",
				Message: "must be a SQL/JSON path predicate such as $.action == \"opened\" && $.count > 2: " + pgErr.Message}})
		}
		return translate(err, "check condition")
	}
	return sp.Commit(ctx)
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func fromRow(r *dbsqlc.TriggerGetRow) *Trigger {
	return &Trigger{
		Name: r.Name, EventType: r.EventType, Condition: r.Condition, Workflow: r.Workflow,
		InputTemplate: r.InputTemplate, DedupWindow: time.Duration(r.DedupWindowSeconds) * time.Second,
		Enabled: r.Enabled, HasSecret: r.HasSecret, Description: r.Description,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

// Get returns a trigger by name.
func (s *Service) Get(ctx context.Context, name string) (*Trigger, error) {
	row, err := s.queries.TriggerGet(ctx, s.pool, name)
	if err != nil {
		return nil, translate(err, fmt.Sprintf("trigger %q", name))
	}
	return fromRow(row), nil
}

// List returns every trigger by name.
func (s *Service) List(ctx context.Context) ([]*Trigger, error) {
	rows, err := s.queries.TriggerList(ctx, s.pool)
	if err != nil {
		return nil, translate(err, "list triggers")
	}
	out := make([]*Trigger, len(rows))
	for i, r := range rows {
		out[i] = fromRow((*dbsqlc.TriggerGetRow)(r))
	}
	return out, nil
}

// Delete deletes a trigger.
func (s *Service) Delete(ctx context.Context, name string) error {
	n, err := s.queries.TriggerDelete(ctx, s.pool, name)
	if err != nil {
		return translate(err, "delete trigger")
	}
	if n == 0 {
		return fmt.Errorf("trigger %q: %w", name, engine.ErrNotFound)
	}
	return nil
}

// translate maps database errors to the engine's error kinds; a
// "baton: FIELD: message" raised by a baton function names its field.
func translate(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, engine.ErrNotFound)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		msg := strings.TrimPrefix(pgErr.Message, "baton: ")
		switch {
		case pgErr.Code == "22023" && msg != pgErr.Message:
			if field, rest, ok := strings.Cut(msg, ": "); ok && !strings.Contains(field, " ") {
				return &engine.ValidationError{Kind: "event", Problems: []engine.Problem{{Field: field, Message: rest}}}
			}
			return fmt.Errorf("%s: %w", msg, engine.ErrInvalid)
		case pgErr.Code == "23505":
			return fmt.Errorf("%s: already exists: %w", what, engine.ErrConflict)
		case strings.HasPrefix(pgErr.Code, "22"), strings.HasPrefix(pgErr.Code, "23"):
			return fmt.Errorf("%s: %s: %w", what, pgErr.Message, engine.ErrInvalid)
		}
	}
	if engine.IsUnavailable(err) {
		return fmt.Errorf("%s: %w: %w", what, engine.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
