package expr

import "testing"

func TestHolds(t *testing.T) {
	cases := []struct {
		v1   any
		op   string
		v2   any
		want bool
	}{
		{"dispatch", "=", "dispatch", true},
		{"dispatch", "=", "dispatch_done", false},
		{"dispatch", "==", "dispatch", true},
		{"a", "!=", "b", true},
		{"a", "<>", "a", false},
		{"10", ">", "9", true},  // numbers, not text
		{"10", "<", "9", false}, // numbers, not text
		{"b", ">", "a", true},   // text
		{"1.0", "=", "1", true}, // numeric equality
		{"1.0", "!=", 1, false}, // mixed types
		{"abc", ">=", "abc", true},
		{"5", "<=", 5.0, true},
		{"5", "<=", "x", true}, // "5" < "x" as text
		{"hello world", "contains", "lo w", true},
		{"hello", "not contains", "z", true},
		{[]any{"a", "b"}, "contains", "b", true},
		{[]string{"a", "b"}, "contains", "ab", false},
		{`["a","b"]`, "contains", "a", true}, // a JSON string: substring match
		{"", "empty", nil, true},
		{nil, "empty", "ignored", true},
		{"x", "not empty", nil, true},
		{[]any{}, "EMPTY", nil, true},
		{" x ", " Not  Empty ", nil, true},
	}
	for _, c := range cases {
		got, err := Holds(c.op, c.v1, c.v2)
		if err != nil {
			t.Errorf("Holds(%q, %#v, %#v): %v", c.op, c.v1, c.v2, err)
			continue
		}
		if got != c.want {
			t.Errorf("Holds(%q, %#v, %#v) = %v, want %v", c.op, c.v1, c.v2, got, c.want)
		}
	}
	if _, err := Holds("~=", "a", "b"); err == nil {
		t.Error("unknown operator accepted")
	}
	if op, ok := NormalizeOp("NOT_CONTAINS"); !ok || op != OpNotContains {
		t.Errorf("NormalizeOp = %q %v", op, ok)
	}
	if !UnaryOp("empty") || UnaryOp("=") {
		t.Error("UnaryOp wrong")
	}
}
