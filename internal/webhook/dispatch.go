package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgxlisten"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/baton-run/baton/internal/dbsqlc"
	"github.com/baton-run/baton/internal/eventcursor"
)

// QueueWebhooks is the River queue of deliveries: its own workers, so that
// a flood of tasks does not hold deliveries back.
const QueueWebhooks = "webhooks"

// DeliveryArgs is the River job that sends one delivery.
type DeliveryArgs struct {
	DeliveryID int64 `json:"delivery_id"`
}

// Kind is the River job kind.
func (DeliveryArgs) Kind() string { return "webhook_delivery" }

// JobInserter inserts River jobs in a transaction (a *river.Client[pgx.Tx]).
type JobInserter interface {
	InsertManyTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
}

func (s *Service) deliveryJob(id int64) river.InsertManyParams {
	return river.InsertManyParams{Args: DeliveryArgs{DeliveryID: id}, InsertOpts: &river.InsertOpts{
		Queue: QueueWebhooks, Priority: 1, MaxAttempts: s.opts.MaxAttempts,
	}}
}

// DispatchResult counts what one dispatch did.
type DispatchResult struct {
	Events     int // matching events read
	Deliveries int // deliveries (and jobs) inserted
}

// Limits of one dispatch.
const maxEventsPerDispatch = 5000

// Dispatch reads the events committed past the dispatcher's high-water
// mark and, in one transaction, inserts a delivery and its River job per
// subscription that wants each event, and moves the mark. Dispatches on
// several nodes run one after the other (the dispatcher row is locked), so
// each event is dispatched once; a rolled-back change left no event and
// sends nothing.
func (s *Service) Dispatch(ctx context.Context, ins JobInserter) (*DispatchResult, error) {
	res := &DispatchResult{}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.queries
		state, err := q.WebhookDispatcherLock(ctx, tx)
		if err != nil {
			return fmt.Errorf("lock dispatcher: %w", err)
		}
		hooks, err := q.WebhookListEnabled(ctx, tx)
		if err != nil {
			return fmt.Errorf("list webhooks: %w", err)
		}
		if len(hooks) == 0 {
			// Nobody listens: skip to the end of the log.
			maxID, err := q.EventCursorMaxID(ctx, tx)
			if err != nil {
				return fmt.Errorf("read max event id: %w", err)
			}
			return q.WebhookDispatcherSave(ctx, tx, &dbsqlc.WebhookDispatcherSaveParams{
				LastEventID: max(maxID, state.LastEventID), PendingIds: []int64{}, PendingSeenMs: []int64{},
			})
		}
		cur := eventcursor.Cursor{Last: state.LastEventID, Pending: state.PendingIds, PendingSeenMs: state.PendingSeenMs}
		step, err := eventcursor.Read(ctx, tx, cur, maxEventsPerDispatch, s.now())
		if err != nil {
			return err
		}
		if step.Moved(cur) {
			var types []string
			for _, h := range hooks {
				types = append(types, h.EventTypes...)
			}
			events, err := q.WebhookEventsAfter(ctx, tx, &dbsqlc.WebhookEventsAfterParams{
				AfterID: state.LastEventID, UptoID: step.Upto, PendingIds: step.Visible, Kinds: kindsFor(types),
				MaxRows: int32(maxEventsPerDispatch + len(step.Visible)),
			})
			if err != nil {
				return fmt.Errorf("read events: %w", err)
			}
			events = slices.DeleteFunc(events, func(ev *dbsqlc.WebhookEventsAfterRow) bool { return step.Skipped(ev.ID) })
			res.Events = len(events)
			jobs, err := s.deliver(ctx, tx, hooks, events)
			if err != nil {
				return err
			}
			if len(jobs) > 0 {
				if _, err := ins.InsertManyTx(ctx, tx, jobs); err != nil {
					return fmt.Errorf("insert delivery jobs: %w", err)
				}
			}
			res.Deliveries = len(jobs)
		}
		return q.WebhookDispatcherSave(ctx, tx, &dbsqlc.WebhookDispatcherSaveParams{
			LastEventID: step.Next.Last, PendingIds: step.Next.Pending, PendingSeenMs: step.Next.PendingSeenMs,
		})
	})
	if err != nil {
		return nil, dbError(err, "webhook dispatch")
	}
	return res, nil
}

// wants reports whether a subscription wants an event: its type, and the
// filters (an event without a run passes only subscriptions without run
// filters).
func wants(h *dbsqlc.BatonWebhook, ev *dbsqlc.WebhookEventsAfterRow) bool {
	if !slices.Contains(h.EventTypes, kindToType[ev.Kind]) {
		return false
	}
	if len(h.Workflows) > 0 && (ev.WorkflowName == nil || !slices.Contains(h.Workflows, *ev.WorkflowName)) {
		return false
	}
	if len(h.Owners) > 0 && (ev.Owner == nil || !slices.Contains(h.Owners, *ev.Owner)) {
		return false
	}
	if len(h.Tags) > 0 && !slices.ContainsFunc(ev.Tags, func(t string) bool { return slices.Contains(h.Tags, t) }) {
		return false
	}
	return true
}

// deliver inserts the deliveries of events and returns their jobs.
func (s *Service) deliver(ctx context.Context, tx pgx.Tx, hooks []*dbsqlc.BatonWebhook, events []*dbsqlc.WebhookEventsAfterRow) ([]river.InsertManyParams, error) {
	type match struct {
		hook *dbsqlc.BatonWebhook
		ev   *dbsqlc.WebhookEventsAfterRow
	}
	var matches []match
	var runIDs []int64
	for _, ev := range events {
		for _, h := range hooks {
			if wants(h, ev) {
				matches = append(matches, match{h, ev})
				if ev.RunID != nil && !slices.Contains(runIDs, *ev.RunID) {
					runIDs = append(runIDs, *ev.RunID)
				}
			}
		}
	}
	if len(matches) == 0 {
		return nil, nil
	}
	runs := map[int64]*RunInfo{}
	if len(runIDs) > 0 {
		rows, err := s.queries.WebhookRunContexts(ctx, tx, runIDs)
		if err != nil {
			return nil, fmt.Errorf("read runs: %w", err)
		}
		for _, r := range rows {
			runs[r.ID] = runInfoFrom(r)
		}
	}
	p := &dbsqlc.WebhookDeliveriesInsertParams{}
	payloads := map[int64][]byte{} // by event id: one body for every subscription
	for _, m := range matches {
		body, ok := payloads[m.ev.ID]
		if !ok {
			var run *RunInfo
			if m.ev.RunID != nil {
				run = runs[*m.ev.RunID]
			}
			var err error
			if body, err = json.Marshal(eventFrom(m.ev, run)); err != nil {
				return nil, fmt.Errorf("encode event %d: %w", m.ev.ID, err)
			}
			payloads[m.ev.ID] = body
		}
		p.WebhookIds = append(p.WebhookIds, m.hook.ID)
		p.MessageIds = append(p.MessageIds, fmt.Sprintf("msg_%d_%d", m.ev.ID, m.hook.ID))
		p.EventTypes = append(p.EventTypes, kindToType[m.ev.Kind])
		p.EventIds = append(p.EventIds, m.ev.ID)
		p.Payloads = append(p.Payloads, body)
	}
	ids, err := s.queries.WebhookDeliveriesInsert(ctx, tx, p)
	if err != nil {
		return nil, fmt.Errorf("insert deliveries: %w", err)
	}
	jobs := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		jobs[i] = s.deliveryJob(id)
	}
	return jobs, nil
}

// notifyChannel is the channel every state change notifies.
const notifyChannel = "baton_events"

// Run dispatches until ctx ends: at once when a notice on baton_events
// names a kind some event type comes from, after every (re)connect of the
// listener, and every PollInterval in any case. It returns nil when ctx
// ends. Run it on every worker node: dispatches take turns.
func (s *Service) Run(ctx context.Context, ins JobInserter) error {
	wake := make(chan struct{}, 1)
	signal := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	listener := &pgxlisten.Listener{
		Connect: func(ctx context.Context) (*pgx.Conn, error) {
			return pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
		},
		LogError: func(ctx context.Context, err error) {
			if ctx.Err() == nil {
				s.logger.WarnContext(ctx, "webhook dispatcher listener", slog.String("error", err.Error()))
			}
		},
		ReconnectDelay: time.Second,
	}
	listener.Handle(notifyChannel, notifyHandler{signal: signal})
	var wg sync.WaitGroup
	wg.Go(func() { _ = listener.Listen(ctx) })
	defer wg.Wait()

	poll := time.NewTicker(s.opts.PollInterval)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-poll.C:
		}
		res, err := s.Dispatch(ctx, ins)
		switch {
		case err != nil && ctx.Err() == nil:
			s.logger.WarnContext(ctx, "webhook dispatch", slog.String("error", err.Error()))
		case err == nil && res.Deliveries > 0:
			s.logger.DebugContext(ctx, "webhooks dispatched", slog.Int("events", res.Events),
				slog.Int("deliveries", res.Deliveries))
		}
	}
}

// notifyHandler wakes the dispatcher on notices of kinds that become
// events (or that it cannot read), and after every (re)connect.
type notifyHandler struct{ signal func() }

func (n notifyHandler) HandleNotification(_ context.Context, note *pgconn.Notification, _ *pgx.Conn) error {
	var p struct {
		Kind string `json:"kind"`
	}
	if json.Unmarshal([]byte(note.Payload), &p) != nil || kindToType[p.Kind] != "" {
		n.signal()
	}
	return nil
}

func (n notifyHandler) HandleBacklog(context.Context, string, *pgx.Conn) error {
	n.signal()
	return nil
}
