package analytics

import "strings"

// normalizeASCII normalizes an ASCII error message exactly as the SQL
// definition (queries/analytics.sql, AnalyticsErrorGroups) does with
// PostgreSQL regular expressions, applied in this order:
//
//  1. '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}' → <uuid>
//     (case-insensitive, every match, left to right);
//  2. '\m(0x[0-9a-f]+|(?=[a-f]*[0-9])[0-9a-f]{8,})\M' → <hex>
//     (case-insensitive): both branches consume word characters only and
//     must start at a word start (\m) and end at a word end (\M), so a match
//     is a whole word ([A-Za-z0-9_]+) that is 0x followed by hex digits, or
//     8 hex digits or more with at least one decimal digit;
//  3. '[0-9]+' → <n>.
//
// It is the fast path for the error distribution: PostgreSQL spends about a
// microsecond per regexp call and row. ok is false for a message with a
// non-ASCII byte (whose word characters depend on the server's locale): the
// query normalizes those itself. TestNormalizeMatchesPostgres compares the
// two on generated messages.
func normalizeASCII(s string) (string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return "", false
		}
	}
	return replaceDigits(replaceHexWords(replaceUUIDs(s))), true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isWord(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
}

// uuidShape is where a uuid's dashes are; every other position is a hex digit.
const uuidLen = 36

func uuidAt(s string, i int) bool {
	if len(s)-i < uuidLen {
		return false
	}
	for k := 0; k < uuidLen; k++ {
		c := s[i+k]
		if k == 8 || k == 13 || k == 18 || k == 23 {
			if c != '-' {
				return false
			}
		} else if !isHex(c) {
			return false
		}
	}
	return true
}

func replaceUUIDs(s string) string {
	if strings.Count(s, "-") < 4 {
		return s
	}
	var b strings.Builder
	last := 0
	for i := 0; i+uuidLen <= len(s); {
		if uuidAt(s, i) {
			b.WriteString(s[last:i])
			b.WriteString("<uuid>")
			i += uuidLen
			last = i
			continue
		}
		i++
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// hexWord reports whether a whole word matches 0x[0-9a-f]+ or
// (?=[a-f]*[0-9])[0-9a-f]{8,}, case-insensitively.
func hexWord(w string) bool {
	if len(w) >= 3 && w[0] == '0' && (w[1] == 'x' || w[1] == 'X') {
		all := true
		for k := 2; k < len(w); k++ {
			if !isHex(w[k]) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	if len(w) < 8 {
		return false
	}
	digit := false
	for k := 0; k < len(w); k++ {
		if !isHex(w[k]) {
			return false
		}
		digit = digit || isDigit(w[k])
	}
	return digit
}

func replaceHexWords(s string) string {
	var b strings.Builder
	last, changed := 0, false
	for i := 0; i < len(s); {
		if !isWord(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isWord(s[j]) {
			j++
		}
		if hexWord(s[i:j]) {
			b.WriteString(s[last:i])
			b.WriteString("<hex>")
			last, changed = j, true
		}
		i = j
	}
	if !changed {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func replaceDigits(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	changed := false
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			b.WriteByte(s[i])
			i++
			continue
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		b.WriteString("<n>")
		changed = true
	}
	if !changed {
		return s
	}
	return b.String()
}
