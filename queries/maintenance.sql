-- name: DatabaseAnalyze :exec
ANALYZE;
