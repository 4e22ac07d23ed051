package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/baton-run/baton/internal/dbsqlc"
	"github.com/baton-run/baton/internal/engine"
)

// Event is a stored inbound event.
type Event struct {
	ID       int64
	Time     time.Time
	Type     string
	Source   string
	DedupKey string
	Payload  json.RawMessage
}

// EventParams is an event to store.
type EventParams struct {
	// Type names the event, such as "order.created". Required.
	Type string
	// Payload is a JSON object (empty means {}).
	Payload json.RawMessage
	// DedupKey, when set, makes a second event of the type with the same
	// key within the dedup window a duplicate: it returns the first event
	// and starts nothing.
	DedupKey string
	// Source says where the event came from (default "api").
	Source string
}

// StartedRun is a run a trigger started (or, in a dry run, would start).
type StartedRun struct {
	EventID  int64
	Trigger  string
	Workflow string
	// RunID is 0 in a dry run.
	RunID int64
	// Input is the rendered run input.
	Input json.RawMessage
}

// Skipped is a matching trigger that started nothing because its input
// template failed on the event.
type Skipped struct {
	EventID int64
	Trigger string
	Reason  string
}

// EmitResult is what storing an event did.
type EmitResult struct {
	Event Event
	// Duplicate is true when the dedup key matched an earlier event: Event
	// is that event and nothing was started.
	Duplicate bool
	Runs      []StartedRun
	Skipped   []Skipped
}

// Emit stores an event and starts the runs of the triggers it matches, in
// one transaction.
func (s *Service) Emit(ctx context.Context, p EventParams) (*EmitResult, error) {
	var res *EmitResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		res, err = s.EmitTx(ctx, tx, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// webhookSourcePrefix starts the source of events received by a trigger's
// webhook ("webhook:NAME"): such an event fires that trigger only, and only
// Hook may store one.
const webhookSourcePrefix = "webhook:"

// EmitTx is Emit inside tx: a rollback stores and starts nothing. A source
// beginning with "webhook:" is refused: only verified webhooks carry one.
func (s *Service) EmitTx(ctx context.Context, tx pgx.Tx, p EventParams) (*EmitResult, error) {
	if strings.HasPrefix(p.Source, webhookSourcePrefix) {
		return nil, &engine.ValidationError{Kind: "event", Problems: []engine.Problem{{Field: "source", Message: `must not begin with "webhook:" (reserved for inbound webhooks)`}}}
	}
	return s.emitTx(ctx, tx, p)
}

// emitTx stores the event and fires its triggers.
func (s *Service) emitTx(ctx context.Context, tx pgx.Tx, p EventParams) (*EmitResult, error) {
	payload := p.Payload
	if isNull(payload) {
		payload = json.RawMessage("{}")
	}
	if err := engine.CheckJSON(payload, 0); err != nil {
		return nil, &engine.ValidationError{Kind: "event", Problems: []engine.Problem{{Field: "payload", Message: err.Error()}}}
	}
	if !isObject(payload) {
		return nil, &engine.ValidationError{Kind: "event", Problems: []engine.Problem{{Field: "payload", Message: "must be a JSON object"}}}
	}
	source := p.Source
	if source == "" {
		source = "api"
	}
	row, err := s.queries.EventInsert(ctx, tx, &dbsqlc.EventInsertParams{
		EventType: p.Type, Payload: payload, DedupKey: optional(p.DedupKey), Source: source,
	})
	if err != nil {
		return nil, translate(err, "store event")
	}
	res := &EmitResult{Event: Event{ID: *row.ID, Time: row.Time.UTC(), Type: p.Type, Source: source, DedupKey: p.DedupKey, Payload: payload}}
	if !*row.Created {
		res.Duplicate = true
		ev, err := s.queries.EventGet(ctx, tx, &dbsqlc.EventGetParams{ID: *row.ID, Time: *row.Time})
		if err != nil {
			return nil, translate(err, "get first event")
		}
		res.Event = eventFromRow(ev)
		return res, nil
	}
	res.Runs, res.Skipped, err = s.fire(ctx, tx, &res.Event, fireOpts{})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func eventFromRow(r *dbsqlc.BatonEvent) Event {
	ev := Event{ID: r.ID, Time: r.Time.UTC(), Type: r.Type, Source: r.Source, Payload: r.Payload}
	if r.DedupKey != nil {
		ev.DedupKey = *r.DedupKey
	}
	return ev
}

type fireOpts struct {
	// dryRun renders but starts nothing.
	dryRun bool
	// idempotent gives each run the key event:ID:trigger:NAME, so that a
	// retried job starts each run once.
	idempotent bool
}

// fire starts, inside tx, a run for each enabled trigger ev matches.
func (s *Service) fire(ctx context.Context, tx pgx.Tx, ev *Event, o fireOpts) ([]StartedRun, []Skipped, error) {
	hookTrigger, isHook := strings.CutPrefix(ev.Source, webhookSourcePrefix)
	if !isHook {
		hookTrigger = ""
	}
	triggers, err := s.queries.TriggersMatching(ctx, tx, &dbsqlc.TriggersMatchingParams{
		EventType: ev.Type, Payload: ev.Payload, HookTrigger: hookTrigger,
	})
	if err != nil {
		return nil, nil, translate(err, "match triggers")
	}
	if len(triggers) == 0 {
		return nil, nil, nil
	}
	data := templateData(ev)
	var (
		runs    []StartedRun
		skipped []Skipped
		starts  []engine.StartParams
	)
	for _, t := range triggers {
		input := ev.Payload
		if t.InputTemplate != nil {
			rendered, err := engine.RenderJSON(ctx, t.InputTemplate, data, "input_template")
			if err == nil && !isObject(rendered) {
				err = errors.New("input_template: must render to a JSON object")
			}
			if err != nil {
				s.logger.WarnContext(ctx, "trigger input template failed", slog.String("trigger", t.Name),
					slog.Int64("event_id", ev.ID), slog.String("error", err.Error()))
				skipped = append(skipped, Skipped{EventID: ev.ID, Trigger: t.Name, Reason: err.Error()})
				continue
			}
			input = rendered
		}
		runs = append(runs, StartedRun{EventID: ev.ID, Trigger: t.Name, Workflow: t.Workflow, Input: input})
		sp := engine.StartParams{Workflow: t.Workflow, Input: input, Trigger: "event", TriggerRef: strconv.FormatInt(ev.ID, 10)}
		if o.idempotent {
			sp.IdempotencyKey = fmt.Sprintf("event:%d:trigger:%s", ev.ID, t.Name)
		}
		starts = append(starts, sp)
	}
	if o.dryRun || len(starts) == 0 {
		return runs, skipped, nil
	}
	ids, err := s.engine.StartRunsTx(ctx, tx, starts)
	if err != nil {
		return nil, nil, fmt.Errorf("start runs of event %d: %w", ev.ID, err)
	}
	for i := range runs {
		runs[i].RunID = ids[i]
	}
	return runs, skipped, nil
}

// templateData is what input templates see: .event (id, type, source,
// time, dedup_key, payload) and .payload, a shortcut for .event.payload.
func templateData(ev *Event) map[string]any {
	return map[string]any{
		"event": map[string]any{
			"id": ev.ID, "type": ev.Type, "source": ev.Source, "time": ev.Time.UTC().Format(time.RFC3339Nano),
			"dedup_key": ev.DedupKey, "payload": ev.Payload,
		},
		"payload": ev.Payload,
	}
}

// FireStored starts the runs of a stored event (the baton_trigger_event job
// that baton.emit_event inserts). Each run has an idempotency key made of
// the event and the trigger, so a retry starts nothing twice.
func (s *Service) FireStored(ctx context.Context, id int64, at time.Time) ([]StartedRun, error) {
	var runs []StartedRun
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		row, err := s.queries.EventGet(ctx, tx, &dbsqlc.EventGetParams{ID: id, Time: at})
		if err != nil {
			return translate(err, fmt.Sprintf("event %d", id))
		}
		ev := eventFromRow(row)
		runs, _, err = s.fire(ctx, tx, &ev, fireOpts{idempotent: true})
		return err
	})
	return runs, err
}

// ReplayParams selects stored events to replay.
type ReplayParams struct {
	From, To time.Time
	// Type, when set, replays only events of this type.
	Type string
	// DryRun lists what would start without starting it.
	DryRun bool
}

// ReplayResult is what a replay started (or would start).
type ReplayResult struct {
	Events  int
	Runs    []StartedRun
	Skipped []Skipped
	// Truncated is true when more than MaxReplayEvents events are in the
	// range; NextFrom is where to continue.
	Truncated bool
	NextFrom  *time.Time
}

// Replay hands the stored events of [From, To) to the enabled triggers again
// (as they are now), in time order, and starts the runs in one transaction;
// duplicates were never stored, so they are not replayed.
func (s *Service) Replay(ctx context.Context, p ReplayParams) (*ReplayResult, error) {
	var problems []engine.Problem
	switch {
	case p.From.IsZero():
		problems = append(problems, engine.Problem{Field: "from", Message: "is required"})
	case p.To.IsZero():
		problems = append(problems, engine.Problem{Field: "to", Message: "is required"})
	case !p.To.After(p.From):
		problems = append(problems, engine.Problem{Field: "to", Message: "must be after from"})
	case p.To.Sub(p.From) > MaxReplayRange:
		problems = append(problems, engine.Problem{Field: "to", Message: "the range must be at most 31 days"})
	}
	if p.Type != "" && !eventTypePattern.MatchString(p.Type) {
		problems = append(problems, engine.Problem{Field: "type", Message: "must match ^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,199}$"})
	}
	if len(problems) > 0 {
		return nil, &engine.ValidationError{Kind: "replay", Problems: problems}
	}
	res := &ReplayResult{}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := s.queries.EventList(ctx, tx, &dbsqlc.EventListParams{
			FromTime: p.From, ToTime: p.To, EventType: optional(p.Type), MaxRows: MaxReplayEvents + 1,
		})
		if err != nil {
			return translate(err, "list events")
		}
		if len(rows) > MaxReplayEvents {
			res.Truncated = true
			next := rows[MaxReplayEvents].Time.UTC()
			res.NextFrom = &next
			rows = rows[:MaxReplayEvents]
		}
		res.Events = len(rows)
		for _, r := range rows {
			ev := eventFromRow(r)
			runs, skipped, err := s.fire(ctx, tx, &ev, fireOpts{dryRun: p.DryRun})
			if err != nil {
				return err
			}
			res.Runs = append(res.Runs, runs...)
			res.Skipped = append(res.Skipped, skipped...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// ListEvents lists stored events of [from, to), oldest first, at most limit
// (1..1000).
func (s *Service) ListEvents(ctx context.Context, from, to time.Time, eventType string, limit int) ([]Event, error) {
	rows, err := s.queries.EventList(ctx, s.pool, &dbsqlc.EventListParams{
		FromTime: from, ToTime: to, EventType: optional(eventType), MaxRows: int32(min(max(limit, 1), 1000)),
	})
	if err != nil {
		return nil, translate(err, "list events")
	}
	out := make([]Event, len(rows))
	for i, r := range rows {
		out[i] = eventFromRow(r)
	}
	return out, nil
}

// runEndTypes are the event types of run ends.
var runEndTypes = []string{"run.succeeded", "run.failed", "run.cancelled"}

const (
	runEndCursor   = "run_end_events"
	runEndLookback = 200
	runEndBatch    = 500
)

// EmitRunEnds turns the run_succeeded, run_failed and run_cancelled rows of
// task_events after its high-water mark into run.succeeded, run.failed and
// run.cancelled events (payload: run_id, workflow, workflow_version,
// status, error, trigger, trigger_ref, input, steps with each step's status
// and output, and output, each step's output by name) and starts the runs
// of the triggers they match. It does nothing but move the mark while no
// enabled trigger listens to a run.* type, so the task path never pays for
// it. Each row's event has the dedup key task_event:ID, so rows read twice
// (the mark looks back a little for rows committed late) start nothing
// twice. It returns the number of events stored.
func (s *Service) EmitRunEnds(ctx context.Context) (int, error) {
	stored := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := s.queries.TriggerCursorGet(ctx, tx, runEndCursor); err != nil {
			return translate(err, "read run-end cursor")
		}
		last, err := s.queries.TriggerCursorLock(ctx, tx, runEndCursor)
		if err != nil {
			return translate(err, "lock run-end cursor")
		}
		listening, err := s.queries.TriggersOfTypesExist(ctx, tx, runEndTypes)
		if err != nil {
			return translate(err, "check run-end triggers")
		}
		if !listening {
			maxID, err := s.queries.TaskEventsMaxID(ctx, tx)
			if err != nil {
				return translate(err, "read task events mark")
			}
			return s.queries.TriggerCursorSet(ctx, tx, &dbsqlc.TriggerCursorSetParams{Name: runEndCursor, LastID: maxID})
		}
		rows, err := s.queries.RunEndEventsAfter(ctx, tx, &dbsqlc.RunEndEventsAfterParams{
			FromID: max(last-runEndLookback, 0), MaxRows: runEndBatch,
		})
		if err != nil {
			return translate(err, "read run ends")
		}
		mark := last
		for _, r := range rows {
			mark = max(mark, r.TaskEventID)
			payload, err := runEndPayload(r)
			if err != nil {
				return err
			}
			res, err := s.EmitTx(ctx, tx, EventParams{
				Type: "run." + r.Kind[len("run_"):], Payload: payload,
				DedupKey: "task_event:" + strconv.FormatInt(r.TaskEventID, 10), Source: "baton",
			})
			if err != nil {
				return fmt.Errorf("run-end event of run %d: %w", r.RunID, err)
			}
			if !res.Duplicate {
				stored++
			}
		}
		return s.queries.TriggerCursorSet(ctx, tx, &dbsqlc.TriggerCursorSetParams{Name: runEndCursor, LastID: mark})
	})
	return stored, err
}

func runEndPayload(r *dbsqlc.RunEndEventsAfterRow) (json.RawMessage, error) {
	var steps map[string]struct {
		Status string          `json:"status"`
		Output json.RawMessage `json:"output"`
	}
	if err := json.Unmarshal(r.Steps, &steps); err != nil {
		return nil, fmt.Errorf("decode steps of run %d: %w", r.RunID, err)
	}
	output := make(map[string]json.RawMessage, len(steps))
	for name, st := range steps {
		if len(st.Output) > 0 {
			output[name] = st.Output
		}
	}
	payload := map[string]any{
		"run_id": r.RunID, "workflow": r.WorkflowName, "workflow_version": r.WorkflowVersion, "status": r.Status,
		"error": r.Error, "trigger": r.Trigger, "trigger_ref": r.TriggerRef, "input": json.RawMessage(r.Input),
		"steps": json.RawMessage(r.Steps), "output": output,
	}
	out, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("encode run-end event of run %d: %w", r.RunID, err)
	}
	if len(out) > engine.DefaultMaxJSONBytes {
		// Outputs too large for an event: keep statuses only.
		delete(payload, "output")
		delete(payload, "steps")
		delete(payload, "input")
		payload["truncated"] = true
		if out, err = json.Marshal(payload); err != nil {
			return nil, fmt.Errorf("encode run-end event of run %d: %w", r.RunID, err)
		}
	}
	return out, nil
}

// MaintainPartitions creates the daily partitions of baton.events up to
// daysAhead days ahead and drops those older than retention.
func (s *Service) MaintainPartitions(ctx context.Context, daysAhead int, retention time.Duration) (int, error) {
	n, err := s.queries.EventMaintainPartitions(ctx, s.pool, &dbsqlc.EventMaintainPartitionsParams{
		DaysAhead: int32(daysAhead), Retention: pgtype.Interval{Microseconds: retention.Microseconds(), Valid: true},
	})
	if err != nil {
		return 0, translate(err, "maintain event partitions")
	}
	return int(n), nil
}
