// Package e2e holds end-to-end tests: the REST API and real River workers on
// one real database, driving runs the way an operator would.
package e2e
