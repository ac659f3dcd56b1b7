package expr

import (
	"fmt"
	"strings"
)

// Kind tells what a reference points at.
type Kind int

// The kinds of reference.
const (
	Literal Kind = iota // anything that is not a reference: a literal string
	Var                 // $(name): a flow variable
	Field               // #(FORMITM_n): a ticket field
	Group               // #G1(FORMITM_n): the group part of an h_group field
	User                // #G2(FORMITM_n): the user part of an h_group field
)

func (k Kind) String() string {
	switch k {
	case Literal:
		return "literal"
	case Var:
		return "variable"
	case Field:
		return "field"
	case Group:
		return "group"
	case User:
		return "user"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Ref is a parsed value notation.
type Ref struct {
	Kind Kind
	// Name is the variable name or the field id; for a Literal it is the
	// literal text itself, unchanged.
	Name string
}

// IsRef reports whether r points at a variable or a field (not a literal).
func (r Ref) IsRef() bool { return r.Kind != Literal }

// String writes r back in OMFLOW notation.
func (r Ref) String() string {
	switch r.Kind {
	case Var:
		return "$(" + r.Name + ")"
	case Field:
		return "#(" + r.Name + ")"
	case Group:
		return "#G1(" + r.Name + ")"
	case User:
		return "#G2(" + r.Name + ")"
	}
	return r.Name
}

// prefixes in the order they are tried.
var prefixes = []struct {
	p string
	k Kind
}{
	{"$(", Var},
	{"#(", Field},
	{"#G1(", Group},
	{"#G2(", User},
}

// Parse reads s as a reference. Surrounding white space is ignored. Anything
// that is not exactly one well-formed reference is a Literal holding s
// unchanged, as OMFLOW treats it. Parse never fails; see ParseStrict.
func Parse(s string) Ref {
	t := strings.TrimSpace(s)
	for _, p := range prefixes {
		if strings.HasPrefix(t, p.p) && strings.HasSuffix(t, ")") && len(t) > len(p.p) {
			inner := t[len(p.p) : len(t)-1]
			if validName(inner) {
				return Ref{Kind: p.k, Name: inner}
			}
		}
	}
	return Ref{Kind: Literal, Name: s}
}

// ParseStrict is Parse, but it rejects text that looks like a reference and is
// not a well-formed one ("$(x", "#()", "#G3(FORMITM_1)", "$(a)b"), so a typo in
// a flow definition is reported instead of silently becoming a literal.
func ParseStrict(s string) (Ref, error) {
	r := Parse(s)
	if r.Kind != Literal {
		return r, nil
	}
	t := strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(t, "$("), strings.HasPrefix(t, "#("):
		return r, fmt.Errorf("malformed reference %q: want $(name) or #(FIELD_ID) with a non-empty name and nothing after the closing parenthesis", s)
	case looksLikePart(t):
		if strings.HasPrefix(t, "#G1(") || strings.HasPrefix(t, "#G2(") {
			return r, fmt.Errorf("malformed reference %q: want #G1(FIELD_ID) or #G2(FIELD_ID)", s)
		}
		return r, fmt.Errorf("unknown reference %q: only #G1(...) (group) and #G2(...) (user) parts exist", s)
	}
	return r, nil
}

// looksLikePart reports whether t starts like "#X9(": a letter, digits, "(".
func looksLikePart(t string) bool {
	if len(t) < 4 || t[0] != '#' {
		return false
	}
	c := t[1]
	if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
		return false
	}
	i := 2
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	return i > 2 && i < len(t) && t[i] == '('
}

// validName: non-empty, no parentheses, no surrounding space, no control
// characters.
func validName(s string) bool {
	if s == "" || strings.TrimSpace(s) != s {
		return false
	}
	for _, r := range s {
		if r == '(' || r == ')' || r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}
