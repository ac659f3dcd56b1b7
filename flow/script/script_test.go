package script

import (
	"context"
	"errors"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"
)

func compile(t *testing.T, code string) *Program {
	t.Helper()
	p, err := Compile("FITEM_9", code)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return p
}

func TestRunGlobalsInAndOut(t *testing.T) {
	p := compile(t, `
import json, math
total = 0
i = 0
while i < len(items):
    total += items[i]
    i += 1
count = count + 1          # reassign an input global
s = set([1, 2, 2])
result = {"total": total, "n": len(s), "who": who.upper(), "floor": math.floor(2.7)}
encoded = json.encode(result)
def helper():
    return 1
print("done", total)
`)
	res, err := p.Exec(context.Background(), map[string]any{
		"items": []any{int64(1), 2, 3.5},
		"count": 41,
		"who":   "alice",
	}, Limits{})
	if err != nil {
		t.Fatalf("Exec: %v", err)
	}
	g := res.Globals
	if g["total"] != 6.5 {
		t.Errorf("total = %#v", g["total"])
	}
	if g["count"] != int64(42) {
		t.Errorf("count = %#v", g["count"])
	}
	want := map[string]any{"total": 6.5, "n": int64(2), "who": "ALICE", "floor": int64(2)}
	if !reflect.DeepEqual(g["result"], want) {
		t.Errorf("result = %#v, want %#v", g["result"], want)
	}
	if g["encoded"] != `{"floor":2,"n":2,"total":6.5,"who":"ALICE"}` {
		t.Errorf("encoded = %#v", g["encoded"])
	}
	if _, ok := g["helper"]; ok {
		t.Error("function leaked into globals")
	}
	if _, ok := g["json"]; ok {
		t.Error("module leaked into globals")
	}
	if len(res.Log) != 1 || res.Log[0] != "done 6.5" {
		t.Errorf("log = %q", res.Log)
	}
	if res.Steps == 0 {
		t.Error("no steps counted")
	}
}

func TestConversionsRoundTrip(t *testing.T) {
	big1, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	ts := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	in := map[string]any{
		"n":    nil,
		"b":    true,
		"s":    "文字",
		"i":    int64(-7),
		"f":    1.25,
		"big":  big1,
		"list": []any{"a", int64(1), []any{false}},
		"m":    map[string]any{"k": map[string]any{"x": "y"}, "e": []any{}},
		"ts":   ts,
		"d":    90 * time.Minute,
	}
	p := compile(t, "pass")
	out, err := p.Run(context.Background(), in, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range in {
		got := out[k]
		if tv, ok := v.(time.Time); ok {
			if gt, ok := got.(time.Time); !ok || !gt.Equal(tv) {
				t.Errorf("%s = %#v, want %v", k, got, tv)
			}
			continue
		}
		if bv, ok := v.(*big.Int); ok {
			if gb, ok := got.(*big.Int); !ok || gb.Cmp(bv) != 0 {
				t.Errorf("%s = %#v, want %v", k, got, bv)
			}
			continue
		}
		if !reflect.DeepEqual(got, v) {
			t.Errorf("%s = %#v, want %#v", k, got, v)
		}
	}
	// []string, map[string]string and small ints convert too.
	out, err = compile(t, "y = [len(a), b['k'], c + 1]").Run(context.Background(),
		map[string]any{"a": []string{"x", "y"}, "b": map[string]string{"k": "v"}, "c": 1}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out["y"], []any{int64(2), "v", int64(2)}) {
		t.Errorf("y = %#v", out["y"])
	}
	if _, err := compile(t, "pass").Run(context.Background(), map[string]any{"ch": make(chan int)}, Limits{}); err == nil || !strings.Contains(err.Error(), `"ch"`) {
		t.Errorf("unconvertible global: err = %v", err)
	}
}

func TestStepBudget(t *testing.T) {
	p := compile(t, "x = 0\nwhile True:\n    x += 1\n")
	_, err := p.Run(context.Background(), nil, Limits{MaxSteps: 10_000, Timeout: 10 * time.Second})
	if !errors.Is(err, ErrStepLimit) {
		t.Fatalf("err = %v, want ErrStepLimit", err)
	}
	// The line of a stopped run is where the interpreter noticed; it may be
	// approximate, so only the message is checked.
	if !strings.Contains(err.Error(), "step budget") || !strings.Contains(err.Error(), "10000") {
		t.Errorf("message %q does not name the step budget", err)
	}
}

func TestTimeout(t *testing.T) {
	// A busy loop that would take far longer than the time limit, under a
	// step budget large enough not to trigger first.
	p := compile(t, "def spin():\n    for i in range(1000000000):\n        pass\nspin()\n")
	start := time.Now()
	_, err := p.Run(context.Background(), nil, Limits{MaxSteps: 1 << 62, Timeout: 100 * time.Millisecond})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v to stop", d)
	}
	if !strings.Contains(err.Error(), "time limit") {
		t.Errorf("message %q does not say time limit", err)
	}
}

func TestContextCancel(t *testing.T) {
	p := compile(t, "while True:\n    pass\n")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := p.Run(ctx, nil, Limits{MaxSteps: 1 << 62, Timeout: time.Minute})
	if !errors.Is(err, ErrCanceled) {
		t.Fatalf("err = %v, want ErrCanceled", err)
	}
}

func TestRuntimeErrorLine(t *testing.T) {
	p := compile(t, "a = 1\nb = 0\nc = a / b\n")
	_, err := p.Run(context.Background(), nil, Limits{})
	if err == nil {
		t.Fatal("no error")
	}
	if !strings.HasPrefix(err.Error(), "line 3: ") || !strings.Contains(err.Error(), "division by zero") {
		t.Errorf("err = %q, want line 3: ... division by zero", err)
	}
	// Inside a function, and from a builtin: the script line is reported.
	p = compile(t, "def f(x):\n    return int(x)\n\ny = f('abc')\n")
	_, err = p.Run(context.Background(), nil, Limits{})
	var se *Error
	if !errors.As(err, &se) || se.Line != 2 {
		t.Errorf("err = %v (%+v), want line 2", err, se)
	}
}

func TestCompileErrors(t *testing.T) {
	cases := map[string]struct {
		code string
		line int
		msg  string
	}{
		"syntax":        {"x = 1\ny = (\n", 3, ""},
		"load":          {"load('x.star', 'y')\n", 1, "load() is not allowed"},
		"import other":  {"import os\n", 1, ""},
		"break outside": {"x = 1\nbreak\n", 2, "break"},
	}
	for name, c := range cases {
		_, err := Compile("FITEM_1", c.code)
		var se *Error
		if !errors.As(err, &se) {
			t.Errorf("%s: err = %v, want *Error", name, err)
			continue
		}
		if se.Line != c.line {
			t.Errorf("%s: line %d, want %d (%v)", name, se.Line, c.line, err)
		}
		if c.msg != "" && !strings.Contains(se.Msg, c.msg) {
			t.Errorf("%s: msg %q does not contain %q", name, se.Msg, c.msg)
		}
	}
}

func TestFreeNamesAndCheckGlobals(t *testing.T) {
	p := compile(t, "import json\nx = a + len(b)\ndef f():\n    return c\ny = json.encode(x)\n")
	if got := p.FreeNames(); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Errorf("FreeNames = %v", got)
	}
	if err := p.CheckGlobals([]string{"a", "b", "c"}); err != nil {
		t.Errorf("CheckGlobals all present: %v", err)
	}
	err := p.CheckGlobals([]string{"a", "b"})
	var se *Error
	if !errors.As(err, &se) || se.Line != 4 || !strings.Contains(se.Msg, "c") {
		t.Errorf("CheckGlobals missing c: %v", err)
	}
	// Running without a needed global fails with the line.
	if _, err := p.Run(context.Background(), map[string]any{"a": 1}, Limits{}); err == nil || !strings.HasPrefix(err.Error(), "line 2") {
		t.Errorf("Run missing globals: %v", err)
	}
	if _, err := compile(t, "pass").Run(context.Background(), map[string]any{"not valid": 1}, Limits{}); err == nil {
		t.Error("non-identifier global accepted")
	}
}

func TestNoFilesNoNetwork(t *testing.T) {
	for _, code := range []string{"open('/etc/passwd')", "x = __import__('os')", "exec('1')", "eval('1')"} {
		p, err := Compile("s", code)
		if err != nil {
			continue // rejected at compile time: fine
		}
		if _, err := p.Run(context.Background(), nil, Limits{}); err == nil {
			t.Errorf("%q ran without error", code)
		}
	}
}

func TestPrintCapped(t *testing.T) {
	res, err := compile(t, "for i in range(5000):\n    print(i)\n").Exec(context.Background(), nil, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Log) != MaxLogLines || res.Log[0] != "0" {
		t.Errorf("log has %d lines, first %q", len(res.Log), res.Log[0])
	}
}
