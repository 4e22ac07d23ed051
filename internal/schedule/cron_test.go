package schedule

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// firesOn returns the fires of expr in zone on the local calendar day.
func firesOn(t *testing.T, expr, zone string, y int, m time.Month, d int) []time.Time {
	t.Helper()
	e, err := ParseExpr(expr, zone)
	require.NoError(t, err)
	loc := e.Location()
	start := time.Date(y, m, d, 0, 0, 0, 0, loc)
	end := time.Date(y, m, d+1, 0, 0, 0, 0, loc)
	fires, more := e.Between(start.Add(-time.Nanosecond), end.Add(-time.Nanosecond), 1000)
	require.False(t, more)
	return fires
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestDSTFixedHourFiresOnceOnBothTransitionDays(t *testing.T) {
	t.Parallel()
	// Spring forward: 02:30 does not exist; it fires once at 03:00 EDT.
	require.Equal(t, []time.Time{utc("2026-03-08T07:00:00Z")}, firesOn(t, "30 2 * * *", "America/New_York", 2026, 3, 8))
	// Fall back: 02:30 EST exists once.
	require.Equal(t, []time.Time{utc("2026-11-01T07:30:00Z")}, firesOn(t, "30 2 * * *", "America/New_York", 2026, 11, 1))
	// A time in the repeated hour fires once, at its first occurrence (EDT).
	require.Equal(t, []time.Time{utc("2026-11-01T05:30:00Z")}, firesOn(t, "30 1 * * *", "America/New_York", 2026, 11, 1))
	// Several fixed times in the gap collapse into one fire after it.
	require.Equal(t, []time.Time{utc("2026-03-08T07:00:00Z")}, firesOn(t, "0,30 2 * * *", "America/New_York", 2026, 3, 8))
	// The days around keep their usual instants.
	require.Equal(t, []time.Time{utc("2026-03-07T07:30:00Z")}, firesOn(t, "30 2 * * *", "America/New_York", 2026, 3, 7))
	require.Equal(t, []time.Time{utc("2026-03-09T06:30:00Z")}, firesOn(t, "30 2 * * *", "America/New_York", 2026, 3, 9))
	require.Equal(t, []time.Time{utc("2026-11-02T07:30:00Z")}, firesOn(t, "30 2 * * *", "America/New_York", 2026, 11, 2))
}

func TestDSTHourlyFires23And25Times(t *testing.T) {
	t.Parallel()
	spring := firesOn(t, "0 * * * *", "America/New_York", 2026, 3, 8)
	require.Len(t, spring, 23)
	fall := firesOn(t, "0 * * * *", "America/New_York", 2026, 11, 1)
	require.Len(t, fall, 25)
	for _, fires := range [][]time.Time{spring, fall} {
		for i := 1; i < len(fires); i++ {
			require.Equal(t, time.Hour, fires[i].Sub(fires[i-1]), "fire %d", i)
		}
	}
	require.Len(t, firesOn(t, "0 * * * *", "America/New_York", 2026, 3, 9), 24)
}

func TestExprForms(t *testing.T) {
	t.Parallel()
	base := utc("2026-06-01T10:07:03Z")
	cases := []struct{ expr, zone, want string }{
		{"*/15 * * * *", "UTC", "2026-06-01T10:15:00Z"},
		{"30 * * * * *", "UTC", "2026-06-01T10:07:30Z"},
		{"@hourly", "UTC", "2026-06-01T11:00:00Z"},
		{"@daily", "Europe/Paris", "2026-06-01T22:00:00Z"},
		{"@weekly", "UTC", "2026-06-07T00:00:00Z"},
		{"@every 15m", "UTC", "2026-06-01T10:15:00Z"},
		{"0 9 * * mon-fri", "Asia/Tokyo", "2026-06-02T00:00:00Z"},
	}
	for _, c := range cases {
		e, err := ParseExpr(c.expr, c.zone)
		require.NoError(t, err, c.expr)
		require.Equal(t, utc(c.want), e.Next(base), c.expr)
	}
	for _, bad := range []struct{ expr, zone, field string }{
		{"61 * * * *", "UTC", "cron"}, {"* * *", "UTC", "cron"}, {"", "UTC", "cron"},
		{"CRON_TZ=UTC * * * * *", "UTC", "cron"}, {"@every 10ms", "UTC", "cron"},
		{"* * * * *", "Mars/Olympus", "time_zone"}, {"* * * * *", "Local", "time_zone"},
	} {
		_, err := ParseExpr(bad.expr, bad.zone)
		var fe *FieldError
		require.ErrorAs(t, err, &fe, bad.expr)
		require.Equal(t, bad.field, fe.Field, bad.expr)
	}
}

func TestJitterIsDeterministicAndBounded(t *testing.T) {
	t.Parallel()
	f := utc("2026-06-01T10:00:00Z")
	for i := range 1000 {
		fire := f.Add(time.Duration(i) * time.Minute)
		j := Jitter("nightly", fire, 30*time.Second)
		require.GreaterOrEqual(t, j, time.Duration(0))
		require.Less(t, j, 30*time.Second)
		require.Equal(t, j, Jitter("nightly", fire, 30*time.Second))
	}
	require.Zero(t, Jitter("x", f, 0))
}
