// Package devcluster runs a private PostgreSQL cluster from the machine's
// PostgreSQL server binaries, for `baton dev` and for tests when no database
// URL is given. It is a development convenience, not a way to run
// PostgreSQL in production: the cluster trusts every local connection and
// turns durability off (fsync, synchronous_commit, full_page_writes) for
// speed, so a machine crash can lose or corrupt its data (unless
// Options.Durable, which benchmarks use to keep the standard settings).
//
// Layout, under the cluster home (Options.Dir, see Start for when it moves):
//
//	data/            the data directory (initdb on first use)
//	data/baton.conf  settings rewritten on every start (port, socket, ...)
//	postgres.log     the server log
//	.s.PGSQL.<port>  the unix socket
//	start.lock       serializes starts (always in Options.Dir)
package devcluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const (
	// databaseName is the database Start creates and URL points at.
	databaseName = "baton"

	// confFile, inside the data directory, holds the settings Start writes
	// on every start; postgresql.conf includes it.
	confFile    = "baton.conf"
	includeLine = "include_if_exists = '" + confFile + "'"

	// readyTimeout bounds the wait for a started server to accept
	// connections; the first start after a crash may replay WAL first.
	readyTimeout = 60 * time.Second
)

// Options configure Start.
type Options struct {
	// Dir is the cluster home, e.g. "./.baton/pg": the data directory is
	// Dir/data, and the unix socket and the server log are in Dir. Required.
	Dir string

	// Port is the TCP port on 127.0.0.1. Zero picks one: the port of the
	// previous start when it is still free, else any free port.
	Port int

	// Logger receives progress messages. Nil discards them.
	Logger *slog.Logger

	// Durable keeps PostgreSQL's standard settings (fsync, synchronous
	// commit, full-page writes, autovacuum: all on) instead of trading
	// durability for speed, for benchmarks whose figures should hold on a
	// production server.
	Durable bool
}

// Cluster is a running local PostgreSQL cluster started by Start.
type Cluster struct {
	home    string
	dataDir string
	logFile string
	port    int
	run     runner
	logger  *slog.Logger
	durable bool
}

// Start starts the cluster in opts.Dir and returns once it accepts
// connections and has a database named "baton".
//
// On first use it runs initdb (trust authentication, UTF8, superuser
// "postgres"). The server listens on 127.0.0.1 only.
//
// If a server from an earlier Start still runs on the data directory (a
// `baton dev` that was killed, another test binary), Start reuses it when it
// listens on opts.Port (any port when opts.Port is 0) and otherwise stops it
// and starts afresh: reusing is fast and never cuts off another process
// that is using the cluster, and one Cluster's Stop stops it for everyone
// sharing the directory. A postmaster.pid whose process is gone (or is no
// longer a postgres process) is stale and removed. Starts on the same
// directory take turns through a lock file, Dir/start.lock.
//
// PostgreSQL refuses to run as root. Running as root, Start runs the
// binaries as the OS user "postgres" (an error if there is none) and gives
// the cluster home to that user. That user must be able to reach the home,
// which it cannot under a 0700 directory such as /root: then, and when the
// home's path is too long for a unix socket, the home moves to
// os.TempDir()/baton-<uid>-<hash of Dir>, and Dir/LOCATION records where.
// Cluster.Home tells the home in use.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.Dir == "" {
		return nil, errors.New("devcluster: Options.Dir is required")
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("devcluster: invalid port %d", opts.Port)
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("devcluster: %w", err)
	}
	binDir, err := FindBinDir()
	if err != nil {
		return nil, err
	}
	su, err := lookupServerUser()
	if err != nil {
		return nil, err
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("devcluster: create %s: %w", dir, err)
	}
	unlock, err := lockDir(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("devcluster: %w", err)
	}
	defer unlock()

	home, err := resolveHome(dir, su)
	if err != nil {
		return nil, fmt.Errorf("devcluster: %w", err)
	}
	// pg_ctl hands the data directory and log path to a shell in double
	// quotes; refuse the characters that would break out of them.
	if strings.ContainsAny(home, "\"\\$`\n") {
		return nil, fmt.Errorf("devcluster: cluster directory %q: path must not contain \", \\, $, ` or newlines", home)
	}
	if err := prepareHome(home, su); err != nil {
		return nil, fmt.Errorf("devcluster: %w", err)
	}

	c := &Cluster{
		home:    home,
		dataDir: filepath.Join(home, "data"),
		logFile: filepath.Join(home, "postgres.log"),
		run:     runner{binDir: binDir, workDir: home, cred: su.cred},
		logger:  logger,
		durable: opts.Durable,
	}
	if err := c.init(ctx, su); err != nil {
		return nil, fmt.Errorf("devcluster: %w", err)
	}

	reused, err := c.adoptRunning(ctx, opts.Port)
	if err != nil {
		return nil, fmt.Errorf("devcluster: %w", err)
	}
	if !reused {
		if err := c.start(ctx, opts.Port, su); err != nil {
			return nil, fmt.Errorf("devcluster: %w", err)
		}
	}
	if err := c.ensureDatabase(ctx); err != nil {
		return nil, fmt.Errorf("devcluster: %w", err)
	}
	return c, nil
}

// URL returns the connection URL of the "baton" database.
func (c *Cluster) URL() string { return c.urlFor(databaseName) }

// AdminURL returns the connection URL of the "postgres" database, for
// creating and dropping databases.
func (c *Cluster) AdminURL() string { return c.urlFor("postgres") }

// Port returns the TCP port the cluster listens on, on 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// Home returns the directory that holds the cluster's data directory, unix
// socket and log: Options.Dir, or the location recorded in
// Options.Dir/LOCATION (see Start).
func (c *Cluster) Home() string { return c.home }

// Stop stops the server (pg_ctl stop -m fast: open sessions are ended, the
// data is kept) and waits until it is gone. Stopping a cluster that is not
// running is not an error.
func (c *Cluster) Stop(ctx context.Context) error {
	pm, found, err := readPostmasterPID(c.dataDir)
	if err != nil {
		return fmt.Errorf("devcluster: stop: %w", err)
	}
	if !found || !isPostgresProcess(pm.pid) {
		return nil
	}
	if err := c.pgCtlStop(ctx); err != nil {
		return fmt.Errorf("devcluster: %w", err)
	}
	c.logger.Info("PostgreSQL dev cluster stopped", "home", c.home)
	return nil
}

func (c *Cluster) urlFor(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, database)
}

// init runs initdb unless the data directory exists, and checks that an
// existing one was made by the same major version as the binaries.
func (c *Cluster) init(ctx context.Context, su serverUser) error {
	out, err := c.run.run(ctx, "postgres", "-V")
	if err != nil {
		return err
	}
	major, err := majorVersion(out)
	if err != nil {
		return err
	}

	dataVersion, err := os.ReadFile(filepath.Join(c.dataDir, "PG_VERSION"))
	if err == nil {
		if v := strings.TrimSpace(string(dataVersion)); v != major {
			return fmt.Errorf("the cluster in %s was made by PostgreSQL %s, but the binaries in %s are PostgreSQL %s: "+
				"remove %s to start over (its data is lost) or set PG_BIN_DIR to PostgreSQL %s's bin directory",
				c.dataDir, v, c.run.binDir, major, c.home, v)
		}
		return ensureInclude(filepath.Join(c.dataDir, "postgresql.conf"))
	}
	if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read PG_VERSION: %w", err)
	}
	if _, err := os.Stat(c.dataDir); err == nil {
		return fmt.Errorf("%s exists but holds no PG_VERSION: not a data directory; remove it to start over", c.dataDir)
	}

	// initdb into a scratch directory and rename it when complete, so an
	// interrupted initdb never leaves a half-made data directory behind.
	started := time.Now()
	c.logger.Info("initializing PostgreSQL dev cluster", "dir", c.dataDir, "bin_dir", c.run.binDir)
	scratch := c.dataDir + ".init"
	if err := os.RemoveAll(scratch); err != nil {
		return fmt.Errorf("remove leftover %s: %w", scratch, err)
	}
	args := []string{"-D", scratch, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"}
	if n, err := strconv.Atoi(major); err == nil && n >= 14 {
		args = append(args, "--no-instructions")
	}
	if _, err := c.run.run(ctx, "initdb", args...); err != nil {
		return err
	}
	if err := ensureInclude(filepath.Join(scratch, "postgresql.conf")); err != nil {
		return err
	}
	if err := os.Rename(scratch, c.dataDir); err != nil {
		return fmt.Errorf("move new data directory in place: %w", err)
	}
	c.logger.Info("initialized PostgreSQL dev cluster", "dir", c.dataDir, "elapsed", time.Since(started).Round(time.Millisecond))
	return nil
}

// adoptRunning deals with a server that already runs (or ran) on the data
// directory: it reuses a live one on an acceptable port (reporting true),
// stops a live one on another port, and removes a stale postmaster.pid.
func (c *Cluster) adoptRunning(ctx context.Context, port int) (bool, error) {
	pm, found, err := readPostmasterPID(c.dataDir)
	if err != nil || !found {
		return false, err
	}
	if !isPostgresProcess(pm.pid) {
		c.logger.Warn("removing stale postmaster.pid (its server is gone)", "pid", pm.pid, "dir", c.dataDir)
		if err := os.Remove(filepath.Join(c.dataDir, "postmaster.pid")); err != nil && !errors.Is(err, os.ErrNotExist) {
			return false, fmt.Errorf("remove stale postmaster.pid: %w", err)
		}
		return false, nil
	}
	if pm.status != "stopping" && pm.port != 0 && (port == 0 || port == pm.port) {
		c.port = pm.port
		if err := c.waitReady(ctx); err != nil {
			return false, err
		}
		c.logger.Info("reusing running PostgreSQL dev cluster", "pid", pm.pid, "url", c.URL())
		return true, nil
	}
	c.logger.Info("stopping running PostgreSQL dev cluster to restart it", "pid", pm.pid, "port", pm.port, "wanted_port", port)
	return false, c.pgCtlStop(ctx)
}

// start writes the settings and starts the server with pg_ctl.
func (c *Cluster) start(ctx context.Context, port int, su serverUser) error {
	started := time.Now()
	port, err := choosePort(port, previousPort(filepath.Join(c.dataDir, confFile)))
	if err != nil {
		return err
	}
	c.port = port
	if err := c.writeConf(su); err != nil {
		return err
	}
	_, err = c.run.run(ctx, "pg_ctl", "start", "-D", c.dataDir, "-l", c.logFile, "-w", "-t", strconv.Itoa(int(readyTimeout.Seconds())), "-s")
	if err != nil {
		return fmt.Errorf("%w\nserver log %s ends with:\n%s", err, c.logFile, logTail(c.logFile, 20))
	}
	if err := c.waitReady(ctx); err != nil {
		return err
	}
	c.logger.Info("PostgreSQL dev cluster started", "url", c.URL(), "home", c.home, "elapsed", time.Since(started).Round(time.Millisecond))
	return nil
}

// pgCtlStop runs pg_ctl stop -m fast and waits for the server to exit.
func (c *Cluster) pgCtlStop(ctx context.Context) error {
	_, err := c.run.run(ctx, "pg_ctl", "stop", "-D", c.dataDir, "-m", "fast", "-w", "-t", strconv.Itoa(int(readyTimeout.Seconds())), "-s")
	if err != nil {
		if _, found, _ := readPostmasterPID(c.dataDir); !found {
			return nil // it exited on its own meanwhile
		}
		return err
	}
	return nil
}

// writeConf writes the settings every start applies, overriding
// postgresql.conf.
func (c *Cluster) writeConf(su serverUser) error {
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	lines := []string{
		"# Written by baton (db/devcluster) on every start: edits are overwritten.",
		"listen_addresses = '127.0.0.1'",
		"port = " + strconv.Itoa(c.port),
		"unix_socket_directories = " + quote(c.home),
		"max_connections = 200",
	}
	if !c.durable {
		lines = append(lines,
			"# A throwaway development cluster: durability traded for speed.",
			"fsync = off",
			"synchronous_commit = off",
			"full_page_writes = off")
	}
	conf := strings.Join(append(lines, ""), "\n")
	path := filepath.Join(c.dataDir, confFile)
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", confFile, err)
	}
	if su.cred != nil {
		if err := os.Chown(path, su.uid, su.gid); err != nil {
			return fmt.Errorf("chown %s: %w", confFile, err)
		}
	}
	return nil
}

// waitReady polls until the server accepts connections to the "postgres"
// database, or readyTimeout passes.
func (c *Cluster) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	timer := time.NewTimer(0)
	defer timer.Stop()
	var lastErr error
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("PostgreSQL on 127.0.0.1:%d does not accept connections: %w (last error: %v)\nserver log %s ends with:\n%s",
				c.port, ctx.Err(), lastErr, c.logFile, logTail(c.logFile, 20))
		case <-timer.C:
		}
		attemptCtx, cancelAttempt := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(attemptCtx, c.AdminURL())
		if err == nil {
			err = conn.Close(attemptCtx)
		}
		cancelAttempt()
		if err == nil {
			return nil
		}
		lastErr = err
		timer.Reset(50 * time.Millisecond)
	}
}

// ensureDatabase creates the "baton" database unless it exists.
func (c *Cluster) ensureDatabase(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, c.AdminURL())
	if err != nil {
		return fmt.Errorf("connect to create database %s: %w", databaseName, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", databaseName).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %s: %w", databaseName, err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{databaseName}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database: made meanwhile
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database %s: %w", databaseName, err)
	}
	c.logger.Info("created database", "database", databaseName)
	return nil
}

// ensureInclude makes postgresql.conf include baton.conf.
func ensureInclude(postgresqlConf string) error {
	b, err := os.ReadFile(postgresqlConf)
	if err != nil {
		return fmt.Errorf("read postgresql.conf: %w", err)
	}
	for line := range strings.Lines(string(b)) {
		if strings.TrimSpace(line) == includeLine {
			return nil
		}
	}
	f, err := os.OpenFile(postgresqlConf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open postgresql.conf: %w", err)
	}
	_, err = fmt.Fprintf(f, "\n# Settings baton (db/devcluster) writes on every start.\n%s\n", includeLine)
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return fmt.Errorf("append to postgresql.conf: %w", err)
	}
	return nil
}

// previousPort returns the port in a baton.conf from an earlier start, or 0.
func previousPort(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		if v, ok := strings.CutPrefix(scanner.Text(), "port = "); ok {
			port, _ := strconv.Atoi(strings.TrimSpace(v))
			return port
		}
	}
	return 0
}

// choosePort returns requested when set, else previous when it is free on
// 127.0.0.1, else a free port the system picks.
func choosePort(requested, previous int) (int, error) {
	if requested != 0 {
		return requested, nil
	}
	try := []string{"127.0.0.1:0"}
	if previous > 0 {
		try = []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(previous)), "127.0.0.1:0"}
	}
	var err error
	for _, addr := range try {
		var l net.Listener
		l, err = net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		port := l.Addr().(*net.TCPAddr).Port
		if err := l.Close(); err != nil {
			return 0, fmt.Errorf("pick port: %w", err)
		}
		return port, nil
	}
	return 0, fmt.Errorf("pick a free port on 127.0.0.1: %w", err)
}

// logTail returns the last n lines of the server log, for error messages.
func logTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer f.Close()
	const maxBytes = 16 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > maxBytes {
		if _, err := f.Seek(-maxBytes, io.SeekEnd); err != nil {
			return "(unreadable log: " + err.Error() + ")"
		}
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return "(unreadable log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
