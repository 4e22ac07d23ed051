-- emit_event stores an inbound event inside the caller's transaction and
-- returns its id. When it is new (not a duplicate of dedup_key, see
-- baton._insert_event) and an enabled trigger of its type matches it, a
-- baton_trigger_event River job is inserted in the same transaction (and
-- River's producers woken): a commit guarantees the triggers' runs start,
-- a rollback leaves nothing. The job renders each trigger's input template
-- and starts the runs (its retries are idempotent: one run per event and
-- trigger). The event's source is 'sql'.
CREATE OR REPLACE FUNCTION baton.emit_event(type text, payload jsonb DEFAULT '{}', dedup_key text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    ev record;
BEGIN
    SELECT * INTO ev FROM baton._insert_event(type, payload, dedup_key, 'sql');
    IF ev.created AND EXISTS (
        SELECT 1 FROM baton.triggers t
        WHERE t.event_type = emit_event.type AND t.enabled
          AND (t.condition IS NULL OR coalesce(jsonb_path_match(coalesce(emit_event.payload, '{}'), t.condition, '{}', true), false))
    ) THEN
        INSERT INTO public.river_job (args, kind, max_attempts, priority, queue, state, scheduled_at, metadata, tags)
        VALUES (jsonb_build_object('event_id', ev.id, 'event_time', ev.time), 'baton_trigger_event', 10, 1,
                'default', 'available', now(), '{}', '{}');
        PERFORM pg_notify('public.river_insert', json_build_object('queue', 'default')::text);
    END IF;
    RETURN ev.id;
END
$$;
