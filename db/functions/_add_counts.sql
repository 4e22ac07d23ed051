-- _add_counts adds two count arrays element by element (a missing element
-- counts 0): the merge of two duration histograms.
CREATE OR REPLACE FUNCTION baton._add_counts(a bigint[], b bigint[])
RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(coalesce(x, 0) + coalesce(y, 0) ORDER BY i), '{}')
    FROM unnest(a, b) WITH ORDINALITY AS u(x, y, i);
$$;
