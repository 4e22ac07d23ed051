package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/baton-run/baton/internal/dbsqlc"
)

// QueueAlerts is the River queue of alert deliveries: its own workers, so
// that a flood of tasks does not hold alerts back.
const QueueAlerts = "alerts"

// DeliveryArgs is the River job that sends one alert change to one channel.
type DeliveryArgs struct {
	AlertID   int64  `json:"alert_id"`
	ChannelID int64  `json:"channel_id"`
	Event     string `json:"event"` // fired or resolved
}

// Kind is the River job kind.
func (DeliveryArgs) Kind() string { return "alert_delivery" }

// InsertOpts sends deliveries on the alerts queue at the highest priority,
// with 10 attempts (RetryDelay between them: about 8.5 minutes in all).
func (DeliveryArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueAlerts, Priority: 1, MaxAttempts: 10}
}

// RetryDelay is the wait after a delivery's failed attempt (counting from
// 1): 1 s, 2 s, 4 s … capped at 5 minutes.
func RetryDelay(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	if attempt > 9 {
		return 5 * time.Minute
	}
	return min(time.Duration(1<<(attempt-1))*time.Second, 5*time.Minute)
}

// JobInserter inserts River jobs in a transaction (a *river.Client[pgx.Tx]).
type JobInserter interface {
	InsertManyTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
}

// EvaluateResult counts what one evaluation did.
type EvaluateResult struct {
	Events     int // events read past the high-water mark
	Fired      int
	Resolved   int
	Deliveries int // delivery jobs inserted
	Silenced   int // changes not sent because the rule or alert is silenced
}

// Limits of one evaluation.
const (
	maxEventsPerTick = 50000
	maxPendingIDs    = 10000
	// pendingFor is how long an id below the high-water mark that is not
	// visible yet (its transaction still in flight) is looked for again.
	pendingFor = 30 * time.Second
)

type openKey struct {
	rule  int64
	group string
}

type tick struct {
	s        *Service
	ctx      context.Context
	tx       pgx.Tx
	now      time.Time
	channels map[int64]bool // enabled channels
	open     map[openKey]*dbsqlc.BatonAlert
	jobs     []river.InsertManyParams
	res      EvaluateResult
}

// Evaluate runs every enabled rule once, in one transaction: event rules on
// the task_events past the high-water mark, threshold rules over their
// window; it opens, updates and resolves alerts, logs their events, and
// inserts their delivery jobs with ins. Concurrent evaluations (several
// nodes) run one after the other (the evaluator row is locked).
func (s *Service) Evaluate(ctx context.Context, ins JobInserter) (*EvaluateResult, error) {
	var res *EvaluateResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		t := &tick{s: s, ctx: ctx, tx: tx, now: s.now(), channels: map[int64]bool{}, open: map[openKey]*dbsqlc.BatonAlert{}}
		state, err := s.queries.AlertEvaluatorLock(ctx, tx)
		if err != nil {
			return fmt.Errorf("lock evaluator: %w", err)
		}
		ruleRows, err := s.queries.AlertRuleListEnabled(ctx, tx)
		if err != nil {
			return fmt.Errorf("list rules: %w", err)
		}
		channelRows, err := s.queries.AlertChannelList(ctx, tx)
		if err != nil {
			return fmt.Errorf("list channels: %w", err)
		}
		for _, c := range channelRows {
			t.channels[c.ID] = c.Enabled
		}
		rules := make([]*Rule, len(ruleRows))
		for i, r := range ruleRows {
			rules[i] = ruleFrom(r)
		}
		if err := t.events(state, rules); err != nil {
			return err
		}
		for _, r := range rules {
			if isThresholdKind(r.Kind) {
				if err := t.threshold(r); err != nil {
					return fmt.Errorf("rule %s: %w", r.Name, err)
				}
			} else if r.Kind != KindBreakerOpen {
				if err := t.resolveStale(r); err != nil {
					return fmt.Errorf("rule %s: %w", r.Name, err)
				}
			}
		}
		if err := t.resolveDisabled(); err != nil {
			return err
		}
		if len(t.jobs) > 0 {
			if _, err := ins.InsertManyTx(ctx, tx, t.jobs); err != nil {
				return fmt.Errorf("insert deliveries: %w", err)
			}
		}
		res = &t.res
		return nil
	})
	if err != nil {
		return nil, dbError(err, "alert evaluation")
	}
	return res, nil
}

// events reads the events past the high-water mark (and those below it
// that were not visible before), runs the event rules on them, and moves
// the mark.
func (t *tick) events(state *dbsqlc.BatonAlertEvaluator, rules []*Rule) error {
	q := t.s.queries
	ids, err := q.AlertEventIDsAfter(t.ctx, t.tx, &dbsqlc.AlertEventIDsAfterParams{AfterID: state.LastEventID, MaxRows: maxEventsPerTick})
	if err != nil {
		return fmt.Errorf("read event ids: %w", err)
	}
	upto := state.LastEventID
	if len(ids) > 0 {
		upto = ids[len(ids)-1]
	}
	// Ids missing below upto belong to transactions in flight (or rolled
	// back): look for them again on the next ticks.
	var missing []int64
	next := state.LastEventID + 1
	for _, id := range ids {
		for ; next < id && len(missing) < maxPendingIDs; next++ {
			missing = append(missing, next)
		}
		next = id + 1
	}
	// Pending ids now visible are read below; those never seen for
	// pendingFor are given up (rolled back, most likely).
	var pending, pendingSeen, visible []int64
	if len(state.PendingIds) > 0 {
		visible, err = q.AlertEventIDsVisible(t.ctx, t.tx, state.PendingIds)
		if err != nil {
			return fmt.Errorf("read pending ids: %w", err)
		}
		cutoff := t.now.Add(-pendingFor).UnixMilli()
		gaveUp := 0
		for i, id := range state.PendingIds {
			seen := t.now.UnixMilli()
			if i < len(state.PendingSeenMs) {
				seen = state.PendingSeenMs[i]
			}
			switch {
			case slices.Contains(visible, id):
			case seen < cutoff:
				gaveUp++
			default:
				pending = append(pending, id)
				pendingSeen = append(pendingSeen, seen)
			}
		}
		if gaveUp > 0 {
			t.s.logger.DebugContext(t.ctx, "alert evaluator gives up on event ids never committed", "count", gaveUp)
		}
	}
	var kinds []string
	for _, r := range rules {
		kinds = append(kinds, eventKindsOf[r.Kind]...)
		kinds = append(kinds, resolveKindsOf[r.Kind]...)
	}
	if len(kinds) > 0 && (upto > state.LastEventID || len(visible) > 0) {
		// Each statement sees the commits made before it started: an id
		// that became visible after the reads above is left for the next
		// tick (it is pending), so that no event is read twice.
		events, err := q.AlertEventsAfter(t.ctx, t.tx, &dbsqlc.AlertEventsAfterParams{
			AfterID: state.LastEventID, UptoID: upto, PendingIds: nonNil(visible), Kinds: kinds, MaxRows: maxEventsPerTick,
		})
		if err != nil {
			return fmt.Errorf("read events: %w", err)
		}
		for _, ev := range events {
			if _, late := slices.BinarySearch(missing, ev.ID); late {
				continue
			}
			t.res.Events++
			if err := t.event(ev, rules); err != nil {
				return err
			}
		}
	}
	pending = append(pending, missing...)
	for range missing {
		pendingSeen = append(pendingSeen, t.now.UnixMilli())
	}
	if len(pending) > maxPendingIDs {
		pending = pending[len(pending)-maxPendingIDs:]
		pendingSeen = pendingSeen[len(pendingSeen)-maxPendingIDs:]
	}
	if err := q.AlertEvaluatorSave(t.ctx, t.tx, &dbsqlc.AlertEvaluatorSaveParams{
		LastEventID: upto, PendingIds: nonNil(pending), PendingSeenMs: nonNil(pendingSeen),
	}); err != nil {
		return fmt.Errorf("save evaluator: %w", err)
	}
	return nil
}

func nonNil(ids []int64) []int64 {
	if ids == nil {
		return []int64{}
	}
	return ids
}

func (t *tick) event(ev *dbsqlc.AlertEventsAfterRow, rules []*Rule) error {
	var data map[string]any
	if len(ev.Data) > 0 {
		_ = json.Unmarshal(ev.Data, &data)
	}
	for _, r := range rules {
		fires := slices.Contains(eventKindsOf[r.Kind], ev.Kind)
		resolves := slices.Contains(resolveKindsOf[r.Kind], ev.Kind)
		if !fires && !resolves {
			continue
		}
		if (r.Workflow != "" && r.Workflow != ev.Workflow) || (r.TaskType != "" && r.TaskType != ev.TaskType) {
			continue
		}
		group := groupKey(r, ev, data)
		if resolves {
			if err := t.resolve(r, group); err != nil {
				return err
			}
			continue
		}
		id := ev.ID
		if err := t.fire(r, group, nil, &id, eventSummary(r, ev, data), 1); err != nil {
			return err
		}
	}
	return nil
}

func groupKey(r *Rule, ev *dbsqlc.AlertEventsAfterRow, data map[string]any) string {
	switch r.GroupBy {
	case "workflow":
		return ev.Workflow
	case "task_type":
		return ev.TaskType
	case "key":
		for _, k := range []string{"key", "node", "quota"} {
			if v, ok := data[k].(string); ok && v != "" {
				return v
			}
		}
		if ev.Node != nil {
			return *ev.Node
		}
		return deref(ev.Actor)
	}
	return ""
}

func eventSummary(r *Rule, ev *dbsqlc.AlertEventsAfterRow, data map[string]any) string {
	run := "?"
	if ev.RunID != nil {
		run = fmt.Sprint(*ev.RunID)
	}
	switch r.Kind {
	case KindTaskDead:
		msg := fmt.Sprintf("Task %s of run %s (workflow %s) is dead", deref(ev.StepName), run, ev.Workflow)
		if ev.Error != nil {
			msg += ": " + truncate(*ev.Error, 300)
		}
		return msg
	case KindRunFailed:
		return fmt.Sprintf("Run %s of workflow %s failed", run, ev.Workflow)
	case KindBreakerOpen:
		key, _ := data["key"].(string)
		if ev.Kind == "breaker_forced_open" {
			return fmt.Sprintf("Circuit breaker %s was forced open", key)
		}
		return fmt.Sprintf("Circuit breaker %s opened", key)
	}
	return fmt.Sprintf("%s (event %s, run %s, workflow %s)", r.Name, ev.Kind, run, ev.Workflow)
}

// openAlert returns the open alert of a rule and group key, or nil.
func (t *tick) openAlert(ruleID int64, group string) (*dbsqlc.BatonAlert, error) {
	k := openKey{ruleID, group}
	if a, ok := t.open[k]; ok {
		return a, nil
	}
	a, err := t.s.queries.AlertOpenGet(t.ctx, t.tx, &dbsqlc.AlertOpenGetParams{RuleID: ruleID, GroupKey: group})
	if errors.Is(err, pgx.ErrNoRows) {
		t.open[k] = nil
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read open alert: %w", err)
	}
	t.open[k] = a
	return a, nil
}

// fire opens an alert for the rule and group key, or updates the open one
// (deduplication: one open alert, one delivery).
func (t *tick) fire(r *Rule, group string, value *float64, eventID *int64, summary string, occurrences int64) error {
	q := t.s.queries
	a, err := t.openAlert(r.ID, group)
	if err != nil {
		return err
	}
	if a != nil {
		if err := q.AlertTouch(t.ctx, t.tx, &dbsqlc.AlertTouchParams{
			ID: a.ID, Now: t.now, Add: occurrences, LastValue: value, LastEventID: eventID,
		}); err != nil {
			return fmt.Errorf("update alert %d: %w", a.ID, err)
		}
		a.LastSeenAt = t.now
		return nil
	}
	row, err := q.AlertInsert(t.ctx, t.tx, &dbsqlc.AlertInsertParams{
		RuleID: r.ID, GroupKey: group, Severity: r.Severity, Summary: summary, Now: t.now, LastValue: value,
		LastEventID: eventID,
	})
	if err != nil {
		return fmt.Errorf("open alert: %w", err)
	}
	t.open[openKey{r.ID, group}] = row
	t.res.Fired++
	if err := t.s.writeEvent(t.ctx, t.tx, EventFired, alertFrom(row), nil, map[string]any{"rule": r.Name}); err != nil {
		return err
	}
	t.enqueue(r, row, "fired")
	return nil
}

// resolve resolves the open alert of the rule and group key, if any.
func (t *tick) resolve(r *Rule, group string) error {
	a, err := t.openAlert(r.ID, group)
	if err != nil || a == nil {
		return err
	}
	return t.resolveAlert(r, a)
}

func (t *tick) resolveAlert(r *Rule, a *dbsqlc.BatonAlert) error {
	now := t.now
	row, err := t.s.queries.AlertResolve(t.ctx, t.tx, &dbsqlc.AlertResolveParams{ID: a.ID, Now: &now})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("resolve alert %d: %w", a.ID, err)
	}
	t.open[openKey{r.ID, a.GroupKey}] = nil
	t.res.Resolved++
	if err := t.s.writeEvent(t.ctx, t.tx, EventResolved, alertFrom(row), nil, map[string]any{"rule": r.Name}); err != nil {
		return err
	}
	t.enqueue(r, row, "resolved")
	return nil
}

// enqueue queues the change's delivery to each of the rule's enabled
// channels, unless the rule or the alert is silenced.
func (t *tick) enqueue(r *Rule, a *dbsqlc.BatonAlert, event string) {
	if (r.SilencedUntil != nil && r.SilencedUntil.After(t.now)) || (a.SilencedUntil != nil && a.SilencedUntil.After(t.now)) {
		t.res.Silenced++
		return
	}
	for _, id := range r.ChannelIDs {
		if t.channels[id] {
			t.jobs = append(t.jobs, river.InsertManyParams{Args: DeliveryArgs{AlertID: a.ID, ChannelID: id, Event: event}})
			t.res.Deliveries++
		}
	}
}

// resolveDisabled resolves the open alerts of disabled rules, sending
// nothing.
func (t *tick) resolveDisabled() error {
	open, err := t.s.queries.AlertOpenOfDisabledRules(t.ctx, t.tx)
	if err != nil {
		return fmt.Errorf("read alerts of disabled rules: %w", err)
	}
	for _, a := range open {
		now := t.now
		row, err := t.s.queries.AlertResolve(t.ctx, t.tx, &dbsqlc.AlertResolveParams{ID: a.ID, Now: &now})
		if err != nil {
			return fmt.Errorf("resolve alert %d: %w", a.ID, err)
		}
		t.res.Resolved++
		if err := t.s.writeEvent(t.ctx, t.tx, EventResolved, alertFrom(row), nil, map[string]any{"reason": "rule disabled"}); err != nil {
			return err
		}
	}
	return nil
}

// resolveStale resolves an event rule's alerts not seen for resolve_after.
func (t *tick) resolveStale(r *Rule) error {
	stale, err := t.s.queries.AlertStaleList(t.ctx, t.tx, &dbsqlc.AlertStaleListParams{
		RuleID: r.ID, Before: t.now.Add(-time.Duration(r.ResolveAfterSeconds) * time.Second),
	})
	if err != nil {
		return fmt.Errorf("read stale alerts: %w", err)
	}
	for _, a := range stale {
		if cached, ok := t.open[openKey{r.ID, a.GroupKey}]; ok && (cached == nil || cached.LastSeenAt.Equal(t.now)) {
			continue // resolved or seen in this tick
		}
		if err := t.resolveAlert(r, a); err != nil {
			return err
		}
	}
	return nil
}

// threshold evaluates a threshold rule: fires for each group whose value
// meets the condition, resolves the open alerts of the others.
func (t *tick) threshold(r *Rule) error {
	values, err := t.metric(r)
	if err != nil {
		return err
	}
	holding := map[string]bool{}
	for group, v := range values {
		if !compare(v, r.Comparison, deref(r.Threshold)) {
			continue
		}
		holding[group] = true
		value := v
		if err := t.fire(r, group, &value, nil, thresholdSummary(r, group, v), 0); err != nil {
			return err
		}
	}
	open, err := t.s.queries.AlertOpenList(t.ctx, t.tx, r.ID)
	if err != nil {
		return fmt.Errorf("read open alerts: %w", err)
	}
	for _, a := range open {
		if !holding[a.GroupKey] {
			if err := t.resolveAlert(r, a); err != nil {
				return err
			}
		}
	}
	return nil
}

// metric computes a threshold rule's value per group. A group without data
// has no value (a rate or duration of nothing holds no condition), except
// that an ungrouped count is 0.
func (t *tick) metric(r *Rule) (map[string]float64, error) {
	q := t.s.queries
	since := t.now.Add(-time.Duration(r.WindowSeconds) * time.Second)
	values := map[string]float64{}
	switch r.Metric {
	case "dead_letter_count", "dead_letter_growth":
		rows, err := q.AlertMetricDeadLetters(t.ctx, t.tx, &dbsqlc.AlertMetricDeadLettersParams{
			GroupBy: r.GroupBy, Workflow: r.Workflow, TaskType: r.TaskType, Growth: r.Metric == "dead_letter_growth", Since: since,
		})
		if err != nil {
			return nil, fmt.Errorf("dead letters: %w", err)
		}
		for _, row := range rows {
			values[row.GroupKey] = row.Value
		}
	default:
		rows, err := q.AlertMetricEvents(t.ctx, t.tx, &dbsqlc.AlertMetricEventsParams{
			GroupBy: r.GroupBy, EventKind: r.EventKind, Since: since, Workflow: r.Workflow, TaskType: r.TaskType,
		})
		if err != nil {
			return nil, fmt.Errorf("events: %w", err)
		}
		for _, row := range rows {
			switch r.Metric {
			case "event_count":
				values[row.GroupKey] = row.KindCount
			case "failure_rate":
				if row.Finished > 0 {
					values[row.GroupKey] = row.Failed / row.Finished
				}
			case "task_duration_ms":
				if row.Succeeded > 0 {
					values[row.GroupKey] = map[string]float64{
						"avg": row.DurAvg, "min": row.DurMin, "max": row.DurMax, "sum": row.DurSum,
						"p50": row.DurP50, "p95": row.DurP95, "p99": row.DurP99,
					}[r.Aggregation]
				}
			}
		}
	}
	if r.GroupBy == "none" && len(values) == 0 && r.Aggregation == "count" {
		values[""] = 0
	}
	return values, nil
}

func compare(v float64, cmp string, threshold float64) bool {
	switch cmp {
	case "gt":
		return v > threshold
	case "gte":
		return v >= threshold
	case "lt":
		return v < threshold
	case "lte":
		return v <= threshold
	}
	return false
}

var comparisonText = map[string]string{"gt": ">", "gte": "≥", "lt": "<", "lte": "≤"}

func thresholdSummary(r *Rule, group string, v float64) string {
	what := r.Metric
	switch r.Metric {
	case "dead_letter_count":
		what = "dead letters"
	case "dead_letter_growth":
		what = fmt.Sprintf("new dead letters in %ds", r.WindowSeconds)
	case "event_count":
		what = fmt.Sprintf("%s events in %ds", r.EventKind, r.WindowSeconds)
	case "failure_rate":
		what = fmt.Sprintf("failure rate over %ds", r.WindowSeconds)
	case "task_duration_ms":
		what = fmt.Sprintf("%s task duration (ms) over %ds", r.Aggregation, r.WindowSeconds)
	}
	if group != "" {
		what += " for " + group
	}
	return fmt.Sprintf("%s: %s is %g (%s %g)", r.Name, what, v, comparisonText[r.Comparison], deref(r.Threshold))
}
