// Package db opens Baton's PostgreSQL pool and owns its schema: the goose
// migrations embedded from db/migrations, with River's own migrations as
// version 1 of the same ordered history.
package db

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// PoolOptions tunes the connection pool.
type PoolOptions struct {
	// MaxConns caps the pool size; 0 keeps pgx's default.
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
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
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
