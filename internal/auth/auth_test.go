package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/auth"
	"github.com/baton-run/baton/internal/testdb"
)

func TestKeysLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.NewPool(t)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	svc := auth.New(pool, auth.Options{Now: func() time.Time { return now }})

	key, token, err := svc.Create(ctx, auth.CreateParams{Name: "ci", Role: auth.RoleOperator})
	require.NoError(t, err)
	require.Equal(t, 100, key.RateLimit)
	require.Equal(t, 20, key.Burst)
	require.Equal(t, 1000, key.DailyRunQuota)
	prefix, ok := auth.ParseToken(token)
	require.True(t, ok)
	require.Equal(t, key.Prefix, prefix)

	_, _, err = svc.Create(ctx, auth.CreateParams{Name: "ci", Role: auth.RoleAdmin})
	require.ErrorIs(t, err, auth.ErrConflict)
	_, _, err = svc.Create(ctx, auth.CreateParams{Name: "Bad Name", Role: auth.RoleAdmin})
	require.ErrorIs(t, err, auth.ErrInvalid)
	_, _, err = svc.Create(ctx, auth.CreateParams{Name: "x", Role: "root"})
	require.ErrorIs(t, err, auth.ErrInvalid)

	p, err := svc.Authenticate(ctx, token)
	require.NoError(t, err)
	require.Equal(t, "ci", p.Key.Name)
	// A forged secret with the right prefix fails.
	forged := token[:len(token)-4] + "aaaa"
	if forged == token {
		forged = token[:len(token)-4] + "bbbb"
	}
	_, err = svc.Authenticate(ctx, forged)
	require.ErrorIs(t, err, auth.ErrUnauthenticated)

	// last_used_at is written by Flush, not by Authenticate.
	var used *time.Time
	require.NoError(t, pool.QueryRow(ctx, `SELECT last_used_at FROM baton.api_keys WHERE name = 'ci'`).Scan(&used))
	require.Nil(t, used)
	require.NoError(t, svc.Flush(ctx))
	require.NoError(t, pool.QueryRow(ctx, `SELECT last_used_at FROM baton.api_keys WHERE name = 'ci'`).Scan(&used))
	require.NotNil(t, used)
	require.True(t, used.Equal(now))

	n, err := svc.CountUsable(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = svc.Revoke(ctx, "ci")
	require.NoError(t, err)
	_, err = svc.Authenticate(ctx, token)
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
	n, err = svc.CountUsable(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	_, _, err = svc.Rotate(ctx, "ci")
	require.ErrorIs(t, err, auth.ErrNotFound)
}

func TestRoles(t *testing.T) {
	t.Parallel()
	require.True(t, auth.RoleAdmin.Allows(auth.RoleOperator))
	require.True(t, auth.RoleOperator.Allows(auth.RoleViewer))
	require.False(t, auth.RoleViewer.Allows(auth.RoleOperator))
	require.False(t, auth.Role("").Allows(auth.RoleViewer))
	require.False(t, auth.Role("root").Allows(auth.RoleViewer))
}

// FuzzParseCredentials: no Authorization header value panics; a token that
// parses has the documented shape; a parsed header round-trips.
func FuzzParseCredentials(f *testing.F) {
	for _, seed := range []string{
		"Bearer baton_abcdefghij_abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuv",
		"bearer baton_", "Basic dXNlcjpwYXNz", "Bearer", "Bearer  ", "", "Bearer baton_ABCDEFGHIJ_x",
		"Bearer baton_abcdefghij_abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstu\x00",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		token, ok := auth.BearerToken(header)
		if !ok {
			return
		}
		require.NotEmpty(t, token)
		prefix, ok := auth.ParseToken(token)
		if !ok {
			return
		}
		require.Len(t, prefix, 10)
		require.True(t, strings.HasPrefix(token, "baton_"+prefix+"_"))
		require.Len(t, token, 69)
		for _, c := range token[6:] {
			require.True(t, c == '_' || (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'), "%q", token)
		}
	})
}
