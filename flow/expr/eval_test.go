package expr

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestEvalAndAssign(t *testing.T) {
	env := &MapEnv{
		Vars:   map[string]any{"n": "5"},
		Fields: map[string]any{"FORMITM_5": `{"group":"2","user":"alice"}`},
	}
	if got := Eval("$(n)", env); got != "5" {
		t.Errorf("Eval $(n) = %v", got)
	}
	if got := Eval("$(missing)", env); got != "" {
		t.Errorf("Eval missing var = %#v, want \"\"", got)
	}
	if _, ok := Lookup("$(missing)", env); ok {
		t.Error("Lookup missing var reported found")
	}
	if got := Eval("#G1(FORMITM_5)", env); got != "2" {
		t.Errorf("group part = %v", got)
	}
	if got := Eval("#G2(FORMITM_5)", env); got != "alice" {
		t.Errorf("user part = %v", got)
	}
	if got := Eval("hello", env); got != "hello" {
		t.Errorf("literal = %v", got)
	}

	if err := Assign("#(FORMITM_4)", "dispatch", env); err != nil {
		t.Fatal(err)
	}
	if env.Fields["FORMITM_4"] != "dispatch" {
		t.Errorf("field not set: %v", env.Fields)
	}
	if err := Assign("$(copy)", "#(FORMITM_4)", env); err != nil {
		t.Fatal(err)
	}
	if env.Vars["copy"] != "dispatch" {
		t.Errorf("var not copied: %v", env.Vars)
	}
	// #G2 keeps the group, #G1 keeps the user.
	if err := Assign("#G2(FORMITM_5)", "bob", env); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"group": "2", "user": "bob"}
	if !reflect.DeepEqual(env.Fields["FORMITM_5"], want) {
		t.Errorf("after #G2: %#v", env.Fields["FORMITM_5"])
	}
	if err := Assign("#G1(FORMITM_5)", "$(n)", env); err != nil {
		t.Fatal(err)
	}
	want = map[string]any{"group": "5", "user": "bob"}
	if !reflect.DeepEqual(env.Fields["FORMITM_5"], want) {
		t.Errorf("after #G1: %#v", env.Fields["FORMITM_5"])
	}
	// A group assigned on an unset field gets an empty user.
	if err := Assign("#G1(FORMITM_9)", "7", env); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(env.Fields["FORMITM_9"], map[string]any{"group": "7", "user": ""}) {
		t.Errorf("new group field: %#v", env.Fields["FORMITM_9"])
	}

	err := Assign("status", "x", env)
	if err == nil || !strings.Contains(err.Error(), `"status"`) {
		t.Errorf("literal target: err = %v, want one naming \"status\"", err)
	}
	if err := Assign("$(x", "x", env); err == nil {
		t.Error("malformed target accepted")
	}
}

func TestTextNumberEmpty(t *testing.T) {
	for v, want := range map[any]string{nil: "", "a": "a", 3: "3", 2.5: "2.5", 3.0: "3", true: "true", json.Number("12"): "12"} {
		if got := Text(v); got != want {
			t.Errorf("Text(%#v) = %q, want %q", v, got, want)
		}
	}
	if got := Text(time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)); got != "2025-03-01T08:00:00Z" {
		t.Errorf("Text(time) = %s", got)
	}
	if got := Text([]any{"a", 1}); got != `["a",1]` {
		t.Errorf("Text(list) = %s", got)
	}
	for _, s := range []any{"1", " 2.5 ", "-3e2", 4, int64(5), 1.5, json.Number("7")} {
		if _, ok := Number(s); !ok {
			t.Errorf("Number(%#v) not a number", s)
		}
	}
	for _, s := range []any{"", "abc", "0x10", "NaN", "Inf", true, nil, "1_000"} {
		if _, ok := Number(s); ok {
			t.Errorf("Number(%#v) is a number", s)
		}
	}
	for _, v := range []any{nil, "", []any{}, []string{}, map[string]any{}, map[string]any{"group": "", "user": ""}} {
		if !Empty(v) {
			t.Errorf("Empty(%#v) = false", v)
		}
	}
	for _, v := range []any{" ", "0", 0, false, []any{""}, map[string]any{"group": "1"}} {
		if Empty(v) {
			t.Errorf("Empty(%#v) = true", v)
		}
	}
	if got := List(`["a","b"]`); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("List(json) = %v", got)
	}
}
