package db_test

import (
	"context"
	"sync"
	"testing"

	"github.com/baton-run/baton/db"
	"github.com/baton-run/baton/internal/testdb"
)

// TestConcurrentMigrationsWait: processes that start together on an empty
// database (a deploy starting serve and worker at once) migrate it once;
// the others wait for the first and find nothing left to do.
func TestConcurrentMigrationsWait(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testdb.NewEmpty(t)
	const processes = 3
	var wg sync.WaitGroup
	applied := make([]int, processes)
	errs := make([]error, processes)
	for i := range processes {
		pool := testdb.NewPoolFor(t, url)
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := db.NewMigrator(pool)
			if err != nil {
				errs[i] = err
				return
			}
			defer m.Close()
			res, err := m.Up(ctx)
			applied[i], errs[i] = len(res), err
		}()
	}
	wg.Wait()
	total := 0
	for i := range processes {
		if errs[i] != nil {
			t.Fatalf("process %d: %v", i, errs[i])
		}
		total += applied[i]
	}
	pool := testdb.NewPoolFor(t, url)
	m, err := db.NewMigrator(pool)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	res, err := m.Up(ctx)
	if err != nil || len(res) != 0 {
		t.Fatalf("after the concurrent runs, up applied %d migrations (err %v); want none", len(res), err)
	}
	var migrations int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM goose_db_version WHERE version_id > 0").Scan(&migrations); err != nil {
		t.Fatal(err)
	}
	if total != migrations {
		t.Fatalf("the processes applied %d migrations between them; want each of the %d once", total, migrations)
	}
}
