package db_test

import (
	"context"
	"strings"
	"testing"

	"github.com/baton-run/baton/db"
	"github.com/baton-run/baton/internal/testdb"
)

func TestApplyFunctionsReappliesChangedFiles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.NewPool(t)

	applied, err := db.ApplyFunctions(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 0 {
		t.Fatalf("a migrated database re-applied %v; want nothing", applied)
	}

	// Another definition in the database (as an older release left it) is
	// replaced by the file's when the recorded checksum differs.
	if _, err := pool.Exec(ctx, `CREATE OR REPLACE FUNCTION baton._notify(p_run_id bigint, p_kind text, p_task_id bigint DEFAULT NULL)
		RETURNS void LANGUAGE sql AS $$ SELECT NULL::void $$`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE baton.function_files SET checksum = 'old' WHERE name = '_notify.sql'`); err != nil {
		t.Fatal(err)
	}
	applied, err = db.ApplyFunctions(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 1 || applied[0] != "_notify.sql" {
		t.Fatalf("applied %v; want [_notify.sql]", applied)
	}
	var body string
	if err := pool.QueryRow(ctx, `SELECT prosrc FROM pg_proc WHERE proname = '_notify'`).Scan(&body); err != nil {
		t.Fatal(err)
	}
	if want := "pg_notify"; !strings.Contains(body, want) {
		t.Fatalf("_notify body %q does not contain %q", body, want)
	}
}

func TestEveryFunctionHasItsFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.NewPool(t)
	files, err := db.FunctionFiles()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range files {
		have[f.Name] = true
	}
	rows, err := pool.Query(ctx, `SELECT DISTINCT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'baton'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		if !have[name+".sql"] {
			t.Errorf("function baton.%s has no file db/functions/%s.sql", name, name)
		}
	}
}

// TestPartitionMaintenanceLeavesBusyDefaultDays: a day that already has rows
// in task_events' default partition stays there (creating its partition
// would fail and stop maintenance for every other day), and the next days
// still get their partitions.
func TestPartitionMaintenanceLeavesBusyDefaultDays(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.NewPool(t)
	if _, err := pool.Exec(ctx, `INSERT INTO baton.task_events (time, kind) VALUES (current_date + 20 + time '12:00', 'test')`); err != nil {
		t.Fatal(err)
	}
	var changed int
	if err := pool.QueryRow(ctx, `SELECT baton.maintain_event_partitions(22, '90 days')`).Scan(&changed); err != nil {
		t.Fatalf("maintenance with a busy default partition: %v", err)
	}
	var busy, next bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('baton.task_events_p' || to_char(current_date + 20, 'YYYYMMDD')) IS NOT NULL,
		to_regclass('baton.task_events_p' || to_char(current_date + 21, 'YYYYMMDD')) IS NOT NULL`).Scan(&busy, &next); err != nil {
		t.Fatal(err)
	}
	if busy || !next {
		t.Fatalf("partition of the busy day created: %v (want false); of the next day: %v (want true)", busy, next)
	}
}
