-- resubmit_dead_letter retries a dead-letter entry's task (with new params
-- when given, merged over the task's params as retry_task does) and removes
-- the entry; the run continues from that task.
CREATE OR REPLACE FUNCTION baton.resubmit_dead_letter(id bigint, params jsonb DEFAULT NULL, actor text DEFAULT current_user)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    task bigint;
BEGIN
    SELECT d.task_id INTO task FROM baton.dead_letters d WHERE d.id = resubmit_dead_letter.id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'baton: dead letter % not found', resubmit_dead_letter.id USING ERRCODE = 'P0002';
    END IF;
    PERFORM baton._retry(task, params, actor, 'task_resubmitted');
    RETURN task;
END
$$;
