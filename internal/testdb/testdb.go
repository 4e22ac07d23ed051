// Package testdb gives each test its own freshly migrated PostgreSQL
// database, cloned from a template database that is migrated once per
// migration set. The server is the one at BATON_TEST_DATABASE_URL, or the
// machine's PostgreSQL at 127.0.0.1:5432 when that variable is unset.
package testdb

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/baton-run/baton/db"
)

// EnvURL names the variable holding the admin URL of the test server.
const EnvURL = "BATON_TEST_DATABASE_URL"

const defaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// MaxOpenDatabases is how many test databases one test process keeps at
// once; New and NewEmpty wait for one to be dropped beyond it. With
// PoolMaxConns per pool this bounds the connections one test binary opens
// (about MaxOpenDatabases × PoolMaxConns, plus River's few) whatever the
// machine's core count and -parallel, so that `go test ./...`, which runs
// several test binaries at once, stays well under a server's 100
// connections. A test holds at most one database at a time.
const MaxOpenDatabases = 4

// PoolMaxConns caps the pools NewPool and NewPoolFor open: enough for an
// engine plus a River client with tens of workers (they wait for a
// connection, they do not fail). A test that needs more opens its own pool.
const PoolMaxConns = 8

// openDatabases is the semaphore behind MaxOpenDatabases. It is shared by
// every test of the process on purpose: the limit is per process.
var openDatabases = make(chan struct{}, MaxOpenDatabases)

// AdminURL returns the URL of the test server's maintenance database.
func AdminURL() string {
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	return defaultURL
}

// New creates a migrated database for t, returns its URL, and drops it when
// t ends.
func New(t testing.TB) string {
	t.Helper()
	return create(t, true)
}

// NewEmpty creates an empty database for t (nothing migrated, not cloned
// from the template), returns its URL, and drops it when t ends. It is for
// tests of the migrations themselves.
func NewEmpty(t testing.TB) string {
	t.Helper()
	return create(t, false)
}

// create makes a database for t, cloned from the migrated template when
// migrated is true, and registers its drop.
func create(t testing.TB, migrated bool) string {
	t.Helper()
	acquireSlot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		t.Fatalf("testdb: connect to %s: %v (set %s, or run `make test`, which finds or starts a PostgreSQL)", redact(AdminURL()), err, EnvURL)
	}
	defer admin.Close(ctx)

	name := "baton_test_" + randomSuffix()
	stmt := "CREATE DATABASE " + name
	if migrated {
		template, err := ensureTemplate(ctx, admin)
		if err != nil {
			t.Fatalf("testdb: %v", err)
		}
		stmt += " TEMPLATE " + template
	}
	if _, err := admin.Exec(ctx, stmt); err != nil {
		t.Fatalf("testdb: create database: %v", err)
	}
	t.Cleanup(func() { drop(t, name) })
	return withDatabase(AdminURL(), name)
}

// acquireSlot waits for one of the MaxOpenDatabases slots and gives it back
// when t ends, after the database is dropped (cleanups run last-in first-out).
func acquireSlot(t testing.TB) {
	t.Helper()
	select {
	case openDatabases <- struct{}{}:
	case <-time.After(10 * time.Minute):
		t.Fatalf("testdb: waited 10 minutes for one of %d test database slots (does a test hold more than one database?)", MaxOpenDatabases)
	}
	t.Cleanup(func() { <-openDatabases })
}

// drop removes the database name, logging (not failing) when it cannot.
func drop(t testing.TB, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		t.Logf("testdb: drop %s: %v", name, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name)); err != nil {
		t.Logf("testdb: drop %s: %v", name, err)
	}
}

// NewPool is New plus a pool on the new database, closed when t ends.
func NewPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return NewPoolFor(t, New(t))
}

// NewPoolFor opens a pool of at most PoolMaxConns connections on the
// database at url, closed when t ends.
func NewPoolFor(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := db.Open(context.Background(), url, db.PoolOptions{MaxConns: PoolMaxConns, ApplicationName: "baton-test"})
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// ensureTemplate creates and migrates the template database for the
// current migrations unless it exists. An advisory lock serialises test
// processes that race to create it.
func ensureTemplate(ctx context.Context, admin *pgx.Conn) (string, error) {
	sum, err := migrationsChecksum()
	if err != nil {
		return "", err
	}
	name := "baton_tpl_" + sum[:16]
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock(7412290001)"); err != nil {
		return "", fmt.Errorf("lock template creation: %w", err)
	}
	defer func() { _, _ = admin.Exec(context.Background(), "SELECT pg_advisory_unlock(7412290001)") }()

	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate)", name).Scan(&exists); err != nil {
		return "", fmt.Errorf("look up template: %w", err)
	}
	if exists {
		return name, nil
	}
	if _, err := admin.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name)); err != nil {
		return "", fmt.Errorf("drop half-made template: %w", err)
	}
	if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s", name)); err != nil {
		return "", fmt.Errorf("create template: %w", err)
	}
	pool, err := db.Open(ctx, withDatabase(AdminURL(), name), db.PoolOptions{MaxConns: 2})
	if err != nil {
		return "", err
	}
	err = db.Migrate(ctx, pool)
	pool.Close()
	if err != nil {
		return "", fmt.Errorf("migrate template: %w", err)
	}
	if _, err := admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s WITH is_template true", name)); err != nil {
		return "", fmt.Errorf("mark template: %w", err)
	}
	return name, nil
}

func migrationsChecksum() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(db.SchemaFS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(db.SchemaFS(), path)
		if err != nil {
			return err
		}
		h.Write([]byte(path))
		h.Write(data)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash schema files: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func withDatabase(rawURL, name string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	u.Path = "/" + name
	return u.String()
}

func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
