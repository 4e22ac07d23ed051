package db_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/baton-run/baton/db"
	"github.com/baton-run/baton/internal/testdb"
)

// fakeTimescaleControl and fakeTimescaleScript make a stand-in for a
// TimescaleDB that is installed but not in shared_preload_libraries: the
// real one then raises a FATAL error from CREATE EXTENSION, which closes the
// connection and cannot be caught by an exception handler. Terminating the
// backend from the extension script does the same.
const (
	fakeTimescaleControl = "# Fake installed by Baton's db tests (TestMigrateWithTimescaleDBInstalledButNotPreloaded); safe to delete.\n" +
		"comment = 'fake timescaledb: installed but not preloaded'\n" +
		"default_version = '0.0.1'\n" +
		"relocatable = true\n"
	fakeTimescaleScript = "-- Fake installed by Baton's db tests; safe to delete.\n" +
		"SELECT pg_terminate_backend(pg_backend_pid());\n"
)

// TestMigrateWithTimescaleDBInstalledButNotPreloaded migrates a brand-new
// database on a server where timescaledb is available but not preloaded:
// the migration must not try CREATE EXTENSION (its FATAL error would close
// the connection and fail the migration) and must fall back to native
// partitioning of task_events.
func TestMigrateWithTimescaleDBInstalledButNotPreloaded(t *testing.T) {
	ctx := context.Background()
	url := testdb.NewEmpty(t)
	pool := testdb.NewPoolFor(t, url)

	extDir := localExtensionDir(ctx, t, pool)
	var preload string
	if err := pool.QueryRow(ctx, "SELECT current_setting('shared_preload_libraries')").Scan(&preload); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(preload, "timescaledb") {
		t.Skipf("timescaledb is preloaded on the test server (%q): nothing to simulate", preload)
	}

	// The fake files are visible to every database on the server, so they
	// exist only while this one migration runs.
	remove := installFakeTimescaleDB(t, extDir)
	var available bool
	if err := pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')").Scan(&available); err != nil {
		remove()
		t.Fatal(err)
	}
	migrateCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err := db.Migrate(migrateCtx, pool)
	cancel()
	remove()
	if !available {
		t.Fatal("the fake timescaledb is not in pg_available_extensions: the test simulates nothing")
	}
	if err != nil {
		t.Fatalf("migrate with timescaledb installed but not preloaded: %v", err)
	}

	var relkind string
	if err := pool.QueryRow(ctx, "SELECT relkind::text FROM pg_class WHERE oid = 'baton.task_events'::regclass").Scan(&relkind); err != nil {
		t.Fatal(err)
	}
	if relkind != "p" {
		t.Fatalf("baton.task_events has relkind %q; want %q (natively partitioned)", relkind, "p")
	}
	var extension bool
	if err := pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')").Scan(&extension); err != nil {
		t.Fatal(err)
	}
	if extension {
		t.Fatal("the timescaledb extension was created")
	}
}

// localExtensionDir returns the test server's extension directory when the
// server runs on this host and this process may write there; else it skips t.
func localExtensionDir(ctx context.Context, t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var shareDir string
	if err := pool.QueryRow(ctx, "SELECT setting FROM pg_config WHERE name = 'SHAREDIR'").Scan(&shareDir); err != nil {
		t.Skipf("cannot read the test server's SHAREDIR from pg_config: %v", err)
	}
	extDir := filepath.Join(shareDir, "extension")
	// plpgsql ships with every server: finding its control file here means
	// this host's directory is the server's.
	if _, err := os.Stat(filepath.Join(extDir, "plpgsql.control")); err != nil {
		t.Skipf("the test server's extension directory %s is not on this host (%v)", extDir, err)
	}
	if os.Geteuid() != 0 {
		t.Skipf("not root: cannot write fake extension files into %s", extDir)
	}
	return extDir
}

// installFakeTimescaleDB writes the fake extension's files into extDir and
// returns a function that removes them; t.Cleanup removes them too, so they
// go even when the test fails or panics. Existing files (a real TimescaleDB)
// are never overwritten: the test skips instead.
func installFakeTimescaleDB(t *testing.T, extDir string) (remove func()) {
	t.Helper()
	files := map[string]string{
		filepath.Join(extDir, "timescaledb.control"):    fakeTimescaleControl,
		filepath.Join(extDir, "timescaledb--0.0.1.sql"): fakeTimescaleScript,
	}
	var written []string
	remove = func() {
		for _, path := range written {
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("remove fake timescaledb file: %v", err)
			}
		}
		written = nil
	}
	t.Cleanup(remove)
	for path, content := range files {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, os.ErrExist) {
			remove()
			t.Skipf("%s exists (a TimescaleDB is installed): not replacing it with a fake", path)
		}
		if err != nil {
			remove()
			t.Skipf("cannot write the test server's extension directory: %v", err)
		}
		written = append(written, path)
		_, err = f.WriteString(content)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			remove()
			t.Fatalf("write %s: %v", path, err)
		}
	}
	return remove
}
