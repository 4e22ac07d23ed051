package devcluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// locationFile, inside Options.Dir, records where the cluster actually lives
// when that is not Options.Dir itself (see resolveHome).
const locationFile = "LOCATION"

// maxHomeLen bounds the length of the cluster home: the server's unix socket
// is <home>/.s.PGSQL.<port>, and a socket path has at most 107 bytes.
const maxHomeLen = 107 - len("/.s.PGSQL.65535")

// serverUser is the OS user the PostgreSQL binaries run as.
type serverUser struct {
	uid, gid int
	cred     *syscall.Credential // nil: the current user, no switch
}

// lookupServerUser returns the current user, or, when running as root (which
// initdb, pg_ctl and postgres refuse), the `postgres` user.
func lookupServerUser() (serverUser, error) {
	if os.Geteuid() != 0 {
		return serverUser{uid: os.Geteuid(), gid: os.Getegid()}, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return serverUser{}, fmt.Errorf("running as root, and PostgreSQL refuses to run as root: "+
			"found no `postgres` OS user to run it as (`apt-get install postgresql` creates one), "+
			"or run baton as an ordinary user: %w", err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return serverUser{}, fmt.Errorf("postgres user: uid %q: %w", u.Uid, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return serverUser{}, fmt.Errorf("postgres user: gid %q: %w", u.Gid, err)
	}
	return serverUser{
		uid:  uid,
		gid:  gid,
		cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}},
	}, nil
}

// resolveHome returns the directory that holds the cluster's data, socket and
// log: normally dir itself. Two things can rule dir out:
//
//   - running as root, the binaries run as the postgres user, which must be
//     able to reach dir; a repository under /root (mode 0700) or any other
//     closed directory is out of its reach;
//   - the unix socket path <dir>/.s.PGSQL.<port> would exceed the 107 bytes a
//     socket path may have.
//
// Then the home is os.TempDir()/baton-<uid>-<hash of dir>, and dir/LOCATION
// records it, so later starts (and people) find it even if TMPDIR changes.
// A cluster already initialized in dir stays there.
func resolveHome(dir string, su serverUser) (string, error) {
	if b, err := os.ReadFile(filepath.Join(dir, locationFile)); err == nil {
		home := strings.TrimSpace(string(b))
		if !filepath.IsAbs(home) {
			return "", fmt.Errorf("%s: %q is not an absolute path", filepath.Join(dir, locationFile), home)
		}
		return home, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read cluster location: %w", err)
	}

	if _, err := os.Stat(filepath.Join(dir, "data", "PG_VERSION")); err == nil {
		return dir, nil
	}
	reachable, err := ancestorsTraversable(dir, su)
	if err != nil {
		return "", err
	}
	if reachable && len(dir) <= maxHomeLen {
		return dir, nil
	}

	sum := sha256.Sum256([]byte(dir))
	home := filepath.Join(os.TempDir(), fmt.Sprintf("baton-%d-%s", os.Geteuid(), hex.EncodeToString(sum[:6])))
	if len(home) > maxHomeLen {
		return "", fmt.Errorf("cluster directory %s: path too long for a unix socket; set TMPDIR to a shorter path", home)
	}
	if err := os.WriteFile(filepath.Join(dir, locationFile), []byte(home+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("record cluster location: %w", err)
	}
	return home, nil
}

// ancestorsTraversable reports whether su may search every directory above
// dir (mode bits only; ACLs and supplementary groups are not considered, so
// the answer errs on the side of moving the cluster).
func ancestorsTraversable(dir string, su serverUser) (bool, error) {
	if su.cred == nil {
		return true, nil // the current user made dir, so it reaches it
	}
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return false, fmt.Errorf("check access to %s: %w", p, err)
		}
		if !canSearch(fi, su) {
			return false, nil
		}
		if p == filepath.Dir(p) {
			return true, nil
		}
	}
}

// canSearch reports whether su may search the directory fi by its mode bits.
func canSearch(fi fs.FileInfo, su serverUser) bool {
	perm := fi.Mode().Perm()
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !ok:
		return perm&0o001 != 0
	case int(st.Uid) == su.uid:
		return perm&0o100 != 0
	case int(st.Gid) == su.gid:
		return perm&0o010 != 0
	default:
		return perm&0o001 != 0
	}
}

// prepareHome creates home (mode 0700) and makes sure it belongs to su. A
// home owned by anyone but su or root is refused: under a shared temporary
// directory it could be someone else's trap.
func prepareHome(home string, su serverUser) error {
	if err := os.MkdirAll(home, 0o700); err != nil {
		return fmt.Errorf("create cluster directory: %w", err)
	}
	fi, err := os.Lstat(home)
	if err != nil {
		return fmt.Errorf("cluster directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("cluster directory %s is not a directory (a symlink?)", home)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || int(st.Uid) == su.uid {
		return nil
	}
	if st.Uid != 0 || su.cred == nil {
		return fmt.Errorf("cluster directory %s belongs to uid %d, not to the server's user (uid %d): remove it or fix its owner", home, st.Uid, su.uid)
	}
	// Made by root (by us, just now, or by an earlier run as root): hand the
	// whole tree to the server's user.
	err = filepath.WalkDir(home, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, su.uid, su.gid)
	})
	if err != nil {
		return fmt.Errorf("give cluster directory to the postgres user: %w", err)
	}
	return nil
}

// lockDir takes an exclusive advisory lock on dir/start.lock, so that two
// processes starting the same cluster (`baton dev` and a test run, or
// several test binaries) take turns. It polls so that ctx can end the wait.
// The returned function releases the lock.
func lockDir(ctx context.Context, dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, "start.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open cluster lock: %w", err)
	}
	ticker := time.NewTicker(50 * time.Millisecond)
	defer ticker.Stop()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil // closing the file releases the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock cluster directory: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for cluster lock %s: %w", f.Name(), ctx.Err())
		case <-ticker.C:
		}
	}
}
