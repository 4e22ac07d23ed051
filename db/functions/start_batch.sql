-- start_batch starts the runs of a batch in the caller's transaction and
-- returns the batch's id. spec is a JSON object:
--   {"name": text, "on_member_failure": "continue" | "rollback",
--    "members": [{"workflow": text, "input": {...}, "idempotency_key": text,
--                 "priority": 1..4, "version": n, "owner": text, "tags": [...]}, ...]}
-- with 1 to 10,000 members. Every member is checked first (workflow known,
-- input an object within limits, options valid); when any is invalid,
-- nothing starts and 22023 is raised with, in DETAIL, a JSON array of
-- {"index", "reason"} naming every bad member; so do members that reuse an
-- idempotency key (of an earlier run or of another member) with another
-- workflow or input. A member whose key matches an earlier run (or an
-- earlier member) with the same workflow and input maps to that run. A
-- member whose start fails later (its steps fit no live node) aborts the
-- whole batch with its index. The runs carry trigger 'batch' and the batch
-- id as trigger_ref.
--
-- The runs start set-based: one statement inserts every run, one every
-- task, one every run_started event, one call of _enqueue every root job,
-- writing the same rows and notices as baton._start_run does for each.
CREATE OR REPLACE FUNCTION baton.start_batch(spec jsonb, actor text DEFAULT current_user)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    members  jsonb := spec -> 'members';
    policy   text := coalesce(spec ->> 'on_member_failure', 'continue');
    problems jsonb := '[]';
    m        jsonb;
    i        integer;
    batch_id bigint;
    run_ids  bigint[] := '{}';
    rid      bigint;
    m_idx    integer[];
    m_new    bigint[];
    m_prior  bigint[];
    m_first  integer[];
    m_wf     bigint[];
    roots    bigint[];
    fit_runs bigint[];
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

    -- Check every member in one statement; only when one is invalid,
    -- check them one by one (a block each, nothing written) to name every
    -- bad member with its reason.
    BEGIN
        PERFORM baton._check_batch_member(e.value) FROM jsonb_array_elements(members) e;
    EXCEPTION WHEN OTHERS THEN
        FOR m, i IN SELECT e.value, (e.ordinality - 1)::integer FROM jsonb_array_elements(members) WITH ORDINALITY e LOOP
            BEGIN
                PERFORM baton._check_batch_member(m);
            EXCEPTION WHEN OTHERS THEN
                problems := problems || jsonb_build_object('index', i, 'reason', regexp_replace(SQLERRM, '^baton: ', ''));
            END;
        END LOOP;
    END;
    IF jsonb_array_length(problems) > 0 THEN
        RAISE EXCEPTION 'baton: batch: % of % members are invalid; nothing was started',
            jsonb_array_length(problems), jsonb_array_length(members)
            USING ERRCODE = '22023', DETAIL = problems::text;
    END IF;

    INSERT INTO baton.batches (name, on_member_failure, members_total, actor)
    VALUES (coalesce(spec ->> 'name', ''), policy, jsonb_array_length(members), actor)
    RETURNING id INTO batch_id;

    -- Resolve every member at once: its workflow version and the run it
    -- maps to. A member with an idempotency key maps to the run started
    -- earlier with that key, or to the first member of this batch with the
    -- same key; either must be of the same workflow with the same input
    -- (as baton._idempotent_run). Every other member gets a new run id.
    WITH mem AS (
        SELECT (e.ordinality - 1)::integer AS idx, e.value ->> 'workflow' AS workflow,
               coalesce(e.value -> 'input', '{}') AS input, e.value - 'workflow' - 'input' AS opts,
               e.value ->> 'idempotency_key' AS key
        FROM jsonb_array_elements(members) WITH ORDINALITY e
    ), keyed AS (
        SELECT mem.*,
               CASE WHEN mem.key IS NULL THEN mem.idx ELSE first_value(mem.idx) OVER w END AS first_idx,
               first_value(mem.workflow) OVER w AS first_workflow, first_value(mem.input) OVER w AS first_input
        FROM mem
        WINDOW w AS (PARTITION BY mem.key ORDER BY mem.idx)
    ), res AS (
        SELECT k.*, wf.id AS wf_id, prior.id AS prior_id, prior.workflow_name AS prior_workflow,
               prior.input AS prior_input
        FROM keyed k
        CROSS JOIN LATERAL (
            SELECT w.id FROM baton.workflows w
            WHERE w.name = k.workflow AND (NOT k.opts ? 'version' OR w.version = (k.opts ->> 'version')::integer)
            ORDER BY w.version DESC LIMIT 1
        ) wf
        LEFT JOIN baton.runs prior ON k.key IS NOT NULL AND prior.idempotency_key = k.key
    )
    SELECT array_agg(res.idx ORDER BY res.idx),
           array_agg(CASE WHEN res.prior_id IS NOT NULL OR res.idx <> res.first_idx THEN NULL
                          ELSE nextval(pg_get_serial_sequence('baton.runs', 'id')) END ORDER BY res.idx),
           array_agg(res.prior_id ORDER BY res.idx),
           array_agg(res.first_idx ORDER BY res.idx),
           array_agg(res.wf_id ORDER BY res.idx),
           coalesce(jsonb_agg(jsonb_build_object('index', res.idx, 'reason',
               format('idempotency_key: key already used by %s with another workflow or input',
                      CASE WHEN res.prior_id IS NOT NULL THEN format('run %s (workflow "%s")', res.prior_id, res.prior_workflow)
                           ELSE format('member %s of this batch', res.first_idx) END)) ORDER BY res.idx)
               FILTER (WHERE (res.prior_id IS NOT NULL AND (res.prior_workflow <> res.workflow OR res.prior_input <> res.input))
                          OR (res.prior_id IS NULL AND res.idx <> res.first_idx
                              AND (res.first_workflow <> res.workflow OR res.first_input <> res.input))), '[]')
    INTO m_idx, m_new, m_prior, m_first, m_wf, problems
    FROM res;
    IF jsonb_array_length(problems) > 0 THEN
        RAISE EXCEPTION 'baton: batch: % of % members reuse an idempotency key with another workflow or input; nothing was started',
            jsonb_array_length(problems), jsonb_array_length(members)
            USING ERRCODE = '22023', DETAIL = problems::text;
    END IF;

    -- The new runs, their tasks, run_started events, root jobs and notices,
    -- each in one statement for the whole batch: what baton._start_run
    -- writes for one run.
    WITH new_runs AS (
        INSERT INTO baton.runs (id, workflow_id, workflow_name, workflow_version, status, priority, input,
                                trigger, trigger_ref, idempotency_key, owner, tags, tasks_total, started_at,
                                sla_deadline, sla_state)
        OVERRIDING SYSTEM VALUE
        SELECT u.run_id, wf.id, wf.name, wf.version, 'running',
               coalesce((e.value ->> 'priority')::smallint, wf.priority), coalesce(e.value -> 'input', '{}'),
               'batch', batch_id::text, e.value ->> 'idempotency_key',
               coalesce(e.value ->> 'owner', wf.owner),
               coalesce(CASE WHEN e.value ? 'tags' THEN ARRAY(SELECT jsonb_array_elements_text(e.value -> 'tags')) END, wf.tags),
               (SELECT count(*) FROM baton.workflow_steps s WHERE s.workflow_id = wf.id), now(),
               now() + wf.sla_ms * interval '1 millisecond', CASE WHEN wf.sla_ms IS NOT NULL THEN 'open' END
        FROM unnest(m_idx, m_new, m_wf) AS u(idx, run_id, wf_id)
        JOIN baton.workflows wf ON wf.id = u.wf_id
        CROSS JOIN LATERAL (SELECT members -> u.idx AS value) e
        WHERE u.run_id IS NOT NULL
        ORDER BY u.run_id
        ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
        RETURNING runs.id
    )
    SELECT coalesce(array_agg(new_runs.id ORDER BY new_runs.id), '{}') INTO run_ids FROM new_runs;

    IF cardinality(run_ids) < cardinality(array_remove(m_new, NULL)) THEN
        -- Concurrent starts with the same keys won the race: map those
        -- members to the winners' runs (or refuse, as _start_run does).
        BEGIN
            FOR i IN SELECT u.ord FROM unnest(m_new) WITH ORDINALITY AS u(run_id, ord)
                     WHERE u.run_id IS NOT NULL AND NOT u.run_id = ANY (run_ids) LOOP
                m_prior[i] := baton._idempotent_run(members -> (i - 1) ->> 'idempotency_key', members -> (i - 1) ->> 'workflow',
                                                    coalesce(members -> (i - 1) -> 'input', '{}'));
                m_new[i] := NULL;
            END LOOP;
        EXCEPTION WHEN OTHERS THEN
            RAISE EXCEPTION 'baton: batch: member % could not start: %', i - 1, regexp_replace(SQLERRM, '^baton: ', '')
                USING ERRCODE = '22023', DETAIL = jsonb_build_array(jsonb_build_object('index', i - 1,
                    'reason', regexp_replace(SQLERRM, '^baton: ', '')))::text;
        END;
    END IF;

    WITH inserted AS (
        INSERT INTO baton.run_tasks (run_id, step_name, step_index, task_type, executor, status, when_cond,
                                     depends_on, deps_pending, optional, params, priority, queue,
                                     max_attempts, timeout_ms, permanent_exit_codes, backoff, circuit_breaker, resources,
                                     concurrency)
        SELECT r.id, s.name, s.step_index, s.task_type, tt.executor, 'pending', s.when_cond,
               s.depends_on, cardinality(s.depends_on), s.optional, tt.defaults || s.params,
               coalesce((members -> u.idx ->> 'priority')::smallint, s.priority, wf.priority, tt.priority), tt.queue,
               coalesce(s.max_retries, tt.max_retries) + 1, coalesce(s.timeout_ms, tt.timeout_ms),
               tt.permanent_exit_codes, coalesce(s.backoff, tt.backoff), tt.circuit_breaker,
               CASE WHEN s.resources IS NULL THEN tt.resources
                    ELSE coalesce(tt.resources, '{}') || s.resources END,
               CASE WHEN tt.concurrency_limit IS NULL THEN s.concurrency
                    ELSE coalesce(s.concurrency, '[]') || jsonb_build_array(jsonb_build_object(
                         'key', 'task_type:' || tt.name, 'limit', tt.concurrency_limit)) END
        FROM unnest(m_idx, m_new) AS u(idx, run_id)
        JOIN baton.runs r ON r.id = u.run_id
        JOIN baton.workflows wf ON wf.id = r.workflow_id
        JOIN baton.workflow_steps s ON s.workflow_id = r.workflow_id
        JOIN baton.task_types tt ON tt.name = s.task_type
        WHERE u.run_id = ANY (run_ids)
        ORDER BY r.id, s.step_index
        RETURNING run_tasks.id, run_tasks.run_id, run_tasks.deps_pending, run_tasks.resources
    )
    SELECT coalesce(array_agg(inserted.id ORDER BY inserted.id) FILTER (WHERE inserted.deps_pending = 0), '{}'),
           coalesce(array_agg(DISTINCT inserted.run_id) FILTER (WHERE inserted.resources IS NOT NULL), '{}')
    INTO roots, fit_runs
    FROM inserted;

    -- Only runs with steps that declare resources pay for this check.
    FOREACH rid IN ARRAY fit_runs LOOP
        BEGIN
            PERFORM baton._check_run_fits(rid);
        EXCEPTION WHEN OTHERS THEN
            i := array_position(m_new, rid) - 1;
            RAISE EXCEPTION 'baton: batch: member % could not start: %', i, regexp_replace(SQLERRM, '^baton: ', '')
                USING ERRCODE = '22023', DETAIL = jsonb_build_array(jsonb_build_object('index', i,
                    'reason', regexp_replace(SQLERRM, '^baton: ', '')))::text;
        END;
    END LOOP;

    INSERT INTO baton.task_events (run_id, kind, priority, data)
    SELECT r.id, 'run_started', r.priority,
           jsonb_build_object('workflow', r.workflow_name, 'version', r.workflow_version, 'trigger', 'batch')
    FROM unnest(run_ids) AS x(id) JOIN baton.runs r ON r.id = x.id
    ORDER BY r.id;

    PERFORM baton._enqueue(roots);
    PERFORM baton._notify(x.id, 'run_started') FROM unnest(run_ids) AS x(id);

    INSERT INTO baton.batch_members (batch_id, idx, run_id)
    SELECT batch_id, u.idx, coalesce(u.run_id, u.prior_id, m_new[u.first_idx + 1], m_prior[u.first_idx + 1])
    FROM unnest(m_idx, m_new, m_prior, m_first) AS u(idx, run_id, prior_id, first_idx);

    INSERT INTO baton.task_events (kind, actor, data)
    VALUES ('batch_started', actor, jsonb_build_object('batch_id', batch_id, 'members', jsonb_array_length(members),
                                                       'on_member_failure', policy));
    PERFORM pg_notify('baton_events', json_build_object('kind', 'batch_started', 'batch_id', batch_id)::text);
    RETURN batch_id;
END
$$;
