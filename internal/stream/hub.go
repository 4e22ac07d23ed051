// Package stream is the live event stream behind GET /v1/stream: one hub per
// process LISTENs on the baton_events channel over a single connection
// (pgxlisten), reads new task_events rows by id from a high-water mark once
// per wake-up, and fans them out to subscribers through bounded buffers. A
// subscriber that falls behind is dropped, never waited for. Event ids are
// task_events ids, so a client that reconnects with the last id it saw gets
// what it missed replayed from the table (see Hub.Stream and ADR 0008).
package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgxlisten"

	"github.com/baton-run/baton/internal/dbsqlc"
)

// Channel is the notification channel the engine notifies on every change
// (db/functions/_notify.sql). Payloads carry ids only; the hub reads rows.
const Channel = "baton_events"

// KindTaskStarted is the kind of the transient event the hub sends when
// workers begin attempts (baton.tasks_started notifies with this kind and
// the tasks' ids). It has no row in task_events, so its Event.ID is 0: it
// is not replayed after a reconnect and does not move a client's
// Last-Event-ID.
const KindTaskStarted = "task_started"

// Errors that end a stream.
var (
	// ErrSlowClient ends the stream of a subscriber whose buffer filled up:
	// it can reconnect with Last-Event-ID and resume from the table.
	ErrSlowClient = errors.New("stream: client too slow, dropped")
	// ErrClosed ends every stream when the hub stops.
	ErrClosed = errors.New("stream: hub stopped")
	// ErrNotReady is returned by Subscribe before the hub has read its
	// starting point from the database.
	ErrNotReady = errors.New("stream: hub not ready")
)

// Event is one task_events row as the stream sends it.
type Event struct {
	ID         int64
	Time       time.Time
	RunID      *int64
	TaskID     *int64
	Workflow   string
	Step       string
	Kind       string
	Attempt    *int32
	DurationMs *int64
	Error      string
	ErrorClass string
	Node       string
	Queue      string
	Priority   *int16
	Actor      string
	Data       json.RawMessage

	// encodeOnce guards encoded, the event as written to clients: one
	// event goes to every matching client, and is encoded once for all.
	encodeOnce sync.Once
	encoded    []byte
}

// Encoded returns the event as encode writes it, calling encode only for
// the first caller: every client of a hub gets the same bytes. The hub has
// one encoder (its server's wire format), so which caller comes first does
// not matter.
func (e *Event) Encoded(encode func(*Event) []byte) []byte {
	e.encodeOnce.Do(func() { e.encoded = encode(e) })
	return e.encoded
}

// Filter selects events. The zero Filter selects every event.
type Filter struct {
	// RunID, when not zero, selects the events of this run.
	RunID int64
	// Workflow, when not empty, selects the events of runs of this workflow.
	Workflow string
	// Kinds, when not empty, selects events of these kinds.
	Kinds []string
}

// Match reports whether ev passes the filter.
func (f Filter) Match(ev *Event) bool {
	if f.RunID != 0 && (ev.RunID == nil || *ev.RunID != f.RunID) {
		return false
	}
	if f.Workflow != "" && ev.Workflow != f.Workflow {
		return false
	}
	return len(f.Kinds) == 0 || slices.Contains(f.Kinds, ev.Kind)
}

// Options configures a Hub. Zero values take the defaults.
type Options struct {
	// Logger receives the listener's errors and dropped clients. Default:
	// discard.
	Logger *slog.Logger
	// Now is the clock. Default: time.Now.
	Now func() time.Time
	// Buffer is how many events a subscriber may have waiting before it is
	// dropped. Default 1024.
	Buffer int
	// BatchSize is how many rows one read takes. Default 500.
	BatchSize int
	// GapWait bounds how long the hub holds back events behind an id that
	// is missing (allocated by a transaction that has not committed, or
	// rolled back) before skipping it. Default 2 s.
	GapWait time.Duration
	// GapPoll is how often the table is re-read while a gap is open.
	// Default 20 ms.
	GapPoll time.Duration
	// PollInterval is a fallback read interval, in case a notice is missed
	// (say while the listener reconnects). Default 1 s.
	PollInterval time.Duration
	// ReconnectDelay is the listener's wait before reconnecting. Default 1 s.
	ReconnectDelay time.Duration
	// Heartbeat is the interval of the keep-alive comment Stream sends on
	// an idle stream. Default 15 s.
	Heartbeat time.Duration
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Buffer <= 0 {
		o.Buffer = 1024
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	if o.GapWait <= 0 {
		o.GapWait = 2 * time.Second
	}
	if o.GapPoll <= 0 {
		o.GapPoll = 20 * time.Millisecond
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.ReconnectDelay <= 0 {
		o.ReconnectDelay = time.Second
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 15 * time.Second
	}
}

// Hub fans task_events rows out to subscribers. Create it with New and run
// it with Run; it is safe for concurrent use.
type Hub struct {
	pool    *pgxpool.Pool
	queries *dbsqlc.Queries
	opts    Options

	wake  chan struct{}
	ready chan struct{}

	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	hw     int64 // every event with an id <= hw was fanned out or skipped
	closed bool

	// gap is the missing id right above hw while the hub waits for it
	// (owned by the Run goroutine).
	gap *gap
}

// gap is an id the hub has not seen while it has seen a larger one.
type gap struct {
	id   int64
	xmax int64     // the snapshot xmax read when the gap was seen
	seen time.Time // when the gap was seen
}

// New returns a hub reading from pool. Run starts it.
func New(pool *pgxpool.Pool, opts Options) *Hub {
	opts.setDefaults()
	return &Hub{
		pool:    pool,
		queries: dbsqlc.New(),
		opts:    opts,
		wake:    make(chan struct{}, 1),
		ready:   make(chan struct{}),
		subs:    make(map[*Subscription]struct{}),
	}
}

// Ready reports whether the hub has its starting point and accepts
// subscribers.
func (h *Hub) Ready() bool {
	select {
	case <-h.ready:
		return true
	default:
		return false
	}
}

// Clients is the number of subscribers.
func (h *Hub) Clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Run listens and fans out until ctx ends, then ends every subscription
// with ErrClosed. It returns nil on cancellation.
func (h *Hub) Run(ctx context.Context) error {
	defer h.closeAll()
	if err := h.start(ctx); err != nil {
		return nil // ctx ended before the database answered
	}
	close(h.ready)

	listener := &pgxlisten.Listener{
		Connect: func(ctx context.Context) (*pgx.Conn, error) {
			return pgx.ConnectConfig(ctx, h.pool.Config().ConnConfig.Copy())
		},
		LogError: func(ctx context.Context, err error) {
			if ctx.Err() == nil {
				h.opts.Logger.WarnContext(ctx, "stream listener", slog.String("error", err.Error()))
			}
		},
		ReconnectDelay: h.opts.ReconnectDelay,
	}
	listener.Handle(Channel, notifyHandler{h})
	var wg sync.WaitGroup
	wg.Go(func() { _ = listener.Listen(ctx) })
	defer wg.Wait()

	fallback := time.NewTicker(h.opts.PollInterval)
	defer fallback.Stop()
	gapTimer := time.NewTimer(h.opts.GapPoll)
	defer gapTimer.Stop()
	for {
		var gapC <-chan time.Time
		if h.gap != nil {
			gapTimer.Reset(h.opts.GapPoll)
			gapC = gapTimer.C
		}
		select {
		case <-ctx.Done():
			return nil
		case <-h.wake:
		case <-fallback.C:
		case <-gapC:
		}
		if err := h.poll(ctx); err != nil && ctx.Err() == nil {
			h.opts.Logger.WarnContext(ctx, "stream read", slog.String("error", err.Error()))
		}
	}
}

// start reads the high-water mark, retrying until the database answers or
// ctx ends.
func (h *Hub) start(ctx context.Context) error {
	for {
		maxID, err := h.queries.StreamEventsMaxID(ctx, h.pool)
		if err == nil {
			h.mu.Lock()
			h.hw = maxID
			h.mu.Unlock()
			return nil
		}
		h.opts.Logger.WarnContext(ctx, "stream start", slog.String("error", err.Error()))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(h.opts.ReconnectDelay):
		}
	}
}

// notifyHandler wakes the hub on every notice, and after every (re)connect
// of the listener so that what was written while it was away is read.
type notifyHandler struct{ h *Hub }

func (n notifyHandler) HandleNotification(ctx context.Context, note *pgconn.Notification, _ *pgx.Conn) error {
	if ids, ok := startedTasks(note.Payload); ok {
		// Read and sent here, before the next notice is handled, so that a
		// task's start reaches subscribers before the outcome committed
		// after it.
		if err := n.h.sendStarted(ctx, ids); err != nil && ctx.Err() == nil {
			n.h.opts.Logger.WarnContext(ctx, "stream: read started tasks", slog.String("error", err.Error()))
		}
		return nil // no task_events row to read
	}
	n.h.signal()
	return nil
}

// startedTasks returns the task ids of a task_started notice, and whether
// the payload is one.
func startedTasks(payload string) ([]int64, bool) {
	if !strings.Contains(payload, `"`+KindTaskStarted+`"`) {
		return nil, false
	}
	var p struct {
		Kind    string  `json:"kind"`
		TaskIDs []int64 `json:"task_ids"`
	}
	if err := json.Unmarshal([]byte(payload), &p); err != nil || p.Kind != KindTaskStarted {
		return nil, false
	}
	return p.TaskIDs, true
}

// sendStarted reads the named tasks that are still running and hands each
// subscriber that wants them a transient task_started event (ID 0). Without
// subscribers it reads nothing.
func (h *Hub) sendStarted(ctx context.Context, ids []int64) error {
	if len(ids) == 0 || h.Clients() == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rows, err := h.queries.StreamTasksStarted(ctx, h.pool, ids)
	if err != nil {
		return fmt.Errorf("read started tasks: %w", err)
	}
	events := make([]*Event, 0, len(rows))
	for _, r := range rows {
		attempt := r.Attempts
		priority := r.Priority
		ev := &Event{
			RunID: &r.RunID, TaskID: &r.ID, Workflow: r.WorkflowName, Step: r.StepName, Kind: KindTaskStarted,
			Attempt: &attempt, Queue: r.Queue, Priority: &priority, Data: json.RawMessage("{}"),
		}
		if r.StartedAt != nil {
			ev.Time = *r.StartedAt
		} else {
			ev.Time = h.opts.Now()
		}
		events = append(events, ev)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.deliverLocked(events)
	return nil
}

func (n notifyHandler) HandleBacklog(context.Context, string, *pgx.Conn) error {
	n.h.signal()
	return nil
}

// signal wakes the hub; notices that arrive while a wake is pending are
// coalesced into it.
func (h *Hub) signal() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// poll reads the rows above the high-water mark in id order and fans them
// out, until it has caught up or stops at a gap.
//
// Ids come from a sequence, so a transaction can commit a smaller id after
// a larger one was read. The hub never delivers past a missing id at once:
// it holds back until the id appears, or until it is proven dead (every
// transaction that was running when the gap was seen has ended, and it is
// still missing: a rollback, or ids lost by a crash), or until GapWait has
// passed. See ADR 0008.
func (h *Hub) poll(ctx context.Context) error {
	for {
		var before *dbsqlc.StreamSnapshotRow
		if h.gap != nil {
			snap, err := h.queries.StreamSnapshot(ctx, h.pool)
			if err != nil {
				return fmt.Errorf("read snapshot: %w", err)
			}
			before = snap
		}
		hw := h.highWater()
		rows, err := h.queries.StreamEventsAfter(ctx, h.pool, &dbsqlc.StreamEventsAfterParams{
			AfterID: hw, MaxRows: int32(h.opts.BatchSize),
		})
		if err != nil {
			return fmt.Errorf("read events after %d: %w", hw, err)
		}
		events := make([]*Event, 0, len(rows))
		stalled := false
		for _, r := range rows {
			if r.ID != hw+1 {
				open, err := h.gapOpen(ctx, hw+1, before)
				if err != nil {
					return err
				}
				if open {
					stalled = true
					break
				}
			}
			events = append(events, eventFromRow(r))
			hw = r.ID
			if h.gap != nil && h.gap.id <= hw {
				h.gap = nil
			}
		}
		h.fanOut(events)
		if stalled || len(rows) < h.opts.BatchSize {
			return nil
		}
	}
}

// gapOpen decides whether to keep waiting for the missing id: it records a
// new gap, and skips a known one when it is proven dead or too old.
func (h *Hub) gapOpen(ctx context.Context, id int64, before *dbsqlc.StreamSnapshotRow) (bool, error) {
	now := h.opts.Now()
	if h.gap == nil || h.gap.id != id {
		snap, err := h.queries.StreamSnapshot(ctx, h.pool)
		if err != nil {
			return true, fmt.Errorf("read snapshot: %w", err)
		}
		h.gap = &gap{id: id, xmax: snap.Xmax, seen: now}
		return true, nil
	}
	dead := before != nil && before.Xmin >= h.gap.xmax
	if !dead && now.Sub(h.gap.seen) < h.opts.GapWait {
		return true, nil
	}
	if !dead {
		h.opts.Logger.WarnContext(ctx, "stream: skipping an event id not committed in time",
			slog.Int64("id", id), slog.Duration("waited", now.Sub(h.gap.seen)))
	}
	h.gap = nil
	return false, nil
}

func (h *Hub) highWater() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hw
}

// fanOut hands events to every matching subscriber and raises the
// high-water mark, atomically with respect to Subscribe. A subscriber whose
// buffer is full is dropped.
func (h *Hub) fanOut(events []*Event) {
	if len(events) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.deliverLocked(events)
	h.hw = events[len(events)-1].ID
}

// deliverLocked hands events to every matching subscriber, dropping one
// whose buffer is full. The caller holds h.mu.
func (h *Hub) deliverLocked(events []*Event) {
	for _, ev := range events {
		for sub := range h.subs {
			if !sub.filter.Match(ev) {
				continue
			}
			select {
			case sub.ch <- ev:
			default:
				h.dropLocked(sub, ErrSlowClient)
				h.opts.Logger.Info("stream: dropped a slow client", slog.Int("buffer", h.opts.Buffer))
			}
		}
	}
}

// Subscription is a subscriber's live feed.
type Subscription struct {
	hub    *Hub
	filter Filter
	ch     chan *Event
	err    error // why ch was closed; set under hub.mu before closing
}

// Subscribe registers a subscriber and returns it with the high-water mark
// at that instant: every event with a larger id will arrive on the
// subscription, every event up to it must be read from the table.
func (h *Hub) Subscribe(filter Filter) (*Subscription, int64, error) {
	if !h.Ready() {
		return nil, 0, ErrNotReady
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, 0, ErrClosed
	}
	sub := &Subscription{hub: h, filter: filter, ch: make(chan *Event, h.opts.Buffer)}
	h.subs[sub] = struct{}{}
	return sub, h.hw, nil
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.dropLocked(s, nil)
}

// Err is why the subscription's feed ended: ErrSlowClient, ErrClosed, or
// nil when it was closed by its owner or has not ended.
func (s *Subscription) Err() error {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.err
}

func (h *Hub) dropLocked(sub *Subscription, reason error) {
	if _, ok := h.subs[sub]; !ok {
		return
	}
	delete(h.subs, sub)
	sub.err = reason
	close(sub.ch)
}

func (h *Hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for sub := range h.subs {
		h.dropLocked(sub, ErrClosed)
	}
}

func eventFromRow(r *dbsqlc.StreamEventsAfterRow) *Event {
	return &Event{
		ID: r.ID, Time: r.Time, RunID: r.RunID, TaskID: r.TaskID, Workflow: deref(r.WorkflowName),
		Step: deref(r.StepName), Kind: r.Kind, Attempt: r.Attempt, DurationMs: r.DurationMs,
		Error: deref(r.Error), ErrorClass: deref(r.ErrorClass), Node: deref(r.Node), Queue: deref(r.Queue),
		Priority: r.Priority, Actor: deref(r.Actor), Data: json.RawMessage(r.Data),
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
