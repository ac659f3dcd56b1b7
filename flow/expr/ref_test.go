package expr

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in   string
		kind Kind
		name string
	}{
		{"$(x)", Var, "x"},
		{" $(總數) ", Var, "總數"},
		{"#(FORMITM_4)", Field, "FORMITM_4"},
		{"#G1(FORMITM_5)", Group, "FORMITM_5"},
		{"#G2(FORMITM_5)", User, "FORMITM_5"},
		{"dispatch", Literal, "dispatch"},
		{"", Literal, ""},
		{"$()", Literal, "$()"},
		{"$(x", Literal, "$(x"},
		{"$(a)b", Literal, "$(a)b"},
		{"$(a(b))", Literal, "$(a(b))"},
		{"#G3(FORMITM_1)", Literal, "#G3(FORMITM_1)"},
		{"price is $(x)", Literal, "price is $(x)"},
		{"$( x)", Literal, "$( x)"},
	}
	for _, c := range cases {
		r := Parse(c.in)
		if r.Kind != c.kind || r.Name != c.name {
			t.Errorf("Parse(%q) = %v %q, want %v %q", c.in, r.Kind, r.Name, c.kind, c.name)
		}
	}
}

func TestParseStrict(t *testing.T) {
	bad := []string{"$(x", "$()", "#()", "$(a)b", "#G3(FORMITM_1)", "#G1(", "#A1(FORMITM_1)", "#(a(b))"}
	for _, s := range bad {
		if _, err := ParseStrict(s); err == nil {
			t.Errorf("ParseStrict(%q): no error", s)
		}
	}
	good := []string{"$(x)", "#(FORMITM_1)", "#G2(FORMITM_5)", "plain", "#hashtag", "50$", "", "#1(x)"}
	for _, s := range good {
		if _, err := ParseStrict(s); err != nil {
			t.Errorf("ParseStrict(%q): %v", s, err)
		}
	}
	_, err := ParseStrict("#G3(FORMITM_1)")
	if err == nil || !strings.Contains(err.Error(), "#G1") {
		t.Errorf("unknown part error should name the known parts: %v", err)
	}
}

func FuzzRef(f *testing.F) {
	for _, s := range []string{"$(x)", "#(FORMITM_1)", "#G1(FORMITM_5)", "#G2(a)", "lit", "$(", "#G9(x)", "$(a)(b)", " $(x) ", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := Parse(s)
		strict, err := ParseStrict(s)
		if err == nil && strict != r {
			t.Fatalf("ParseStrict(%q) = %+v, Parse = %+v", s, strict, r)
		}
		if r.Kind == Literal {
			if r.Name != s {
				t.Fatalf("literal %q changed to %q", s, r.Name)
			}
			return
		}
		if err != nil {
			t.Fatalf("ParseStrict rejected a reference Parse accepted: %q: %v", s, err)
		}
		if r.Name == "" || strings.ContainsAny(r.Name, "()") {
			t.Fatalf("bad name %q from %q", r.Name, s)
		}
		back := Parse(r.String())
		if back != r {
			t.Fatalf("round trip %q -> %q -> %+v, want %+v", s, r.String(), back, r)
		}
		// Assign through a MapEnv must succeed for every reference and be
		// read back unchanged.
		env := &MapEnv{}
		if err := Set(r.String(), "v", env); err != nil {
			t.Fatalf("Set(%q): %v", r.String(), err)
		}
		if got := Eval(r.String(), env); got == nil {
			t.Fatalf("Eval(%q) after Set = nil", r.String())
		}
	})
}
