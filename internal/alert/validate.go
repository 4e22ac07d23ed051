package alert

import (
	"fmt"
	"math"
	"net"
	"net/mail"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/executor"
)

// Rule kinds. Event rules fire on task_events of their kinds; threshold
// rules (dead_letters, custom) compare a metric with a threshold.
const (
	KindTaskDead         = "task_dead"
	KindRunFailed        = "run_failed"
	KindBreakerOpen      = "breaker_open"
	KindDeadLetters      = "dead_letters"
	KindSLAAtRisk        = "sla_at_risk"
	KindSLAViolated      = "sla_violated"
	KindQuotaExceeded    = "quota_exceeded"
	KindNodeResourceHigh = "node_resource_high"
	KindCustom           = "custom"
)

// RuleKinds lists every rule kind.
var RuleKinds = []string{KindTaskDead, KindRunFailed, KindBreakerOpen, KindDeadLetters, KindSLAAtRisk,
	KindSLAViolated, KindQuotaExceeded, KindNodeResourceHigh, KindCustom}

// Metrics of threshold rules, and the aggregations each accepts.
var metricAggregations = map[string][]string{
	"event_count":        {"count"},
	"failure_rate":       {"rate"},
	"task_duration_ms":   {"avg", "min", "max", "sum", "p50", "p95", "p99"},
	"dead_letter_count":  {"count"},
	"dead_letter_growth": {"count"},
}

// Metrics lists the metrics of threshold rules.
var Metrics = []string{"event_count", "failure_rate", "task_duration_ms", "dead_letter_count", "dead_letter_growth"}

// Aggregations lists every aggregation.
var Aggregations = []string{"count", "rate", "avg", "min", "max", "sum", "p50", "p95", "p99"}

// Comparisons lists the comparisons: greater than, greater or equal, less
// than, less or equal.
var Comparisons = []string{"gt", "gte", "lt", "lte"}

// Severities lists the severities.
var Severities = []string{"info", "warning", "critical"}

// eventKindsOf maps an event rule's kind to the task_events kinds that fire
// it. sla_*, quota_exceeded and node_resource_high are written by parts not
// built yet (scheduling, quotas, node metrics); the rules match those kinds
// once they exist.
var eventKindsOf = map[string][]string{
	KindTaskDead:         {"task_dead"},
	KindRunFailed:        {"run_failed"},
	KindBreakerOpen:      {"breaker_opened", "breaker_forced_open"},
	KindSLAAtRisk:        {"sla_at_risk"},
	KindSLAViolated:      {"sla_violated"},
	KindQuotaExceeded:    {"quota_exceeded"},
	KindNodeResourceHigh: {"node_resource_high"},
}

// resolveKindsOf maps an event rule's kind to the kinds that resolve its
// alert for the same group key.
var resolveKindsOf = map[string][]string{
	KindBreakerOpen: {"breaker_closed", "breaker_forced_closed"},
}

// groupBysOf lists the group_by values each kind accepts (the first is the
// default).
var groupBysOf = map[string][]string{
	KindTaskDead:         {"workflow", "task_type", "none"},
	KindRunFailed:        {"workflow", "none"},
	KindBreakerOpen:      {"key", "none"},
	KindDeadLetters:      {"none", "workflow", "task_type"},
	KindSLAAtRisk:        {"workflow", "none"},
	KindSLAViolated:      {"workflow", "none"},
	KindQuotaExceeded:    {"key", "none"},
	KindNodeResourceHigh: {"key", "none"},
	KindCustom:           {"none", "workflow", "task_type"},
}

func isThresholdKind(kind string) bool { return kind == KindDeadLetters || kind == KindCustom }

var (
	namePattern      = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,99}$`)
	eventKindPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	hostPattern      = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$`)
)

const (
	minWindow     = 10
	maxWindow     = 7 * 24 * 3600
	maxChannels   = 20
	maxRecipients = 20
	maxDescLen    = 1000
)

// RuleSpec is the input of a rule's creation or update. Zero values take
// the defaults; on update, Name and Kind must match the rule's.
type RuleSpec struct {
	Name                string
	Kind                string
	Description         string
	Enabled             *bool
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
}

type problems struct{ list []engine.Problem }

func (p *problems) add(field, format string, args ...any) {
	p.list = append(p.list, engine.Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (p *problems) err(kind, name string) error {
	if len(p.list) == 0 {
		return nil
	}
	// Some checks run over maps: sort for a stable answer.
	slices.SortStableFunc(p.list, func(a, b engine.Problem) int { return strings.Compare(a.Field, b.Field) })
	return &engine.ValidationError{Kind: kind, Name: name, Problems: p.list}
}

func oneOf(p *problems, field, value string, allowed []string) {
	if !slices.Contains(allowed, value) {
		p.add(field, "must be one of %s, got %q", strings.Join(allowed, ", "), truncate(value, 100))
	}
}

// normalize validates spec and fills its defaults.
func (spec *RuleSpec) normalize() error {
	var p problems
	if !namePattern.MatchString(spec.Name) {
		p.add("name", "must match %s", namePattern)
	}
	oneOf(&p, "kind", spec.Kind, RuleKinds)
	if len(spec.Description) > maxDescLen || !utf8.ValidString(spec.Description) {
		p.add("description", "must be valid UTF-8 of at most %d bytes", maxDescLen)
	}
	if spec.Severity == "" {
		spec.Severity = "warning"
	}
	oneOf(&p, "severity", spec.Severity, Severities)
	for field, v := range map[string]string{"workflow": spec.Workflow, "task_type": spec.TaskType} {
		if v != "" && !namePattern.MatchString(v) {
			p.add(field, "must match %s", namePattern)
		}
	}
	if groupBys, ok := groupBysOf[spec.Kind]; ok {
		if spec.GroupBy == "" {
			spec.GroupBy = groupBys[0]
		}
		oneOf(&p, "group_by", spec.GroupBy, groupBys)
	}
	if spec.ResolveAfterSeconds == 0 {
		spec.ResolveAfterSeconds = 600
	}
	if spec.ResolveAfterSeconds < minWindow || spec.ResolveAfterSeconds > maxWindow {
		p.add("resolve_after_seconds", "must be between %d and %d", minWindow, maxWindow)
	}
	if len(spec.ChannelIDs) > maxChannels {
		p.add("channel_ids", "at most %d channels", maxChannels)
	}
	for i, id := range spec.ChannelIDs {
		if id <= 0 {
			p.add(fmt.Sprintf("channel_ids[%d]", i), "must be a channel id (> 0)")
		} else if slices.Index(spec.ChannelIDs, id) != i {
			p.add(fmt.Sprintf("channel_ids[%d]", i), "channel %d is listed twice", id)
		}
	}
	if spec.ChannelIDs == nil {
		spec.ChannelIDs = []int64{}
	}

	if !isThresholdKind(spec.Kind) {
		for field, set := range map[string]bool{
			"metric": spec.Metric != "", "aggregation": spec.Aggregation != "", "comparison": spec.Comparison != "",
			"threshold": spec.Threshold != nil, "window_seconds": spec.WindowSeconds != 0, "event_kind": spec.EventKind != "",
		} {
			if set {
				p.add(field, "only threshold rules (kinds dead_letters and custom) take %s", field)
			}
		}
		return p.err("alert_rule", spec.Name)
	}

	switch {
	case spec.Metric == "":
		if spec.Kind == KindDeadLetters {
			spec.Metric = "dead_letter_count"
		} else {
			p.add("metric", "is required: one of %s", strings.Join(Metrics, ", "))
		}
	case spec.Kind == KindDeadLetters && !strings.HasPrefix(spec.Metric, "dead_letter_"):
		p.add("metric", "a dead_letters rule takes dead_letter_count or dead_letter_growth, got %q", truncate(spec.Metric, 100))
	default:
		oneOf(&p, "metric", spec.Metric, Metrics)
	}
	if aggs, ok := metricAggregations[spec.Metric]; ok {
		if spec.Aggregation == "" && len(aggs) == 1 {
			spec.Aggregation = aggs[0]
		}
		if spec.Aggregation == "" {
			p.add("aggregation", "is required for %s: one of %s", spec.Metric, strings.Join(aggs, ", "))
		} else if !slices.Contains(aggs, spec.Aggregation) {
			p.add("aggregation", "%s takes %s, got %q", spec.Metric, strings.Join(aggs, ", "), truncate(spec.Aggregation, 100))
		}
	}
	if spec.Comparison == "" {
		spec.Comparison = "gt"
	}
	oneOf(&p, "comparison", spec.Comparison, Comparisons)
	switch {
	case spec.Threshold == nil:
		p.add("threshold", "is required")
	case math.IsNaN(*spec.Threshold) || math.IsInf(*spec.Threshold, 0) || *spec.Threshold < 0 || *spec.Threshold > 1e15:
		p.add("threshold", "must be a number between 0 and 1e15")
	case spec.Metric == "failure_rate" && *spec.Threshold > 1:
		p.add("threshold", "a failure rate is between 0 and 1")
	}
	if spec.WindowSeconds == 0 {
		spec.WindowSeconds = 300
	}
	if spec.WindowSeconds < minWindow || spec.WindowSeconds > maxWindow {
		p.add("window_seconds", "must be between %d and %d", minWindow, maxWindow)
	}
	switch {
	case spec.Metric == "event_count" && spec.EventKind == "":
		p.add("event_kind", "is required for metric event_count")
	case spec.Metric == "event_count" && !eventKindPattern.MatchString(spec.EventKind):
		p.add("event_kind", "must match %s", eventKindPattern)
	case spec.Metric != "event_count" && spec.EventKind != "":
		p.add("event_kind", "only metric event_count takes event_kind")
	}
	return p.err("alert_rule", spec.Name)
}

// ChannelSpec is the input of a channel's creation or update. On update,
// Name and Kind must match the channel's; secrets left empty are kept.
type ChannelSpec struct {
	Name    string
	Kind    string
	Enabled *bool
	// URL is the webhook's or Slack incoming webhook's URL.
	URL string
	// Secret is a webhook's Standard Webhooks signing secret ("whsec_" and
	// base64); empty on creation generates one.
	Secret string
	// Email: SMTP server, STARTTLS (port 587, default) or implicit TLS (465).
	Host     string
	Port     int
	TLS      string
	Username string
	Password string
	From     string
	To       []string
}

// normalize validates spec and fills its defaults. allowPrivate skips the
// check of literal private addresses (names are checked when dialled).
func (spec *ChannelSpec) normalize(allowPrivate, creating bool) error {
	var p problems
	if !namePattern.MatchString(spec.Name) {
		p.add("name", "must match %s", namePattern)
	}
	oneOf(&p, "kind", spec.Kind, []string{"webhook", "slack", "email"})
	forbid := func(field string, set bool) {
		if set {
			p.add(field, "a %s channel does not take %s", spec.Kind, field)
		}
	}
	switch spec.Kind {
	case "webhook", "slack":
		if spec.URL == "" && (creating || spec.Kind == "webhook") {
			p.add("url", "is required")
		} else if spec.URL != "" {
			if msg := checkURL(spec.URL, allowPrivate); msg != "" {
				p.add("url", "%s", msg)
			}
		}
		if spec.Kind == "webhook" && spec.Secret != "" {
			if _, err := signingKey(spec.Secret); err != nil {
				p.add("secret", "%s", err.Error())
			}
		}
		if spec.Kind == "slack" {
			forbid("secret", spec.Secret != "")
		}
		forbid("host", spec.Host != "")
		forbid("port", spec.Port != 0)
		forbid("tls", spec.TLS != "")
		forbid("username", spec.Username != "")
		forbid("password", spec.Password != "")
		forbid("from", spec.From != "")
		forbid("to", len(spec.To) != 0)
	case "email":
		forbid("url", spec.URL != "")
		forbid("secret", spec.Secret != "")
		if !hostPattern.MatchString(spec.Host) {
			p.add("host", "must be a host name or IP address")
		} else if addr, err := netip.ParseAddr(spec.Host); err == nil && !allowPrivate {
			if executor.RefusePrivateAddresses("tcp", net.JoinHostPort(addr.String(), "25"), nil) != nil {
				p.add("host", "%s is not a public address", addr)
			}
		}
		if spec.TLS == "" {
			spec.TLS = "starttls"
		}
		oneOf(&p, "tls", spec.TLS, []string{"starttls", "tls"})
		if spec.Port == 0 {
			spec.Port = 587
			if spec.TLS == "tls" {
				spec.Port = 465
			}
		}
		if spec.Port < 1 || spec.Port > 65535 {
			p.add("port", "must be between 1 and 65535")
		}
		if len(spec.Username) > 200 || strings.ContainsAny(spec.Username, "\x00\r\n") {
			p.add("username", "at most 200 characters, no control characters")
		}
		if len(spec.Password) > 1000 || strings.ContainsAny(spec.Password, "\x00\r\n") {
			p.add("password", "at most 1000 characters, no control characters")
		}
		if spec.Password != "" && spec.Username == "" {
			p.add("username", "is required with a password")
		}
		if msg := checkAddress(spec.From); msg != "" {
			p.add("from", "%s", msg)
		}
		if len(spec.To) == 0 || len(spec.To) > maxRecipients {
			p.add("to", "between 1 and %d addresses", maxRecipients)
		}
		for i, to := range spec.To {
			if msg := checkAddress(to); msg != "" {
				p.add(fmt.Sprintf("to[%d]", i), "%s", msg)
			}
		}
	}
	return p.err("alert_channel", spec.Name)
}

func checkURL(raw string, allowPrivate bool) string {
	u, msg := executor.CheckOutboundURL(raw)
	if msg != "" {
		return msg
	}
	if addr, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil && !allowPrivate {
		if executor.RefusePrivateAddresses("tcp", net.JoinHostPort(addr.String(), "443"), nil) != nil {
			return fmt.Sprintf("%s is not a public address", addr)
		}
	}
	return ""
}

func checkAddress(addr string) string {
	if len(addr) > 320 || strings.ContainsAny(addr, "\x00\r\n") {
		return "must be one e-mail address"
	}
	a, err := mail.ParseAddress(addr)
	if err != nil || a.Name != "" || a.Address != addr {
		return "must be one bare e-mail address, such as ops@example.com"
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
