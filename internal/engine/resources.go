package engine

import (
	"errors"
	"fmt"
)

// maxResource bounds each declared resource (1e9 millicores, megabytes).
const maxResource = 1_000_000_000

// Resources is what a task reserves on the node that runs it: CPU in
// thousandths of a core, memory and disk in megabytes. A zero field reserves
// none of that resource.
type Resources struct {
	CPUMillis int64 `json:"cpu_millis,omitempty"`
	MemoryMB  int64 `json:"memory_mb,omitempty"`
	DiskMB    int64 `json:"disk_mb,omitempty"`
}

// IsZero reports whether r reserves nothing.
func (r Resources) IsZero() bool { return r == Resources{} }

// Fits reports whether r fits within capacity.
func (r Resources) Fits(capacity Resources) bool {
	return r.CPUMillis <= capacity.CPUMillis && r.MemoryMB <= capacity.MemoryMB && r.DiskMB <= capacity.DiskMB
}

// Add returns r plus o.
func (r Resources) Add(o Resources) Resources {
	return Resources{CPUMillis: r.CPUMillis + o.CPUMillis, MemoryMB: r.MemoryMB + o.MemoryMB, DiskMB: r.DiskMB + o.DiskMB}
}

// Sub returns r minus o.
func (r Resources) Sub(o Resources) Resources {
	return Resources{CPUMillis: r.CPUMillis - o.CPUMillis, MemoryMB: r.MemoryMB - o.MemoryMB, DiskMB: r.DiskMB - o.DiskMB}
}

// String formats r for messages.
func (r Resources) String() string {
	return fmt.Sprintf("cpu_millis=%d memory_mb=%d disk_mb=%d", r.CPUMillis, r.MemoryMB, r.DiskMB)
}

// validate checks that every field is between 0 and maxResource.
func (r *Resources) validate() error {
	if r == nil {
		return nil
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"cpu_millis", r.CPUMillis}, {"memory_mb", r.MemoryMB}, {"disk_mb", r.DiskMB}} {
		if f.v < 0 || f.v > maxResource {
			return fmt.Errorf("%s: must be between 0 and %d, got %d", f.name, maxResource, f.v)
		}
	}
	return nil
}

// EffectiveResources is what a step reserves: its type's resources with the
// step's non-zero fields overriding them (nil: nothing).
func EffectiveResources(typeRes, stepRes *Resources) *Resources {
	if typeRes == nil && stepRes == nil {
		return nil
	}
	var out Resources
	if typeRes != nil {
		out = *typeRes
	}
	if stepRes != nil {
		if stepRes.CPUMillis != 0 {
			out.CPUMillis = stepRes.CPUMillis
		}
		if stepRes.MemoryMB != 0 {
			out.MemoryMB = stepRes.MemoryMB
		}
		if stepRes.DiskMB != 0 {
			out.DiskMB = stepRes.DiskMB
		}
	}
	if out.IsZero() {
		return nil
	}
	return &out
}

// ErrNoNodeFits is wrapped by the error of a workflow whose step no live
// node could ever run.
var ErrNoNodeFits = errors.New("no registered node can fit the step")

// marshalResources encodes r for storage; nil or all-zero resources are
// stored as NULL, so their tasks skip the placement check.
func marshalResources(r *Resources) ([]byte, error) {
	if r == nil || r.IsZero() {
		return nil, nil
	}
	return marshalOptional(r)
}
