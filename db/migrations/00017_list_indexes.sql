-- List endpoints whose speed must not depend on the planner's luck
-- (issue 7): each has an index that serves it under custom and generic
-- plans alike, guarded by EXPLAIN tests (internal/engine/explain_test.go).
--
-- - /v1/attention: a partial index on the few runs needing attention, newest
--   first (before: a backward scan of every run filtering on attention).
-- - dead_letters/stats: the queue's size is kept in baton.dead_letter_counts,
--   16 shard rows updated by statement triggers in the transaction that adds
--   or removes entries (a count(*) read the whole table); the oldest entry
--   comes from dead_letters_created_idx.

-- +goose Up
CREATE INDEX runs_attention_id_idx ON baton.runs (id DESC) WHERE attention IS NOT NULL;

CREATE TABLE baton.dead_letter_counts (
    shard smallint PRIMARY KEY CHECK (shard BETWEEN 0 AND 15),
    n     bigint NOT NULL
);
INSERT INTO baton.dead_letter_counts (shard, n) SELECT 0, count(*) FROM baton.dead_letters;

-- The current definition lives in db/functions/_count_dead_letters.sql
-- (ADR 0006); this one lets the triggers be created here.
-- +goose StatementBegin
CREATE FUNCTION baton._count_dead_letters()
RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    delta bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT count(*) INTO delta FROM new_rows;
    ELSE
        SELECT -count(*) INTO delta FROM old_rows;
    END IF;
    IF delta <> 0 THEN
        INSERT INTO baton.dead_letter_counts AS c (shard, n)
        VALUES (floor(random() * 16)::smallint, delta)
        ON CONFLICT (shard) DO UPDATE SET n = c.n + excluded.n;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER dead_letters_count_insert AFTER INSERT ON baton.dead_letters
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION baton._count_dead_letters();
CREATE TRIGGER dead_letters_count_delete AFTER DELETE ON baton.dead_letters
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION baton._count_dead_letters();

-- +goose Down
DROP TRIGGER dead_letters_count_delete ON baton.dead_letters;
DROP TRIGGER dead_letters_count_insert ON baton.dead_letters;
DROP FUNCTION baton._count_dead_letters();
DROP TABLE baton.dead_letter_counts;
DROP INDEX baton.runs_attention_id_idx;
