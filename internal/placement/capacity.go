package placement

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/baton-run/baton/internal/engine"
)

// DetectCapacity returns the capacity of this process's machine or
// container: CPU and memory from the cgroup v2 limits
// (/sys/fs/cgroup/cpu.max, memory.max) when set, else the host's CPU count
// and MemTotal; disk from the free space of the file system holding dir.
func DetectCapacity(dir string) engine.Resources {
	return engine.Resources{
		CPUMillis: detectCPUMillis("/sys/fs/cgroup/cpu.max"),
		MemoryMB:  detectMemoryMB("/sys/fs/cgroup/memory.max", "/proc/meminfo"),
		DiskMB:    detectDiskMB(dir),
	}
}

// detectCPUMillis reads a cgroup v2 cpu.max ("max 100000" or
// "QUOTA PERIOD"); without a quota it is runtime.NumCPU()*1000.
func detectCPUMillis(cpuMax string) int64 {
	host := int64(runtime.NumCPU()) * 1000
	data, err := os.ReadFile(cpuMax)
	if err != nil {
		return host
	}
	fields := strings.Fields(string(data))
	if len(fields) != 2 || fields[0] == "max" {
		return host
	}
	quota, err1 := strconv.ParseInt(fields[0], 10, 64)
	period, err2 := strconv.ParseInt(fields[1], 10, 64)
	if err1 != nil || err2 != nil || quota <= 0 || period <= 0 {
		return host
	}
	return min(quota*1000/period, host)
}

// detectMemoryMB reads a cgroup v2 memory.max, else MemTotal of meminfo.
func detectMemoryMB(memoryMax, meminfo string) int64 {
	host := hostMemoryMB(meminfo)
	data, err := os.ReadFile(memoryMax)
	if err != nil {
		return host
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil || v <= 0 {
		return host // "max": no limit
	}
	mb := v / (1 << 20)
	if host > 0 {
		return min(mb, host)
	}
	return mb
}

func hostMemoryMB(meminfo string) int64 {
	data, err := os.ReadFile(meminfo)
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0
			}
			return kb / 1024
		}
	}
	return 0
}

// detectDiskMB is the space available to unprivileged users on dir's file
// system.
func detectDiskMB(dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0
	}
	return int64(st.Bavail) * int64(st.Bsize) / (1 << 20)
}
