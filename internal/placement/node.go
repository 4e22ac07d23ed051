package placement

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/baton-run/baton/internal/dbsqlc"
)

// DefaultHeartbeat is how often a node reports itself.
const DefaultHeartbeat = 5 * time.Second

// NodeOptions configures a Node.
type NodeOptions struct {
	// Name identifies the node in baton.nodes and in task events.
	Name string
	// Tracker holds the node's capacity and reservations.
	Tracker *Tracker
	// Slots is how many tasks the node works at once (informational).
	Slots int
	// Heartbeat is how often the node reports (default DefaultHeartbeat).
	Heartbeat time.Duration
	Logger    *slog.Logger
}

// Node registers a worker process in baton.nodes and heartbeats its
// reserved and measured use.
type Node struct {
	pool    *pgxpool.Pool
	queries *dbsqlc.Queries
	opts    NodeOptions
	logger  *slog.Logger

	lastCPU  time.Duration
	lastTime time.Time
}

// NewNode returns a Node; Run registers it and heartbeats until ctx ends.
func NewNode(pool *pgxpool.Pool, opts NodeOptions) *Node {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts.Heartbeat = cmp.Or(opts.Heartbeat, DefaultHeartbeat)
	return &Node{pool: pool, queries: dbsqlc.New(), opts: opts, logger: logger}
}

// Register records the node and its capacity, resetting its reported use.
func (n *Node) Register(ctx context.Context) error {
	c := n.opts.Tracker.Capacity()
	err := n.queries.NodeRegister(ctx, n.pool, &dbsqlc.NodeRegisterParams{
		Name: n.opts.Name, CpuMillis: c.CPUMillis, MemoryMb: c.MemoryMB, DiskMb: c.DiskMB,
		Slots: int32(n.opts.Slots),
	})
	if err != nil {
		return fmt.Errorf("register node %q: %w", n.opts.Name, err)
	}
	n.lastCPU, n.lastTime = processCPU(), time.Now()
	return nil
}

// Heartbeat reports the node's reserved and measured use once.
func (n *Node) Heartbeat(ctx context.Context) error {
	reserved, running := n.opts.Tracker.Usage()
	now, cpu := time.Now(), processCPU()
	var cpuMillis int64
	if elapsed := now.Sub(n.lastTime); elapsed > 0 && !n.lastTime.IsZero() {
		cpuMillis = int64(cpu-n.lastCPU) * 1000 / int64(elapsed)
	}
	n.lastCPU, n.lastTime = cpu, now
	err := n.queries.NodeHeartbeat(ctx, n.pool, &dbsqlc.NodeHeartbeatParams{
		Name:              n.opts.Name,
		ReservedCpuMillis: reserved.CPUMillis,
		ReservedMemoryMb:  reserved.MemoryMB,
		ReservedDiskMb:    reserved.DiskMB,
		Running:           int32(running),
		CpuMillisUsed:     cpuMillis,
		RssMb:             processRSSMB(),
	})
	if err != nil {
		return fmt.Errorf("heartbeat of node %q: %w", n.opts.Name, err)
	}
	return nil
}

// Run registers the node, then heartbeats every Heartbeat until ctx ends.
// Failures are logged and retried at the next beat: a node that cannot
// report still works (others see it as gone once NodeTimeout passes).
func (n *Node) Run(ctx context.Context) {
	registered := false
	ticker := time.NewTicker(n.opts.Heartbeat)
	defer ticker.Stop()
	for {
		var err error
		if !registered {
			if err = n.Register(ctx); err == nil {
				registered = true
			}
		} else {
			err = n.Heartbeat(ctx)
		}
		if err != nil && ctx.Err() == nil {
			n.logger.WarnContext(ctx, "node heartbeat", slog.String("node", n.opts.Name), slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// processCPU is the CPU time this process used so far (user + system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processRSSMB is this process's resident set size, from /proc/self/statm.
func processRSSMB() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(data))
	if len(fields) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize()) / (1 << 20)
}
