package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/baton-run/baton/api"
	"github.com/baton-run/baton/db"
	"github.com/baton-run/baton/internal/auth"
	"github.com/baton-run/baton/internal/ratelimit"
)

// keys runs `baton keys create|list|rotate|revoke`.
func (env *environment) keys(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return &usageError{"expected one of: create, list, rotate, revoke"}
	}
	action, args := args[0], args[1:]
	fs := env.flags("keys " + action)
	var create auth.CreateParams
	var role, rate, expires *string
	var burst, quota *int
	if action == "create" {
		fs.StringVar(&create.Name, "name", "", "the key's name, recorded as the actor of its actions (required)")
		role = fs.String("role", "", "viewer, operator or admin (required)")
		rate = fs.String("rate-limit", "100/min", "requests allowed, as N/s, N/min or N/h")
		burst = fs.Int("burst", auth.DefaultBurst, "requests allowed above the rate in a burst")
		quota = fs.Int("daily-run-quota", auth.DefaultDailyRunQuota, "runs the key may start per UTC day")
		expires = fs.String("expires", "", "when the key expires: a duration such as 90d or 12h, or an RFC 3339 time (default: never)")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	name := fs.Arg(0)
	switch action {
	case "create":
		if create.Name == "" || *role == "" {
			return &usageError{"--name and --role are required"}
		}
		r, err := auth.ParseRole(*role)
		if err != nil {
			return &usageError{err.Error()}
		}
		create.Role = r
		if create.RateLimit, err = parseRate(*rate); err != nil {
			return &usageError{"--rate-limit: " + err.Error()}
		}
		create.Burst, create.DailyRunQuota = burst, *quota
		if *expires != "" {
			t, err := parseExpiry(*expires, time.Now())
			if err != nil {
				return &usageError{"--expires: " + err.Error()}
			}
			create.ExpiresAt = &t
		}
	case "list":
	case "rotate", "revoke":
		if name == "" || fs.NArg() != 1 {
			return &usageError{"expected the key's name"}
		}
	default:
		return &usageError{fmt.Sprintf("unknown keys action %q (want create, list, rotate or revoke)", action)}
	}
	if err := env.requireDatabaseURL(); err != nil {
		return err
	}
	pool, err := db.Open(ctx, env.databaseURL, db.PoolOptions{MaxConns: 2, ApplicationName: "baton-keys"})
	if err != nil {
		return err
	}
	defer pool.Close()
	svc := auth.New(pool, auth.Options{Logger: env.logger})
	switch action {
	case "create":
		key, token, err := svc.Create(ctx, create)
		if err != nil {
			return err
		}
		env.printNewKey(key, token)
	case "list":
		keys, err := svc.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tPREFIX\tROLE\tRATE\tQUOTA/DAY\tSTATE\tLAST USED")
		now := time.Now()
		for _, k := range keys {
			state := "active"
			switch {
			case k.RevokedAt != nil:
				state = "revoked " + k.RevokedAt.Format(time.DateOnly)
			case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
				state = "expired " + k.ExpiresAt.Format(time.DateOnly)
			case k.ExpiresAt != nil:
				state = "expires " + k.ExpiresAt.Format(time.DateOnly)
			}
			used := "never"
			if k.LastUsedAt != nil {
				used = k.LastUsedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\tbaton_%s_…\t%s\t%d/min+%d\t%d\t%s\t%s\n", k.Name, k.Prefix, k.Role, k.RateLimit, k.Burst, k.DailyRunQuota, state, used)
		}
		return tw.Flush()
	case "rotate":
		key, token, err := svc.Rotate(ctx, name)
		if err != nil {
			return err
		}
		env.printNewKey(key, token)
	case "revoke":
		key, err := svc.Revoke(ctx, name)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "revoked %s (%s)\n", key.Name, key.RevokedAt.Format(time.RFC3339))
	}
	return nil
}

func (env *environment) printNewKey(key *auth.Key, token string) {
	fmt.Fprintf(env.stdout, "%s (%s): %s\nStore it now: it is not shown again.\n", key.Name, key.Role, token)
}

// parseRate parses N/s, N/min, N/h (or a bare N, a minute) into requests a
// minute.
func parseRate(s string) (int, error) {
	num, unit, _ := strings.Cut(strings.TrimSpace(s), "/")
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%q: want N/s, N/min or N/h with N ≥ 1", s)
	}
	switch unit {
	case "", "min", "m":
		return n, nil
	case "s", "sec":
		return n * 60, nil
	case "h", "hour":
		if n < 60 {
			return 0, fmt.Errorf("%q: less than one a minute", s)
		}
		return n / 60, nil
	}
	return 0, fmt.Errorf("%q: unknown unit %q (want s, min or h)", s, unit)
}

// parseExpiry parses "90d", a Go duration or an RFC 3339 time.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 {
			return time.Time{}, fmt.Errorf("%q: want a number of days ≥ 1", s)
		}
		return now.AddDate(0, 0, n), nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("%q is not in the future", s)
		}
		return now.Add(d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want 90d, a duration such as 12h, or an RFC 3339 time", s)
	}
	return t, nil
}

// devAnonymousRate is the per-IP rate limit (a minute) of anonymous
// requests to baton dev.
const devAnonymousRate = 1000

// devKeyName is the admin key `baton dev` creates (or rotates) at start.
const devKeyName = "dev-admin"

// devKey creates, or rotates, the dev admin key and returns it.
func devKey(ctx context.Context, svc *auth.Service) (string, error) {
	_, token, err := svc.Rotate(ctx, devKeyName)
	if errors.Is(err, auth.ErrNotFound) {
		_, token, err = svc.Create(ctx, auth.CreateParams{Name: devKeyName, Role: auth.RoleAdmin})
	}
	if err != nil {
		return "", fmt.Errorf("dev admin key: %w", err)
	}
	return token, nil
}

// accessFor returns the access control of an API process on rt.
func (env *environment) accessFor(rt *runtime, anonymous api.Anonymous) *api.Access {
	return &api.Access{
		Keys:      auth.New(rt.pool, auth.Options{Logger: env.logger}),
		Limiter:   ratelimit.New(rt.pool, ratelimit.Options{Logger: env.logger}),
		Anonymous: anonymous,
	}
}
