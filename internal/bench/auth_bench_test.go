package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/api"
	"github.com/baton-run/baton/db"
	"github.com/baton-run/baton/internal/auth"
	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/ratelimit"
	"github.com/baton-run/baton/internal/testdb"
)

// BenchmarkAPIAccessOverhead measures what authentication and rate limiting
// add to a request: p50/p99 of GET /v2/runs/{id} (a run with one task)
// through the whole handler, with access control off (api.Options.Access
// nil) and on (a Bearer key, its role check, its rate limit with leases from
// the shared bucket; the key's limit is high enough that nothing is refused,
// so leases of 20 tokens mean one database visit per 20 requests).
// Requests alternate between the two handlers so that both see the same
// database state.
func BenchmarkAPIAccessOverhead(b *testing.B) {
	reps := envInt("BATON_BENCH_ACCESS_REPS", 2000)
	ctx := context.Background()
	pool, err := db.Open(ctx, testdb.New(b), db.PoolOptions{MaxConns: 8, ApplicationName: "baton-bench"})
	require.NoError(b, err)
	b.Cleanup(pool.Close)
	eng, _, _ := newBaton(b, pool)
	run, _, err := eng.StartRun(ctx, engine.StartParams{Workflow: "bench-one", Trigger: "api"})
	require.NoError(b, err)
	path := "/v2/runs/" + strconv.FormatInt(run.ID, 10)

	keys := auth.New(pool, auth.Options{})
	_, token, err := keys.Create(ctx, auth.CreateParams{Name: "bench", Role: auth.RoleViewer, RateLimit: 1000000})
	require.NoError(b, err)
	off, _ := api.New(api.Options{Engine: eng})
	on, _ := api.New(api.Options{Engine: eng, Access: &api.Access{Keys: keys, Limiter: ratelimit.New(pool, ratelimit.Options{})}})

	measure := func(h http.Handler, withKey bool) time.Duration {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if withKey {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, req)
		took := time.Since(start)
		require.Equal(b, http.StatusOK, rec.Code, rec.Body.String())
		return took
	}
	for i := 0; i < b.N; i++ {
		var latOff, latOn []time.Duration
		for r := -50; r < reps; r++ { // 50 warm-up rounds
			tOff, tOn := measure(off, false), measure(on, true)
			if r >= 0 {
				latOff, latOn = append(latOff, tOff), append(latOn, tOn)
			}
		}
		slices.Sort(latOff)
		slices.Sort(latOn)
		pct := func(lat []time.Duration, p int) time.Duration { return lat[(len(lat)*p+99)/100-1] }
		fmt.Printf("\nGET /v2/runs/{id}, %d requests each     %9s %9s\n", reps, "p50 ms", "p99 ms")
		fmt.Printf("%-40s %9.3f %9.3f\n", "access control off", ms(pct(latOff, 50)), ms(pct(latOff, 99)))
		fmt.Printf("%-40s %9.3f %9.3f\n", "key + role + rate limit", ms(pct(latOn, 50)), ms(pct(latOn, 99)))
		b.ReportMetric(ms(pct(latOff, 50)), "p50_ms_access_off")
		b.ReportMetric(ms(pct(latOff, 99)), "p99_ms_access_off")
		b.ReportMetric(ms(pct(latOn, 50)), "p50_ms_access_on")
		b.ReportMetric(ms(pct(latOn, 99)), "p99_ms_access_on")
	}
}
