package config

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// FieldError is a problem with the value of one setting.
type FieldError struct {
	Key    string // the setting, e.g. "HTTP_PORT"
	Value  string // the offending value as given ("********" for secrets); "" when empty
	Msg    string // what is wrong and how to fix it
	Source string // where the value came from when known: "line 3", "environment OMFLOW_HTTP_PORT", "flag --http-port"
}

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.Key)
	if e.Value != "" {
		b.WriteString("=")
		b.WriteString(quoteIfNeeded(e.Value))
	}
	if e.Source != "" {
		fmt.Fprintf(&b, " (%s)", e.Source)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// UnknownKeyError is a key in the settings file that OMFLOW does not know.
type UnknownKeyError struct {
	Key        string
	Line       int    // 1-based line in the file; 0 when it could not be found
	Suggestion string // closest known key, or ""
}

func (e *UnknownKeyError) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	fmt.Fprintf(&b, "unknown key %s", quoteIfNeeded(e.Key))
	if e.Suggestion != "" {
		fmt.Fprintf(&b, "; did you mean %s?", e.Suggestion)
	} else {
		b.WriteString("; run `omflow config show` for the known keys")
	}
	return b.String()
}

// quoteIfNeeded quotes s when printing it bare would be ambiguous.
func quoteIfNeeded(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) || strings.ContainsRune(`"'=#\`, r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// suggestKey returns the known key closest to name, or "" when none is close.
func suggestKey(name string) string {
	upper := strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	best, bestDist := "", -1
	for _, k := range table {
		d := editDistance(upper, k.Name)
		if bestDist < 0 || d < bestDist {
			best, bestDist = k.Name, d
		}
	}
	if bestDist >= 0 && bestDist <= max(2, len(best)/4) {
		return best
	}
	return ""
}

// editDistance is the optimal-string-alignment distance: insertions,
// deletions, substitutions and swaps of neighbours each cost 1.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		return max(len(ra), len(rb)) // not a typo of a short key
	}
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
