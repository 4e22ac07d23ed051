package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/baton-run/baton/internal/dbsqlc"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/executor"
	"github.com/baton-run/baton/internal/secret"
)

// Webhook is a subscription, without its secrets.
type Webhook struct {
	ID                  int64
	URL                 string
	Description         string
	EventTypes          []string
	Workflows           []string
	Owners              []string
	Tags                []string
	Enabled             bool
	DisabledReason      string
	ConsecutiveFailures int
	// PreviousSecretUntil is the end of a rotation's overlap, while the
	// previous secret still signs (nil: no rotation under way).
	PreviousSecretUntil *time.Time
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// Spec creates or changes a subscription. On update, nil fields are kept.
type Spec struct {
	URL         *string
	Description *string
	EventTypes  []string
	Workflows   []string
	Owners      []string
	Tags        []string
	Enabled     *bool
}

func webhookFrom(r *dbsqlc.BatonWebhook) *Webhook {
	w := &Webhook{
		ID: r.ID, URL: r.Url, Description: r.Description, EventTypes: r.EventTypes, Workflows: r.Workflows,
		Owners: r.Owners, Tags: r.Tags, Enabled: r.Enabled, ConsecutiveFailures: int(r.ConsecutiveFailures),
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
	if r.DisabledReason != nil {
		w.DisabledReason = *r.DisabledReason
	}
	if r.PreviousSecretUntil != nil && len(r.PreviousSecretSealed) > 0 && r.PreviousSecretUntil.After(time.Now()) {
		w.PreviousSecretUntil = r.PreviousSecretUntil
	}
	return w
}

// Limits of a subscription.
const (
	maxFilterValues = 50
	maxFilterLen    = 200
)

// validate checks spec (all fields set) and normalizes its lists.
func (s *Service) validate(ctx context.Context, spec *Spec) error {
	var problems []engine.Problem
	add := func(field, format string, args ...any) {
		problems = append(problems, engine.Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if msg := checkURL(ctx, *spec.URL, s.opts.AllowPrivate); msg != "" {
		add("url", "%s", msg)
	}
	if len(*spec.Description) > 1000 {
		add("description", "at most 1000 characters")
	}
	known := EventTypes()
	if len(spec.EventTypes) == 0 {
		add("event_types", "at least one event type is required (one of %s)", strings.Join(known, ", "))
	}
	for i, t := range spec.EventTypes {
		if !slices.Contains(known, t) {
			add(fmt.Sprintf("event_types[%d]", i), "unknown event type %q (one of %s)", t, strings.Join(known, ", "))
		}
	}
	spec.EventTypes = sortedUnique(spec.EventTypes)
	for _, f := range []struct {
		name   string
		values *[]string
	}{{"workflows", &spec.Workflows}, {"owners", &spec.Owners}, {"tags", &spec.Tags}} {
		if len(*f.values) > maxFilterValues {
			add(f.name, "at most %d values", maxFilterValues)
		}
		for i, v := range *f.values {
			if v == "" || len(v) > maxFilterLen || strings.ContainsRune(v, 0) {
				add(fmt.Sprintf("%s[%d]", f.name, i), "must be 1 to %d characters", maxFilterLen)
			}
		}
		*f.values = sortedUnique(*f.values)
	}
	if len(problems) > 0 {
		return &engine.ValidationError{Problems: problems}
	}
	return nil
}

func sortedUnique(values []string) []string {
	out := slices.Clone(values)
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// resolver is the resolver registration checks host names with.
var resolver = net.DefaultResolver

// checkURL returns why raw cannot be a target, or "". Unless allowPrivate,
// a literal address must be public and a host name must resolve to public
// addresses only (each delivery checks again at dial time: DNS can change).
func checkURL(ctx context.Context, raw string, allowPrivate bool) string {
	u, msg := executor.CheckOutboundURL(raw)
	if msg != "" {
		return msg
	}
	if allowPrivate {
		return ""
	}
	host := strings.Trim(u.Hostname(), "[]")
	addrs := []netip.Addr{}
	if addr, err := netip.ParseAddr(host); err == nil {
		addrs = append(addrs, addr)
	} else {
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		found, err := resolver.LookupNetIP(ctx, "ip", host)
		if err != nil || len(found) == 0 {
			return fmt.Sprintf("host %q does not resolve", host)
		}
		addrs = found
	}
	for _, addr := range addrs {
		if executor.RefusePrivateAddresses("tcp", net.JoinHostPort(addr.String(), "443"), nil) != nil {
			return fmt.Sprintf("%s is not a public address (private and loopback targets are refused unless the server allows them)", addr.WithZone(""))
		}
	}
	return ""
}

// Create stores a subscription and returns it with its signing secret,
// which is not shown again.
func (s *Service) Create(ctx context.Context, spec Spec) (*Webhook, string, error) {
	if spec.URL == nil {
		spec.URL = new(string)
	}
	if spec.Description == nil {
		spec.Description = new(string)
	}
	if spec.Enabled == nil {
		spec.Enabled = new(true)
	}
	if err := s.validate(ctx, &spec); err != nil {
		return nil, "", err
	}
	plain := secret.NewSigningSecret()
	sealed, err := s.seal([]byte(plain))
	if err != nil {
		return nil, "", err
	}
	row, err := s.queries.WebhookInsert(ctx, s.pool, &dbsqlc.WebhookInsertParams{
		Url: *spec.URL, Description: *spec.Description, EventTypes: spec.EventTypes, Workflows: spec.Workflows,
		Owners: spec.Owners, Tags: spec.Tags, Enabled: *spec.Enabled, SecretSealed: sealed,
	})
	if err != nil {
		return nil, "", dbError(err, "webhook")
	}
	return webhookFrom(row), plain, nil
}

// Get returns a subscription.
func (s *Service) Get(ctx context.Context, id int64) (*Webhook, error) {
	row, err := s.queries.WebhookGet(ctx, s.pool, id)
	if err != nil {
		return nil, dbError(err, fmt.Sprintf("webhook %d", id))
	}
	return webhookFrom(row), nil
}

// List returns every subscription by id.
func (s *Service) List(ctx context.Context) ([]*Webhook, error) {
	rows, err := s.queries.WebhookList(ctx, s.pool)
	if err != nil {
		return nil, dbError(err, "webhooks")
	}
	out := make([]*Webhook, len(rows))
	for i, r := range rows {
		out[i] = webhookFrom(r)
	}
	return out, nil
}

// Update changes the fields of spec that are set. Enabling a disabled
// subscription clears its failure count.
func (s *Service) Update(ctx context.Context, id int64, spec Spec) (*Webhook, error) {
	var out *Webhook
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		old, err := s.queries.WebhookGet(ctx, tx, id)
		if err != nil {
			return err
		}
		if spec.URL == nil {
			spec.URL = &old.Url
		}
		if spec.Description == nil {
			spec.Description = &old.Description
		}
		if spec.EventTypes == nil {
			spec.EventTypes = old.EventTypes
		}
		if spec.Workflows == nil {
			spec.Workflows = old.Workflows
		}
		if spec.Owners == nil {
			spec.Owners = old.Owners
		}
		if spec.Tags == nil {
			spec.Tags = old.Tags
		}
		if spec.Enabled == nil {
			spec.Enabled = &old.Enabled
		}
		if err := s.validate(ctx, &spec); err != nil {
			return err
		}
		row, err := s.queries.WebhookUpdate(ctx, tx, &dbsqlc.WebhookUpdateParams{
			ID: id, Url: *spec.URL, Description: *spec.Description, EventTypes: spec.EventTypes,
			Workflows: spec.Workflows, Owners: spec.Owners, Tags: spec.Tags, Enabled: *spec.Enabled,
		})
		if err != nil {
			return err
		}
		out = webhookFrom(row)
		return nil
	})
	var invalid *engine.ValidationError
	if errors.As(err, &invalid) {
		return nil, err
	}
	if err != nil {
		return nil, dbError(err, fmt.Sprintf("webhook %d", id))
	}
	return out, nil
}

// Delete removes a subscription and its delivery log.
func (s *Service) Delete(ctx context.Context, id int64) error {
	n, err := s.queries.WebhookDelete(ctx, s.pool, id)
	if err != nil {
		return dbError(err, fmt.Sprintf("webhook %d", id))
	}
	if n == 0 {
		return fmt.Errorf("webhook %d not found: %w", id, engine.ErrNotFound)
	}
	return nil
}

// MaxOverlap bounds a rotation's overlap.
const MaxOverlap = 7 * 24 * time.Hour

// RotateSecret replaces the signing secret and returns the new one, shown
// once. For overlap, deliveries carry signatures with both the new and the
// previous secret, so receivers can switch at their pace; zero ends the old
// secret at once.
func (s *Service) RotateSecret(ctx context.Context, id int64, overlap time.Duration) (*Webhook, string, error) {
	if overlap < 0 || overlap > MaxOverlap {
		return nil, "", &engine.ValidationError{Problems: []engine.Problem{{Field: "overlap_seconds",
			Message: fmt.Sprintf("must be 0 to %d seconds", int(MaxOverlap.Seconds()))}}}
	}
	plain := secret.NewSigningSecret()
	sealed, err := s.seal([]byte(plain))
	if err != nil {
		return nil, "", err
	}
	row, err := s.queries.WebhookRotate(ctx, s.pool, &dbsqlc.WebhookRotateParams{
		ID: id, SecretSealed: sealed, PreviousUntil: new(s.now().Add(overlap)),
	})
	if err != nil {
		return nil, "", dbError(err, fmt.Sprintf("webhook %d", id))
	}
	return webhookFrom(row), plain, nil
}
