// Package alert is Baton's alerting: rules (built-in and custom) stored in
// baton.alert_rules, evaluated from task_events past a high-water mark and
// from threshold metrics over a window; one open alert per rule and group
// key (deduplication), resolved when its condition clears, acknowledged or
// silenced by operators; deliveries to webhook (Standard Webhooks
// signatures), Slack and SMTP channels as River jobs inserted in the same
// transaction as the alert change, with a delivery log row per attempt.
//
// Errors wrap the engine's domain errors (engine.ErrNotFound,
// engine.ErrInvalid, engine.ErrConflict, engine.ErrUnavailable, and
// *engine.ValidationError naming the field), so the API maps them as it maps
// the engine's.
package alert

import (
	"crypto/tls"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/baton-run/baton/internal/dbsqlc"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/secret"
)

// Event kinds written to task_events by alert changes (run_id NULL).
const (
	EventFired        = "alert_fired"
	EventResolved     = "alert_resolved"
	EventAcknowledged = "alert_acknowledged"
	EventSilenced     = "alert_silenced"
)

// Options configures a Service.
type Options struct {
	// Logger receives evaluation and delivery logs (never secrets).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// SecretKey is the 32-byte AES-256 key that seals channel secrets
	// (webhook signing secrets, Slack URLs, SMTP passwords). Without it,
	// channels that need a secret cannot be created.
	SecretKey []byte
	// AllowPrivate lets channels reach private and loopback addresses (tests,
	// on-premises receivers). Off, outbound connections to non-public
	// addresses are refused at dial time, as the http executor does.
	AllowPrivate bool
	// SMTPTLSConfig is the TLS configuration for SMTP (STARTTLS or implicit
	// TLS); nil uses the system roots. Tests set RootCAs.
	SMTPTLSConfig *tls.Config
	// SendTimeout bounds one delivery attempt (default 10 s).
	SendTimeout time.Duration
}

// Service manages rules, channels and alerts, evaluates rules and delivers
// alerts.
type Service struct {
	pool    *pgxpool.Pool
	queries *dbsqlc.Queries
	opts    Options
	logger  *slog.Logger
	sealer  *secret.Sealer
	client  *http.Client
}

// New returns a Service on pool. It fails when SecretKey is set but is not
// 32 bytes long.
func New(pool *pgxpool.Pool, opts Options) (*Service, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SendTimeout <= 0 {
		opts.SendTimeout = 10 * time.Second
	}
	s := &Service{pool: pool, queries: dbsqlc.New(), opts: opts, logger: opts.Logger}
	if opts.SecretKey != nil {
		sl, err := secret.New(opts.SecretKey)
		if err != nil {
			return nil, err
		}
		s.sealer = sl
	}
	s.client = newHTTPClient(opts.AllowPrivate, opts.SendTimeout)
	return s, nil
}

func (s *Service) now() time.Time { return s.opts.Now().UTC() }

// Rule is an alert rule.
type Rule struct {
	ID                  int64
	Name                string
	Kind                string
	Builtin             bool
	Description         string
	Enabled             bool
	Severity            string
	Metric              string
	Aggregation         string
	Comparison          string
	Threshold           *float64
	WindowSeconds       int
	EventKind           string
	Workflow            string
	TaskType            string
	GroupBy             string
	ResolveAfterSeconds int
	ChannelIDs          []int64
	SilencedUntil       *time.Time
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// Channel is a delivery channel, without its secret.
type Channel struct {
	ID      int64
	Name    string
	Kind    string
	Enabled bool
	// Config holds the channel's public settings: url (webhook), host, port,
	// username, from, to, tls (email); a Slack channel keeps its URL sealed
	// and shows only url_host.
	Config    map[string]any
	HasSecret bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Alert is one alert: an episode of a rule's condition for one group key.
type Alert struct {
	ID             int64
	RuleID         int64
	GroupKey       string
	Severity       string
	Summary        string
	FiredAt        time.Time
	LastSeenAt     time.Time
	ResolvedAt     *time.Time
	AcknowledgedAt *time.Time
	AcknowledgedBy string
	SilencedUntil  *time.Time
	LastValue      *float64
	Occurrences    int64
}

// State is "firing" or "resolved".
func (a *Alert) State() string {
	if a.ResolvedAt != nil {
		return "resolved"
	}
	return "firing"
}

// Delivery is one delivery attempt.
type Delivery struct {
	ID         int64
	AlertID    *int64
	ChannelID  *int64
	Event      string
	Attempt    int
	Succeeded  bool
	StatusCode *int
	Error      string
	DurationMs int64
	CreatedAt  time.Time
}

func ruleFrom(r *dbsqlc.BatonAlertRule) *Rule {
	out := &Rule{
		ID: r.ID, Name: r.Name, Kind: r.Kind, Builtin: r.Builtin, Description: r.Description, Enabled: r.Enabled,
		Severity: r.Severity, Metric: deref(r.Metric), Aggregation: deref(r.Aggregation), Comparison: deref(r.Comparison),
		Threshold: r.Threshold, EventKind: deref(r.EventKind), Workflow: r.Workflow, TaskType: r.TaskType,
		GroupBy: r.GroupBy, ResolveAfterSeconds: int(r.ResolveAfterSeconds), ChannelIDs: r.ChannelIds,
		SilencedUntil: r.SilencedUntil, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
	if r.WindowSeconds != nil {
		out.WindowSeconds = int(*r.WindowSeconds)
	}
	if out.ChannelIDs == nil {
		out.ChannelIDs = []int64{}
	}
	return out
}

func alertFrom(a *dbsqlc.BatonAlert) *Alert {
	return &Alert{
		ID: a.ID, RuleID: a.RuleID, GroupKey: a.GroupKey, Severity: a.Severity, Summary: a.Summary,
		FiredAt: a.FiredAt, LastSeenAt: a.LastSeenAt, ResolvedAt: a.ResolvedAt, AcknowledgedAt: a.AcknowledgedAt,
		AcknowledgedBy: deref(a.AcknowledgedBy), SilencedUntil: a.SilencedUntil, LastValue: a.LastValue,
		Occurrences: a.Occurrences,
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func nilIfZero[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

// dbError maps a database error to the engine's domain errors; what names
// the object, such as "alert rule 3".
func dbError(err error, what string) error { return engine.MapDBError(err, what) }
