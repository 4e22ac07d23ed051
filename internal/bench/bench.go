// Package bench compares Baton with raw River in one process against one
// database: one-step runs and 22-task DAG runs against no-op River jobs.
// `make bench` runs it.
package bench
