package devcluster

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// postmasterPID is what the server writes to <data>/postmaster.pid while it
// runs (see PostgreSQL's src/include/utils/pidfile.h).
type postmasterPID struct {
	pid     int
	dataDir string
	port    int
	status  string // "starting", "stopping", "ready" or "standby"; empty in old versions
}

// readPostmasterPID reads dataDir/postmaster.pid. found is false when there
// is none, which means no server runs on dataDir.
func readPostmasterPID(dataDir string) (pm postmasterPID, found bool, err error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if errors.Is(err, fs.ErrNotExist) {
		return postmasterPID{}, false, nil
	}
	if err != nil {
		return postmasterPID{}, false, fmt.Errorf("read postmaster.pid: %w", err)
	}
	lines := strings.Split(string(b), "\n")
	line := func(i int) string {
		if i < len(lines) {
			return strings.TrimSpace(lines[i])
		}
		return ""
	}
	pm.pid, _ = strconv.Atoi(line(0)) // a torn file gives 0: no such process
	pm.dataDir = line(1)
	pm.port, _ = strconv.Atoi(line(3))
	pm.status = line(7)
	return pm, true, nil
}

// isPostgresProcess reports whether pid is a live PostgreSQL server process.
// A postmaster.pid left by a crash can name a PID that the system has since
// given to an unrelated process, so liveness alone is not enough: on Linux
// the process's name must also be "postgres".
func isPostgresProcess(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	if _, err := os.Stat("/proc/self/comm"); err != nil {
		return true // no /proc to ask: trust the signal check
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return false // gone since the signal check
	}
	return strings.TrimSpace(string(comm)) == "postgres"
}
