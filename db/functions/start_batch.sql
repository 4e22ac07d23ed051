-- start_batch starts the runs of a batch in the caller's transaction and
-- returns the batch's id. spec is a JSON object:
--   {"name": text, "on_member_failure": "continue" | "rollback",
--    "members": [{"workflow": text, "input": {...}, "idempotency_key": text,
--                 "priority": 1..4, "version": n, "owner": text, "tags": [...]}, ...]}
-- with 1 to 10,000 members. Every member is checked first (workflow known,
-- input an object within limits, options valid); when any is invalid,
-- nothing starts and 22023 is raised with, in DETAIL, a JSON array of
-- {"index", "reason"} naming every bad member. A member whose start fails
-- later (an idempotency key reused with another input) aborts the whole
-- batch with its index. The runs carry trigger 'batch' and the batch id as
-- trigger_ref.
CREATE OR REPLACE FUNCTION baton.start_batch(spec jsonb, actor text DEFAULT current_user)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    members  jsonb := spec -> 'members';
    policy   text := coalesce(spec ->> 'on_member_failure', 'continue');
    problems jsonb := '[]';
    m        jsonb;
    i        integer;
    opts     jsonb;
    batch_id bigint;
    run_ids  bigint[] := '{}';
    rid      bigint;
BEGIN
    IF spec IS NULL OR jsonb_typeof(spec) <> 'object' THEN
        RAISE EXCEPTION 'baton: batch: must be a JSON object' USING ERRCODE = '22023';
    END IF;
    IF EXISTS (SELECT 1 FROM jsonb_object_keys(spec) k WHERE k NOT IN ('name', 'on_member_failure', 'members')) THEN
        RAISE EXCEPTION 'baton: batch: unknown field (allowed: name, on_member_failure, members)' USING ERRCODE = '22023';
    END IF;
    IF policy NOT IN ('continue', 'rollback') THEN
        RAISE EXCEPTION 'baton: on_member_failure: must be continue or rollback' USING ERRCODE = '22023';
    END IF;
    IF spec ? 'name' AND (jsonb_typeof(spec -> 'name') <> 'string' OR length(spec ->> 'name') > 200) THEN
        RAISE EXCEPTION 'baton: name: must be a string of at most 200 characters' USING ERRCODE = '22023';
    END IF;
    IF members IS NULL OR jsonb_typeof(members) <> 'array' OR jsonb_array_length(members) NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION 'baton: members: must be an array of 1 to 10000 members' USING ERRCODE = '22023';
    END IF;

    -- Check every member; nothing is written, so the blocks are cheap.
    FOR m, i IN SELECT e.value, (e.ordinality - 1)::integer FROM jsonb_array_elements(members) WITH ORDINALITY e LOOP
        BEGIN
            IF jsonb_typeof(m) <> 'object' THEN
                RAISE EXCEPTION 'baton: must be a JSON object' USING ERRCODE = '22023';
            END IF;
            IF EXISTS (SELECT 1 FROM jsonb_object_keys(m) k
                       WHERE k NOT IN ('workflow', 'input', 'idempotency_key', 'priority', 'version', 'owner', 'tags')) THEN
                RAISE EXCEPTION 'baton: unknown field (allowed: workflow, input, idempotency_key, priority, version, owner, tags)'
                    USING ERRCODE = '22023';
            END IF;
            IF jsonb_typeof(m -> 'workflow') IS DISTINCT FROM 'string' THEN
                RAISE EXCEPTION 'baton: workflow: required, a string' USING ERRCODE = '22023';
            END IF;
            IF m ? 'input' THEN
                PERFORM baton._check_json(m -> 'input', 'input');
            END IF;
            opts := m - 'workflow' - 'input';
            PERFORM baton._check_start_opts(opts);
            IF NOT EXISTS (SELECT 1 FROM baton.workflows w WHERE w.name = m ->> 'workflow'
                           AND (NOT opts ? 'version' OR w.version = (opts ->> 'version')::integer)) THEN
                RAISE EXCEPTION 'baton: unknown workflow "%"%', left(m ->> 'workflow', 200),
                    CASE WHEN opts ? 'version' THEN ' version ' || (opts ->> 'version') ELSE '' END
                    USING ERRCODE = '22023';
            END IF;
        EXCEPTION WHEN OTHERS THEN
            problems := problems || jsonb_build_object('index', i, 'reason', regexp_replace(SQLERRM, '^baton: ', ''));
        END;
    END LOOP;
    IF jsonb_array_length(problems) > 0 THEN
        RAISE EXCEPTION 'baton: batch: % of % members are invalid; nothing was started',
            jsonb_array_length(problems), jsonb_array_length(members)
            USING ERRCODE = '22023', DETAIL = problems::text;
    END IF;

    INSERT INTO baton.batches (name, on_member_failure, members_total, actor)
    VALUES (coalesce(spec ->> 'name', ''), policy, jsonb_array_length(members), actor)
    RETURNING id INTO batch_id;

    i := -1;
    BEGIN
        FOR m, i IN SELECT e.value, (e.ordinality - 1)::integer FROM jsonb_array_elements(members) WITH ORDINALITY e LOOP
            SELECT s.run_id INTO rid
            FROM baton._start_run(m ->> 'workflow', coalesce(m -> 'input', '{}'), m - 'workflow' - 'input',
                                  'batch', batch_id::text) s;
            run_ids := run_ids || rid;
        END LOOP;
    EXCEPTION WHEN OTHERS THEN
        RAISE EXCEPTION 'baton: batch: member % could not start: %', i, regexp_replace(SQLERRM, '^baton: ', '')
            USING ERRCODE = '22023', DETAIL = jsonb_build_array(jsonb_build_object('index', i,
                'reason', regexp_replace(SQLERRM, '^baton: ', '')))::text;
    END;

    INSERT INTO baton.batch_members (batch_id, idx, run_id)
    SELECT batch_id, (o - 1)::integer, r FROM unnest(run_ids) WITH ORDINALITY AS u(r, o);

    INSERT INTO baton.task_events (kind, actor, data)
    VALUES ('batch_started', actor, jsonb_build_object('batch_id', batch_id, 'members', jsonb_array_length(members),
                                                       'on_member_failure', policy));
    PERFORM pg_notify('baton_events', json_build_object('kind', 'batch_started', 'batch_id', batch_id)::text);
    RETURN batch_id;
END
$$;
