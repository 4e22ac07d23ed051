-- set_schedule_enabled enables or disables a schedule. Enabling it makes the
-- scheduler recompute its next fire on its next tick (fires missed while it
-- was disabled follow its catch-up policy). Returns false when the schedule
-- was already in that state; raises when it does not exist.
CREATE OR REPLACE FUNCTION baton.set_schedule_enabled(name text, enabled boolean)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    was boolean;
BEGIN
    SELECT s.enabled INTO was FROM baton.schedules s WHERE s.name = set_schedule_enabled.name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'baton: schedule % not found', set_schedule_enabled.name USING ERRCODE = 'P0002';
    END IF;
    IF was = set_schedule_enabled.enabled THEN
        RETURN false;
    END IF;
    UPDATE baton.schedules s
    SET enabled = set_schedule_enabled.enabled, next_due_at = NULL, updated_at = now()
    WHERE s.name = set_schedule_enabled.name;
    RETURN true;
END;
$$;
