package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/baton-run/baton/internal/dbsqlc"
	"github.com/baton-run/baton/internal/engine"
)

// CreateRule validates spec and stores a new rule.
func (s *Service) CreateRule(ctx context.Context, spec RuleSpec) (*Rule, error) {
	if err := spec.normalize(); err != nil {
		return nil, err
	}
	if err := s.checkChannels(ctx, spec.ChannelIDs); err != nil {
		return nil, err
	}
	row, err := s.queries.AlertRuleInsert(ctx, s.pool, &dbsqlc.AlertRuleInsertParams{
		Name: spec.Name, Kind: spec.Kind, Description: spec.Description, Enabled: spec.Enabled == nil || *spec.Enabled,
		Severity: spec.Severity, Metric: nilIfZero(spec.Metric), Aggregation: nilIfZero(spec.Aggregation),
		Comparison: nilIfZero(spec.Comparison), Threshold: spec.Threshold, WindowSeconds: windowPtr(spec.WindowSeconds),
		EventKind: nilIfZero(spec.EventKind), Workflow: spec.Workflow, TaskType: spec.TaskType, GroupBy: spec.GroupBy,
		ResolveAfterSeconds: int32(spec.ResolveAfterSeconds), ChannelIds: spec.ChannelIDs, SilencedUntil: spec.SilencedUntil,
	})
	if err != nil {
		return nil, dbError(err, fmt.Sprintf("alert rule %q", spec.Name))
	}
	return ruleFrom(row), nil
}

// UpdateRule replaces a rule's settings with spec (whose name and kind must
// be the rule's). Built-in rules can be changed (and disabled) like others.
func (s *Service) UpdateRule(ctx context.Context, id int64, spec RuleSpec) (*Rule, error) {
	old, err := s.GetRule(ctx, id)
	if err != nil {
		return nil, err
	}
	if spec.Name == "" {
		spec.Name = old.Name
	}
	if spec.Kind == "" {
		spec.Kind = old.Kind
	}
	if err := spec.normalize(); err != nil {
		return nil, err
	}
	var p problems
	if spec.Name != old.Name {
		p.add("name", "a rule's name cannot change (it is %q)", old.Name)
	}
	if spec.Kind != old.Kind {
		p.add("kind", "a rule's kind cannot change (it is %q)", old.Kind)
	}
	if err := p.err("alert_rule", old.Name); err != nil {
		return nil, err
	}
	if err := s.checkChannels(ctx, spec.ChannelIDs); err != nil {
		return nil, err
	}
	row, err := s.queries.AlertRuleUpdate(ctx, s.pool, &dbsqlc.AlertRuleUpdateParams{
		ID: id, Description: spec.Description, Enabled: spec.Enabled == nil || *spec.Enabled,
		Severity: spec.Severity, Metric: nilIfZero(spec.Metric), Aggregation: nilIfZero(spec.Aggregation),
		Comparison: nilIfZero(spec.Comparison), Threshold: spec.Threshold, WindowSeconds: windowPtr(spec.WindowSeconds),
		EventKind: nilIfZero(spec.EventKind), Workflow: spec.Workflow, TaskType: spec.TaskType, GroupBy: spec.GroupBy,
		ResolveAfterSeconds: int32(spec.ResolveAfterSeconds), ChannelIds: spec.ChannelIDs, SilencedUntil: spec.SilencedUntil,
	})
	if err != nil {
		return nil, dbError(err, fmt.Sprintf("alert rule %d", id))
	}
	return ruleFrom(row), nil
}

func windowPtr(seconds int) *int32 {
	if seconds == 0 {
		return nil
	}
	w := int32(seconds)
	return &w
}

func (s *Service) checkChannels(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	n, err := s.queries.AlertChannelsExist(ctx, s.pool, ids)
	if err != nil {
		return dbError(err, "alert channels")
	}
	if int(n) != len(ids) {
		var p problems
		p.add("channel_ids", "names a channel that does not exist")
		return p.err("alert_rule", "")
	}
	return nil
}

// GetRule returns one rule.
func (s *Service) GetRule(ctx context.Context, id int64) (*Rule, error) {
	row, err := s.queries.AlertRuleGet(ctx, s.pool, id)
	if err != nil {
		return nil, dbError(err, fmt.Sprintf("alert rule %d", id))
	}
	return ruleFrom(row), nil
}

// ListRules lists every rule by id.
func (s *Service) ListRules(ctx context.Context) ([]*Rule, error) {
	rows, err := s.queries.AlertRuleList(ctx, s.pool)
	if err != nil {
		return nil, dbError(err, "alert rules")
	}
	out := make([]*Rule, len(rows))
	for i, r := range rows {
		out[i] = ruleFrom(r)
	}
	return out, nil
}

// DeleteRule deletes a custom rule and its alerts. Built-in rules cannot be
// deleted (engine.ErrConflict): disable them instead.
func (s *Service) DeleteRule(ctx context.Context, id int64) error {
	n, err := s.queries.AlertRuleDelete(ctx, s.pool, id)
	if err != nil {
		return dbError(err, fmt.Sprintf("alert rule %d", id))
	}
	if n == 0 {
		if _, err := s.GetRule(ctx, id); err != nil {
			return err
		}
		return fmt.Errorf("alert rule %d is built in: disable it instead of deleting it: %w", id, engine.ErrConflict)
	}
	return nil
}

// CreateChannel validates spec and stores a new channel. For a webhook
// channel it returns the signing secret (generated unless spec.Secret is
// set): it is shown once, then kept sealed.
func (s *Service) CreateChannel(ctx context.Context, spec ChannelSpec) (*Channel, string, error) {
	if err := spec.normalize(s.opts.AllowPrivate, true); err != nil {
		return nil, "", err
	}
	if spec.Kind == "webhook" && spec.Secret == "" {
		spec.Secret = NewSigningSecret()
	}
	config, secret := channelConfig(&spec, nil)
	var sealed []byte
	if secret != "" {
		var err error
		if sealed, err = s.seal([]byte(secret)); err != nil {
			return nil, "", err
		}
	}
	row, err := s.queries.AlertChannelInsert(ctx, s.pool, &dbsqlc.AlertChannelInsertParams{
		Name: spec.Name, Kind: spec.Kind, Config: config, SecretSealed: sealed, Enabled: spec.Enabled == nil || *spec.Enabled,
	})
	if err != nil {
		return nil, "", dbError(err, fmt.Sprintf("alert channel %q", spec.Name))
	}
	ch, err := channelFrom(row)
	if spec.Kind != "webhook" {
		return ch, "", err
	}
	return ch, spec.Secret, err
}

// UpdateChannel replaces a channel's settings with spec (whose name and
// kind must be the channel's). An empty secret (webhook secret, Slack URL,
// SMTP password) keeps the stored one.
func (s *Service) UpdateChannel(ctx context.Context, id int64, spec ChannelSpec) (*Channel, error) {
	oldRow, err := s.queries.AlertChannelGet(ctx, s.pool, id)
	if err != nil {
		return nil, dbError(err, fmt.Sprintf("alert channel %d", id))
	}
	if spec.Name == "" {
		spec.Name = oldRow.Name
	}
	if spec.Kind == "" {
		spec.Kind = oldRow.Kind
	}
	if err := spec.normalize(s.opts.AllowPrivate, false); err != nil {
		return nil, err
	}
	var p problems
	if spec.Name != oldRow.Name {
		p.add("name", "a channel's name cannot change (it is %q)", oldRow.Name)
	}
	if spec.Kind != oldRow.Kind {
		p.add("kind", "a channel's kind cannot change (it is %q)", oldRow.Kind)
	}
	if err := p.err("alert_channel", oldRow.Name); err != nil {
		return nil, err
	}
	var oldConfig map[string]any
	_ = json.Unmarshal(oldRow.Config, &oldConfig)
	config, secret := channelConfig(&spec, oldConfig)
	var sealed []byte
	if secret != "" {
		if sealed, err = s.seal([]byte(secret)); err != nil {
			return nil, err
		}
	}
	row, err := s.queries.AlertChannelUpdate(ctx, s.pool, &dbsqlc.AlertChannelUpdateParams{
		ID: id, Config: config, SecretSealed: sealed, Enabled: spec.Enabled == nil || *spec.Enabled,
	})
	if err != nil {
		return nil, dbError(err, fmt.Sprintf("alert channel %d", id))
	}
	return channelFrom(row)
}

// channelConfig returns a channel's public settings as JSON and its secret
// (empty: none given).
func channelConfig(spec *ChannelSpec, old map[string]any) ([]byte, string) {
	config := map[string]any{}
	var secret string
	switch spec.Kind {
	case "webhook":
		config["url"] = spec.URL
		secret = spec.Secret
	case "slack":
		secret = spec.URL
		if u, err := url.Parse(spec.URL); err == nil && spec.URL != "" {
			config["url_host"] = u.Host
		} else if old != nil {
			config["url_host"] = old["url_host"]
		}
	case "email":
		config["host"] = spec.Host
		config["port"] = spec.Port
		config["tls"] = spec.TLS
		config["username"] = spec.Username
		config["from"] = spec.From
		config["to"] = spec.To
		secret = spec.Password
	}
	b, _ := json.Marshal(config)
	return b, secret
}

func channelFrom(row *dbsqlc.BatonAlertChannel) (*Channel, error) {
	ch := &Channel{ID: row.ID, Name: row.Name, Kind: row.Kind, Enabled: row.Enabled, HasSecret: len(row.SecretSealed) > 0,
		CreatedAt: row.CreatedAt, UpdatedAt: row.UpdatedAt}
	if err := json.Unmarshal(row.Config, &ch.Config); err != nil {
		return nil, fmt.Errorf("alert channel %d: config: %w", row.ID, err)
	}
	return ch, nil
}

// GetChannel returns one channel, without its secret.
func (s *Service) GetChannel(ctx context.Context, id int64) (*Channel, error) {
	row, err := s.queries.AlertChannelGet(ctx, s.pool, id)
	if err != nil {
		return nil, dbError(err, fmt.Sprintf("alert channel %d", id))
	}
	return channelFrom(row)
}

// ListChannels lists every channel by id, without secrets.
func (s *Service) ListChannels(ctx context.Context) ([]*Channel, error) {
	rows, err := s.queries.AlertChannelList(ctx, s.pool)
	if err != nil {
		return nil, dbError(err, "alert channels")
	}
	out := make([]*Channel, len(rows))
	for i, r := range rows {
		if out[i], err = channelFrom(r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// DeleteChannel deletes a channel and unlinks it from every rule.
func (s *Service) DeleteChannel(ctx context.Context, id int64) error {
	n, err := s.queries.AlertChannelDelete(ctx, s.pool, id)
	if err != nil {
		return dbError(err, fmt.Sprintf("alert channel %d", id))
	}
	if n == 0 {
		return fmt.Errorf("alert channel %d not found: %w", id, engine.ErrNotFound)
	}
	return nil
}

// AlertFilter selects alerts: State "" (all), "firing", "resolved" or
// "acknowledged" (firing and acknowledged); RuleID 0 for every rule;
// BeforeID 0 for the newest; Limit between 1 and 500.
type AlertFilter struct {
	State    string
	RuleID   int64
	BeforeID int64
	Limit    int
}

// ListAlerts lists alerts newest first.
func (s *Service) ListAlerts(ctx context.Context, f AlertFilter) ([]*Alert, error) {
	var p problems
	oneOf(&p, "state", f.State, []string{"", "firing", "resolved", "acknowledged"})
	if f.Limit < 1 || f.Limit > 500 {
		p.add("limit", "must be between 1 and 500")
	}
	if err := p.err("", ""); err != nil {
		return nil, err
	}
	rows, err := s.queries.AlertList(ctx, s.pool, &dbsqlc.AlertListParams{
		State: f.State, RuleID: nilIfZero(f.RuleID), BeforeID: nilIfZero(f.BeforeID), MaxRows: int32(f.Limit),
	})
	if err != nil {
		return nil, dbError(err, "alerts")
	}
	out := make([]*Alert, len(rows))
	for i, r := range rows {
		out[i] = alertFrom(r)
	}
	return out, nil
}

// GetAlert returns one alert.
func (s *Service) GetAlert(ctx context.Context, id int64) (*Alert, error) {
	row, err := s.queries.AlertGet(ctx, s.pool, id)
	if err != nil {
		return nil, dbError(err, fmt.Sprintf("alert %d", id))
	}
	return alertFrom(row), nil
}

// ListDeliveries lists an alert's delivery attempts in order.
func (s *Service) ListDeliveries(ctx context.Context, alertID int64) ([]*Delivery, error) {
	rows, err := s.queries.AlertDeliveryList(ctx, s.pool, &alertID)
	if err != nil {
		return nil, dbError(err, fmt.Sprintf("alert %d deliveries", alertID))
	}
	out := make([]*Delivery, len(rows))
	for i, r := range rows {
		d := &Delivery{ID: r.ID, AlertID: r.AlertID, ChannelID: r.ChannelID, Event: r.Event, Attempt: int(r.Attempt),
			Succeeded: r.Succeeded, Error: deref(r.Error), DurationMs: r.DurationMs, CreatedAt: r.CreatedAt}
		if r.StatusCode != nil {
			code := int(*r.StatusCode)
			d.StatusCode = &code
		}
		out[i] = d
	}
	return out, nil
}

// Acknowledge marks an alert acknowledged by actor (the first
// acknowledgement is kept) and logs alert_acknowledged, in one transaction.
func (s *Service) Acknowledge(ctx context.Context, id int64, actor string) (*Alert, error) {
	var out *Alert
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		old, err := s.queries.AlertGet(ctx, tx, id)
		if err != nil {
			return err
		}
		if old.AcknowledgedAt != nil {
			out = alertFrom(old)
			return nil
		}
		now := s.now()
		row, err := s.queries.AlertAcknowledge(ctx, tx, &dbsqlc.AlertAcknowledgeParams{ID: id, Now: &now, Actor: &actor})
		if err != nil {
			return err
		}
		out = alertFrom(row)
		return s.writeEvent(ctx, tx, EventAcknowledged, out, &actor, nil)
	})
	if err != nil {
		return nil, dbError(err, fmt.Sprintf("alert %d", id))
	}
	return out, nil
}

// MaxSilence is the longest silence.
const MaxSilence = 30 * 24 * time.Hour

// Silence silences an alert for d (0 lifts the silence): while silenced,
// nothing is sent for it. It logs alert_silenced.
func (s *Service) Silence(ctx context.Context, id int64, d time.Duration, actor string) (*Alert, error) {
	if d < 0 || d > MaxSilence {
		var p problems
		p.add("duration_seconds", "must be between 0 and %d", int(MaxSilence.Seconds()))
		return nil, p.err("", "")
	}
	var until *time.Time
	if d > 0 {
		t := s.now().Add(d)
		until = &t
	}
	var out *Alert
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		row, err := s.queries.AlertSilence(ctx, tx, &dbsqlc.AlertSilenceParams{ID: id, Until: until})
		if err != nil {
			return err
		}
		out = alertFrom(row)
		return s.writeEvent(ctx, tx, EventSilenced, out, &actor, map[string]any{"silenced_until": until})
	})
	if err != nil {
		return nil, dbError(err, fmt.Sprintf("alert %d", id))
	}
	return out, nil
}

// writeEvent logs an alert change in task_events and notifies baton_events.
func (s *Service) writeEvent(ctx context.Context, tx pgx.Tx, kind string, a *Alert, actor *string, extra map[string]any) error {
	data := map[string]any{"alert_id": a.ID, "rule_id": a.RuleID, "group_key": a.GroupKey, "severity": a.Severity,
		"summary": a.Summary}
	if a.LastValue != nil {
		data["value"] = *a.LastValue
	}
	for k, v := range extra {
		data[k] = v
	}
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("alert event: %w", err)
	}
	if err := s.queries.AlertEventInsert(ctx, tx, &dbsqlc.AlertEventInsertParams{Kind: kind, AlertID: a.ID, Actor: actor, Data: b}); err != nil {
		return fmt.Errorf("alert event %s: %w", kind, err)
	}
	return nil
}
