-- Cron schedules (issue 8, point 1). A schedule starts runs of a workflow at
-- the fire times of a cron expression in an IANA time zone. Fire times are
-- computed in Go (internal/schedule); the database holds each schedule's
-- cursor (the nominal time of its last recorded fire) and the due time of its
-- next fire, so the scheduler's tick is one indexed query when nothing is due.
-- Every fire is a row of schedule_fires, unique by (schedule, fire_time) and
-- written in the transaction that starts its run: two scheduler nodes never
-- start one fire twice, and a restarted scheduler resumes from the cursor.

-- +goose Up
CREATE TABLE baton.schedules (
    name         text PRIMARY KEY CHECK (name ~ '^[a-z0-9]+([_.-][a-z0-9]+)*$' AND length(name) <= 128),
    workflow     text NOT NULL,
    cron         text NOT NULL CHECK (length(cron) BETWEEN 1 AND 200),
    time_zone    text NOT NULL DEFAULT 'UTC',
    input        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(input) = 'object'),
    description  text NOT NULL DEFAULT '',
    enabled      boolean NOT NULL DEFAULT true,
    start_at     timestamptz,
    end_at       timestamptz,
    jitter_ms    bigint NOT NULL DEFAULT 0 CHECK (jitter_ms BETWEEN 0 AND 3600000),
    overlap      text NOT NULL DEFAULT 'allow' CHECK (overlap IN ('allow', 'skip', 'cancel_previous', 'queue')),
    catchup      text NOT NULL DEFAULT 'latest' CHECK (catchup IN ('none', 'latest', 'all')),
    max_catchup  integer NOT NULL DEFAULT 100 CHECK (max_catchup BETWEEN 1 AND 10000),
    priority     smallint CHECK (priority BETWEEN 1 AND 4),
    -- cursor_at: fires at or before it are done (started, skipped or missed).
    cursor_at    timestamptz NOT NULL DEFAULT now(),
    -- next_due_at: when the scheduler must look at the schedule again (the
    -- next fire plus its jitter, or the next second while a fire is queued);
    -- NULL when it has to be (re)computed, as after a change through SQL.
    next_due_at  timestamptz,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (end_at IS NULL OR start_at IS NULL OR end_at > start_at)
);

-- The tick's one query: enabled schedules due now or needing a computation.
CREATE INDEX schedules_due_idx ON baton.schedules (next_due_at) WHERE enabled;

CREATE TABLE baton.schedule_fires (
    schedule    text NOT NULL REFERENCES baton.schedules (name) ON DELETE CASCADE,
    fire_time   timestamptz NOT NULL,
    due_at      timestamptz NOT NULL,
    -- started: a run was started; skipped: overlap policy skip; queued: waits
    -- for the previous run (overlap queue); missed: catch-up policy dropped it.
    status      text NOT NULL CHECK (status IN ('started', 'skipped', 'queued', 'missed')),
    -- scheduled (on time), catchup (late, after downtime or while disabled), backfill (API).
    kind        text NOT NULL CHECK (kind IN ('scheduled', 'catchup', 'backfill')),
    run_id      bigint,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    started_at  timestamptz,
    PRIMARY KEY (schedule, fire_time)
);
CREATE INDEX schedule_fires_queued_idx ON baton.schedule_fires (schedule, fire_time) WHERE status = 'queued';

-- +goose Down
DROP TABLE IF EXISTS baton.schedule_fires;
DROP TABLE IF EXISTS baton.schedules;
