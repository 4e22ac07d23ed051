-- Runs with no owner or no tags (most runs) take no entry in the owner and
-- tags indexes (issue 7, ADR 0020's intent).
--
-- 00021 made runs_owner_id_idx partial on `owner IS NOT NULL`, but owner is
-- NOT NULL with '' for "no owner": the predicate held for every run, and each
-- run still paid an entry when it started and another when it finished. The
-- GIN index on tags likewise held an entry for every empty array. A search
-- for an owner or for tags reaches these indexes as before: its filter
-- (`owner = 'team-2'`, `tags @> '{a}' AND tags <> '{}'`) implies the new
-- predicates.
--
-- Built concurrently (outside a transaction), so that a server with many
-- runs keeps starting and finishing them while the indexes are replaced.

-- +goose NO TRANSACTION

-- +goose Up
CREATE INDEX CONCURRENTLY IF NOT EXISTS runs_owned_id_idx ON baton.runs (owner, id DESC) WHERE owner <> '';
DROP INDEX CONCURRENTLY IF EXISTS baton.runs_owner_id_idx;
CREATE INDEX CONCURRENTLY IF NOT EXISTS runs_tagged_idx ON baton.runs USING gin (tags) WHERE tags <> '{}';
DROP INDEX CONCURRENTLY IF EXISTS baton.runs_tags_idx;

-- +goose Down
CREATE INDEX CONCURRENTLY IF NOT EXISTS runs_tags_idx ON baton.runs USING gin (tags);
DROP INDEX CONCURRENTLY IF EXISTS baton.runs_tagged_idx;
CREATE INDEX CONCURRENTLY IF NOT EXISTS runs_owner_id_idx ON baton.runs (owner, id DESC) WHERE owner IS NOT NULL;
DROP INDEX CONCURRENTLY IF EXISTS baton.runs_owned_id_idx;
