package db

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"sort"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// functionFilesLock is the advisory lock key that serialises processes
// applying db/functions at the same time.
const functionFilesLock = 7412290002

// FunctionFile is one file of db/functions and its checksum.
type FunctionFile struct {
	Name     string
	Checksum string
	SQL      string
}

// FunctionFiles returns the embedded db/functions files in name order.
func FunctionFiles() ([]FunctionFile, error) {
	paths, err := fs.Glob(schemaFS, "functions/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list function files: %w", err)
	}
	sort.Strings(paths)
	files := make([]FunctionFile, 0, len(paths))
	for _, path := range paths {
		data, err := fs.ReadFile(schemaFS, path)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		sum := sha256.Sum256(data)
		files = append(files, FunctionFile{Name: path[len("functions/"):], Checksum: hex.EncodeToString(sum[:]), SQL: string(data)})
	}
	return files, nil
}

// ApplyFunctions re-applies every db/functions file whose checksum differs
// from the one recorded in baton.function_files, all in one transaction, and
// returns the names of the files it applied. Function bodies are not checked
// against each other while they are created (check_function_bodies is off,
// as in pg_dump), so the files' order does not matter.
func ApplyFunctions(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	files, err := FunctionFiles()
	if err != nil {
		return nil, err
	}
	var applied []string
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(functionFilesLock)); err != nil {
			return fmt.Errorf("lock function files: %w", err)
		}
		if _, err := tx.Exec(ctx, "SET LOCAL check_function_bodies = off"); err != nil {
			return fmt.Errorf("set check_function_bodies: %w", err)
		}
		rows, err := tx.Query(ctx, "SELECT name, checksum FROM baton.function_files")
		if err != nil {
			return fmt.Errorf("read function_files: %w", err)
		}
		recorded, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) ([2]string, error) {
			var pair [2]string
			err := row.Scan(&pair[0], &pair[1])
			return pair, err
		})
		if err != nil {
			return fmt.Errorf("read function_files: %w", err)
		}
		known := make(map[string]string, len(recorded))
		for _, pair := range recorded {
			known[pair[0]] = pair[1]
		}
		for _, f := range files {
			if known[f.Name] == f.Checksum {
				continue
			}
			// No arguments: pgx sends the file through the simple query
			// protocol, so it may hold several statements.
			if _, err := tx.Exec(ctx, f.SQL); err != nil {
				return fmt.Errorf("apply db/functions/%s: %w", f.Name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO baton.function_files (name, checksum) VALUES ($1, $2)
				ON CONFLICT (name) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = now()`, f.Name, f.Checksum); err != nil {
				return fmt.Errorf("record db/functions/%s: %w", f.Name, err)
			}
			applied = append(applied, f.Name)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return applied, nil
}
