package api_test

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

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

// TestRecommendStartAndConcurrencyOperations: recommend-start answers for
// a known workflow (with the reasoning and the zone asked for), 404 for an
// unknown one and 422 for a bad zone or count; /v1/concurrency lists the
// keys with leases.
func TestRecommendStartAndConcurrencyOperations(t *testing.T) {
	t.Parallel()
	pool := testdb.NewPool(t)
	eng := engine.New(pool, engine.Options{})
	h, _ := api.New(api.Options{Engine: eng, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	s := &server{t: t, h: h}

	decode[map[string]any](s, http.StatusCreated, s.do(http.MethodPost, "/v1/task-types",
		map[string]any{"name": "work", "executor": "sleep", "concurrency_limit": 2}))
	decode[map[string]any](s, http.StatusCreated, s.do(http.MethodPost, "/v1/workflows", map[string]any{
		"name": "nightly", "concurrency": []map[string]any{{"key": "{{ .input.customer }}", "limit": 1}},
		"steps": []map[string]any{{"name": "a", "type": "work"}}}))

	advice := decode[map[string]any](s, http.StatusOK, s.do(http.MethodGet, "/v1/workflows/nightly/recommend-start?count=2&tz=Asia/Tokyo", nil))
	require.Len(t, advice["recommendations"], 2)
	require.Equal(t, "Asia/Tokyo", advice["time_zone"])
	require.Contains(t, advice["reasoning"], "assumed hour")
	first := advice["recommendations"].([]any)[0].(map[string]any)
	require.Contains(t, first["start_local"], "+09:00")

	decode[map[string]any](s, http.StatusNotFound, s.do(http.MethodGet, "/v1/workflows/nope/recommend-start", nil))
	bad := decode[map[string]any](s, http.StatusUnprocessableEntity, s.do(http.MethodGet, "/v1/workflows/nightly/recommend-start?tz=Mars/Olympus", nil))
	require.Contains(t, string(mustJSON(t, bad)), "query.tz")
	decode[map[string]any](s, http.StatusUnprocessableEntity, s.do(http.MethodGet, "/v1/workflows/nightly/recommend-start?count=25", nil))

	bad = decode[map[string]any](s, http.StatusUnprocessableEntity, s.do(http.MethodPost, "/v1/workflows", map[string]any{
		"name": "badkey", "concurrency": []map[string]any{{"key": "{{ .steps.a.output }}", "limit": 1}},
		"steps": []map[string]any{{"name": "a", "type": "work"}}}))
	require.Contains(t, string(mustJSON(t, bad)), "body.concurrency[0].key")

	ok, _, err := eng.AcquireConcurrency(context.Background(), 7, "n1", []string{"key:acme"}, []int32{1}, time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	groups := decode[map[string][]map[string]any](s, http.StatusOK, s.do(http.MethodGet, "/v1/concurrency", nil))
	require.Len(t, groups["groups"], 1)
	require.Equal(t, "key:acme", groups["groups"][0]["key"])
	require.Equal(t, 1.0, groups["groups"][0]["running"])
}
