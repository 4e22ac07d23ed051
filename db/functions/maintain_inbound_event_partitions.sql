-- maintain_inbound_event_partitions does for baton.events (inbound events)
-- what maintain_event_partitions does for task_events; see
-- _maintain_daily_partitions.
CREATE OR REPLACE FUNCTION baton.maintain_inbound_event_partitions(days_ahead integer DEFAULT 7, retention interval DEFAULT '90 days')
RETURNS integer
LANGUAGE sql AS $$
    SELECT baton._maintain_daily_partitions('events', days_ahead, retention);
$$;
