package api_test

import (
	"context"
	"log/slog"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/api"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/placement"
	"github.com/baton-run/baton/internal/testdb"
)

// TestNodes lists nodes with capacity, reserved use and liveness, and
// refuses (422, naming the step and the node) a workflow whose step fits no
// live node.
func TestNodes(t *testing.T) {
	t.Parallel()
	pool := testdb.NewPool(t)
	h, _ := api.New(api.Options{
		Engine: engine.New(pool, engine.Options{}),
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil)),
	})
	s := &server{t: t, h: h}
	ctx := context.Background()

	list := decode[map[string][]map[string]any](s, http.StatusOK, s.do(http.MethodGet, "/v1/nodes", nil))
	require.Equal(t, map[string][]map[string]any{"nodes": {}}, list)

	tracker := placement.NewTracker(engine.Resources{CPUMillis: 1000, MemoryMB: 2048, DiskMB: 100})
	node := placement.NewNode(pool, placement.NodeOptions{Name: "w1", Tracker: tracker, Slots: 8})
	require.NoError(t, node.Register(ctx))
	require.True(t, tracker.TryReserve(engine.Resources{CPUMillis: 600, MemoryMB: 10}))
	require.NoError(t, node.Heartbeat(ctx))
	_, err := pool.Exec(ctx, `INSERT INTO baton.nodes (name, cpu_millis, memory_mb, disk_mb, heartbeat_at)
		VALUES ('gone', 64000, 1, 1, now() - interval '1 hour')`)
	require.NoError(t, err)

	list = decode[map[string][]map[string]any](s, http.StatusOK, s.do(http.MethodGet, "/v1/nodes", nil))
	require.Len(t, list["nodes"], 2)
	gone, w1 := list["nodes"][0], list["nodes"][1]
	require.Equal(t, false, gone["alive"])
	require.Equal(t, "w1", w1["name"])
	require.Equal(t, true, w1["alive"])
	require.Equal(t, map[string]any{"cpu_millis": 1000.0, "memory_mb": 2048.0, "disk_mb": 100.0}, w1["capacity"])
	require.Equal(t, map[string]any{"cpu_millis": 600.0, "memory_mb": 10.0, "disk_mb": 0.0}, w1["reserved"])
	require.Equal(t, 1.0, w1["running"])
	require.Equal(t, 8.0, w1["slots"])

	var metrics int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM baton.node_metrics WHERE node = 'w1'`).Scan(&metrics))
	require.Equal(t, 1, metrics)

	decode[map[string]any](s, http.StatusCreated, s.do(http.MethodPost, "/v1/task-types",
		map[string]any{"name": "work", "executor": "sleep", "resources": map[string]any{"cpu_millis": 100}}))
	body := decode[map[string]any](s, http.StatusUnprocessableEntity, s.do(http.MethodPost, "/v1/workflows", map[string]any{
		"name": "big", "steps": []map[string]any{{"name": "crunch", "type": "work", "resources": map[string]any{"memory_mb": 4096}}},
	}))
	require.Contains(t, body["detail"], `"crunch"`)
	require.Contains(t, body["detail"], `"w1"`)
}
