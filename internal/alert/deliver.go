package alert

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	mail "github.com/wneessen/go-mail"

	"github.com/baton-run/baton/internal/dbsqlc"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/executor"
)

// ErrPermanent marks a delivery failure no retry will fix (a 4xx answer,
// a refused private address, a secret that does not open).
var ErrPermanent = errors.New("permanent delivery failure")

// newHTTPClient returns the channels' HTTP client: redirects are not
// followed and, unless allowPrivate, non-public addresses are refused at
// dial time and proxies are ignored (the executor's guard).
func newHTTPClient(allowPrivate bool, timeout time.Duration) *http.Client {
	return executor.NewOutboundClient(allowPrivate, timeout)
}

// message is what a delivery says.
type message struct {
	ID    string // webhook-id: the same on every attempt of one delivery
	Event string // fired, resolved or test
	Rule  string
	Kind  string
	Alert *Alert
	At    time.Time
}

// Deliver sends one alert change to one channel (attempt counts from 1) and
// logs the attempt in alert_deliveries. A deleted alert or channel, a
// disabled channel or a silenced alert sends nothing and returns nil. An
// error wrapping ErrPermanent should not be retried.
func (s *Service) Deliver(ctx context.Context, args DeliveryArgs, attempt int) error {
	a, err := s.queries.AlertGet(ctx, s.pool, args.AlertID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return dbError(err, fmt.Sprintf("alert %d", args.AlertID))
	}
	rule, err := s.queries.AlertRuleGet(ctx, s.pool, a.RuleID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return dbError(err, fmt.Sprintf("alert rule %d", a.RuleID))
	}
	ch, err := s.queries.AlertChannelGet(ctx, s.pool, args.ChannelID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return dbError(err, fmt.Sprintf("alert channel %d", args.ChannelID))
	}
	now := s.now()
	if !ch.Enabled || (a.SilencedUntil != nil && a.SilencedUntil.After(now)) ||
		(rule.SilencedUntil != nil && rule.SilencedUntil.After(now)) {
		return nil
	}
	msg := &message{
		ID:    fmt.Sprintf("msg_alert_%d_%s_%d", a.ID, args.Event, ch.ID),
		Event: args.Event, Rule: rule.Name, Kind: rule.Kind, Alert: alertFrom(a), At: now,
	}
	d := s.send(ctx, ch, msg)
	alertID, channelID := a.ID, ch.ID
	if err := s.logDelivery(ctx, &alertID, &channelID, args.Event, attempt, d); err != nil {
		return err
	}
	if d.err != nil {
		s.logger.WarnContext(ctx, "alert delivery failed", "alert_id", a.ID, "channel", ch.Name, "attempt", attempt,
			"error", d.err.Error())
		return d.err
	}
	s.logger.InfoContext(ctx, "alert delivered", "alert_id", a.ID, "channel", ch.Name, "event", args.Event,
		"attempt", attempt, "duration_ms", d.duration.Milliseconds())
	return nil
}

// SendTest sends a sample alert to a channel, logs the attempt, and
// returns it (a failed send is a Delivery with Succeeded false, not an
// error).
func (s *Service) SendTest(ctx context.Context, channelID int64) (*Delivery, error) {
	ch, err := s.queries.AlertChannelGet(ctx, s.pool, channelID)
	if err != nil {
		return nil, dbError(err, fmt.Sprintf("alert channel %d", channelID))
	}
	now := s.now()
	value := 1.0
	msg := &message{
		ID: fmt.Sprintf("msg_test_%d_%d", ch.ID, now.UnixNano()), Event: "test", Rule: "test", Kind: KindCustom, At: now,
		Alert: &Alert{GroupKey: "test", Severity: "info", Summary: "Test alert from Baton: this channel works.",
			FiredAt: now, LastSeenAt: now, LastValue: &value, Occurrences: 1},
	}
	d := s.send(ctx, ch, msg)
	if err := s.logDelivery(ctx, nil, &ch.ID, "test", 1, d); err != nil {
		return nil, err
	}
	out := &Delivery{ChannelID: &ch.ID, Event: "test", Attempt: 1, Succeeded: d.err == nil, StatusCode: d.status,
		DurationMs: d.duration.Milliseconds(), CreatedAt: now}
	if d.err != nil {
		out.Error = d.err.Error()
	}
	return out, nil
}

type sendResult struct {
	status   *int
	err      error
	duration time.Duration
}

func (s *Service) logDelivery(ctx context.Context, alertID, channelID *int64, event string, attempt int, d sendResult) error {
	var status *int32
	if d.status != nil {
		v := int32(*d.status)
		status = &v
	}
	var errText *string
	if d.err != nil {
		t := truncate(d.err.Error(), 1000)
		errText = &t
	}
	if err := s.queries.AlertDeliveryInsert(ctx, s.pool, &dbsqlc.AlertDeliveryInsertParams{
		AlertID: alertID, ChannelID: channelID, Event: event, Attempt: int32(attempt), Succeeded: d.err == nil,
		StatusCode: status, Error: errText, DurationMs: d.duration.Milliseconds(),
	}); err != nil {
		return dbError(err, "alert delivery log")
	}
	return nil
}

func (s *Service) send(ctx context.Context, ch *dbsqlc.BatonAlertChannel, msg *message) sendResult {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, s.opts.SendTimeout)
	defer cancel()
	var config map[string]any
	if err := json.Unmarshal(ch.Config, &config); err != nil {
		return sendResult{err: fmt.Errorf("%w: channel config: %w", ErrPermanent, err)}
	}
	var secret string
	if len(ch.SecretSealed) > 0 {
		plain, err := s.open(ch.SecretSealed)
		if err != nil {
			return sendResult{err: fmt.Errorf("%w: %w", ErrPermanent, err), duration: time.Since(start)}
		}
		secret = string(plain)
	}
	var res sendResult
	switch ch.Kind {
	case "webhook":
		res = s.sendWebhook(ctx, str(config["url"]), secret, msg)
	case "slack":
		res = s.sendSlack(ctx, secret, msg)
	case "email":
		res = s.sendEmail(ctx, config, secret, msg)
	default:
		res = sendResult{err: fmt.Errorf("%w: unknown channel kind %q", ErrPermanent, ch.Kind)}
	}
	res.duration = time.Since(start)
	return res
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// WebhookPayload is the JSON body of a webhook delivery (Standard Webhooks
// layout: type, timestamp, data).
type WebhookPayload struct {
	Type      string      `json:"type"` // alert.fired, alert.resolved or alert.test
	Timestamp time.Time   `json:"timestamp"`
	Data      WebhookData `json:"data"`
}

// WebhookData is the alert in a webhook payload.
type WebhookData struct {
	AlertID        int64      `json:"alert_id"`
	Rule           string     `json:"rule"`
	RuleKind       string     `json:"rule_kind"`
	State          string     `json:"state"`
	Severity       string     `json:"severity"`
	GroupKey       string     `json:"group_key"`
	Summary        string     `json:"summary"`
	Value          *float64   `json:"value,omitempty"`
	Occurrences    int64      `json:"occurrences"`
	FiredAt        time.Time  `json:"fired_at"`
	ResolvedAt     *time.Time `json:"resolved_at,omitempty"`
	AcknowledgedAt *time.Time `json:"acknowledged_at,omitempty"`
}

func (s *Service) sendWebhook(ctx context.Context, target, secret string, msg *message) sendResult {
	a := msg.Alert
	state := a.State()
	if msg.Event == "test" {
		state = "test"
	}
	body, err := json.Marshal(WebhookPayload{Type: "alert." + msg.Event, Timestamp: msg.At, Data: WebhookData{
		AlertID: a.ID, Rule: msg.Rule, RuleKind: msg.Kind, State: state, Severity: a.Severity, GroupKey: a.GroupKey,
		Summary: a.Summary, Value: a.LastValue, Occurrences: a.Occurrences, FiredAt: a.FiredAt, ResolvedAt: a.ResolvedAt,
		AcknowledgedAt: a.AcknowledgedAt,
	}})
	if err != nil {
		return sendResult{err: fmt.Errorf("%w: encode payload: %w", ErrPermanent, err)}
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return sendResult{err: fmt.Errorf("%w: signing secret does not decode", ErrPermanent)}
	}
	signature, err := wh.Sign(msg.ID, msg.At, body)
	if err != nil {
		return sendResult{err: fmt.Errorf("%w: sign: %w", ErrPermanent, err)}
	}
	header := http.Header{}
	header.Set("webhook-id", msg.ID)
	header.Set("webhook-timestamp", strconv.FormatInt(msg.At.Unix(), 10))
	header.Set("webhook-signature", signature)
	return s.post(ctx, target, header, body)
}

// post sends a JSON body and classifies the answer: 2xx succeeds; 408, 429
// and 5xx are retried; other statuses are permanent.
func (s *Service) post(ctx context.Context, target string, header http.Header, body []byte) sendResult {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return sendResult{err: fmt.Errorf("%w: bad URL", ErrPermanent)}
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Baton-Alerts/1")
	resp, err := s.client.Do(req)
	if err != nil {
		// A *url.Error repeats the URL, which for Slack is the secret:
		// keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, executor.ErrPrivateAddress) {
			return sendResult{err: fmt.Errorf("%w: %w", ErrPermanent, err)}
		}
		return sendResult{err: fmt.Errorf("send: %w", err)}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	status := resp.StatusCode
	switch {
	case status >= 200 && status < 300:
		return sendResult{status: &status}
	case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500:
		return sendResult{status: &status, err: fmt.Errorf("receiver answered %d", status)}
	default:
		return sendResult{status: &status, err: fmt.Errorf("%w: receiver answered %d", ErrPermanent, status)}
	}
}

var severityEmoji = map[string]string{"info": ":information_source:", "warning": ":warning:", "critical": ":rotating_light:"}

// SlackMessage is an incoming-webhook message: a fallback text and blocks.
type SlackMessage struct {
	Text   string       `json:"text"`
	Blocks []SlackBlock `json:"blocks"`
}

// SlackBlock is a Block Kit block (header, section, context).
type SlackBlock struct {
	Type     string      `json:"type"`
	Text     *SlackText  `json:"text,omitempty"`
	Fields   []SlackText `json:"fields,omitempty"`
	Elements []SlackText `json:"elements,omitempty"`
}

// SlackText is a Block Kit text object.
type SlackText struct {
	Type string `json:"type"` // plain_text or mrkdwn
	Text string `json:"text"`
}

func slackMessage(msg *message) SlackMessage {
	a := msg.Alert
	title := strings.ToUpper(msg.Event)
	if msg.Event == "fired" {
		title = "FIRING"
	}
	header := fmt.Sprintf("%s %s: %s", severityEmoji[a.Severity], title, msg.Rule)
	fields := []SlackText{
		{Type: "mrkdwn", Text: "*Severity*\n" + a.Severity},
		{Type: "mrkdwn", Text: "*Group*\n" + orDash(a.GroupKey)},
		{Type: "mrkdwn", Text: "*Fired*\n" + a.FiredAt.UTC().Format(time.RFC3339)},
		{Type: "mrkdwn", Text: "*Occurrences*\n" + strconv.FormatInt(a.Occurrences, 10)},
	}
	if a.LastValue != nil {
		fields = append(fields, SlackText{Type: "mrkdwn", Text: "*Value*\n" + strconv.FormatFloat(*a.LastValue, 'g', 6, 64)})
	}
	if a.ResolvedAt != nil {
		fields = append(fields, SlackText{Type: "mrkdwn", Text: "*Resolved*\n" + a.ResolvedAt.UTC().Format(time.RFC3339)})
	}
	return SlackMessage{
		Text: fmt.Sprintf("%s: %s", title, a.Summary),
		Blocks: []SlackBlock{
			{Type: "header", Text: &SlackText{Type: "plain_text", Text: truncate(header, 150)}},
			{Type: "section", Text: &SlackText{Type: "mrkdwn", Text: truncate(slackEscape(a.Summary), 3000)}, Fields: fields},
			{Type: "context", Elements: []SlackText{{Type: "mrkdwn", Text: fmt.Sprintf("Baton alert #%d · rule %s", a.ID, slackEscape(msg.Rule))}}},
		},
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return slackEscape(s)
}

// slackEscape escapes the three characters Slack's mrkdwn reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func (s *Service) sendSlack(ctx context.Context, target string, msg *message) sendResult {
	body, err := json.Marshal(slackMessage(msg))
	if err != nil {
		return sendResult{err: fmt.Errorf("%w: encode message: %w", ErrPermanent, err)}
	}
	return s.post(ctx, target, nil, body)
}

func (s *Service) sendEmail(ctx context.Context, config map[string]any, password string, msg *message) sendResult {
	host := str(config["host"])
	port, _ := config["port"].(float64)
	var to []string
	if list, ok := config["to"].([]any); ok {
		for _, v := range list {
			to = append(to, str(v))
		}
	}
	m := mail.NewMsg()
	if err := m.From(str(config["from"])); err != nil {
		return sendResult{err: fmt.Errorf("%w: from: %w", ErrPermanent, err)}
	}
	if err := m.To(to...); err != nil {
		return sendResult{err: fmt.Errorf("%w: to: %w", ErrPermanent, err)}
	}
	a := msg.Alert
	title := strings.ToUpper(msg.Event)
	if msg.Event == "fired" {
		title = "FIRING"
	}
	subject := fmt.Sprintf("[Baton] %s %s: %s", title, a.Severity, msg.Rule)
	if a.GroupKey != "" {
		subject += " (" + a.GroupKey + ")"
	}
	m.Subject(truncate(subject, 200))
	m.SetMessageID()
	var body strings.Builder
	fmt.Fprintf(&body, "%s\n\nRule: %s (%s)\nSeverity: %s\nGroup: %s\nFired: %s\nOccurrences: %d\n",
		a.Summary, msg.Rule, msg.Kind, a.Severity, orDashPlain(a.GroupKey), a.FiredAt.UTC().Format(time.RFC3339), a.Occurrences)
	if a.LastValue != nil {
		fmt.Fprintf(&body, "Value: %g\n", *a.LastValue)
	}
	if a.ResolvedAt != nil {
		fmt.Fprintf(&body, "Resolved: %s\n", a.ResolvedAt.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(&body, "\nBaton alert #%d\n", a.ID)
	m.SetBodyString(mail.TypeTextPlain, body.String())

	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.opts.SMTPTLSConfig != nil {
		tlsConfig = s.opts.SMTPTLSConfig.Clone()
	}
	tlsConfig.ServerName = host
	dialer := &net.Dialer{Timeout: s.opts.SendTimeout}
	if !s.opts.AllowPrivate {
		dialer.Control = executor.RefusePrivateAddresses
	}
	opts := []mail.Option{
		mail.WithTimeout(s.opts.SendTimeout), mail.WithTLSConfig(tlsConfig), mail.WithDialContextFunc(dialer.DialContext),
	}
	if str(config["tls"]) == "tls" {
		opts = append(opts, mail.WithSSL())
	} else {
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	opts = append(opts, mail.WithPort(int(port)))
	if user := str(config["username"]); user != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(user), mail.WithPassword(password))
	}
	client, err := mail.NewClient(host, opts...)
	if err != nil {
		return sendResult{err: fmt.Errorf("%w: smtp client: %w", ErrPermanent, err)}
	}
	if err := client.DialAndSendWithContext(ctx, m); err != nil {
		if errors.Is(err, executor.ErrPrivateAddress) {
			return sendResult{err: fmt.Errorf("%w: %w", ErrPermanent, err)}
		}
		return sendResult{err: fmt.Errorf("smtp: %w", err)}
	}
	return sendResult{}
}

func orDashPlain(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// IsPermanent reports whether a delivery error should not be retried.
func IsPermanent(err error) bool {
	return errors.Is(err, ErrPermanent) || errors.Is(err, engine.ErrNotFound)
}
