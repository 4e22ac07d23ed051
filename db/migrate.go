package db

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivermigrate"
)

// schemaFS holds the numbered migrations (migrations/) and the repeatable
// function files (functions/), ADR 0006.
//
//go:embed migrations/*.sql functions/*.sql
var schemaFS embed.FS

// riverTargetVersion is the River schema version that migration 1 brings
// the database to. Upgrading River to a release with new migrations means
// adding a Baton migration that migrates River to the new version.
const riverTargetVersion = 8

// migrationsLock is the advisory lock key a process holds (on one session)
// while it applies migrations; see also functionFilesLock.
const migrationsLock = 7412290003

// Migrator applies Baton's migrations.
type Migrator struct {
	provider *goose.Provider
	pool     *pgxpool.Pool
	db       *sql.DB
}

// NewMigrator returns a migrator for the database behind pool. Close it when done.
func NewMigrator(pool *pgxpool.Pool) (*Migrator, error) {
	sqlDB := stdlib.OpenDBFromPool(pool)
	migrations, err := fs.Sub(schemaFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("open embedded migrations: %w", err)
	}
	// Processes started together (serve and worker in one deploy) migrate
	// one at a time: the others wait, then find nothing left to apply.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationsLock), lock.WithLockTimeout(1, 300))
	if err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, sqlDB, migrations,
		goose.WithGoMigrations(riverMigration()),
		goose.WithDisableGlobalRegistry(true),
		goose.WithSessionLocker(locker),
	)
	if err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("create migration provider: %w", err)
	}
	return &Migrator{provider: provider, pool: pool, db: sqlDB}, nil
}

// Close releases the migrator's database handle (not the pool).
func (m *Migrator) Close() error { return m.db.Close() }

// Up applies every pending migration, then every db/functions file whose
// checksum changed (ADR 0006). It is idempotent.
func (m *Migrator) Up(ctx context.Context) ([]*goose.MigrationResult, error) {
	res, err := m.provider.Up(ctx)
	if err != nil {
		return res, fmt.Errorf("migrate up: %w", err)
	}
	if _, err := ApplyFunctions(ctx, m.pool); err != nil {
		return res, err
	}
	return res, nil
}

// Down rolls back the most recent migration.
func (m *Migrator) Down(ctx context.Context) (*goose.MigrationResult, error) {
	res, err := m.provider.Down(ctx)
	if err != nil {
		if errors.Is(err, goose.ErrNoNextVersion) {
			return nil, nil
		}
		return res, fmt.Errorf("migrate down: %w", err)
	}
	return res, nil
}

// Status reports every known migration and whether it is applied.
func (m *Migrator) Status(ctx context.Context) ([]*goose.MigrationStatus, error) {
	st, err := m.provider.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	return st, nil
}

// Migrate applies every pending migration to the database behind pool.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	m, err := NewMigrator(pool)
	if err != nil {
		return err
	}
	defer m.Close()
	_, err = m.Up(ctx)
	return err
}

// riverMigration is version 1 of Baton's history: River's own tables,
// created by River's migrator. River applies each of its versions in its own
// transaction (one of them adds an enum value, which PostgreSQL forbids using
// in the transaction that added it) and records them in river_migration, so
// an interrupted run resumes where it stopped.
func riverMigration() *goose.Migration {
	run := func(direction rivermigrate.Direction, target int) func(context.Context, *sql.DB) error {
		return func(ctx context.Context, sqlDB *sql.DB) error {
			migrator, err := rivermigrate.New(riverdatabasesql.New(sqlDB), nil)
			if err != nil {
				return fmt.Errorf("create river migrator: %w", err)
			}
			if _, err := migrator.Migrate(ctx, direction, &rivermigrate.MigrateOpts{TargetVersion: target}); err != nil {
				return fmt.Errorf("river migrate %s: %w", direction, err)
			}
			return nil
		}
	}
	return goose.NewGoMigration(1,
		&goose.GoFunc{RunDB: run(rivermigrate.DirectionUp, riverTargetVersion)},
		&goose.GoFunc{RunDB: run(rivermigrate.DirectionDown, -1)},
	)
}

// SchemaFS returns the embedded schema files, migrations/ and functions/
// (for checksums and tools).
func SchemaFS() fs.FS { return schemaFS }
