package jobs

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/baton-run/baton/internal/engine"
)

// Reserved capacity: a share of each node's worker slots that only
// high-priority (priority 1) tasks may use, so that a flood of lower-priority
// work cannot delay them.
//
// Tasks are enqueued on the default queue, whose workers (the rest of the
// slots) take jobs by priority: a priority-1 job is always the next one a
// free general worker takes. When none is free, the job waits; each node's
// promoter moves priority-1 jobs that waited longer than
// ReservedPromoteAfter to QueueReserved, worked by the reserved slots of
// every node. Lower-priority jobs never reach that queue.
const (
	// QueueReserved is the River queue of reserved capacity.
	QueueReserved = "baton_reserved"
	// DefaultReservedShare is the share of a node's worker slots reserved
	// for priority-1 tasks.
	DefaultReservedShare = 0.2
	// ReservedPromoteAfter is how long a priority-1 job waits on the default
	// queue before it is moved to reserved capacity.
	ReservedPromoteAfter = 100 * time.Millisecond
	// reservedPromoteEvery is how often each node looks for such jobs.
	reservedPromoteEvery = 100 * time.Millisecond
)

// splitSlots divides a node's worker slots between the default queue and
// reserved capacity: share of them (DefaultReservedShare when 0, none when
// negative), rounded down, and at least one general slot.
func splitSlots(workers int, share float64) (general, reserved int) {
	switch {
	case share == 0:
		share = DefaultReservedShare
	case share < 0:
		share = 0
	}
	reserved = int(float64(workers) * min(share, 1))
	reserved = min(reserved, workers-1)
	return workers - reserved, max(reserved, 0)
}

// reservedPromoter moves waiting priority-1 jobs to reserved capacity.
type reservedPromoter struct {
	engine *engine.Engine
	logger *slog.Logger
	max    int

	cancel context.CancelFunc
	done   sync.WaitGroup
}

func (p *reservedPromoter) start() {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.done.Go(func() {
		ticker := time.NewTicker(reservedPromoteEvery)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
			moved, err := p.engine.PromoteReserved(ctx, river.QueueDefault, QueueReserved, ReservedPromoteAfter, p.max)
			if err != nil {
				if ctx.Err() == nil {
					p.logger.WarnContext(ctx, "promote high-priority jobs to reserved capacity", slog.String("error", err.Error()))
				}
				continue
			}
			if moved > 0 {
				p.logger.DebugContext(ctx, "high-priority jobs moved to reserved capacity", slog.Int("jobs", moved))
			}
		}
	})
}

func (p *reservedPromoter) stop() {
	if p.cancel != nil {
		p.cancel()
		p.done.Wait()
	}
}
