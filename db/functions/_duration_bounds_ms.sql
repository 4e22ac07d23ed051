-- _duration_bounds_ms are the upper bounds, in milliseconds, of the task
-- duration histograms in the rollup tables: duration_buckets[i] counts
-- durations d with bounds[i-1] < d <= bounds[i] (d <= bounds[1] for i = 1,
-- d > bounds[14] for i = 15). Changing them needs a migration that rebuilds
-- the rollups.
CREATE OR REPLACE FUNCTION baton._duration_bounds_ms()
RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT '{5,10,25,50,100,250,500,1000,2500,5000,10000,30000,60000,300000}'::bigint[];
$$;
