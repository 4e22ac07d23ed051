package devcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// errNoBinaries is the error FindBinDir returns when it finds nothing: it
// says what to install.
var errNoBinaries = errors.New("PostgreSQL server binaries not found: install them with `apt-get install postgresql` (Debian) or set PG_BIN_DIR")

// FindBinDir returns the directory holding the PostgreSQL server programs
// initdb, pg_ctl and postgres. It looks, in order:
//
//  1. in $PG_BIN_DIR when set (an error if it lacks a program);
//  2. on PATH: in `pg_config --bindir`, then beside initdb (symlinks resolved);
//  3. in the newest /usr/lib/postgresql/*/bin (Debian and Ubuntu keep the
//     server programs there, off PATH).
func FindBinDir() (string, error) {
	return binSearch{
		getenv:   os.Getenv,
		lookPath: exec.LookPath,
		libRoot:  "/usr/lib/postgresql",
	}.find()
}

// binSearch is FindBinDir with its environment injected, for tests.
type binSearch struct {
	getenv   func(string) string
	lookPath func(string) (string, error)
	libRoot  string // holds one <version>/bin directory per installed version
}

func (s binSearch) find() (string, error) {
	if dir := s.getenv("PG_BIN_DIR"); dir != "" {
		if missing := missingPrograms(dir); len(missing) > 0 {
			return "", fmt.Errorf("PG_BIN_DIR=%s lacks %s: %w", dir, strings.Join(missing, ", "), errNoBinaries)
		}
		return filepath.Abs(dir)
	}

	if pgConfig, err := s.lookPath("pg_config"); err == nil {
		if dir, err := pgConfigBinDir(pgConfig); err == nil && len(missingPrograms(dir)) == 0 {
			return dir, nil
		}
	}
	if initdb, err := s.lookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(initdb); err == nil {
			if dir := filepath.Dir(real); len(missingPrograms(dir)) == 0 {
				return dir, nil
			}
		}
	}

	versions, _ := os.ReadDir(s.libRoot) // a missing root just means nothing installed there
	var dirs []string
	for _, v := range versions {
		if _, ok := parseVersion(v.Name()); ok {
			dirs = append(dirs, v.Name())
		}
	}
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := parseVersion(a)
		vb, _ := parseVersion(b)
		return slices.Compare(vb, va) // newest first
	})
	for _, v := range dirs {
		dir := filepath.Join(s.libRoot, v, "bin")
		if len(missingPrograms(dir)) == 0 {
			return dir, nil
		}
	}
	return "", errNoBinaries
}

// pgConfigBinDir asks pg_config for its bin directory.
func pgConfigBinDir(pgConfig string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, pgConfig, "--bindir").Output()
	if err != nil {
		return "", fmt.Errorf("pg_config --bindir: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// missingPrograms lists the server programs (initdb, pg_ctl, postgres) that
// dir lacks.
func missingPrograms(dir string) []string {
	var missing []string
	for _, prog := range [...]string{"initdb", "pg_ctl", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, prog))
		if err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			missing = append(missing, prog)
		}
	}
	return missing
}

// parseVersion parses a version directory name such as "15" or "9.6".
func parseVersion(name string) ([]int, bool) {
	var v []int
	for part := range strings.SplitSeq(name, ".") {
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 {
			return nil, false
		}
		v = append(v, n)
	}
	return v, true
}

// majorVersion returns the major version in the output of `postgres -V`:
// "15" from "postgres (PostgreSQL) 15.19 (Debian 15.19-0+deb12u1)", "17" from
// "postgres (PostgreSQL) 17beta1", "9.6" from "postgres (PostgreSQL) 9.6.24".
func majorVersion(versionOutput string) (string, error) {
	fields := strings.Fields(versionOutput)
	if len(fields) < 3 {
		return "", fmt.Errorf("unexpected postgres -V output %q", versionOutput)
	}
	version := fields[2]
	end := strings.IndexFunc(version, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if end >= 0 {
		version = version[:end]
	}
	parts := strings.Split(version, ".")
	major, err := strconv.Atoi(parts[0])
	if err != nil {
		return "", fmt.Errorf("unexpected postgres -V output %q", versionOutput)
	}
	if major < 10 && len(parts) > 1 { // before 10, the major version had two parts
		return parts[0] + "." + parts[1], nil
	}
	return parts[0], nil
}
