// Package bench compares Baton's one-step runs with raw River jobs in one
// process against one database; `make bench` runs it.
package bench
