package stream

import (
	"context"
	"fmt"
	"time"

	"github.com/baton-run/baton/internal/dbsqlc"
)

// replayPage is how many rows one replay read takes.
const replayPage = 500

// Sink receives one client's stream.
type Sink struct {
	// Send writes one event to the client.
	Send func(ev *Event) error
	// Heartbeat writes a keep-alive comment to the client. It is called
	// after Heartbeat (Options) without an event.
	Heartbeat func() error
}

// StreamParams are what a client asks for.
type StreamParams struct {
	Filter Filter
	// LastEventID is the id of the last event the client received; zero
	// means none: the stream starts with the next event.
	LastEventID int64
	// Started, when not nil, is called once the client is subscribed and
	// before the first event is sent.
	Started func() error
}

// Stream serves one client until ctx ends (nil), the client falls behind
// (ErrSlowClient), the hub stops (ErrClosed), or sink fails. It subscribes
// first, then replays from the table the matching events after
// LastEventID up to the hub's high-water mark at subscription, then sends
// the live events above it: every event once, in id order.
func (h *Hub) Stream(ctx context.Context, p StreamParams, sink Sink) error {
	sub, hw, err := h.Subscribe(p.Filter)
	if err != nil {
		return err
	}
	defer sub.Close()
	if p.Started != nil {
		if err := p.Started(); err != nil {
			return err
		}
	}
	last := p.LastEventID
	if last == 0 {
		last = hw
	}
	for last < hw { // replay what the client missed
		rows, err := h.queries.StreamEventsReplay(ctx, h.pool, &dbsqlc.StreamEventsReplayParams{
			AfterID: last, UntilID: hw, RunID: nonZero(p.Filter.RunID), Workflow: nonEmpty(p.Filter.Workflow),
			Kinds: nonNil(p.Filter.Kinds), MaxRows: replayPage,
		})
		if err != nil {
			return fmt.Errorf("replay events after %d: %w", last, err)
		}
		for _, r := range rows {
			if err := sink.Send(eventFromRow((*dbsqlc.StreamEventsAfterRow)(r))); err != nil {
				return err
			}
			last = r.ID
		}
		if len(rows) < replayPage {
			last = hw
		}
	}

	heartbeat := time.NewTicker(h.opts.Heartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-heartbeat.C:
			if err := sink.Heartbeat(); err != nil {
				return err
			}
		case ev, ok := <-sub.ch:
			if !ok {
				return sub.Err()
			}
			// A transient event (task_started, id 0) has no place in the id
			// order; a stored one the client already has (another node served
			// it further) is skipped.
			if ev.ID != 0 && ev.ID <= last {
				continue
			}
			if err := sink.Send(ev); err != nil {
				return err
			}
			if ev.ID != 0 {
				last = ev.ID
			}
			heartbeat.Reset(h.opts.Heartbeat)
		}
	}
}

func nonZero(n int64) *int64 {
	if n == 0 {
		return nil
	}
	return &n
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
