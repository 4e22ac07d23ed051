package devcluster

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// take returns what was logged since the last call.
func (b *syncBuffer) take() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	b.buf.Reset()
	return s
}

// requireBinaries skips the test when the machine has no PostgreSQL server.
func requireBinaries(t *testing.T) {
	t.Helper()
	if _, err := FindBinDir(); err != nil {
		t.Skip(err)
	}
}

// startCluster starts a cluster and arranges for it to be stopped, and a
// relocated home to be removed, when the test ends.
func startCluster(t *testing.T, opts Options) *Cluster {
	t.Helper()
	ctx := context.Background()
	c, err := Start(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, c.Stop(ctx))
		if abs, _ := filepath.Abs(opts.Dir); c.Home() != abs {
			require.NoError(t, os.RemoveAll(c.Home()))
		}
	})
	return c
}

// requireQuery connects to url and checks that it reaches the baton
// database and answers SELECT 1.
func requireQuery(t *testing.T, url string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var one int
	var db string
	require.NoError(t, conn.QueryRow(ctx, "SELECT 1, current_database()").Scan(&one, &db))
	require.Equal(t, 1, one)
	require.Equal(t, "baton", db)
}

// traversableTempDir returns a temporary directory whose every ancestor the
// postgres user can reach (t.TempDir's parent is 0700), so the cluster stays
// in place even when the test runs as root.
func traversableTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "devcluster-test-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { require.NoError(t, os.RemoveAll(dir)) })
	return filepath.Join(dir, "pg")
}

func TestStartStopRestart(t *testing.T) {
	t.Parallel()
	requireBinaries(t)
	ctx := context.Background()

	// t.TempDir's parent is mode 0700: running as root, the postgres user
	// cannot reach it, so this also exercises the move to os.TempDir().
	dir := t.TempDir()
	var logs syncBuffer
	opts := Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(&logs, nil))}

	c := startCluster(t, opts)
	require.Contains(t, logs.take(), "initialized PostgreSQL dev cluster")
	require.Equal(t, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/baton?sslmode=disable", c.Port()), c.URL())
	require.Equal(t, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.Port()), c.AdminURL())
	requireQuery(t, c.URL())
	if os.Geteuid() == 0 {
		require.NotEqual(t, dir, c.Home(), "as root, a cluster under a 0700 directory moves")
		b, err := os.ReadFile(filepath.Join(dir, locationFile))
		require.NoError(t, err)
		require.Equal(t, c.Home(), strings.TrimSpace(string(b)))
	}
	require.NoError(t, c.Stop(ctx))
	require.NoError(t, c.Stop(ctx), "stopping a stopped cluster is fine")

	started := time.Now()
	c2 := startCluster(t, opts)
	elapsed := time.Since(started)
	require.NotContains(t, logs.take(), "initializ", "second start must not run initdb")
	require.Equal(t, c.Home(), c2.Home())
	require.Equal(t, c.Port(), c2.Port(), "a free previous port is kept")
	requireQuery(t, c2.URL())
	t.Logf("restart took %s", elapsed)
	require.NoError(t, c2.Stop(ctx))
}

func TestStartReusesOrRestartsRunningServer(t *testing.T) {
	t.Parallel()
	requireBinaries(t)
	ctx := context.Background()

	dir := traversableTempDir(t)
	var logs syncBuffer
	opts := Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	c1 := startCluster(t, opts)
	require.Equal(t, dir, c1.Home())
	logs.take()

	// A second Start (a new `baton dev` after a killed one) reuses the server.
	c2 := startCluster(t, opts)
	require.Contains(t, logs.take(), "reusing running PostgreSQL dev cluster")
	require.Equal(t, c1.Port(), c2.Port())
	requireQuery(t, c2.URL())

	// Asking for another port restarts it there.
	port, err := choosePort(0, 0)
	require.NoError(t, err)
	opts.Port = port
	c3 := startCluster(t, opts)
	require.Contains(t, logs.take(), "stopping running PostgreSQL dev cluster to restart it")
	require.Equal(t, port, c3.Port())
	requireQuery(t, c3.URL())
	_, err = pgx.Connect(ctx, c1.URL())
	require.Error(t, err, "the server on the old port is gone")
}

func TestStartRemovesStalePostmasterPID(t *testing.T) {
	t.Parallel()
	requireBinaries(t)
	ctx := context.Background()

	dir := traversableTempDir(t)
	c := startCluster(t, Options{Dir: dir})
	require.NoError(t, c.Stop(ctx))

	// A process that has exited, and a live process that is not postgres
	// (the PID of a crashed server given to another program).
	exited := exec.Command("true")
	require.NoError(t, exited.Run())
	for _, pid := range []int{exited.Process.Pid, os.Getpid()} {
		pidFile := filepath.Join(dir, "data", "postmaster.pid")
		content := fmt.Sprintf("%d\n%s\n1700000000\n%d\n%s\n127.0.0.1\n  1234567   7\nready   \n",
			pid, filepath.Join(dir, "data"), c.Port(), dir)
		require.NoError(t, os.WriteFile(pidFile, []byte(content), 0o600))

		require.NoError(t, c.Stop(ctx), "Stop must not signal a process that is not the server")

		c2, err := Start(ctx, Options{Dir: dir})
		require.NoError(t, err, "stale pid %d", pid)
		requireQuery(t, c2.URL())
		require.NoError(t, c2.Stop(ctx))
	}
}

func TestFindBinDir(t *testing.T) {
	t.Parallel()

	makeBin := func(t *testing.T, dir string) string {
		t.Helper()
		require.NoError(t, os.MkdirAll(dir, 0o755))
		for _, prog := range []string{"initdb", "pg_ctl", "postgres"} {
			require.NoError(t, os.WriteFile(filepath.Join(dir, prog), []byte("#!/bin/sh\n"), 0o755))
		}
		return dir
	}
	noPath := func(string) (string, error) { return "", exec.ErrNotFound }
	env := func(kv map[string]string) func(string) string {
		return func(k string) string { return kv[k] }
	}

	t.Run("PGBinDir", func(t *testing.T) {
		t.Parallel()
		bin := makeBin(t, filepath.Join(t.TempDir(), "bin"))
		dir, err := binSearch{getenv: env(map[string]string{"PG_BIN_DIR": bin}), lookPath: noPath, libRoot: t.TempDir()}.find()
		require.NoError(t, err)
		require.Equal(t, bin, dir)
	})

	t.Run("PGBinDirIncomplete", func(t *testing.T) {
		t.Parallel()
		bin := t.TempDir()
		_, err := binSearch{getenv: env(map[string]string{"PG_BIN_DIR": bin}), lookPath: noPath, libRoot: t.TempDir()}.find()
		require.ErrorIs(t, err, errNoBinaries)
		require.Contains(t, err.Error(), "lacks initdb, pg_ctl, postgres")
	})

	t.Run("InitdbOnPathThroughSymlink", func(t *testing.T) {
		t.Parallel()
		root := t.TempDir()
		bin := makeBin(t, filepath.Join(root, "lib", "bin"))
		link := filepath.Join(root, "usrbin", "initdb")
		require.NoError(t, os.MkdirAll(filepath.Dir(link), 0o755))
		require.NoError(t, os.Symlink(filepath.Join(bin, "initdb"), link))
		lookPath := func(name string) (string, error) {
			if name == "initdb" {
				return link, nil
			}
			return "", exec.ErrNotFound
		}
		dir, err := binSearch{getenv: env(nil), lookPath: lookPath, libRoot: t.TempDir()}.find()
		require.NoError(t, err)
		require.Equal(t, bin, dir)
	})

	t.Run("NewestLibVersion", func(t *testing.T) {
		t.Parallel()
		lib := t.TempDir()
		makeBin(t, filepath.Join(lib, "9.6", "bin"))
		makeBin(t, filepath.Join(lib, "14", "bin"))
		want := makeBin(t, filepath.Join(lib, "16", "bin"))
		require.NoError(t, os.MkdirAll(filepath.Join(lib, "17", "bin"), 0o755)) // client only
		require.NoError(t, os.MkdirAll(filepath.Join(lib, "extra"), 0o755))
		dir, err := binSearch{getenv: env(nil), lookPath: noPath, libRoot: lib}.find()
		require.NoError(t, err)
		require.Equal(t, want, dir)
	})

	t.Run("NothingFound", func(t *testing.T) {
		t.Parallel()
		_, err := binSearch{getenv: env(nil), lookPath: noPath, libRoot: filepath.Join(t.TempDir(), "none")}.find()
		require.ErrorIs(t, err, errNoBinaries)
		require.Equal(t, "PostgreSQL server binaries not found: install them with `apt-get install postgresql` (Debian) or set PG_BIN_DIR", err.Error())
	})
}

func TestMajorVersion(t *testing.T) {
	t.Parallel()
	for out, want := range map[string]string{
		"postgres (PostgreSQL) 15.19 (Debian 15.19-0+deb12u1)\n": "15",
		"postgres (PostgreSQL) 17beta1":                          "17",
		"postgres (PostgreSQL) 9.6.24":                           "9.6",
	} {
		got, err := majorVersion(out)
		require.NoError(t, err)
		require.Equal(t, want, got, out)
	}
	_, err := majorVersion("nonsense")
	require.Error(t, err)
}

func TestResolveHome(t *testing.T) {
	t.Parallel()
	current := serverUser{uid: os.Geteuid(), gid: os.Getegid()}

	t.Run("InPlace", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		home, err := resolveHome(dir, current)
		require.NoError(t, err)
		require.Equal(t, dir, home)
	})

	t.Run("Recorded", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, locationFile), []byte("/somewhere/else\n"), 0o644))
		home, err := resolveHome(dir, current)
		require.NoError(t, err)
		require.Equal(t, "/somewhere/else", home)
	})

	t.Run("Unreachable", func(t *testing.T) {
		t.Parallel()
		parent := t.TempDir()
		require.NoError(t, os.Chmod(parent, 0o700))
		dir := filepath.Join(parent, "pg")
		require.NoError(t, os.Mkdir(dir, 0o755))
		// Someone who neither owns parent nor is in its group.
		other := serverUser{uid: 65001, gid: 65001, cred: &syscall.Credential{Uid: 65001, Gid: 65001}}
		home, err := resolveHome(dir, other)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(home, filepath.Join(os.TempDir(), "baton-"+strconv.Itoa(os.Geteuid())+"-")), home)
		b, err := os.ReadFile(filepath.Join(dir, locationFile))
		require.NoError(t, err)
		require.Equal(t, home+"\n", string(b))

		again, err := resolveHome(dir, other)
		require.NoError(t, err)
		require.Equal(t, home, again)
	})

	t.Run("TooLongForSocket", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), strings.Repeat("d", 100))
		require.NoError(t, os.Mkdir(dir, 0o755))
		home, err := resolveHome(dir, current)
		require.NoError(t, err)
		require.LessOrEqual(t, len(home), maxHomeLen)
		require.NotEqual(t, dir, home)
	})
}

func TestChildEnv(t *testing.T) {
	t.Parallel()
	got := childEnv([]string{"PATH=/bin", "PGDATA=/x", "PGPORT=1", "HOME=/root", "PG_BIN_DIR=/y"})
	require.Equal(t, []string{"PATH=/bin", "HOME=/root"}, got)
}

func TestEnsureInclude(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "postgresql.conf")
	require.NoError(t, os.WriteFile(path, []byte("max_connections = 100\n"), 0o600))
	require.NoError(t, ensureInclude(path))
	require.NoError(t, ensureInclude(path))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, 1, strings.Count(string(b), includeLine))
}

func TestChoosePort(t *testing.T) {
	t.Parallel()
	port, err := choosePort(5555, 0)
	require.NoError(t, err)
	require.Equal(t, 5555, port)

	free, err := choosePort(0, 0)
	require.NoError(t, err)
	require.Positive(t, free)

	again, err := choosePort(0, free)
	require.NoError(t, err)
	if again != free {
		// Another process (parallel tests start clusters too) may have taken
		// the port between the two calls: then choosing another is right.
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(free)))
		if err == nil {
			_ = ln.Close()
			t.Fatalf("port %d was free but not kept (got %d)", free, again)
		}
	}
}

func TestStartConcurrentSameDir(t *testing.T) {
	t.Parallel()
	requireBinaries(t)
	ctx := context.Background()

	// Two starts at once (two test binaries sharing a cluster): they take
	// turns, one initializes and starts, the other reuses.
	dir := traversableTempDir(t)
	clusters := make([]*Cluster, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range clusters {
		wg.Go(func() { clusters[i], errs[i] = Start(ctx, Options{Dir: dir}) })
	}
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	require.Equal(t, clusters[0].Port(), clusters[1].Port())
	requireQuery(t, clusters[1].URL())
	require.NoError(t, clusters[0].Stop(ctx))
	require.NoError(t, clusters[1].Stop(ctx), "already stopped through the other handle")
}
