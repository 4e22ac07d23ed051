package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/placement"
	"github.com/baton-run/baton/jobs"
)

// capacityFlags are the --cpu-millis, --memory-mb and --disk-mb flags of
// worker and dev, each overriding the detected capacity when positive, and
// --reserved-share, the share of worker slots kept for priority-1 tasks.
type capacityFlags struct {
	cpuMillis, memoryMB, diskMB *int64
	reservedShare               *float64
}

func addCapacityFlags(fs *flag.FlagSet) capacityFlags {
	return capacityFlags{
		cpuMillis: fs.Int64("cpu-millis", 0, "CPU this node offers to tasks, in thousandths of a core (default: cgroup limit or host CPUs x 1000)"),
		memoryMB:  fs.Int64("memory-mb", 0, "memory this node offers to tasks, in MB (default: cgroup limit or host memory)"),
		diskMB:    fs.Int64("disk-mb", 0, "disk this node offers to tasks, in MB (default: free space of the working directory)"),
		reservedShare: fs.Float64("reserved-share", jobs.DefaultReservedShare,
			"share of --workers that only priority-1 tasks may use, 0 to 0.9 (0: none)"),
	}
}

// capacity returns the detected capacity with the flags' overrides.
func (c capacityFlags) capacity() (engine.Resources, error) {
	for name, v := range map[string]int64{"cpu-millis": *c.cpuMillis, "memory-mb": *c.memoryMB, "disk-mb": *c.diskMB} {
		if v < 0 || v > 1_000_000_000 {
			return engine.Resources{}, fmt.Errorf("--%s: must be between 0 and 1000000000, got %d", name, v)
		}
	}
	r := placement.DetectCapacity(".")
	if *c.cpuMillis > 0 {
		r.CPUMillis = *c.cpuMillis
	}
	if *c.memoryMB > 0 {
		r.MemoryMB = *c.memoryMB
	}
	if *c.diskMB > 0 {
		r.DiskMB = *c.diskMB
	}
	return r, nil
}

// setCapacity sets the node's capacity from the flags.
func (env *environment) setCapacity(c capacityFlags) error {
	r, err := c.capacity()
	if err != nil {
		return err
	}
	env.capacity = r
	share := *c.reservedShare
	if share < 0 || share > 0.9 {
		return fmt.Errorf("--reserved-share: must be between 0 and 0.9, got %g", share)
	}
	if share == 0 {
		share = -1 // jobs.ClientOptions: negative reserves nothing
	}
	env.reservedShare = share
	return nil
}

// nodeName names this process in baton.nodes and task events.
func nodeName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s:%d", host, os.Getpid())
}

// startNode registers this worker process in baton.nodes and heartbeats
// until ctx ends; it returns the tracker the task worker reserves from.
func (env *environment) startNode(ctx context.Context, rt *runtime, name string, workers int, run func(func() error)) *placement.Tracker {
	tracker := placement.NewTracker(env.capacity)
	node := placement.NewNode(rt.pool, placement.NodeOptions{Name: name, Tracker: tracker, Slots: workers, Logger: env.logger})
	run(func() error { node.Run(ctx); return nil })
	env.logger.Info("node registered", slog.String("node", name), slog.String("capacity", env.capacity.String()))
	return tracker
}

// nodeCapacity is what this worker node offers to tasks.
type nodeCapacity = engine.Resources
