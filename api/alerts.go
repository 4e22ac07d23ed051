package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/baton-run/baton/internal/alert"
)

// tagAlerts groups the alerting operations.
const tagAlerts = "Alerts"

// AlertRuleRequest creates or updates an alert rule. On update, name and
// kind may be omitted and cannot change.
type AlertRuleRequest struct {
	Name                string     `json:"name,omitempty" maxLength:"100" doc:"Unique name, matching ^[a-z0-9][a-z0-9_.-]{0,99}$."`
	Kind                string     `json:"kind,omitempty" enum:"task_dead,run_failed,breaker_open,dead_letters,sla_at_risk,sla_violated,quota_exceeded,node_resource_high,custom" doc:"Event rules fire on task events (task_dead, run_failed, breaker_opened/forced_open; sla_at_risk, sla_violated, quota_exceeded, node_resource_high once the parts that write those events exist). Threshold rules (dead_letters, custom) compare a metric over a window with a threshold."`
	Description         string     `json:"description,omitempty" maxLength:"1000"`
	Enabled             *bool      `json:"enabled,omitempty" doc:"Default true."`
	Severity            string     `json:"severity,omitempty" enum:"info,warning,critical" doc:"Default warning."`
	Metric              string     `json:"metric,omitempty" enum:"event_count,failure_rate,task_duration_ms,dead_letter_count,dead_letter_growth" doc:"Threshold rules only. event_count: events of event_kind in the window; failure_rate: failed attempts / finished attempts in the window (0..1); task_duration_ms: durations of successful attempts in the window; dead_letter_count: entries in the dead-letter queue; dead_letter_growth: entries added in the window."`
	Aggregation         string     `json:"aggregation,omitempty" enum:"count,rate,avg,min,max,sum,p50,p95,p99" doc:"count for counts, rate for failure_rate (both the default), one of avg, min, max, sum, p50, p95, p99 for task_duration_ms (required)."`
	Comparison          string     `json:"comparison,omitempty" enum:"gt,gte,lt,lte" doc:"How the value compares with the threshold for the alert to fire (default gt)."`
	Threshold           *float64   `json:"threshold,omitempty" doc:"Threshold rules only (required), 0 to 1e15; at most 1 for failure_rate."`
	WindowSeconds       int        `json:"window_seconds,omitempty" doc:"Threshold rules only: the window, 10 to 604800 seconds (default 300)."`
	EventKind           string     `json:"event_kind,omitempty" maxLength:"64" doc:"The event kind counted by metric event_count (required there, refused elsewhere)."`
	Workflow            string     `json:"workflow,omitempty" maxLength:"100" doc:"Only events or dead letters of this workflow."`
	TaskType            string     `json:"task_type,omitempty" maxLength:"100" doc:"Only events or dead letters of this task type."`
	GroupBy             string     `json:"group_by,omitempty" enum:"none,workflow,task_type,key" doc:"One open alert per rule and group: the workflow, the task type, the breaker/quota/node key, or none (one alert for the rule). The default depends on the kind."`
	ResolveAfterSeconds int        `json:"resolve_after_seconds,omitempty" doc:"Event rules: an open alert resolves when no matching event came for this long (10 to 604800, default 600). A breaker_open alert resolves when the breaker closes."`
	ChannelIDs          []int64    `json:"channel_ids,omitempty" maxItems:"20" doc:"The channels alerts of this rule are sent to."`
	SilencedUntil       *time.Time `json:"silenced_until,omitempty" doc:"While in the future, the rule's alerts are recorded but nothing is sent."`
}

// AlertRule is an alert rule.
type AlertRule struct {
	ID                  int64      `json:"id"`
	Name                string     `json:"name"`
	Kind                string     `json:"kind"`
	Builtin             bool       `json:"builtin" doc:"Built-in rules can be changed and disabled, not deleted."`
	Description         string     `json:"description"`
	Enabled             bool       `json:"enabled"`
	Severity            string     `json:"severity"`
	Metric              string     `json:"metric,omitempty"`
	Aggregation         string     `json:"aggregation,omitempty"`
	Comparison          string     `json:"comparison,omitempty"`
	Threshold           *float64   `json:"threshold,omitempty"`
	WindowSeconds       int        `json:"window_seconds,omitempty"`
	EventKind           string     `json:"event_kind,omitempty"`
	Workflow            string     `json:"workflow,omitempty"`
	TaskType            string     `json:"task_type,omitempty"`
	GroupBy             string     `json:"group_by"`
	ResolveAfterSeconds int        `json:"resolve_after_seconds"`
	ChannelIDs          []int64    `json:"channel_ids"`
	SilencedUntil       *time.Time `json:"silenced_until"`
	CreatedAt           time.Time  `json:"created_at"`
	UpdatedAt           time.Time  `json:"updated_at"`
}

// AlertRuleList is the body of list-alert-rules.
type AlertRuleList struct {
	Rules []AlertRule `json:"rules"`
}

// AlertChannelRequest creates or updates a channel. On update, name and
// kind may be omitted and cannot change; secrets (secret, a Slack url,
// password) left out are kept.
type AlertChannelRequest struct {
	Name     string   `json:"name,omitempty" maxLength:"100" doc:"Unique name, matching ^[a-z0-9][a-z0-9_.-]{0,99}$."`
	Kind     string   `json:"kind,omitempty" enum:"webhook,slack,email"`
	Enabled  *bool    `json:"enabled,omitempty" doc:"Default true."`
	URL      string   `json:"url,omitempty" maxLength:"2000" doc:"webhook: the receiver's URL; slack: the incoming-webhook URL (kept sealed, never shown again). Private and loopback addresses are refused unless the server allows them."`
	Secret   string   `json:"secret,omitempty" maxLength:"200" doc:"webhook: a Standard Webhooks signing secret (\"whsec_\" and base64 of 24 to 64 bytes); omitted on creation, one is generated and returned once."`
	Host     string   `json:"host,omitempty" maxLength:"253" doc:"email: the SMTP server."`
	Port     int      `json:"port,omitempty" doc:"email: the SMTP port (default 587 with STARTTLS, 465 with implicit TLS)."`
	TLS      string   `json:"tls,omitempty" enum:"starttls,tls" doc:"email: STARTTLS (mandatory, the default) or implicit TLS."`
	Username string   `json:"username,omitempty" maxLength:"200" doc:"email: the SMTP AUTH user."`
	Password string   `json:"password,omitempty" maxLength:"1000" doc:"email: the SMTP AUTH password (kept sealed, never shown)."`
	From     string   `json:"from,omitempty" maxLength:"320" doc:"email: the sender address."`
	To       []string `json:"to,omitempty" maxItems:"20" doc:"email: 1 to 20 recipient addresses."`
}

// AlertChannel is a channel, without its secret.
type AlertChannel struct {
	ID        int64          `json:"id"`
	Name      string         `json:"name"`
	Kind      string         `json:"kind"`
	Enabled   bool           `json:"enabled"`
	Config    map[string]any `json:"config" doc:"Public settings: url (webhook); url_host (slack); host, port, tls, username, from, to (email)."`
	HasSecret bool           `json:"has_secret" doc:"Whether a secret (signing secret, Slack URL, SMTP password) is stored, sealed."`
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`
}

// AlertChannelCreated is the body of create-alert-channel.
type AlertChannelCreated struct {
	AlertChannel
	SigningSecret string `json:"signing_secret,omitempty" doc:"webhook: the signing secret, shown this once. Receivers verify webhook-signature (v1,base64 HMAC-SHA256 of id.timestamp.body) with it."`
}

// AlertChannelList is the body of list-alert-channels.
type AlertChannelList struct {
	Channels []AlertChannel `json:"channels"`
}

// Alert is one alert: an episode of a rule's condition for one group key.
type Alert struct {
	ID             int64      `json:"id"`
	RuleID         int64      `json:"rule_id"`
	GroupKey       string     `json:"group_key"`
	State          string     `json:"state" enum:"firing,resolved"`
	Severity       string     `json:"severity"`
	Summary        string     `json:"summary"`
	FiredAt        time.Time  `json:"fired_at"`
	LastSeenAt     time.Time  `json:"last_seen_at" doc:"When the condition was last seen."`
	ResolvedAt     *time.Time `json:"resolved_at"`
	AcknowledgedAt *time.Time `json:"acknowledged_at"`
	AcknowledgedBy string     `json:"acknowledged_by,omitempty"`
	SilencedUntil  *time.Time `json:"silenced_until"`
	LastValue      *float64   `json:"last_value" doc:"The metric's last value (threshold rules)."`
	Occurrences    int64      `json:"occurrences" doc:"Matching events folded into this alert (event rules)."`
}

// AlertList is one page of list-alerts.
type AlertList struct {
	Alerts []Alert `json:"alerts"`
}

// AlertDelivery is one delivery attempt.
type AlertDelivery struct {
	ID         int64     `json:"id,omitempty"`
	AlertID    *int64    `json:"alert_id,omitempty"`
	ChannelID  *int64    `json:"channel_id"`
	Event      string    `json:"event" enum:"fired,resolved,test"`
	Attempt    int       `json:"attempt"`
	Succeeded  bool      `json:"succeeded"`
	StatusCode *int      `json:"status_code,omitempty" doc:"The receiver's HTTP status (webhook, slack)."`
	Error      string    `json:"error,omitempty"`
	DurationMs int64     `json:"duration_ms"`
	CreatedAt  time.Time `json:"created_at"`
}

// AlertDeliveryList is the body of list-alert-deliveries.
type AlertDeliveryList struct {
	Deliveries []AlertDelivery `json:"deliveries"`
}

// SilenceRequest is the body of silence-alert.
type SilenceRequest struct {
	DurationSeconds int `json:"duration_seconds" minimum:"0" maximum:"2592000" doc:"How long nothing is sent for the alert; 0 lifts the silence."`
}

type idInput struct {
	ID int64 `path:"id" minimum:"1"`
}

type ruleCreateInput struct{ Body AlertRuleRequest }
type ruleUpdateInput struct {
	ID   int64 `path:"id" minimum:"1"`
	Body AlertRuleRequest
}
type channelCreateInput struct{ Body AlertChannelRequest }
type channelUpdateInput struct {
	ID   int64 `path:"id" minimum:"1"`
	Body AlertChannelRequest
}
type alertListInput struct {
	State    string `query:"state" enum:"firing,resolved,acknowledged" doc:"Only alerts in this state (acknowledged: firing and acknowledged)."`
	RuleID   int64  `query:"rule_id" minimum:"0" doc:"Only alerts of this rule."`
	BeforeID int64  `query:"before_id" minimum:"0" doc:"Only alerts older than this id (the last id of the previous page)."`
	Limit    int    `query:"limit" minimum:"1" maximum:"500" default:"50" doc:"Page size."`
}
type alertActorInput struct {
	ID    int64  `path:"id" minimum:"1"`
	Actor string `header:"X-Baton-Actor" maxLength:"200" default:"api" doc:"Who acts, recorded in the event log."`
}
type silenceInput struct {
	ID    int64  `path:"id" minimum:"1"`
	Actor string `header:"X-Baton-Actor" maxLength:"200" default:"api" doc:"Who acts, recorded in the event log."`
	Body  SilenceRequest
}

type ruleOutput struct{ Body AlertRule }
type ruleListOutput struct{ Body AlertRuleList }
type channelOutput struct{ Body AlertChannel }
type channelCreatedOutput struct{ Body AlertChannelCreated }
type channelListOutput struct{ Body AlertChannelList }
type alertOutput struct{ Body Alert }
type alertListOutput struct{ Body AlertList }
type deliveryOutput struct{ Body AlertDelivery }
type deliveryListOutput struct{ Body AlertDeliveryList }

// registerAlerts registers the alerting operations on api.
func registerAlerts(api huma.API, h *handlers) {
	tags := []string{tagAlerts}
	unprocessable := errorStatuses(http.StatusNotFound, http.StatusUnprocessableEntity)
	huma.Register(api, huma.Operation{
		OperationID: "create-alert-rule", Method: http.MethodPost, Path: "/alert-rules", Summary: "Create an alert rule",
		Description: "Creates a custom rule (or another rule of a built-in kind, say with other filters or channels). Problems answer 422 naming the field.",
		Tags:        tags, DefaultStatus: http.StatusCreated, Errors: errorStatuses(http.StatusConflict, http.StatusUnprocessableEntity),
	}, h.createAlertRule)
	huma.Register(api, huma.Operation{
		OperationID: "list-alert-rules", Method: http.MethodGet, Path: "/alert-rules", Summary: "List alert rules",
		Description: "Every rule, built-in ones first (by id).", Tags: tags, Errors: errorStatuses(),
	}, h.listAlertRules)
	huma.Register(api, huma.Operation{
		OperationID: "get-alert-rule", Method: http.MethodGet, Path: "/alert-rules/{id}", Summary: "Get an alert rule",
		Tags: tags, Errors: unprocessable,
	}, h.getAlertRule)
	huma.Register(api, huma.Operation{
		OperationID: "update-alert-rule", Method: http.MethodPut, Path: "/alert-rules/{id}", Summary: "Update an alert rule",
		Description: "Replaces the rule's settings (name and kind cannot change). Built-in rules can be changed and disabled.",
		Tags:        tags, Errors: unprocessable,
	}, h.updateAlertRule)
	huma.Register(api, huma.Operation{
		OperationID: "delete-alert-rule", Method: http.MethodDelete, Path: "/alert-rules/{id}", Summary: "Delete an alert rule",
		Description: "Deletes a custom rule and its alerts. A built-in rule answers 409: disable it instead.",
		Tags:        tags, DefaultStatus: http.StatusNoContent, Errors: errorStatuses(http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity),
	}, h.deleteAlertRule)

	huma.Register(api, huma.Operation{
		OperationID: "create-alert-channel", Method: http.MethodPost, Path: "/alert-channels", Summary: "Create an alert channel",
		Description: "A generic webhook (JSON signed per Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature headers), a Slack incoming webhook (a message with blocks), or e-mail over SMTP with STARTTLS (or implicit TLS) and AUTH. A webhook's signing secret is returned once. Secrets are stored sealed (AES-256-GCM) and never shown.",
		Tags:        tags, DefaultStatus: http.StatusCreated, Errors: errorStatuses(http.StatusConflict, http.StatusUnprocessableEntity),
	}, h.createAlertChannel)
	huma.Register(api, huma.Operation{
		OperationID: "list-alert-channels", Method: http.MethodGet, Path: "/alert-channels", Summary: "List alert channels",
		Tags: tags, Errors: errorStatuses(),
	}, h.listAlertChannels)
	huma.Register(api, huma.Operation{
		OperationID: "get-alert-channel", Method: http.MethodGet, Path: "/alert-channels/{id}", Summary: "Get an alert channel",
		Tags: tags, Errors: unprocessable,
	}, h.getAlertChannel)
	huma.Register(api, huma.Operation{
		OperationID: "update-alert-channel", Method: http.MethodPut, Path: "/alert-channels/{id}", Summary: "Update an alert channel",
		Description: "Replaces the channel's settings (name and kind cannot change); secrets left out are kept.",
		Tags:        tags, Errors: unprocessable,
	}, h.updateAlertChannel)
	huma.Register(api, huma.Operation{
		OperationID: "delete-alert-channel", Method: http.MethodDelete, Path: "/alert-channels/{id}", Summary: "Delete an alert channel",
		Description: "Deletes the channel and removes it from every rule.",
		Tags:        tags, DefaultStatus: http.StatusNoContent, Errors: unprocessable,
	}, h.deleteAlertChannel)
	huma.Register(api, huma.Operation{
		OperationID: "test-alert-channel", Method: http.MethodPost, Path: "/alert-channels/{id}/test", Summary: "Send a test alert",
		Description: "Sends a sample alert to the channel now and answers with the attempt (logged like any delivery). A failed send is a 200 with succeeded false and the error.",
		Tags:        tags, Errors: unprocessable,
	}, h.testAlertChannel)

	huma.Register(api, huma.Operation{
		OperationID: "list-alerts", Method: http.MethodGet, Path: "/alerts", Summary: "List alerts",
		Description: "Alerts newest first, filtered by state and rule. Pass the last id as before_id for the next page.",
		Tags:        tags, Errors: errorStatuses(http.StatusUnprocessableEntity),
	}, h.listAlerts)
	huma.Register(api, huma.Operation{
		OperationID: "get-alert", Method: http.MethodGet, Path: "/alerts/{id}", Summary: "Get an alert",
		Tags: tags, Errors: unprocessable,
	}, h.getAlert)
	huma.Register(api, huma.Operation{
		OperationID: "list-alert-deliveries", Method: http.MethodGet, Path: "/alerts/{id}/deliveries", Summary: "List an alert's deliveries",
		Description: "Every delivery attempt of the alert, in order.", Tags: tags, Errors: unprocessable,
	}, h.listAlertDeliveries)
	huma.Register(api, huma.Operation{
		OperationID: "acknowledge-alert", Method: http.MethodPost, Path: "/alerts/{id}/acknowledge", Summary: "Acknowledge an alert",
		Description: "Records who acknowledged the alert (the first acknowledgement is kept) and logs alert_acknowledged. Its resolution is still sent.",
		Tags:        tags, Errors: unprocessable,
	}, h.acknowledgeAlert)
	huma.Register(api, huma.Operation{
		OperationID: "silence-alert", Method: http.MethodPost, Path: "/alerts/{id}/silence", Summary: "Silence an alert",
		Description: "Nothing is sent for the alert (not even its resolution) until the silence ends; 0 lifts it. Logs alert_silenced.",
		Tags:        tags, Errors: unprocessable,
	}, h.silenceAlert)
}

// alertService returns the alert service, or a 503 when the server runs
// without alerting.
func (h *handlers) alertService() (*alert.Service, error) {
	if h.alerts == nil {
		return nil, unavailable("alerting is not configured on this server")
	}
	return h.alerts, nil
}

func ruleSpec(b *AlertRuleRequest) alert.RuleSpec {
	return alert.RuleSpec{
		Name: b.Name, Kind: b.Kind, Description: b.Description, Enabled: b.Enabled, Severity: b.Severity,
		Metric: b.Metric, Aggregation: b.Aggregation, Comparison: b.Comparison, Threshold: b.Threshold,
		WindowSeconds: b.WindowSeconds, EventKind: b.EventKind, Workflow: b.Workflow, TaskType: b.TaskType,
		GroupBy: b.GroupBy, ResolveAfterSeconds: b.ResolveAfterSeconds, ChannelIDs: b.ChannelIDs, SilencedUntil: b.SilencedUntil,
	}
}

func channelSpec(b *AlertChannelRequest) alert.ChannelSpec {
	return alert.ChannelSpec{
		Name: b.Name, Kind: b.Kind, Enabled: b.Enabled, URL: b.URL, Secret: b.Secret, Host: b.Host, Port: b.Port,
		TLS: b.TLS, Username: b.Username, Password: b.Password, From: b.From, To: b.To,
	}
}

func ruleFrom(r *alert.Rule) AlertRule {
	return AlertRule{
		ID: r.ID, Name: r.Name, Kind: r.Kind, Builtin: r.Builtin, Description: r.Description, Enabled: r.Enabled,
		Severity: r.Severity, Metric: r.Metric, Aggregation: r.Aggregation, Comparison: r.Comparison,
		Threshold: r.Threshold, WindowSeconds: r.WindowSeconds, EventKind: r.EventKind, Workflow: r.Workflow,
		TaskType: r.TaskType, GroupBy: r.GroupBy, ResolveAfterSeconds: r.ResolveAfterSeconds, ChannelIDs: r.ChannelIDs,
		SilencedUntil: utcPtr(r.SilencedUntil), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

func channelFrom(c *alert.Channel) AlertChannel {
	return AlertChannel{ID: c.ID, Name: c.Name, Kind: c.Kind, Enabled: c.Enabled, Config: c.Config, HasSecret: c.HasSecret,
		CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC()}
}

func alertFrom(a *alert.Alert) Alert {
	return Alert{
		ID: a.ID, RuleID: a.RuleID, GroupKey: a.GroupKey, State: a.State(), Severity: a.Severity, Summary: a.Summary,
		FiredAt: a.FiredAt.UTC(), LastSeenAt: a.LastSeenAt.UTC(), ResolvedAt: utcPtr(a.ResolvedAt),
		AcknowledgedAt: utcPtr(a.AcknowledgedAt), AcknowledgedBy: a.AcknowledgedBy, SilencedUntil: utcPtr(a.SilencedUntil),
		LastValue: a.LastValue, Occurrences: a.Occurrences,
	}
}

func deliveryFrom(d *alert.Delivery) AlertDelivery {
	return AlertDelivery{ID: d.ID, AlertID: d.AlertID, ChannelID: d.ChannelID, Event: d.Event, Attempt: d.Attempt,
		Succeeded: d.Succeeded, StatusCode: d.StatusCode, Error: d.Error, DurationMs: d.DurationMs, CreatedAt: d.CreatedAt.UTC()}
}

func (h *handlers) createAlertRule(ctx context.Context, in *ruleCreateInput) (*ruleOutput, error) {
	svc, err := h.alertService()
	if err != nil {
		return nil, err
	}
	r, err := svc.CreateRule(ctx, ruleSpec(&in.Body))
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &ruleOutput{Body: ruleFrom(r)}, nil
}

func (h *handlers) listAlertRules(ctx context.Context, _ *struct{}) (*ruleListOutput, error) {
	svc, err := h.alertService()
	if err != nil {
		return nil, err
	}
	rules, err := svc.ListRules(ctx)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &ruleListOutput{Body: AlertRuleList{Rules: make([]AlertRule, len(rules))}}
	for i, r := range rules {
		out.Body.Rules[i] = ruleFrom(r)
	}
	return out, nil
}

func (h *handlers) getAlertRule(ctx context.Context, in *idInput) (*ruleOutput, error) {
	svc, err := h.alertService()
	if err != nil {
		return nil, err
	}
	r, err := svc.GetRule(ctx, in.ID)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &ruleOutput{Body: ruleFrom(r)}, nil
}

func (h *handlers) updateAlertRule(ctx context.Context, in *ruleUpdateInput) (*ruleOutput, error) {
	svc, err := h.alertService()
	if err != nil {
		return nil, err
	}
	r, err := svc.UpdateRule(ctx, in.ID, ruleSpec(&in.Body))
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &ruleOutput{Body: ruleFrom(r)}, nil
}

func (h *handlers) deleteAlertRule(ctx context.Context, in *idInput) (*struct{}, error) {
	svc, err := h.alertService()
	if err != nil {
		return nil, err
	}
	if err := svc.DeleteRule(ctx, in.ID); err != nil {
		return nil, h.problem(ctx, err)
	}
	return nil, nil
}

func (h *handlers) createAlertChannel(ctx context.Context, in *channelCreateInput) (*channelCreatedOutput, error) {
	svc, err := h.alertService()
	if err != nil {
		return nil, err
	}
	c, secret, err := svc.CreateChannel(ctx, channelSpec(&in.Body))
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &channelCreatedOutput{Body: AlertChannelCreated{AlertChannel: channelFrom(c), SigningSecret: secret}}, nil
}

func (h *handlers) listAlertChannels(ctx context.Context, _ *struct{}) (*channelListOutput, error) {
	svc, err := h.alertService()
	if err != nil {
		return nil, err
	}
	channels, err := svc.ListChannels(ctx)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &channelListOutput{Body: AlertChannelList{Channels: make([]AlertChannel, len(channels))}}
	for i, c := range channels {
		out.Body.Channels[i] = channelFrom(c)
	}
	return out, nil
}

func (h *handlers) getAlertChannel(ctx context.Context, in *idInput) (*channelOutput, error) {
	svc, err := h.alertService()
	if err != nil {
		return nil, err
	}
	c, err := svc.GetChannel(ctx, in.ID)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &channelOutput{Body: channelFrom(c)}, nil
}

func (h *handlers) updateAlertChannel(ctx context.Context, in *channelUpdateInput) (*channelOutput, error) {
	svc, err := h.alertService()
	if err != nil {
		return nil, err
	}
	c, err := svc.UpdateChannel(ctx, in.ID, channelSpec(&in.Body))
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &channelOutput{Body: channelFrom(c)}, nil
}

func (h *handlers) deleteAlertChannel(ctx context.Context, in *idInput) (*struct{}, error) {
	svc, err := h.alertService()
	if err != nil {
		return nil, err
	}
	if err := svc.DeleteChannel(ctx, in.ID); err != nil {
		return nil, h.problem(ctx, err)
	}
	return nil, nil
}

func (h *handlers) testAlertChannel(ctx context.Context, in *idInput) (*deliveryOutput, error) {
	svc, err := h.alertService()
	if err != nil {
		return nil, err
	}
	d, err := svc.SendTest(ctx, in.ID)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &deliveryOutput{Body: deliveryFrom(d)}, nil
}

func (h *handlers) listAlerts(ctx context.Context, in *alertListInput) (*alertListOutput, error) {
	svc, err := h.alertService()
	if err != nil {
		return nil, err
	}
	alerts, err := svc.ListAlerts(ctx, alert.AlertFilter{State: in.State, RuleID: in.RuleID, BeforeID: in.BeforeID, Limit: in.Limit})
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &alertListOutput{Body: AlertList{Alerts: make([]Alert, len(alerts))}}
	for i, a := range alerts {
		out.Body.Alerts[i] = alertFrom(a)
	}
	return out, nil
}

func (h *handlers) getAlert(ctx context.Context, in *idInput) (*alertOutput, error) {
	svc, err := h.alertService()
	if err != nil {
		return nil, err
	}
	a, err := svc.GetAlert(ctx, in.ID)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &alertOutput{Body: alertFrom(a)}, nil
}

func (h *handlers) listAlertDeliveries(ctx context.Context, in *idInput) (*deliveryListOutput, error) {
	svc, err := h.alertService()
	if err != nil {
		return nil, err
	}
	if _, err := svc.GetAlert(ctx, in.ID); err != nil {
		return nil, h.problem(ctx, err)
	}
	list, err := svc.ListDeliveries(ctx, in.ID)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &deliveryListOutput{Body: AlertDeliveryList{Deliveries: make([]AlertDelivery, len(list))}}
	for i, d := range list {
		out.Body.Deliveries[i] = deliveryFrom(d)
	}
	return out, nil
}

func (h *handlers) acknowledgeAlert(ctx context.Context, in *alertActorInput) (*alertOutput, error) {
	svc, err := h.alertService()
	if err != nil {
		return nil, err
	}
	a, err := svc.Acknowledge(ctx, in.ID, in.Actor)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &alertOutput{Body: alertFrom(a)}, nil
}

func (h *handlers) silenceAlert(ctx context.Context, in *silenceInput) (*alertOutput, error) {
	svc, err := h.alertService()
	if err != nil {
		return nil, err
	}
	a, err := svc.Silence(ctx, in.ID, time.Duration(in.Body.DurationSeconds)*time.Second, in.Actor)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	return &alertOutput{Body: alertFrom(a)}, nil
}
