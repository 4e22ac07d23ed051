-- function_files records which files of db/functions were last applied, by
-- checksum: `baton migrate` re-applies a file when its checksum changes
-- (repeatable migrations, ADR 0006). The numbered migrations keep tables,
-- indexes and data changes; db/functions holds the current definition of
-- every function of the state machine, one file each.

-- +goose Up
CREATE TABLE baton.function_files (
    name       text PRIMARY KEY,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE IF EXISTS baton.function_files;
