package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/baton-run/baton/internal/engine"
)

// tagNodes groups the worker node operations.
const tagNodes = "Nodes"

// Resources is what a task reserves on the node that runs it, or a node's
// capacity.
type Resources struct {
	CPUMillis int64 `json:"cpu_millis,omitempty" minimum:"0" maximum:"1000000000" example:"500" doc:"CPU in thousandths of a core."`
	MemoryMB  int64 `json:"memory_mb,omitempty" minimum:"0" maximum:"1000000000" example:"256" doc:"Memory in megabytes."`
	DiskMB    int64 `json:"disk_mb,omitempty" minimum:"0" maximum:"1000000000" example:"1024" doc:"Disk in megabytes."`
}

func (r *Resources) spec() *engine.Resources {
	if r == nil {
		return nil
	}
	return &engine.Resources{CPUMillis: r.CPUMillis, MemoryMB: r.MemoryMB, DiskMB: r.DiskMB}
}

func resourcesFrom(r *engine.Resources) *Resources {
	if r == nil {
		return nil
	}
	return &Resources{CPUMillis: r.CPUMillis, MemoryMB: r.MemoryMB, DiskMB: r.DiskMB}
}

// NodeUse is a node's capacity or reserved use; every field is present.
type NodeUse struct {
	CPUMillis int64 `json:"cpu_millis" example:"2000"`
	MemoryMB  int64 `json:"memory_mb" example:"4096"`
	DiskMB    int64 `json:"disk_mb" example:"20480"`
}

func nodeUse(r engine.Resources) NodeUse {
	return NodeUse{CPUMillis: r.CPUMillis, MemoryMB: r.MemoryMB, DiskMB: r.DiskMB}
}

// Node is a registered worker node.
type Node struct {
	Name        string    `json:"name" example:"worker-1:4242"`
	Capacity    NodeUse   `json:"capacity" doc:"What the node offers to tasks that declare resources."`
	Reserved    NodeUse   `json:"reserved" doc:"What its running tasks reserve, as of its last heartbeat."`
	Slots       int       `json:"slots" doc:"Tasks the node works at once."`
	Running     int       `json:"running" doc:"Running tasks holding a reservation, as of its last heartbeat."`
	StartedAt   time.Time `json:"started_at"`
	HeartbeatAt time.Time `json:"heartbeat_at" doc:"Last heartbeat (every 5 s)."`
	Alive       bool      `json:"alive" doc:"False once the node missed heartbeats for 30 s: it is gone."`
}

// NodeList is the body of list-nodes.
type NodeList struct {
	Nodes []Node `json:"nodes"`
}

type nodeListOutput struct{ Body NodeList }

func registerNodes(api huma.API, h *handlers) {
	huma.Register(api, huma.Operation{
		OperationID: "list-nodes", Method: http.MethodGet, Path: "/nodes",
		Summary:     "List worker nodes",
		Description: "Registered worker nodes by name (at most 1000): capacity, reserved use, last heartbeat and liveness.",
		Tags:        []string{tagNodes}, Errors: errorStatuses(),
	}, h.listNodes)
	huma.Register(api, huma.Operation{
		OperationID: "list-concurrency-groups", Method: http.MethodGet, Path: "/concurrency",
		Summary:     "List busy concurrency groups",
		Description: "Every concurrency key (task_type:NAME, workflow:NAME, step:WORKFLOW/STEP or key:VALUE) with running tasks holding a lease, by key (at most 1000), and since when its oldest lease is held. Keys at their limit make new tasks wait.",
		Tags:        []string{tagNodes}, Errors: errorStatuses(),
	}, h.listConcurrency)
}

// ConcurrencyGroup is a concurrency key with running tasks.
type ConcurrencyGroup struct {
	Key     string    `json:"key" example:"key:acme" doc:"task_type:NAME, workflow:NAME, step:WORKFLOW/STEP, or key: and a rule's (rendered) key."`
	Running int       `json:"running" example:"2" doc:"Tasks holding a lease of the key."`
	Oldest  time.Time `json:"oldest" doc:"When the oldest of those leases was taken."`
}

// ConcurrencyGroupList is the body of list-concurrency-groups.
type ConcurrencyGroupList struct {
	Groups []ConcurrencyGroup `json:"groups"`
}

type concurrencyGroupListOutput struct{ Body ConcurrencyGroupList }

func (h *handlers) listConcurrency(ctx context.Context, _ *struct{}) (*concurrencyGroupListOutput, error) {
	groups, err := h.engine.ListConcurrency(ctx)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &concurrencyGroupListOutput{Body: ConcurrencyGroupList{Groups: make([]ConcurrencyGroup, len(groups))}}
	for i, g := range groups {
		out.Body.Groups[i] = ConcurrencyGroup{Key: g.Key, Running: g.Running, Oldest: g.Oldest.UTC()}
	}
	return out, nil
}

func (h *handlers) listNodes(ctx context.Context, _ *struct{}) (*nodeListOutput, error) {
	nodes, err := h.engine.ListNodes(ctx)
	if err != nil {
		return nil, h.problem(ctx, err)
	}
	out := &nodeListOutput{Body: NodeList{Nodes: make([]Node, len(nodes))}}
	for i, n := range nodes {
		out.Body.Nodes[i] = Node{
			Name: n.Name, Capacity: nodeUse(n.Capacity), Reserved: nodeUse(n.Reserved),
			Slots: n.Slots, Running: n.Running,
			StartedAt: n.StartedAt.UTC(), HeartbeatAt: n.HeartbeatAt.UTC(), Alive: n.Alive,
		}
	}
	return out, nil
}
