package def

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// gnode and gline build flowobject items for tests.
func gnode(id, typ string, cfg map[string]any) map[string]any {
	if cfg == nil {
		cfg = map[string]any{}
	}
	return map[string]any{"id": id, "type": typ, "text": "n" + id, "config": cfg}
}

func gline(from, to string) map[string]any {
	return map[string]any{"id": "FLINE_" + from + "_" + to, "type": "line", "config": map[string]any{"source_item": from, "target_item": to}}
}

func graphOf(t *testing.T, form *Form, items ...map[string]any) *Graph {
	t.Helper()
	data, err := json.Marshal(map[string]any{"items": items})
	if err != nil {
		t.Fatal(err)
	}
	g, err := ParseGraph(data)
	if err != nil {
		t.Fatalf("ParseGraph: %v", err)
	}
	g.Form = form
	return g
}

var testForm = &Form{Items: []FormItem{
	{ID: "FORMITM_1", Type: TypeHTitle},
	{ID: "FORMITM_2", Type: TypeHGroup},
	{ID: "FORMITM_3", Type: TypeInputbox},
}}

// linear returns start -> mid... -> end items.
func linear(mid ...map[string]any) []map[string]any {
	items := []map[string]any{gnode("S", NodeStart, nil)}
	prev := "S"
	for _, m := range mid {
		items = append(items, m, gline(prev, m["id"].(string)))
		prev = m["id"].(string)
	}
	return append(items, gnode("E", NodeEnd, nil), gline(prev, "E"))
}

func expectErrs(t *testing.T, errs []NodeError, want ...string) {
	t.Helper()
	for _, w := range want {
		node, msg, _ := strings.Cut(w, ": ")
		found := false
		for _, e := range errs {
			if e.Node == node && strings.Contains(e.Message, msg) {
				found = true
			}
		}
		if !found {
			t.Errorf("missing error %q in:\n%s", w, fmtErrs(errs))
		}
	}
	if len(errs) != len(want) {
		t.Errorf("%d errors, want %d:\n%s", len(errs), len(want), fmtErrs(errs))
	}
}

func fmtErrs(errs []NodeError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "  %s\n", e.Error())
	}
	return b.String()
}

func TestValidateGraph(t *testing.T) {
	sw := func(rules ...map[string]any) map[string]any {
		return gnode("W", NodeSwitch, map[string]any{"rules": rules})
	}
	rule := func(v1, op, v2, target string) map[string]any {
		return map[string]any{"value1": v1, "rule": op, "value2": v2, "target": target}
	}
	cases := []struct {
		name  string
		items []map[string]any
		want  []string
	}{
		{"minimal", linear(), nil},
		{"no start", []map[string]any{gnode("E", NodeEnd, nil)}, []string{": no start node"}},
		{"no end", []map[string]any{gnode("S", NodeStart, nil), gnode("A", NodeSetform, nil), gline("S", "A"), gline("A", "S")},
			[]string{": no end node", "S: lines lead into the start node"}},
		{"two starts", append(linear(), gnode("S2", NodeStart, nil), gline("S2", "E")),
			[]string{"S2: more than one start node", "S2: not reachable"}},
		{"end unreachable", []map[string]any{gnode("S", NodeStart, nil), gnode("A", NodeSetform, nil), gline("S", "A"), gline("A", "A"), gnode("E", NodeEnd, nil)},
			[]string{"E: end node is not reachable"}},
		{"dangling line", append(linear(), gline("S", "X"), map[string]any{"id": "FLINE_9", "type": "line", "config": map[string]any{}}),
			[]string{"FLINE_S_X: line target X is not a node", "FLINE_9: no config.source_item", "FLINE_9: no config.target_item", "S: 2 outgoing lines"}},
		{"duplicate id", append(linear(gnode("A", NodeSetform, nil)), gnode("A", NodeSetform, nil)), []string{"A: duplicate id"}},
		{"end with exit", append(linear(), gnode("B", NodeSetform, nil), gline("E", "B"), gline("B", "E")),
			[]string{"E: end node has outgoing lines"}},
		{"unknown type", linear(gnode("A", "outflow", nil)), []string{`A: unknown node type "outflow"`}},
		{"switch ok", append(linear(sw(rule("#(FORMITM_1)", "=", "x", "E"), rule("$(v)", "empty", "", "B"))), gnode("B", NodeSetform, nil), gline("W", "B"), gline("B", "E")), nil},
		{"switch no rules", linear(sw()), []string{"W: no rules"}},
		{"switch bad rules", append(linear(sw(rule("#(FORMITM_9)", "=", "x", "E"), rule("a", "is", "b", "E"), rule("a", "=", "$(b", "B"), rule("a", "=", "b", "Q"), rule("a", "=", "b", ""))), gnode("B", NodeSetform, nil), gline("B", "E")),
			[]string{"W: rule 1 value1: #(FORMITM_9) refers to field FORMITM_9", `W: rule 2: unknown operator "is"`, "W: rule 3 value2: malformed", "W: rule 3: target B is not joined", "W: rule 4: target Q is not a node", "W: rule 5 has no target", "B: not reachable"}},
		{"form assigns", linear(gnode("F", NodeForm, map[string]any{
			"input":  []any{map[string]any{"name": "#(FORMITM_1)", "value": "x"}, map[string]any{"name": "#G2(FORMITM_2)", "value": "$(u)"}, map[string]any{"name": "$(v)", "value": "#G1(FORMITM_2)"}},
			"input1": []any{map[string]any{"name": "title", "value": "x"}},
			"input2": []any{map[string]any{"name": "#G1(FORMITM_3)", "value": "x"}},
		})), []string{`F: config.input1[1]: target "title"`, "F: config.input2[1]: #G1(FORMITM_3) needs an h_group field"}},
		{"start inputs", append([]map[string]any{gnode("S", NodeStart, map[string]any{"input": []any{
			map[string]any{"name": "a", "value": "#(FORMITM_1)"}, map[string]any{"name": "$(b)", "value": "1"}, map[string]any{"name": "#(FORMITM_1)", "value": "1"}}})},
			gnode("E", NodeEnd, map[string]any{"output": []any{map[string]any{"name": "$(r)", "value": "$(a)"}, map[string]any{"name": "r2", "value": "x"}, map[string]any{"name": "#(FORMITM_1)", "value": "x"}}}),
			gline("S", "E")),
			[]string{`S: config.input[3]: "#(FORMITM_1)" must name a flow variable`, `E: config.output[3]: output name "#(FORMITM_1)"`}},
		{"python ok", linear(gnode("P", NodePython, map[string]any{
			"code":   "import json\ny = json.encode({'a': a})\n",
			"input":  []any{map[string]any{"name": "a", "value": "#(FORMITM_1)"}},
			"output": []any{map[string]any{"name": "$(y)", "value": "$(y)"}, map[string]any{"name": "#(FORMITM_3)", "value": "y"}},
		})), nil},
		{"python errors", linear(gnode("P", NodePython, map[string]any{
			"code":   "y = a + missing\n",
			"input":  []any{map[string]any{"name": "a", "value": "1"}, map[string]any{"name": "not valid", "value": "1"}},
			"output": []any{map[string]any{"name": "y", "value": "$(y)"}, map[string]any{"name": "$(z)", "value": "#(FORMITM_1)"}},
		})), []string{`P: config.input[2]: script global "not valid"`, `P: config.output[1]: target "y"`, `P: config.output[2]: value "#(FORMITM_1)" must name a script global`, "P: python code: line 1: undefined: missing"}},
		{"python syntax", linear(gnode("P", NodePython, map[string]any{"code": "def f(:\n"})), []string{"P: python code: line 1"}},
		{"sleep", linear(gnode("Z", NodeSleep, map[string]any{"seconds": 5})), nil},
		{"sleep none", linear(gnode("Z", NodeSleep, nil)), []string{"Z: sleep has no wait"}},
		{"subflow", linear(gnode("U", NodeSubflow, map[string]any{"flowobject": map[string]any{"items": linear(gnode("A", NodeSetform, map[string]any{
			"input": []any{map[string]any{"name": "#(FORMITM_7)", "value": "x"}}}))}})),
			[]string{"U/A: config.input[1]: #(FORMITM_7) refers to field FORMITM_7"}},
		{"subflow as string", linear(gnode("U", NodeSubflow, map[string]any{"flowobject": `{"items":[{"id":"S","type":"start"}]}`})),
			[]string{"U: no end node", "U/S: no outgoing line"}},
		{"subflow missing", linear(gnode("U", NodeSubflow, nil)), []string{"U: no embedded flow"}},
		{"subflow bad json", linear(gnode("U", NodeSubflow, map[string]any{"flowobject": `{"items":`})), []string{"U/flowobject: invalid JSON"}},
		{"async and collection", []map[string]any{
			gnode("S", NodeStart, nil), gnode("A", NodeAsync, nil), gnode("X", NodeSetform, nil), gnode("Y", NodeSleep, map[string]any{"msec": 10}),
			gnode("C", NodeCollection, nil), gnode("E", NodeEnd, nil),
			gline("S", "A"), gline("A", "X"), gline("A", "Y"), gline("X", "C"), gline("Y", "C"), gline("C", "E")}, nil},
		{"node config unreadable", linear(gnode("F", NodeForm, map[string]any{"input": 5})), []string{"F: config.input: want a JSON array"}},
		{"form view", linear(gnode("F", NodeForm, map[string]any{"form_object": map[string]any{"items": []any{
			map[string]any{"id": "FORMBOX_1", "type": "box12"}, map[string]any{"id": "FORMITM_1", "type": "h_title"}, map[string]any{"id": "FORMITM_8", "type": "inputbox"}}}})),
			[]string{"F: form_object shows field FORMITM_8"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data, _ := json.Marshal(map[string]any{"items": c.items})
			g, _ := ParseGraph(data)
			g.Form = testForm
			expectErrs(t, ValidateGraph(g), c.want...)
		})
	}
}

func TestNodeErrorFormat(t *testing.T) {
	e := NodeError{Flow: "任務單", Node: "FITEM_3", Name: "是否指派", Message: "rule 1: unknown operator"}
	if got := e.Error(); got != `flow "任務單": FITEM_3 (是否指派): rule 1: unknown operator` {
		t.Errorf("Error() = %q", got)
	}
	ve := &ValidationError{Errors: []NodeError{e}}
	var target *ValidationError
	if !errors.As(fmt.Errorf("import: %w", ve), &target) {
		t.Error("ValidationError does not unwrap")
	}
}

func TestSleepWakeAt(t *testing.T) {
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	vars := map[string]any{"$(ms)": "1500", "$(d)": "2h", "$(t)": "2025-03-02 08:00", "$(bad)": "soon", "$(empty)": ""}
	eval := func(ref string) any { return vars[ref] }
	cases := []struct {
		cfg  string
		want time.Time
		err  string
	}{
		{`{"msec": 500}`, now.Add(500 * time.Millisecond), ""},
		{`{"seconds": "30", "minutes": 1}`, now.Add(90 * time.Second), ""},
		{`{"hours": 1.5}`, now.Add(90 * time.Minute), ""},
		{`{"days": 1}`, now.Add(24 * time.Hour), ""},
		{`{"duration": "1h30m"}`, now.Add(90 * time.Minute), ""},
		{`{"duration": "45"}`, now.Add(45 * time.Second), ""},
		{`{"value": "$(ms)", "msec": 99999}`, now.Add(1500 * time.Millisecond), ""},
		{`{"value": "$(d)"}`, now.Add(2 * time.Hour), ""},
		{`{"until": "2025-03-01T12:00:00Z"}`, now.Add(2 * time.Hour), ""},
		{`{"until": "2025-03-01 11:00"}`, now.Add(time.Hour), ""},
		{`{"until": "$(t)"}`, time.Date(2025, 3, 2, 8, 0, 0, 0, time.UTC), ""},
		{`{"value": "$(bad)"}`, time.Time{}, "neither milliseconds nor a duration"},
		{`{"value": "$(empty)"}`, time.Time{}, "empty"},
	}
	for _, c := range cases {
		s, err := parseSleep(json.RawMessage(c.cfg))
		if err != nil {
			t.Errorf("%s: %v", c.cfg, err)
			continue
		}
		got, err := s.WakeAt(now, eval)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err = %v, want %q", c.cfg, err, c.err)
			}
			continue
		}
		if err != nil || !got.Equal(c.want) {
			t.Errorf("%s: WakeAt = %v, %v; want %v", c.cfg, got, err, c.want)
		}
	}
	for _, bad := range []string{`{"msec": -1}`, `{"duration": "soon"}`, `{"until": "tomorrow"}`, `{"value": "1000"}`, `{"until": "2025-01-01", "seconds": 5}`, `{"days": 100000}`} {
		if _, err := parseSleep(json.RawMessage(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
