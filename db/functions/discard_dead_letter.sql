-- discard_dead_letter removes a dead-letter entry; its task stays dead.
CREATE OR REPLACE FUNCTION baton.discard_dead_letter(id bigint, actor text DEFAULT current_user)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    d baton.dead_letters;
BEGIN
    DELETE FROM baton.dead_letters dl WHERE dl.id = discard_dead_letter.id RETURNING * INTO d;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'baton: dead letter % not found', discard_dead_letter.id USING ERRCODE = 'P0002';
    END IF;
    INSERT INTO baton.task_events (run_id, task_id, step_name, kind, actor)
    VALUES (d.run_id, d.task_id, d.step_name, 'dead_letter_discarded', actor);
    PERFORM baton._refresh_attention(d.run_id);
    PERFORM baton._notify(d.run_id, 'dead_letter_discarded', d.task_id);
    RETURN true;
END
$$;
