package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
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
}

// String is the CPU per 1,000 items, whole machine (Go part).
func (b burn) String() string {
	return fmt.Sprintf("%s (Go %s)", b.cpuPerK.Round(time.Millisecond), b.goCPUPerK.Round(time.Millisecond))
}

// measureBurn times fn, which works n items, and reads the machine's and
// this process's CPU time around it.
func measureBurn(n int, fn func() time.Duration) burn {
	cpu, goCPU := machineCPU(), processCPU()
	elapsed := fn()
	used, goUsed := machineCPU()-cpu, processCPU()-goCPU
	k := time.Duration(max(n, 1))
	return burn{perSec: float64(n) / elapsed.Seconds(), cpuPerK: used * 1000 / k, goCPUPerK: goUsed * 1000 / k}
}
