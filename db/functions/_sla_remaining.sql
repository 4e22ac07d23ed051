-- _sla_remaining projects how long run p_run_id still needs, in
-- milliseconds: the longest path, along depends_on, through its unfinished
-- tasks, each weighing its step's median queue wait less what it has
-- already waited (pending and queued tasks) plus its median execution less
-- what it has already run (running tasks). p_medians maps step names to
-- {"wait": ms, "run": ms}; a step without an entry weighs 0. Finished
-- upstream steps weigh nothing: a task whose dependencies are all finished
-- starts a path.
--
-- Longest path by relaxation: each pass settles the tasks whose unfinished
-- dependencies are settled, so the number of passes is the depth of the
-- remaining DAG. Runs of more than 2,000 unfinished tasks are summed
-- instead (an upper bound) to keep the check's cost bounded.
CREATE OR REPLACE FUNCTION baton._sla_remaining(p_run_id bigint, p_medians jsonb)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    names   text[];
    deps    text[][];
    own     double precision[];
    finish  jsonb := '{}';
    n       integer;
    settled integer := 0;
    progress boolean;
    best    double precision := 0;
    f       double precision;
    ready   boolean;
    d       text;
    i       integer;
    t       record;
BEGIN
    names := '{}';
    own := '{}';
    FOR t IN
        SELECT rt.step_name, rt.depends_on, rt.status, rt.queued_at, rt.started_at
        FROM baton.run_tasks rt
        WHERE rt.run_id = p_run_id AND rt.status IN ('pending', 'queued', 'running')
    LOOP
        names := names || t.step_name;
        own := own || greatest(
            CASE WHEN t.status = 'running' THEN 0
                 ELSE greatest(coalesce((p_medians -> t.step_name ->> 'wait')::double precision, 0)
                               - CASE WHEN t.status = 'queued' AND t.queued_at IS NOT NULL
                                      THEN extract(epoch FROM now() - t.queued_at) * 1000 ELSE 0 END, 0) END
            + coalesce((p_medians -> t.step_name ->> 'run')::double precision, 0)
            - CASE WHEN t.status = 'running' AND t.started_at IS NOT NULL
                   THEN extract(epoch FROM now() - t.started_at) * 1000 ELSE 0 END, 0);
    END LOOP;
    n := cardinality(names);
    IF n = 0 THEN
        RETURN 0;
    END IF;
    IF n > 2000 THEN
        RETURN (SELECT sum(x) FROM unnest(own) AS x)::bigint;
    END IF;

    -- Dependencies of each unfinished task that are themselves unfinished.
    FOR t IN
        SELECT rt.step_name, rt.depends_on FROM baton.run_tasks rt
        WHERE rt.run_id = p_run_id AND rt.status IN ('pending', 'queued', 'running')
    LOOP
        finish := finish || jsonb_build_object('deps:' || t.step_name,
            to_jsonb(ARRAY(SELECT x FROM unnest(t.depends_on) AS x WHERE x = ANY (names))));
    END LOOP;

    LOOP
        progress := false;
        FOR i IN 1 .. n LOOP
            CONTINUE WHEN finish ? names[i];
            f := 0;
            ready := true;
            FOR d IN SELECT jsonb_array_elements_text(finish -> ('deps:' || names[i])) LOOP
                IF NOT finish ? d THEN
                    ready := false;
                    EXIT;
                END IF;
                f := greatest(f, (finish ->> d)::double precision);
            END LOOP;
            CONTINUE WHEN NOT ready;
            f := f + own[i];
            finish := finish || jsonb_build_object(names[i], f);
            best := greatest(best, f);
            settled := settled + 1;
            progress := true;
        END LOOP;
        EXIT WHEN settled = n OR NOT progress;
    END LOOP;
    RETURN best::bigint;
END
$$;
