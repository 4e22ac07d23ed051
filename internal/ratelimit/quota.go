package ratelimit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/baton-run/baton/internal/dbsqlc"
)

// ErrQuotaExceeded is returned by TakeRun when the key has started its
// daily quota of runs.
var ErrQuotaExceeded = errors.New("daily run quota exceeded")

// Day returns the UTC day t falls on, the unit of run quotas.
func Day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// TakeRun counts one run against keyID's quota for today (UTC, on the
// Limiter's clock) and returns the runs counted today including it. At the
// quota it counts nothing, writes a quota_exceeded event (at most one a
// minute per key across the cluster) and returns ErrQuotaExceeded. A run
// that then does not start is given back with RefundRun.
func (l *Limiter) TakeRun(ctx context.Context, keyID int64, actor string, quota int) (int, error) {
	return l.TakeRuns(ctx, keyID, actor, quota, 1)
}

// TakeRuns is TakeRun for n runs about to start together (a batch): all of
// them are counted, or none when they would exceed the quota.
func (l *Limiter) TakeRuns(ctx context.Context, keyID int64, actor string, quota, n int) (int, error) {
	day := Day(l.now())
	var used int32
	var err error
	if quota > 0 {
		used, err = l.q.APIKeyUsageTake(ctx, l.pool, &dbsqlc.APIKeyUsageTakeParams{KeyID: keyID, Day: pgDate(day), Runs: int32(n), Quota: int32(quota)})
	}
	if quota <= 0 || errors.Is(err, pgx.ErrNoRows) {
		subject := fmt.Sprintf("key:%d", keyID)
		data, _ := json.Marshal(map[string]any{"subject": subject, "daily_run_quota": quota, "day": day.Format(time.DateOnly)})
		if werr := l.notices.write(ctx, subject, "quota_exceeded", actor, data); werr != nil {
			l.logger.WarnContext(ctx, "write quota_exceeded event", slog.String("subject", subject), slog.String("error", werr.Error()))
		}
		return quota, ErrQuotaExceeded
	}
	if err != nil {
		return 0, fmt.Errorf("count run against quota: %w", err)
	}
	return int(used), nil
}

// RefundRun gives back a run TakeRun counted today that did not start.
func (l *Limiter) RefundRun(ctx context.Context, keyID int64) error {
	return l.RefundRuns(ctx, keyID, 1)
}

// RefundRuns gives back n runs TakeRuns counted today that did not start.
func (l *Limiter) RefundRuns(ctx context.Context, keyID int64, n int) error {
	if err := l.q.APIKeyUsageRefund(ctx, l.pool, &dbsqlc.APIKeyUsageRefundParams{KeyID: keyID, Day: pgDate(Day(l.now())), Runs: int32(n)}); err != nil {
		return fmt.Errorf("refund run: %w", err)
	}
	return nil
}

// RunsToday returns the runs counted against keyID today.
func (l *Limiter) RunsToday(ctx context.Context, keyID int64) (int, error) {
	n, err := l.q.APIKeyUsageGet(ctx, l.pool, &dbsqlc.APIKeyUsageGetParams{KeyID: keyID, Day: pgDate(Day(l.now()))})
	if err != nil {
		return 0, fmt.Errorf("read run quota use: %w", err)
	}
	return int(n), nil
}

// Now returns the Limiter's clock reading.
func (l *Limiter) Now() time.Time { return l.now() }

func pgDate(t time.Time) pgtype.Date { return pgtype.Date{Time: t, Valid: true} }
