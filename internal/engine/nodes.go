package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/baton-run/baton/internal/dbsqlc"
)

// NodeTimeout is how long after its last heartbeat a worker node is
// considered gone.
const NodeTimeout = 30 * time.Second

// maxNodes caps how many nodes ListNodes returns.
const maxNodes = 1000

// Node is a registered worker node: its capacity, what its running tasks
// reserve, and its last heartbeat.
type Node struct {
	Name        string
	Capacity    Resources
	Reserved    Resources
	Slots       int
	Running     int
	StartedAt   time.Time
	HeartbeatAt time.Time
	Alive       bool
}

// ListNodes returns the registered nodes by name, with their liveness.
func (e *Engine) ListNodes(ctx context.Context) ([]*Node, error) {
	rows, err := e.queries.NodeList(ctx, e.pool, &dbsqlc.NodeListParams{
		TimeoutSeconds: NodeTimeout.Seconds(), MaxRows: maxNodes,
	})
	if err != nil {
		return nil, translateError(err, "list nodes")
	}
	out := make([]*Node, len(rows))
	for i, r := range rows {
		out[i] = &Node{
			Name:        r.Name,
			Capacity:    Resources{CPUMillis: r.CpuMillis, MemoryMB: r.MemoryMb, DiskMB: r.DiskMb},
			Reserved:    Resources{CPUMillis: r.ReservedCpuMillis, MemoryMB: r.ReservedMemoryMb, DiskMB: r.ReservedDiskMb},
			Slots:       int(r.Slots),
			Running:     int(r.Running),
			StartedAt:   r.StartedAt,
			HeartbeatAt: r.HeartbeatAt,
			Alive:       r.Alive,
		}
	}
	return out, nil
}

// checkStepsFit refuses a workflow with a step that no live node could ever
// run. With no live node registered, every step is accepted (nodes may not
// have started yet), and a warning is logged.
func (e *Engine) checkStepsFit(ctx context.Context, spec *WorkflowSpec, types map[string]*TaskType) error {
	var needs []int // indexes of steps that declare resources
	effective := make([]*Resources, len(spec.Steps))
	for i, step := range spec.Steps {
		var typeRes *Resources
		if t, ok := types[step.Type]; ok {
			typeRes = t.Resources
		}
		if r := EffectiveResources(typeRes, step.Resources); r != nil {
			effective[i] = r
			needs = append(needs, i)
		}
	}
	if len(needs) == 0 {
		return nil
	}
	nodes, err := e.queries.NodeListLive(ctx, e.pool, NodeTimeout.Seconds())
	if err != nil {
		return translateError(err, "list live nodes")
	}
	if len(nodes) == 0 {
		e.opts.Logger.WarnContext(ctx, "no live worker node registered: cannot check that the workflow's resources fit",
			"workflow", spec.Name)
		return nil
	}
	caps := make([]Resources, len(nodes))
	for i, n := range nodes {
		caps[i] = Resources{CPUMillis: n.CpuMillis, MemoryMB: n.MemoryMb, DiskMB: n.DiskMb}
	}
	for _, i := range needs {
		if !fitsAny(*effective[i], caps) {
			return fmt.Errorf("%w: %w: steps[%d] (%q) needs %s, but the largest live node %q has %s",
				ErrInvalid, ErrNoNodeFits, i, spec.Steps[i].Name, effective[i], nodes[0].Name, caps[0])
		}
	}
	return nil
}

func fitsAny(r Resources, caps []Resources) bool {
	for _, c := range caps {
		if r.Fits(c) {
			return true
		}
	}
	return false
}
