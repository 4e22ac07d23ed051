-- _count_dead_letters keeps baton.dead_letter_counts in step with
-- baton.dead_letters (statement triggers after INSERT and DELETE, with
-- transition tables new_rows / old_rows): the queue's size is the sum of 16
-- shard rows, so reading it does not scan the table, and concurrent writers
-- rarely meet on one counter row.
CREATE OR REPLACE FUNCTION baton._count_dead_letters()
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
