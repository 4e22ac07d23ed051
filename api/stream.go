package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/sse"

	"github.com/baton-run/baton/internal/stream"
)

// tagStream is the tag of the live event stream.
const tagStream = "Stream"

// streamRetry is the reconnection delay the stream asks clients to use.
const streamRetry = 2 * time.Second

// streamWriteTimeout bounds one write of a heartbeat or of the stream's
// opening to a client (events are bounded by sse.WriteTimeout).
const streamWriteTimeout = 5 * time.Second

// StreamEvent is the data of one event on the live stream: a row of the
// event log. Its SSE id is the event's id.
type StreamEvent struct {
	ID         int64           `json:"id" doc:"The event's id, also sent as the SSE id: send it back as Last-Event-ID to resume. 0 for task_started, a transient status hint that is not in the event log: it has no SSE id and is not replayed."`
	Time       time.Time       `json:"time"`
	RunID      *int64          `json:"run_id" doc:"Null for events that belong to no run (circuit breakers, queues)."`
	TaskID     *int64          `json:"task_id" doc:"Null for events of a run itself or of no run."`
	Workflow   string          `json:"workflow" doc:"The run's workflow; empty for events of no run."`
	Step       string          `json:"step"`
	Kind       string          `json:"kind" example:"task_succeeded"`
	Attempt    *int32          `json:"attempt"`
	DurationMs *int64          `json:"duration_ms"`
	Error      string          `json:"error"`
	ErrorClass string          `json:"error_class"`
	Node       string          `json:"node" doc:"The worker node that recorded the event, if any."`
	Queue      string          `json:"queue"`
	Priority   *int16          `json:"priority"`
	Actor      string          `json:"actor" doc:"Who performed a manual action; empty for the engine's own events."`
	Data       json.RawMessage `json:"data"`
}

// One type per event kind, so that each kind is its own SSE event type in
// the OpenAPI document (Huma's sse names an event by the Go type of its
// data). The data of every kind is a StreamEvent.
type (
	RunStartedEvent             StreamEvent
	RunSucceededEvent           StreamEvent
	RunFailedEvent              StreamEvent
	RunCancelledEvent           StreamEvent
	RunPausedEvent              StreamEvent
	RunResumedEvent             StreamEvent
	RunNeedsAttentionEvent      StreamEvent
	TaskStartedEvent            StreamEvent
	TaskSucceededEvent          StreamEvent
	TaskAttemptFailedEvent      StreamEvent
	TaskAttemptInterruptedEvent StreamEvent
	TaskDeadEvent               StreamEvent
	TaskCancelledEvent          StreamEvent
	TaskSkippedEvent            StreamEvent
	TaskRetriedEvent            StreamEvent
	TaskResubmittedEvent        StreamEvent
	DeadLetterDiscardedEvent    StreamEvent
	BreakerOpenedEvent          StreamEvent
	BreakerClosedEvent          StreamEvent
	BreakerHalfOpenEvent        StreamEvent
	BreakerForcedOpenEvent      StreamEvent
	BreakerForcedClosedEvent    StreamEvent
	QueuePausedEvent            StreamEvent
	QueueResumedEvent           StreamEvent
	SLAAtRiskEvent              StreamEvent
	SLAViolatedEvent            StreamEvent
	RunPriorityChangedEvent     StreamEvent
	TaskPriorityChangedEvent    StreamEvent
	RunCompensatingEvent        StreamEvent
	RunCompensatedEvent         StreamEvent
	RunCompensationFailedEvent  StreamEvent
)

// streamKinds maps every event kind the engine writes to its typed data.
// A kind missing here still streams, as a plain "message" event.
var streamKinds = map[string]func(StreamEvent) any{
	"run_started":              func(e StreamEvent) any { return RunStartedEvent(e) },
	"run_succeeded":            func(e StreamEvent) any { return RunSucceededEvent(e) },
	"run_failed":               func(e StreamEvent) any { return RunFailedEvent(e) },
	"run_cancelled":            func(e StreamEvent) any { return RunCancelledEvent(e) },
	"run_paused":               func(e StreamEvent) any { return RunPausedEvent(e) },
	"run_resumed":              func(e StreamEvent) any { return RunResumedEvent(e) },
	"run_needs_attention":      func(e StreamEvent) any { return RunNeedsAttentionEvent(e) },
	"task_started":             func(e StreamEvent) any { return TaskStartedEvent(e) },
	"task_succeeded":           func(e StreamEvent) any { return TaskSucceededEvent(e) },
	"task_attempt_failed":      func(e StreamEvent) any { return TaskAttemptFailedEvent(e) },
	"task_attempt_interrupted": func(e StreamEvent) any { return TaskAttemptInterruptedEvent(e) },
	"task_dead":                func(e StreamEvent) any { return TaskDeadEvent(e) },
	"task_cancelled":           func(e StreamEvent) any { return TaskCancelledEvent(e) },
	"task_skipped":             func(e StreamEvent) any { return TaskSkippedEvent(e) },
	"task_retried":             func(e StreamEvent) any { return TaskRetriedEvent(e) },
	"task_resubmitted":         func(e StreamEvent) any { return TaskResubmittedEvent(e) },
	"dead_letter_discarded":    func(e StreamEvent) any { return DeadLetterDiscardedEvent(e) },
	"breaker_opened":           func(e StreamEvent) any { return BreakerOpenedEvent(e) },
	"breaker_closed":           func(e StreamEvent) any { return BreakerClosedEvent(e) },
	"breaker_half_open":        func(e StreamEvent) any { return BreakerHalfOpenEvent(e) },
	"breaker_forced_open":      func(e StreamEvent) any { return BreakerForcedOpenEvent(e) },
	"breaker_forced_closed":    func(e StreamEvent) any { return BreakerForcedClosedEvent(e) },
	"queue_paused":             func(e StreamEvent) any { return QueuePausedEvent(e) },
	"queue_resumed":            func(e StreamEvent) any { return QueueResumedEvent(e) },
	"sla_at_risk":              func(e StreamEvent) any { return SLAAtRiskEvent(e) },
	"sla_violated":             func(e StreamEvent) any { return SLAViolatedEvent(e) },
	"run_priority_changed":     func(e StreamEvent) any { return RunPriorityChangedEvent(e) },
	"task_priority_changed":    func(e StreamEvent) any { return TaskPriorityChangedEvent(e) },
	"run_compensating":         func(e StreamEvent) any { return RunCompensatingEvent(e) },
	"run_compensated":          func(e StreamEvent) any { return RunCompensatedEvent(e) },
	"run_compensation_failed":  func(e StreamEvent) any { return RunCompensationFailedEvent(e) },
}

// streamEventTypes is the event type map for sse.Register: every kind, and
// "message" for kinds this build does not know.
func streamEventTypes() map[string]any {
	types := map[string]any{"message": StreamEvent{}}
	for kind, typed := range streamKinds {
		types[kind] = typed(StreamEvent{})
	}
	return types
}

// streamKindNames lists the known kinds, sorted.
func streamKindNames() []string {
	names := make([]string, 0, len(streamKinds))
	for kind := range streamKinds {
		names = append(names, kind)
	}
	slices.Sort(names)
	return names
}

type streamInput struct {
	RunID       int64    `query:"run_id" minimum:"1" doc:"Only the events of this run."`
	Workflow    string   `query:"workflow" pattern:"^[a-z0-9][a-z0-9_.-]{0,99}$" doc:"Only the events of runs of this workflow."`
	Kind        []string `query:"kind,explode" maxItems:"50" doc:"Only events of these kinds: repeat the parameter or separate kinds by commas."`
	LastEventID int64    `header:"Last-Event-ID" minimum:"0" doc:"The id of the last event received: the events after it are replayed from the database before the live ones. Browsers' EventSource sends it when they reconnect."`
	After       int64    `query:"last_event_id" minimum:"0" doc:"The same as the Last-Event-ID header, for clients that cannot set headers; the header wins."`

	kinds []string // Kind split on commas, validated
}

// Resolve checks the text of the parameters and splits and validates kind.
func (in *streamInput) Resolve(huma.Context) []error {
	errs := checkInput(in)
	for i, item := range in.Kind {
		for kind := range strings.SplitSeq(item, ",") {
			kind = strings.TrimSpace(kind)
			if kind == "" {
				continue
			}
			if _, ok := streamKinds[kind]; !ok {
				errs = append(errs, &huma.ErrorDetail{
					Location: fmt.Sprintf("query.kind[%d]", i), Value: kind,
					Message: "unknown event kind; expected one of " + strings.Join(streamKindNames(), ", "),
				})
				continue
			}
			if !slices.Contains(in.kinds, kind) {
				in.kinds = append(in.kinds, kind)
			}
		}
	}
	return errs
}

// writerKey is the context key under which the stream's operation
// middleware stores the response writer, for the heartbeat comments and
// the retry field, which Huma's sse sender cannot write.
type writerKey struct{}

func registerStream(v1 huma.API, h *handlers) {
	sse.Register(v1, huma.Operation{
		OperationID: "stream-events",
		Method:      http.MethodGet,
		Path:        "/stream",
		Summary:     "Stream events live",
		Description: "Server-Sent Events: every event of the event log as it is committed, each with its kind as the SSE event type and its id as the SSE id. " +
			"`task_started` (a worker began an attempt) is a transient hint outside the event log: it has no id and is not replayed after a reconnect. " +
			"Filter by `run_id`, `workflow` and `kind`. The stream opens with a `retry:` field, sends a `: heartbeat` comment when idle, and ends when the client falls too far behind (it can reconnect). " +
			"A client that reconnects with `Last-Event-ID` first receives, from the database, every matching event after that id that it missed, in order, then the live ones: no gap, no duplicate.",
		Tags:   []string{tagStream},
		Errors: errorStatuses(http.StatusUnprocessableEntity),
		Middlewares: huma.Middlewares{func(ctx huma.Context, next func(huma.Context)) {
			if h.stream == nil || !h.stream.Ready() {
				_ = huma.WriteErr(v1, ctx, http.StatusServiceUnavailable, "the event stream is not available")
				return
			}
			next(huma.WithValue(ctx, writerKey{}, ctx.BodyWriter()))
		}},
	}, streamEventTypes(), h.streamEvents)
	constToEnum(v1.OpenAPI())
}

// constToEnum rewrites the "const" of each SSE event name, which Huma's sse
// writes as an extension and which survives the document's downgrade to
// OpenAPI 3.0 (where it is invalid), as a one-value enum, valid in both.
func constToEnum(doc *huma.OpenAPI) {
	path := doc.Paths["/v1/stream"]
	if path == nil || path.Get == nil {
		return
	}
	media := path.Get.Responses["200"].Content["text/event-stream"]
	if media == nil || media.Schema == nil || media.Schema.Items == nil {
		return
	}
	variants, _ := media.Schema.Items.Extensions["oneOf"].([]*huma.Schema)
	for _, v := range variants {
		if event := v.Properties["event"]; event != nil {
			if c, ok := event.Extensions["const"]; ok {
				delete(event.Extensions, "const")
				event.Enum = []any{c}
			}
		}
	}
}

func (h *handlers) streamEvents(ctx context.Context, in *streamInput, _ sse.Sender) {
	// Events are written in Huma's SSE format (see sseMessage) by this
	// handler, so that each event is encoded once for all its clients.
	w, _ := ctx.Value(writerKey{}).(http.ResponseWriter)
	if w == nil {
		h.logger.ErrorContext(ctx, "stream: no response writer")
		return
	}
	rc := http.NewResponseController(w)
	// send writes b and pushes it to the client at once.
	send := func(b []byte) error {
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		if _, err := w.Write(b); err != nil {
			return err
		}
		return rc.Flush()
	}
	last := in.After
	if in.LastEventID != 0 {
		last = in.LastEventID
	}
	err := h.stream.Stream(ctx, stream.StreamParams{
		Filter:      stream.Filter{RunID: in.RunID, Workflow: in.Workflow, Kinds: in.kinds},
		LastEventID: last,
		Started:     func() error { return send(fmt.Appendf(nil, "retry: %d\n\n", streamRetry.Milliseconds())) },
	}, stream.Sink{
		Send:      func(ev *stream.Event) error { return send(ev.Encoded(sseMessage)) },
		Heartbeat: func() error { return send([]byte(": heartbeat\n\n")) },
	})
	if err != nil && !errors.Is(err, stream.ErrClosed) {
		h.logger.DebugContext(ctx, "stream ended", "error", err.Error())
	}
}

// sseMessage is an event as Huma's sse.Sender writes a message: its id (if
// any), its kind as the event type (kinds this build does not know are
// plain messages), and its data as JSON.
func sseMessage(ev *stream.Event) []byte {
	var b bytes.Buffer
	if ev.ID > 0 {
		fmt.Fprintf(&b, "id: %d\n", ev.ID)
	}
	if _, known := streamKinds[ev.Kind]; known {
		b.WriteString("event: " + ev.Kind + "\n")
	}
	b.WriteString("data: ")
	if err := json.NewEncoder(&b).Encode(streamEventData(ev)); err != nil {
		// Every field is a plain value or JSON read from the database.
		b.Truncate(0)
		fmt.Fprintf(&b, "data: {\"error\": %q}\n", "encode error: "+err.Error())
	}
	b.WriteString("\n")
	return b.Bytes()
}

func streamEventData(ev *stream.Event) any {
	data := StreamEvent{
		ID: ev.ID, Time: ev.Time.UTC(), RunID: ev.RunID, TaskID: ev.TaskID, Workflow: ev.Workflow, Step: ev.Step,
		Kind: ev.Kind, Attempt: ev.Attempt, DurationMs: ev.DurationMs, Error: ev.Error, ErrorClass: ev.ErrorClass,
		Node: ev.Node, Queue: ev.Queue, Priority: ev.Priority, Actor: ev.Actor, Data: ev.Data,
	}
	if typed, ok := streamKinds[ev.Kind]; ok {
		return typed(data)
	}
	return data
}
