-- _sum_counts is the aggregate of count arrays added element by element
-- (baton._add_counts): it merges duration histograms.
CREATE OR REPLACE AGGREGATE baton._sum_counts(bigint[]) (
    SFUNC = baton._add_counts,
    STYPE = bigint[],
    INITCOND = '{}',
    PARALLEL = SAFE
);
