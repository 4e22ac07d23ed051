// Package placement implements resource-aware placement of tasks on worker
// nodes: each worker process tracks, in memory, the resources its running
// tasks reserve against its capacity, registers itself in baton.nodes and
// heartbeats its reserved and measured use into baton.node_metrics.
package placement

import (
	"sync"

	"github.com/baton-run/baton/internal/engine"
)

// Tracker holds a node's capacity and what its running tasks reserve. A
// task starts only once its reservation fits the free capacity; it is an
// in-memory check, with no database round trip.
type Tracker struct {
	capacity engine.Resources

	mu       sync.Mutex
	reserved engine.Resources
	running  int
}

// NewTracker returns a tracker for a node of the given capacity.
func NewTracker(capacity engine.Resources) *Tracker {
	return &Tracker{capacity: capacity}
}

// Capacity returns the node's capacity.
func (t *Tracker) Capacity() engine.Resources { return t.capacity }

// TryReserve reserves r and reports true when it fits the free capacity;
// otherwise it reserves nothing and reports false. Release what it reserved
// with Release.
func (t *Tracker) TryReserve(r engine.Resources) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.reserved.Add(r).Fits(t.capacity) {
		return false
	}
	t.reserved = t.reserved.Add(r)
	t.running++
	return true
}

// Release gives back a reservation made by TryReserve.
func (t *Tracker) Release(r engine.Resources) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.reserved = t.reserved.Sub(r)
	t.running--
}

// Usage returns what running tasks reserve and how many hold a reservation.
func (t *Tracker) Usage() (reserved engine.Resources, running int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.reserved, t.running
}
