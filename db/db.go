// Package db opens Baton's PostgreSQL pool and owns its schema: the goose
// migrations embedded from db/migrations, with River's own migrations as
// version 1 of the same ordered history.
package db

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultMaxConns is the pool size of a Baton process unless configured:
// every connection the process opens to run tasks and serve the API comes
// from its pool (the live stream's listener of `baton serve` adds one, and
// River's notifier takes one out of the pool for LISTEN in a process that
// works tasks), and workers wait for a connection rather than open one each,
// so N processes use at most N × (MaxConns + 1) of the server's
// max_connections (MaxConns + 2 for `baton dev`, which does both).
const DefaultMaxConns = 30

// PoolOptions tunes the connection pool.
type PoolOptions struct {
	// MaxConns caps the pool size; 0 means the URL's pool_max_conns if it
	// has one, else DefaultMaxConns.
	MaxConns int32
	// ApplicationName is reported in pg_stat_activity.
	ApplicationName string
}

// Open connects to the database at url and checks that it answers.
func Open(ctx context.Context, url string, opts PoolOptions) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	switch {
	case opts.MaxConns > 0:
		cfg.MaxConns = opts.MaxConns
	case !strings.Contains(url, "pool_max_conns"):
		// pool_max_conns in the URL wins over the default.
		cfg.MaxConns = DefaultMaxConns
	}
	if opts.ApplicationName != "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = opts.ApplicationName
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping database: %w", err)
	}
	return pool, nil
}
