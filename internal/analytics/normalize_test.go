package analytics

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/baton-run/baton/internal/testdb"
)

// TestNormalizeMatchesPostgres checks normalizeASCII against the SQL
// normalization (the three regexp_replace calls of the error queries) on
// hand-picked messages and on generated ones made of the characters the
// patterns care about.
func TestNormalizeMatchesPostgres(t *testing.T) {
	t.Parallel()
	pool := testdb.NewPool(t)
	ctx := context.Background()

	msgs := []string{
		"", "timeout after 31s on job 4411", "permission denied for 3f2504e0-4f89-11d3-9a0c-0305e82c3301",
		"PERMISSION 3F2504E0-4F89-11D3-9A0C-0305E82C3301X", "id deadbeef1 and deadbeef and 0xFF and 0X1f and 0x and 0xg",
		"x3f2504e0-4f89-11d3-9a0c-0305e82c3301abc", "3f2504e0-4f89-11d3-9a0c-0305e82c33013f2504e0-4f89-11d3-9a0c-0305e82c3301",
		"a_12345678 12345678_ _12345678 1234567 12345678 abcdefab abcdefa1", "host 10.0.0.1:5432/db?x=0x10&y=0xZ",
		"0x1g 0x1_ ab-12345678-cd (1234abcd) [0xabc]", "tab\t12345678\nline 0xff\r\n",
	}
	rng := rand.New(rand.NewPCG(9, 9))
	alphabet := []string{"0", "1", "9", "a", "f", "A", "F", "g", "x", "X", "z", "_", "-", " ", ".", "<", ">", "0x", "-4f89-", "deadbeef", "3f2504e0-4f89-11d3-9a0c-0305e82c3301"}
	for range 20000 {
		var b strings.Builder
		for range 1 + rng.IntN(12) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		msgs = append(msgs, b.String())
	}
	rows, err := pool.Query(ctx, `SELECT m, regexp_replace(
	           regexp_replace(
	               regexp_replace(m, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'gi'),
	               '\m(0x[0-9a-f]+|(?=[a-f]*[0-9])[0-9a-f]{8,})\M', '<hex>', 'gi'),
	           '[0-9]+', '<n>', 'g')
	    FROM unnest($1::text[]) AS m`, msgs)
	require.NoError(t, err)
	defer rows.Close()
	n := 0
	for rows.Next() {
		var m, want string
		require.NoError(t, rows.Scan(&m, &want))
		got, ok := normalizeASCII(m)
		require.True(t, ok)
		require.Equal(t, want, got, "message %q", m)
		n++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, len(msgs), n)

	_, ok := normalizeASCII("délai dépassé après 31 s")
	require.False(t, ok, "non-ASCII messages are left to the database")
}
