package expr

import (
	"fmt"
	"slices"
	"strings"
)

// The switch rule operators, as written in a flow definition.
const (
	OpEq          = "="
	OpNe          = "!="
	OpGt          = ">"
	OpLt          = "<"
	OpGe          = ">="
	OpLe          = "<="
	OpContains    = "contains"
	OpNotContains = "not contains"
	OpEmpty       = "empty"
	OpNotEmpty    = "not empty"
)

// Operators lists the canonical switch rule operators.
var Operators = []string{OpEq, OpNe, OpGt, OpLt, OpGe, OpLe, OpContains, OpNotContains, OpEmpty, OpNotEmpty}

// aliases maps accepted spellings to the canonical operator.
var aliases = map[string]string{
	"==":           OpEq,
	"<>":           OpNe,
	"not_contains": OpNotContains,
	"notcontains":  OpNotContains,
	"!contains":    OpNotContains,
	"is empty":     OpEmpty,
	"is_empty":     OpEmpty,
	"not_empty":    OpNotEmpty,
	"notempty":     OpNotEmpty,
	"is not empty": OpNotEmpty,
}

// NormalizeOp returns the canonical spelling of a rule operator (case and
// surrounding space ignored; "==" is "=", "<>" is "!=", "not_contains" is
// "not contains", ...) and whether it is known.
func NormalizeOp(op string) (string, bool) {
	o := strings.ToLower(strings.Join(strings.Fields(op), " "))
	if slices.Contains(Operators, o) {
		return o, true
	}
	if c, ok := aliases[o]; ok {
		return c, true
	}
	return op, false
}

// UnaryOp reports whether op ignores its second operand (empty, not empty).
func UnaryOp(op string) bool {
	o, _ := NormalizeOp(op)
	return o == OpEmpty || o == OpNotEmpty
}

// Holds decides a switch rule "v1 op v2". Two values that both parse as
// numbers compare as numbers ("10" > "9", "1.0" = "1"); otherwise they compare
// as text. contains looks for v2 as a substring of v1, or as an element when v1
// is a list (a checkbox value). empty and not empty look at v1 only. An unknown
// operator is an error.
func Holds(op string, v1, v2 any) (bool, error) {
	o, ok := NormalizeOp(op)
	if !ok {
		return false, fmt.Errorf("unknown rule operator %q: want one of %s", op, strings.Join(quoteAll(Operators), ", "))
	}
	switch o {
	case OpEmpty:
		return Empty(v1), nil
	case OpNotEmpty:
		return !Empty(v1), nil
	case OpContains:
		return contains(v1, v2), nil
	case OpNotContains:
		return !contains(v1, v2), nil
	}
	c := compare(v1, v2)
	switch o {
	case OpEq:
		return c == 0, nil
	case OpNe:
		return c != 0, nil
	case OpGt:
		return c > 0, nil
	case OpLt:
		return c < 0, nil
	case OpGe:
		return c >= 0, nil
	case OpLe:
		return c <= 0, nil
	}
	return false, fmt.Errorf("unknown rule operator %q", op)
}

// compare orders two values: numerically when both are numbers, else as text.
func compare(a, b any) int {
	if x, ok := Number(a); ok {
		if y, ok := Number(b); ok {
			switch {
			case x < y:
				return -1
			case x > y:
				return 1
			}
			return 0
		}
	}
	return strings.Compare(Text(a), Text(b))
}

func contains(hay, needle any) bool {
	n := Text(needle)
	if isList(hay) {
		for _, e := range List(hay) {
			if e == n || (compare(e, n) == 0) {
				return true
			}
		}
		return false
	}
	return strings.Contains(Text(hay), n)
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}
