package placement

import (
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/engine"
)

// TestTrackerNeverOverbooks: concurrent reservations never exceed the
// capacity, and releases free it again.
func TestTrackerNeverOverbooks(t *testing.T) {
	t.Parallel()
	tr := NewTracker(engine.Resources{CPUMillis: 1000, MemoryMB: 100})
	task := engine.Resources{CPUMillis: 600, MemoryMB: 10}
	require.True(t, tr.TryReserve(task))
	require.False(t, tr.TryReserve(task), "1200 > 1000 cpu millis")
	require.True(t, tr.TryReserve(engine.Resources{CPUMillis: 400}), "fits exactly")
	require.False(t, tr.TryReserve(engine.Resources{MemoryMB: 91}), "memory is checked too")
	tr.Release(task)
	tr.Release(engine.Resources{CPUMillis: 400})
	reserved, running := tr.Usage()
	require.Zero(t, reserved)
	require.Zero(t, running)

	var wg sync.WaitGroup
	var mu sync.Mutex
	held, most := 0, 0
	for range 50 {
		wg.Go(func() {
			for range 200 {
				if !tr.TryReserve(task) {
					continue
				}
				mu.Lock()
				held++
				most = max(most, held)
				mu.Unlock()
				mu.Lock()
				held--
				mu.Unlock()
				tr.Release(task)
			}
		})
	}
	wg.Wait()
	require.Equal(t, 1, most)
}

func TestDetectCPUAndMemory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	host := int64(runtime.NumCPU()) * 1000
	require.Equal(t, host, detectCPUMillis(write("cpu-max", "max 100000\n")))
	require.Equal(t, min(int64(500), host), detectCPUMillis(write("cpu-half", "50000 100000\n")))
	require.Equal(t, host, detectCPUMillis(filepath.Join(dir, "missing")))

	meminfo := write("meminfo", "MemTotal:       16384000 kB\nMemFree: 1 kB\n")
	require.Equal(t, int64(16000), detectMemoryMB(write("mem-max", "max\n"), meminfo))
	require.Equal(t, int64(512), detectMemoryMB(write("mem-512", "536870912\n"), meminfo))
	require.Equal(t, int64(16000), detectMemoryMB(filepath.Join(dir, "missing"), meminfo))

	require.Positive(t, detectDiskMB(dir))
	c := DetectCapacity(dir)
	require.Positive(t, c.CPUMillis)
	require.Positive(t, c.MemoryMB)
}

func TestEffectiveResourcesAndSpec(t *testing.T) {
	t.Parallel()
	require.Nil(t, engine.EffectiveResources(nil, nil))
	got := engine.EffectiveResources(&engine.Resources{CPUMillis: 500, MemoryMB: 100}, &engine.Resources{MemoryMB: 2048})
	require.Equal(t, &engine.Resources{CPUMillis: 500, MemoryMB: 2048}, got)

	spec, err := engine.ParseSpec([]byte("kind: task_type\nname: t\nexecutor: sleep\nresources: {cpu_millis: -1}\n"))
	require.NoError(t, err)
	err = spec.(*engine.TaskTypeSpec).Validate(nil)
	require.ErrorContains(t, err, "resources")
	require.ErrorContains(t, err, "cpu_millis")

	_, err = engine.ParseSpec([]byte("name: w\nsteps:\n  - {name: a, type: t, resources: {gpus: 1}}\n"))
	require.ErrorContains(t, err, "gpus")
}
