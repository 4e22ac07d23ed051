-- maintain_event_partitions keeps task_events' daily partitions from
-- yesterday to days_ahead days ahead and drops those past retention (chunks
-- on a hypertable); see _maintain_daily_partitions for the rules and limits.
CREATE OR REPLACE FUNCTION baton.maintain_event_partitions(days_ahead integer DEFAULT 7, retention interval DEFAULT '90 days')
RETURNS integer
LANGUAGE sql AS $$
    SELECT baton._maintain_daily_partitions('task_events', days_ahead, retention);
$$;
