package def

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func codes(errs []FieldError) map[string]string {
	m := map[string]string{}
	for _, e := range errs {
		m[e.Field] = e.Code
	}
	return m
}

func missionFlow(t *testing.T) *Flow {
	t.Helper()
	return parseOK(t, "mission.json").Flows[0]
}

func TestValidateFiling(t *testing.T) {
	form := missionFlow(t).Form
	out, errs := form.Validate(nil, map[string]any{
		"FORMITM_1": "印表機故障",
		"FORMITM_6": "hardware",
		"FORMITM_7": " 2.5 ",
		"FORMITM_5": `{"group":"3","user":"alice"}`,
	}, nil, ModeFile)
	if len(errs) > 0 {
		t.Fatalf("errors: %v", FieldErrors(errs))
	}
	want := map[string]any{
		"FORMITM_1": "印表機故障",
		"FORMITM_3": "green", // default
		"FORMITM_4": "new",   // default of a read-only field
		"FORMITM_5": map[string]any{"group": "3", "user": "alice"},
		"FORMITM_6": "hardware",
		"FORMITM_7": json.Number("2.5"),
	}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("out = %#v\nwant %#v", out, want)
	}

	// Every kind of error at once.
	_, errs = form.Validate(nil, map[string]any{
		"FORMITM_3":  "blue",
		"FORMITM_4":  "work",
		"FORMITM_6":  "food",
		"FORMITM_7":  "abc",
		"FORMITM_99": "x",
		"FORMBOX_1":  "x",
	}, nil, ModeFile)
	got := codes(errs)
	wantCodes := map[string]string{
		"FORMITM_1":  CodeRequired,
		"FORMITM_3":  CodeLevel,
		"FORMITM_4":  CodeReadonly,
		"FORMITM_6":  CodeChoice,
		"FORMITM_7":  CodeNumber,
		"FORMITM_99": CodeUnknown,
		"FORMBOX_1":  CodeUnknown,
	}
	if !reflect.DeepEqual(got, wantCodes) {
		t.Errorf("codes = %v\nwant %v", got, wantCodes)
	}
	for _, e := range errs {
		if !strings.Contains(e.Error(), e.Field) {
			t.Errorf("message %q does not name the field", e.Error())
		}
		if e.Code == CodeReadonly && !strings.Contains(e.Message, "read-only at this step") {
			t.Errorf("readonly message = %q", e.Message)
		}
	}

	// A read-only field may be submitted with its current value.
	if _, errs := form.Validate(nil, map[string]any{"FORMITM_1": "t", "FORMITM_6": "network", "FORMITM_4": "new"}, nil, ModeFile); len(errs) > 0 {
		t.Errorf("unchanged read-only value rejected: %v", FieldErrors(errs))
	}
	// Regex: a number that parses but breaks the field's pattern.
	_, errs = form.Validate(nil, map[string]any{"FORMITM_1": "t", "FORMITM_6": "network", "FORMITM_7": "-3"}, nil, ModeFile)
	if c := codes(errs); c["FORMITM_7"] != CodeRegex {
		t.Errorf("regex: %v", errs)
	}
	// Required and empty after a given empty value.
	_, errs = form.Validate(nil, map[string]any{"FORMITM_1": "", "FORMITM_6": "network", "FORMITM_3": ""}, nil, ModeFile)
	if c := codes(errs); c["FORMITM_1"] != CodeRequired || c["FORMITM_3"] != CodeRequired {
		t.Errorf("required: %v", errs)
	}
	if FieldErrors(errs).Err() == nil || FieldErrors(nil).Err() != nil {
		t.Error("FieldErrors.Err")
	}
}

func TestValidateStep(t *testing.T) {
	f := missionFlow(t)
	view := f.Graph.Node("FITEM_4").Config.FormObject // 任務處理: only description and hours writable
	prev := map[string]any{
		"FORMITM_1": "印表機故障",
		"FORMITM_3": "green",
		"FORMITM_4": "work",
		"FORMITM_5": map[string]any{"group": "2", "user": ""},
		"FORMITM_6": "hardware",
		"extra":     "kept",
	}
	out, errs := f.Form.Validate(view, map[string]any{
		"FORMITM_2": "換了碳粉匣",
		"FORMITM_7": 1,
		"FORMITM_3": "green",    // unchanged read-only: fine
		"FORMITM_5": "2",        // same group written another way: fine
		"FORMITM_6": "hardware", // unchanged
	}, prev, ModeStep)
	if len(errs) > 0 {
		t.Fatalf("errors: %v", FieldErrors(errs))
	}
	if out["FORMITM_2"] != "換了碳粉匣" || out["FORMITM_7"] != json.Number("1") || out["extra"] != "kept" || out["FORMITM_1"] != "印表機故障" {
		t.Errorf("out = %#v", out)
	}
	if _, ok := out["FORMITM_3"]; !ok {
		t.Error("unchanged field dropped")
	}
	if prev["FORMITM_2"] != nil {
		t.Error("prev was modified")
	}

	_, errs = f.Form.Validate(view, map[string]any{"FORMITM_1": "改標題", "FORMITM_5": map[string]any{"group": "2", "user": "bob"}}, prev, ModeStep)
	if c := codes(errs); c["FORMITM_1"] != CodeReadonly || c["FORMITM_5"] != CodeReadonly || len(c) != 2 {
		t.Errorf("read-only at this step: %v", errs)
	}

	// The analyst's view lets the group be assigned; a step in which a
	// required field is empty reports it even when not submitted.
	an := f.Graph.Node("FITEM_2").Config.FormObject
	prev2 := map[string]any{"FORMITM_1": "", "FORMITM_3": "green", "FORMITM_4": "dispatch", "FORMITM_6": "hardware"}
	out, errs = f.Form.Validate(an, map[string]any{"FORMITM_5": map[string]any{"group": "3", "user": "carol"}}, prev2, ModeStep)
	if c := codes(errs); c["FORMITM_1"] != CodeRequired || len(c) != 1 {
		t.Errorf("required in step: %v", errs)
	}
	if !reflect.DeepEqual(out["FORMITM_5"], map[string]any{"group": "3", "user": "carol"}) {
		t.Errorf("group = %#v", out["FORMITM_5"])
	}
	// No defaults in step mode.
	out, _ = f.Form.Validate(an, map[string]any{}, map[string]any{}, ModeStep)
	if _, ok := out["FORMITM_3"]; ok {
		t.Error("default applied in step mode")
	}

	// A field the step's view does not show cannot be changed.
	small := &Form{Items: []FormItem{{ID: "FORMITM_2", Type: TypeAreabox}}}
	_, errs = f.Form.Validate(small, map[string]any{"FORMITM_7": 5, "FORMITM_2": "ok"}, prev, ModeStep)
	if c := codes(errs); c["FORMITM_7"] != CodeReadonly || len(c) != 1 {
		t.Errorf("field not in view: %v", errs)
	}
}

func TestValidateFieldTypes(t *testing.T) {
	form := parseOK(t, "features.json").Flows[0].Form
	base := map[string]any{"FORMITM_1": "t"}
	with := func(id string, v any) map[string]any {
		m := map[string]any{"FORMITM_1": "t"}
		m[id] = v
		return m
	}
	ok := []struct {
		id   string
		v    any
		want any
	}{
		{"FORMITM_3", []any{"a", "c"}, []string{"a", "c"}},
		{"FORMITM_3", `["b"]`, []string{"b"}},
		{"FORMITM_3", nil, []string{}},
		{"FORMITM_5", "2025-03-01", "2025-03-01"},
		{"FORMITM_9", "2025-03-01 10:00", "2025-03-01 10:00"},
		{"FORMITM_9", "2025-03-01T10:00", "2025-03-01T10:00"},
		{"FORMITM_9", "2025-03-01T10:00:00+08:00", "2025-03-01T10:00:00+08:00"},
		{"FORMITM_8", " RED ", "red"},
		{"FORMITM_10", "2", "2"},
		{"FORMITM_10", 1, "1"},
		{"FORMITM_6", "ops", map[string]any{"group": "ops", "user": ""}},
		{"FORMITM_11", []any{map[string]any{"id": "f1"}}, []any{map[string]any{"id": "f1"}}},
		{"FORMITM_2", 250, "250"},
	}
	for _, c := range ok {
		out, errs := form.Validate(nil, with(c.id, c.v), nil, ModeFile)
		if len(errs) > 0 {
			t.Errorf("%s=%#v: %v", c.id, c.v, FieldErrors(errs))
			continue
		}
		if !reflect.DeepEqual(out[c.id], c.want) {
			t.Errorf("%s=%#v normalized to %#v, want %#v", c.id, c.v, out[c.id], c.want)
		}
	}
	bad := []struct {
		id   string
		v    any
		code string
	}{
		{"FORMITM_3", []any{"a", "z"}, CodeChoice},
		{"FORMITM_3", map[string]any{"a": 1}, CodeType},
		{"FORMITM_5", "2025-13-01", CodeDate},
		{"FORMITM_9", "tomorrow", CodeDate},
		{"FORMITM_8", "orange", CodeLevel},
		{"FORMITM_10", "3", CodeChoice},
		{"FORMITM_2", "12a", CodeRegex},
		{"FORMITM_2", []any{"1"}, CodeType},
		{"FORMITM_7", "x", CodeReadonly}, // hidden in the full form
		{"FORMITM_6", []any{"x"}, CodeType},
	}
	for _, c := range bad {
		_, errs := form.Validate(nil, with(c.id, c.v), nil, ModeFile)
		if got := codes(errs)[c.id]; got != c.code {
			t.Errorf("%s=%#v: code %q, want %q (%v)", c.id, c.v, got, c.code, FieldErrors(errs))
		}
	}
	// Defaults: a number default given as a JSON number, h_level default.
	out, errs := form.Validate(nil, base, nil, ModeFile)
	if len(errs) > 0 {
		t.Fatal(FieldErrors(errs))
	}
	if out["FORMITM_2"] != "100" || out["FORMITM_8"] != "green" {
		t.Errorf("defaults = %#v", out)
	}
	// h_status is free text even with lists.
	if _, errs := form.Validate(nil, map[string]any{"FORMITM_1": "t"}, nil, ModeFile); len(errs) > 0 {
		t.Error(FieldErrors(errs))
	}
	st := &Form{Items: []FormItem{{ID: "FORMITM_1", Type: TypeHStatus, Config: FieldConfig{Lists: []Choice{{"a", "a"}}}}}}
	if out, errs := st.Validate(nil, map[string]any{"FORMITM_1": "anything"}, nil, ModeFile); len(errs) > 0 || out["FORMITM_1"] != "anything" {
		t.Errorf("h_status restricted: %v", errs)
	}
}

func TestCompileRegexJSLiteral(t *testing.T) {
	re, err := compileRegex("/^abc$/i")
	if err != nil || !re.MatchString("ABC") {
		t.Errorf("js literal: %v", err)
	}
	re, err = compileRegex("^a/b$")
	if err != nil || !re.MatchString("a/b") {
		t.Errorf("plain pattern with slash: %v", err)
	}
}

func TestParseTime(t *testing.T) {
	for _, s := range []string{"2025-03-01", "2025-03-01 10:00", "2025-03-01T10:00", "2025-03-01 10:00:05", "2025-03-01T10:00:05Z", "2025/03/01"} {
		if _, err := ParseTime(s, nil); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	for _, s := range []string{"", "03/01/2025", "2025-02-30", "now"} {
		if _, err := ParseTime(s, nil); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}
