package cli

import (
	"flag"
	"fmt"
	"os"
	"strconv"

	"github.com/baton-run/baton/db"
)

// minMaxConns is the smallest pool a process that works tasks runs with:
// River's fetcher, completer and notifier, the task worker's success and
// start flushers and template reads, and one for everything else.
const minMaxConns = 8

// maxConnsFlag adds --db-max-conns to fs, defaulting to BATON_DB_MAX_CONNS,
// else db.DefaultMaxConns.
func maxConnsFlag(fs *flag.FlagSet) *int {
	def := db.DefaultMaxConns
	if v, err := strconv.Atoi(os.Getenv("BATON_DB_MAX_CONNS")); err == nil {
		def = v
	}
	return fs.Int("db-max-conns", def,
		"most connections this process opens to PostgreSQL (its pool; serve and dev add one for the live stream)")
}

// checkMaxConns validates --db-max-conns.
func checkMaxConns(n int) (int32, error) {
	if n < minMaxConns || n > 1000 {
		return 0, &usageError{fmt.Sprintf("--db-max-conns must be between %d and 1000, got %d", minMaxConns, n)}
	}
	return int32(n), nil
}
