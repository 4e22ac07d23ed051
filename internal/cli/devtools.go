package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/baton-run/baton/api"
	"github.com/baton-run/baton/db/devcluster"
	"github.com/baton-run/baton/internal/testdb"
)

// testDB prints the admin URL of a PostgreSQL server for the test suite:
// BATON_TEST_DATABASE_URL when set, the machine's server on 127.0.0.1:5432
// when it answers, or else a private cluster under .baton/test-pg, which
// it starts and leaves running for later test runs.
func (env *environment) testDB(ctx context.Context, args []string) error {
	fs := env.flags("testdb")
	home := fs.String("home", ".baton", "where a private test cluster lives")
	bench := fs.Bool("bench", false, "always start a private cluster with PostgreSQL's standard settings "+
		"(fsync, synchronous_commit and autovacuum on) in HOME/bench-pg, for benchmarks")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *bench {
		cluster, err := devcluster.Start(ctx, devcluster.Options{Dir: filepath.Join(*home, "bench-pg"), Logger: env.logger, Durable: true})
		if err != nil {
			return fmt.Errorf("start bench cluster: %w", err)
		}
		fmt.Fprintln(env.stdout, cluster.AdminURL())
		return nil
	}
	candidate := testdb.AdminURL()
	pingCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	conn, err := pgx.Connect(pingCtx, candidate)
	cancel()
	if err == nil {
		conn.Close(ctx)
		fmt.Fprintln(env.stdout, candidate)
		return nil
	}
	env.logger.Info("no PostgreSQL answers; starting a private test cluster", "tried", redactURL(candidate), "error", err.Error())
	cluster, err := devcluster.Start(ctx, devcluster.Options{Dir: filepath.Join(*home, "test-pg"), Logger: env.logger})
	if err != nil {
		return fmt.Errorf("start test cluster: %w", err)
	}
	fmt.Fprintln(env.stdout, cluster.AdminURL())
	return nil
}

// openAPI writes the OpenAPI documents (openapi.json, openapi.yaml).
func (env *environment) openAPI(_ context.Context, args []string) error {
	fs := env.flags("openapi")
	out := fs.String("o", "api", "output directory")
	versions := fs.Bool("versions", false, "write only each API version's document, 3.1 and 3.0, to DIR/v1 and DIR/v2")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *versions {
		return api.WriteVersionSpecs(*out)
	}
	return api.WriteSpec(*out)
}

func redactURL(raw string) string {
	cfg, err := pgx.ParseConfig(raw)
	if err != nil {
		return "(unparsable)"
	}
	return fmt.Sprintf("%s:%d", cfg.Host, cfg.Port)
}
