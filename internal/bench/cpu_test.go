package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// machineCPU returns the CPU time the whole machine spent running (user,
// nice, system, irq and softirq in /proc/stat) since boot, or 0 where
// /proc/stat cannot be read. The database server and the bench share the
// machine, so the difference over a burn-down is what its items cost both.
func machineCPU() time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(line)
	if len(fields) < 8 || fields[0] != "cpu" {
		return 0
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7} { // user nice system irq softirq
		n, err := strconv.ParseInt(fields[i], 10, 64)
		if err != nil {
			return 0
		}
		ticks += n
	}
	// USER_HZ is 100 on Linux.
	return time.Duration(ticks) * 10 * time.Millisecond
}

// processCPU returns the CPU time (user and system) this process used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// burn is the outcome of one burn-down: items (jobs or tasks) per second,
// the machine's CPU time per 1,000 items, and the part of it this process
// (River and Baton's Go code) used; the rest is mostly the database server.
type burn struct {
	perSec    float64
	cpuPerK   time.Duration
	goCPUPerK time.Duration
	// walPerK is the WAL the server wrote per 1,000 items, in bytes: the
	// write work, which unlike time and CPU does not vary with the load of
	// a shared machine.
	walPerK float64
}

// String is the CPU per 1,000 items, whole machine (Go part), and the WAL.
func (b burn) String() string {
	return fmt.Sprintf("%s (Go %s) %.1f MB", b.cpuPerK.Round(time.Millisecond), b.goCPUPerK.Round(time.Millisecond), b.walPerK/(1<<20))
}

// measureBurn times fn, which works n items, and reads the machine's and
// this process's CPU time and the server's WAL position around it.
func measureBurn(b *testing.B, pool *pgxpool.Pool, n int, fn func() time.Duration) burn {
	cpu, goCPU, wal0 := machineCPU(), processCPU(), walPosition(b, pool)
	elapsed := fn()
	used, goUsed, written := machineCPU()-cpu, processCPU()-goCPU, walPosition(b, pool)-wal0
	k := time.Duration(max(n, 1))
	return burn{perSec: float64(n) / elapsed.Seconds(), cpuPerK: used * 1000 / k, goCPUPerK: goUsed * 1000 / k,
		walPerK: float64(written) * 1000 / float64(max(n, 1))}
}

// rowQuerier is a pool or one of its connections.
type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// walPosition returns the server's WAL insert position, in bytes.
func walPosition(b testing.TB, db rowQuerier) int64 {
	var pos int64
	require.NoError(b, db.QueryRow(context.Background(),
		"SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint").Scan(&pos))
	return pos
}

// serverCPU returns the CPU time of server process pid when it runs on this
// machine (Linux), else 0.
func serverCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/schedstat", pid))
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		return 0
	}
	ns, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil {
		return 0
	}
	return time.Duration(ns)
}
