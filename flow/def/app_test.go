package def

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("../testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func parseOK(t *testing.T, name string) *App {
	t.Helper()
	app, err := ParseApp(readTestdata(t, name))
	if err != nil {
		t.Fatalf("ParseApp(%s): %v", name, err)
	}
	return app
}

func TestParseMission(t *testing.T) {
	app := parseOK(t, "mission.json")
	if app.Name != "任務處理" || len(app.Flows) != 1 {
		t.Fatalf("app %q with %d flows", app.Name, len(app.Flows))
	}
	f := app.Flows[0]
	if f.Name != "任務單" || f.APIPath != "mission" {
		t.Errorf("flow %q %q", f.Name, f.APIPath)
	}
	wantPerm := []Permission{{RoleName: "任務處理組", View: true, Add: true}}
	if !reflect.DeepEqual(f.Permissions, wantPerm) {
		t.Errorf("permissions = %+v", f.Permissions)
	}

	// Form.
	if n := len(f.Form.Fields()); n != 7 {
		t.Errorf("%d fields, want 7", n)
	}
	if f.Form.Field("FORMBOX_1") != nil {
		t.Error("Field returned a box")
	}
	h := f.Form.HeaderFields()
	if h != (Header{Title: "FORMITM_1", Status: "FORMITM_4", Level: "FORMITM_3", Group: "FORMITM_5"}) {
		t.Errorf("header = %+v", h)
	}
	lv := f.Form.Field("FORMITM_3")
	if lv.Config.Value != "green" || !lv.Config.Require || len(lv.Config.Lists) != 3 || lv.Config.Lists[2] != (Choice{"red", "非常緊急"}) {
		t.Errorf("FORMITM_3 = %+v", lv)
	}
	if !f.Form.Field("FORMITM_5").Config.User {
		t.Error("h_group user flag lost")
	}

	// Graph.
	g := f.Graph
	if len(g.Nodes) != 8 || len(g.Lines) != 12 {
		t.Fatalf("%d nodes, %d lines", len(g.Nodes), len(g.Lines))
	}
	if g.Form != f.Form {
		t.Error("graph form is not the flow form")
	}
	if s := g.Start(); s == nil || s.ID != "FITEM_1" || s.Name != "開始" {
		t.Errorf("start = %+v", s)
	}
	if got := g.Next("FITEM_3"); !reflect.DeepEqual(got, []string{"FITEM_2", "FITEM_4"}) {
		t.Errorf("Next(FITEM_3) = %v", got)
	}
	if got := g.Prev("FITEM_4"); !reflect.DeepEqual(got, []string{"FITEM_3", "FITEM_5", "FITEM_7"}) {
		t.Errorf("Prev(FITEM_4) = %v", got)
	}
	a := g.Node("FITEM_2")
	if a.Type != NodeForm || a.Name != "任務分析" || a.Top != 40 || a.Left != 220 {
		t.Errorf("FITEM_2 = %s %q at %v,%v", a.Type, a.Name, a.Top, a.Left)
	}
	wantIn := []Assign{{Name: "#(FORMITM_4)", Value: "dispatch"}, {Name: "#G1(FORMITM_5)", Value: "2"}}
	if !reflect.DeepEqual(a.Config.Input, wantIn) {
		t.Errorf("FITEM_2 input = %+v", a.Config.Input)
	}
	if !a.Config.Action1 || a.Config.Action1Text != "指派" || a.Config.Action2 {
		t.Errorf("FITEM_2 actions = %+v", a.Config)
	}
	if v := a.Config.FormObject.Field("FORMITM_4"); v == nil || !v.Config.Readonly {
		t.Error("step view does not make the status read-only")
	}
	if v := a.Config.FormObject.Field("FORMITM_5"); v == nil || v.Config.Readonly {
		t.Error("step view does not let the analyst assign the group")
	}
	w := g.Node("FITEM_4")
	if w.Config.Action2Text != "退回" || !reflect.DeepEqual(w.Config.Input2, []Assign{{Name: "#(FORMITM_4)", Value: "work_fail"}}) {
		t.Errorf("FITEM_4 action2 = %q %+v", w.Config.Action2Text, w.Config.Input2)
	}
	wantRules := map[string][]Rule{
		"FITEM_3": {{"#(FORMITM_4)", "=", "dispatch", "FITEM_2"}, {"#(FORMITM_4)", "=", "dispatch_done", "FITEM_4"}},
		"FITEM_5": {{"#(FORMITM_4)", "=", "work_done", "FITEM_6"}, {"#(FORMITM_4)", "=", "work", "FITEM_4"}, {"#(FORMITM_4)", "=", "work_fail", "FITEM_2"}},
		"FITEM_7": {{"#(FORMITM_4)", "=", "check_done", "FITEM_8"}, {"#(FORMITM_4)", "=", "check_fail", "FITEM_4"}, {"#(FORMITM_4)", "=", "check", "FITEM_6"}},
	}
	for id, want := range wantRules {
		if got := g.Node(id).Config.Rules; !reflect.DeepEqual(got, want) {
			t.Errorf("%s rules = %+v", id, got)
		}
	}
	if e := g.Node("FITEM_8"); e.Type != NodeEnd || e.Name != "任務完成" {
		t.Errorf("FITEM_8 = %+v", e)
	}
	if l := g.Line("FLINE_12"); l == nil || l.Source != "FITEM_7" || l.Target != "FITEM_6" {
		t.Errorf("FLINE_12 = %+v", l)
	}
}

// Exports store formobject and flowobject as JSON strings as often as
// objects: both read the same.
func TestEmbeddedAsStrings(t *testing.T) {
	data := readTestdata(t, "mission.json")
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	fl := m["flows"].([]any)[0].(map[string]any)
	for _, k := range []string{"formobject", "flowobject"} {
		b, _ := json.Marshal(fl[k])
		fl[k] = string(b)
	}
	strData, _ := json.Marshal(m)
	a1 := parseOK(t, "mission.json")
	a2, err := ParseApp(strData)
	if err != nil {
		t.Fatal(err)
	}
	f1, f2 := a1.Flows[0], a2.Flows[0]
	if !reflect.DeepEqual(stripRaw(f1.Form), stripRaw(f2.Form)) {
		t.Error("forms differ")
	}
	if len(f1.Graph.Nodes) != len(f2.Graph.Nodes) {
		t.Fatal("graphs differ")
	}
	for i := range f1.Graph.Nodes {
		n1, n2 := f1.Graph.Nodes[i], f2.Graph.Nodes[i]
		if n1.ID != n2.ID || n1.Name != n2.Name || !reflect.DeepEqual(n1.Config.Rules, n2.Config.Rules) ||
			!reflect.DeepEqual(n1.Config.Input, n2.Config.Input) || n1.Top != n2.Top {
			t.Errorf("node %s differs", n1.ID)
		}
	}
}

func stripRaw(f *Form) []FormItem { return f.Items }

func TestRawKeptUnchanged(t *testing.T) {
	data := readTestdata(t, "features.json")
	app := parseOK(t, "features.json")
	if string(app.Raw) != strings.TrimSpace(string(data)) {
		t.Error("App.Raw is not the export")
	}
	f := app.Flows[0]
	var orig struct {
		Flows []json.RawMessage `json:"flows"`
	}
	if err := json.Unmarshal(data, &orig); err != nil {
		t.Fatal(err)
	}
	if string(f.Raw) != string(orig.Flows[0]) {
		t.Error("Flow.Raw differs from the flow in the export")
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(f.Raw, &keys); err != nil {
		t.Fatal(err)
	}
	if string(keys["custom_key"]) != `{"kept": true}` && !strings.Contains(string(keys["custom_key"]), "kept") {
		t.Errorf("unknown key lost: %s", keys["custom_key"])
	}
	// A stored flow reads back the same.
	f2, err := ParseFlow(f.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if f2.Name != f.Name || len(f2.Graph.Nodes) != len(f.Graph.Nodes) {
		t.Error("ParseFlow(Raw) differs")
	}
	// Node raw keeps unknown config keys.
	if !strings.Contains(string(f.Graph.Node("FITEM_8").Config.Raw), `"main"`) {
		t.Errorf("collection config raw lost keys: %s", f.Graph.Node("FITEM_8").Config.Raw)
	}
}

func TestParseFeaturesLooseTyping(t *testing.T) {
	f := parseOK(t, "features.json").Flows[0]
	form := f.Form
	if !form.Field("FORMITM_1").Config.Require {
		t.Error(`require "true" not read`)
	}
	amt := form.Field("FORMITM_2")
	if !amt.Config.Require || amt.Config.Value != "100" || amt.Hidden {
		t.Errorf("FORMITM_2 = %+v", amt)
	}
	if !form.Field("FORMITM_4").Config.Readonly {
		t.Error(`readonly "True" not read`)
	}
	if !form.Field("FORMITM_6").Config.User {
		t.Error(`user "1" not read`)
	}
	if !form.Field("FORMITM_7").Hidden {
		t.Error(`hidden "true" not read`)
	}
	if got := form.Field("FORMITM_4").Config.Lists; len(got) != 3 || got[1] != (Choice{"processing", "processing"}) {
		t.Errorf("string lists = %+v", got)
	}
	if got := form.Field("FORMITM_10").Config.Lists; len(got) != 2 || got[1] != (Choice{"2", "二"}) {
		t.Errorf("lists in a JSON string = %+v", got)
	}
	want := []Permission{{RoleName: "一般使用者", View: true, Add: true}, {RoleName: "管理者", View: true, Add: true, Modify: true, Delete: true}}
	if !reflect.DeepEqual(f.Permissions, want) {
		t.Errorf("permissions = %+v", f.Permissions)
	}

	g := f.Graph
	if n := g.Node("FITEM_4"); n.Top != 40 || n.Left != 580 {
		t.Errorf("position from the item's own top/left = %v,%v", n.Top, n.Left)
	}
	if n := g.Node("FITEM_5"); !n.Config.Action1 || n.Config.Action2 || n.Config.Action1Text != "確認" {
		t.Errorf("loose actions = %+v", n.Config)
	}
	start := g.Node("FITEM_1")
	if len(start.Config.Input) != 2 || start.Config.Input[0].VarName() != "amount" || !start.Config.Input[0].Require || start.Config.Input[1].VarName() != "wait" {
		t.Errorf("start input = %+v", start.Config.Input)
	}
	py := g.Node("FITEM_3")
	if !strings.Contains(py.Config.Code, "fee = float(amount)") || len(py.Config.Output) != 2 {
		t.Errorf("python = %+v", py.Config)
	}
	if s := g.Node("FITEM_6").Config.Sleep; s.Ref != "$(wait)" || s.Duration != 0 {
		t.Errorf("sleep value = %+v", s)
	}
	if s := g.Node("FITEM_7").Config.Sleep; s.Duration != time.Minute {
		t.Errorf("sleep duration = %+v", s)
	}
	if got := g.Prev("FITEM_8"); !reflect.DeepEqual(got, []string{"FITEM_5", "FITEM_7"}) {
		t.Errorf("collection waits for %v", got)
	}
	sub := g.Node("FITEM_9").Config.Flow
	if sub == nil || len(sub.Nodes) != 3 || sub.Start().ID != "FITEM_1" || sub.Path("FITEM_2") != "FITEM_9/FITEM_2" {
		t.Fatalf("subflow = %+v", sub)
	}
	if sub.Form != f.Form {
		t.Error("subflow does not share the flow's form")
	}
	if rules := g.Node("FITEM_10").Config.Rules; rules[1].Value2 != "100" {
		t.Errorf("numeric rule operand = %q", rules[1].Value2)
	}
}

func TestBrokenExport(t *testing.T) {
	app, err := ParseApp(readTestdata(t, "broken_graph.json"))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want *ValidationError", err)
	}
	if app == nil || len(app.Flows) != 3 {
		t.Fatalf("app not returned with the errors")
	}
	want := []struct{ flow, node, msg string }{
		{"壞流程", "api_path", `"bad path"`},
		{"壞流程", "permission[1]", "no role_name"},
		{"壞流程", "FORMITM_2", "does not compile"},
		{"壞流程", "FORMITM_3", `"purple"`},
		{"壞流程", "FLINE_6", "FITEM_99 is not a node"},
		{"壞流程", "FITEM_2", "2 outgoing lines"},
		{"壞流程", "FITEM_2", "write #(FORMITM_4)"},
		{"壞流程", "FITEM_2", "needs an h_group field"},
		{"壞流程", "FITEM_2", "FORMITM_9, which is not in the flow's form"},
		{"壞流程", "FITEM_3", `unknown operator "~="`},
		{"壞流程", "FITEM_3", "FITEM_7 is not joined to this switch"},
		{"壞流程", "FITEM_4", "python code: line 2"},
		{"壞流程", "FITEM_5", `unknown node type "outflow"`},
		{"壞流程", "FITEM_6/FITEM_2", `unknown operator "like"`},
		{"壞流程", "FITEM_7", "not reachable from the start node"},
		{"壞流程", "FITEM_7", "no outgoing line"},
		{"壞流程", "FITEM_7", `malformed reference "$(bad"`},
		{"壞流程", "FITEM_9", "not reachable from the start node"},
		{"壞流程", "FITEM_9", "sleep has no wait"},
		{"壞JSON", "formobject", "invalid JSON"},
		{"壞JSON", "flowobject", "items: want an array, got number"},
		{"壞流程", "flowobject", "no flowobject"},
		{"壞流程", "flow_name", "used twice"},
	}
	for _, w := range want {
		found := false
		for _, e := range ve.Errors {
			if e.Flow == w.flow && e.Node == w.node && strings.Contains(e.Message, w.msg) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("missing error: flow %q node %s: %s", w.flow, w.node, w.msg)
		}
	}
	if len(ve.Errors) != len(want) {
		for _, e := range ve.Errors {
			t.Log(e)
		}
		t.Errorf("%d errors, want %d", len(ve.Errors), len(want))
	}
	// The error text lists every problem with the flow and node names.
	msg := err.Error()
	if !strings.Contains(msg, "23 problems") || !strings.Contains(msg, `flow "壞流程": FITEM_3 (判斷): rule 1`) {
		t.Errorf("error text:\n%s", msg)
	}
}

func TestParseAppSyntaxError(t *testing.T) {
	_, err := ParseApp(readTestdata(t, "broken_syntax.json"))
	var ve *ValidationError
	if err == nil || errors.As(err, &ve) || !strings.Contains(err.Error(), "parse app export") {
		t.Errorf("err = %v, want a plain parse error", err)
	}
	for _, in := range []string{"", "[]", "null", `"x"`} {
		if _, err := ParseApp([]byte(in)); err == nil {
			t.Errorf("ParseApp(%q) accepted", in)
		}
	}
	_, err = ParseApp([]byte(`{"app": {"name": "a"}}`))
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "no flows") {
		t.Errorf("no flows: %v", err)
	}
}

func FuzzParseApp(f *testing.F) {
	// Small, compact seeds keep the fuzzer's minimization of new inputs quick
	// (mission.json is covered by the unit tests; as a seed it makes each
	// minimization take minutes).
	for _, name := range []string{"features.json", "broken_graph.json", "broken_syntax.json"} {
		data := readTestdata(f, name)
		var b bytes.Buffer
		if json.Compact(&b, data) == nil {
			data = b.Bytes()
		}
		f.Add(data)
	}
	f.Add([]byte(`{"flows":[{"flow_name":"a","flowobject":"{\"items\":[{\"id\":\"FITEM_1\",\"type\":\"subflow\",\"config\":{\"flowobject\":{}}}]}"}]}`))
	f.Add([]byte(`{"app":{"name":"a"},"flows":[{"flow_name":"f","api_path":"f","formobject":{"items":[{"id":"FORMITM_1","type":"h_title","config":{"require":"true","regex":"^a"}}]},"flowobject":{"items":[{"id":"FITEM_1","type":"start","config":{"top":"1"}},{"id":"FITEM_2","type":"switch","config":{"rules":[{"value1":"#(FORMITM_1)","rule":"=","value2":"a","target":"FITEM_3"}]}},{"id":"FITEM_3","type":"end"},{"id":"FLINE_1","type":"line","config":{"source_item":"FITEM_1","target_item":"FITEM_2"}},{"id":"FLINE_2","type":"line","config":{"source_item":"FITEM_2","target_item":"FITEM_3"}}]},"permission":[{"role_name":"r","value":{"view":1}}]}]}`))
	f.Add([]byte(`{"flows":[{"flow_name":"p","flowobject":{"items":[{"id":"FITEM_1","type":"python","config":{"code":"x = a\n","input":[{"name":"a","value":"$(b)"}]}},{"id":"FITEM_2","type":"sleep","config":{"until":"2025-01-01","value":"$(w)"}}]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		app, err := ParseApp(data)
		if err != nil {
			var ve *ValidationError
			if errors.As(err, &ve) && (app == nil || len(ve.Errors) == 0) {
				t.Fatalf("validation error without app or problems: %v", err)
			}
			if !errors.As(err, &ve) && app != nil {
				t.Fatal("plain error with an app")
			}
		}
		if app == nil {
			return
		}
		for _, fl := range app.Flows {
			if fl.Form == nil {
				t.Fatal("nil form")
			}
			// A flow reads back from its raw JSON with the same problems.
			f2, err2 := ParseFlow(fl.Raw)
			if f2 == nil {
				t.Fatalf("ParseFlow(Raw) failed: %v", err2)
			}
			if f2.Name != fl.Name || (f2.Graph == nil) != (fl.Graph == nil) {
				t.Fatal("ParseFlow(Raw) differs")
			}
			if fl.Graph != nil {
				for _, n := range fl.Graph.Nodes {
					_ = fl.Graph.Next(n.ID)
					_ = fl.Graph.Prev(n.ID)
				}
				_ = fl.Graph.Start()
			}
			// Validating any input against the form never panics.
			_, _ = fl.Form.Validate(nil, map[string]any{"FORMITM_1": "x", "FORMITM_2": []any{"a"}}, nil, ModeFile)
		}
	})
}
