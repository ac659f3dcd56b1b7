package ui

import (
	"bytes"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/omflow/omflow/flow"
	"github.com/omflow/omflow/flow/def"
)

// allTypesForm has one field of every type of FLOW-FORMAT.md, in two boxes.
const allTypesForm = `{"items": [
 {"id": "FORMBOX_1", "type": "box6", "config": {"title": "基本情報"}},
 {"id": "FORMITM_1", "type": "h_title", "parent": "FORMBOX_1", "config": {"title": "件名", "require": true, "placeholder": "件名を入力"}},
 {"id": "FORMITM_2", "type": "inputbox", "parent": "FORMBOX_1", "config": {"title": "金額", "require": "1", "regex": "^[0-9]+$", "value": 100}},
 {"id": "FORMITM_3", "type": "areabox", "parent": "FORMBOX_1", "config": {"title": "説明", "placeholder": "詳しく"}},
 {"id": "FORMITM_4", "type": "selectbox", "parent": "FORMBOX_1", "config": {"title": "種別", "require": true, "lists": [{"value": "hw", "text": "ハード"}, {"value": "sw", "text": "ソフト"}]}},
 {"id": "FORMITM_5", "type": "checkbox", "parent": "FORMBOX_1", "config": {"title": "選択肢", "lists": [{"value": "a", "text": "甲"}, {"value": "b", "text": "乙"}], "value": "[\"b\"]"}},
 {"id": "FORMITM_6", "type": "radiobox", "parent": "FORMBOX_1", "config": {"title": "方式", "lists": [{"value": "1", "text": "一"}, {"value": "2", "text": "二"}], "value": "2"}},
 {"id": "FORMBOX_2", "type": "box6", "config": {"title": "詳細"}},
 {"id": "FORMITM_7", "type": "date", "parent": "FORMBOX_2", "config": {"title": "期日", "value": "2024/05/01"}},
 {"id": "FORMITM_8", "type": "datetime", "parent": "FORMBOX_2", "config": {"title": "開始", "value": "2024-05-01 09:30"}},
 {"id": "FORMITM_9", "type": "number", "parent": "FORMBOX_2", "config": {"title": "工数", "placeholder": "時間"}},
 {"id": "FORMITM_10", "type": "file", "parent": "FORMBOX_2", "config": {"title": "添付"}},
 {"id": "FORMITM_11", "type": "h_status", "parent": "FORMBOX_2", "config": {"title": "状態", "value": "new", "lists": ["new", "work"]}},
 {"id": "FORMITM_12", "type": "h_level", "parent": "FORMBOX_2", "config": {"title": "レベル", "value": "yellow"}},
 {"id": "FORMITM_13", "type": "h_group", "parent": "FORMBOX_2", "config": {"title": "担当", "user": true}},
 {"id": "FORMITM_14", "type": "checkbox", "config": {"title": "同意する"}},
 {"id": "FORMITM_15", "type": "inputbox", "hidden": true, "config": {"title": "内部メモ"}}
]}`

func parseForm(t *testing.T, s string) *def.Form {
	t.Helper()
	f, err := def.ParseForm([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func testRenderer(t *testing.T) *renderer {
	t.Helper()
	cat, err := newCatalog("ja")
	if err != nil {
		t.Fatal(err)
	}
	rd, err := newRenderer(cat)
	if err != nil {
		t.Fatal(err)
	}
	return rd
}

func renderForm(t *testing.T, fv *formView, lang string) string {
	t.Helper()
	rd := testRenderer(t)
	tm, err := rd.template("new", lang, location(""))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := tm.ExecuteTemplate(&b, "formbody", fv); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// fieldHTML cuts out the rendered block of one field.
func fieldHTML(t *testing.T, html, id string) string {
	t.Helper()
	start := strings.Index(html, `data-field="`+id+`"`)
	if start < 0 {
		t.Fatalf("field %s not rendered:\n%s", id, html)
	}
	rest := html[start:]
	if end := strings.Index(rest[1:], `<div class="field `); end >= 0 {
		rest = rest[:end+1]
	}
	return rest
}

func wantIn(t *testing.T, what, html string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(html, s) {
			t.Errorf("%s lacks %q:\n%s", what, s, html)
		}
	}
}

func TestFormRendersEveryFieldType(t *testing.T) {
	form := parseForm(t, allTypesForm)
	fv := buildForm(formInput{
		Form: form, Defaults: true,
		Groups:  []groupChoice{{Value: "1", Name: "総務"}, {Value: "2", Name: "情シス"}},
		Users:   []userChoice{{Username: "alice", Name: "Alice"}, {Username: "bob", Name: "Bob"}},
		Members: map[string][]string{"1": {"bob"}, "2": {"alice"}},
	})
	html := renderForm(t, fv, "ja")

	// Boxes are sections with their titles, fields inside them.
	wantIn(t, "form", html, `<fieldset class="box w6" data-box="FORMBOX_1">`, `<legend>基本情報</legend>`, `<legend>詳細</legend>`)
	if strings.Index(html, `data-box="FORMBOX_2"`) > strings.Index(html, `data-field="FORMITM_7"`) {
		t.Error("FORMITM_7 is not inside its box")
	}
	// A field hidden in the form is not rendered at all.
	if strings.Contains(html, "FORMITM_15") || strings.Contains(html, "内部メモ") {
		t.Error("hidden field rendered")
	}

	wantIn(t, "h_title", fieldHTML(t, html, "FORMITM_1"),
		`<label for="f-FORMITM_1">件名 <span class="req" aria-hidden="true">*</span><span class="sr-only">(必須)</span></label>`,
		`type="text"`, `placeholder="件名を入力"`, `required aria-required="true"`)
	wantIn(t, "inputbox", fieldHTML(t, html, "FORMITM_2"), `name="FORMITM_2" type="text" value="100"`, `required`)
	wantIn(t, "areabox", fieldHTML(t, html, "FORMITM_3"), `<textarea id="f-FORMITM_3" name="FORMITM_3" rows="4" placeholder="詳しく">`)
	wantIn(t, "selectbox", fieldHTML(t, html, "FORMITM_4"), `<select id="f-FORMITM_4" name="FORMITM_4" required`,
		`<option value="">— 選択してください —</option>`, `<option value="hw">ハード</option>`, `<option value="sw">ソフト</option>`)
	wantIn(t, "checkbox", fieldHTML(t, html, "FORMITM_5"), `<legend>選択肢</legend>`, `name="FORMITM_5.sent"`,
		`<input type="checkbox" name="FORMITM_5" value="a"> 甲`, `<input type="checkbox" name="FORMITM_5" value="b" checked> 乙`)
	wantIn(t, "radiobox", fieldHTML(t, html, "FORMITM_6"), `<input type="radio" name="FORMITM_6" value="1"> 一`,
		`<input type="radio" name="FORMITM_6" value="2" checked> 二`)
	wantIn(t, "date", fieldHTML(t, html, "FORMITM_7"), `type="date" value="2024-05-01"`)
	wantIn(t, "datetime", fieldHTML(t, html, "FORMITM_8"), `type="datetime-local" value="2024-05-01T09:30"`)
	wantIn(t, "number", fieldHTML(t, html, "FORMITM_9"), `type="number"`, `step="any"`, `placeholder="時間"`)
	wantIn(t, "file", fieldHTML(t, html, "FORMITM_10"), `name="FORMITM_10" type="file" multiple`, `name="FORMITM_10.sent"`)
	wantIn(t, "h_status", fieldHTML(t, html, "FORMITM_11"), `value="new" list="dl-FORMITM_11"`, `<datalist id="dl-FORMITM_11"><option value="new">new</option><option value="work">work</option></datalist>`)
	wantIn(t, "h_level", fieldHTML(t, html, "FORMITM_12"), `value="yellow" checked`, `light-green`, `light-red`, `<span>黄</span>`)
	wantIn(t, "h_group", fieldHTML(t, html, "FORMITM_13"), `name="FORMITM_13.group"`, `<option value="1">総務</option>`,
		`name="FORMITM_13.user"`, `<option value="alice">Alice</option>`, `data-members="{&#34;1&#34;:[&#34;bob&#34;],&#34;2&#34;:[&#34;alice&#34;]}"`)
	wantIn(t, "single checkbox", fieldHTML(t, html, "FORMITM_14"), `<label class="choice single"><input type="checkbox" id="f-FORMITM_14" name="FORMITM_14" value="1">`)

	// Every editable field is counted; boxes are not.
	if fv.Editable != 14 {
		t.Errorf("editable = %d, want 14", fv.Editable)
	}
}

func TestFormRendersStepViewAndValues(t *testing.T) {
	form := parseForm(t, allTypesForm)
	// At this step: the title is read-only, the description hidden, the
	// kind no longer required; fields the view does not list are not shown.
	view := parseForm(t, `{"items": [
	 {"id": "FORMBOX_1", "type": "box6", "config": {"title": "基本情報"}},
	 {"id": "FORMITM_1", "type": "h_title", "parent": "FORMBOX_1", "config": {"title": "件名", "readonly": true}},
	 {"id": "FORMITM_3", "type": "areabox", "parent": "FORMBOX_1", "hidden": true, "config": {"title": "説明"}},
	 {"id": "FORMITM_4", "type": "selectbox", "parent": "FORMBOX_1", "config": {"title": "種別"}},
	 {"id": "FORMITM_5", "type": "checkbox", "parent": "FORMBOX_1", "config": {"title": "選択肢", "readonly": true}},
	 {"id": "FORMITM_12", "type": "h_level", "parent": "FORMBOX_2", "config": {"title": "レベル", "readonly": true}},
	 {"id": "FORMITM_13", "type": "h_group", "parent": "FORMBOX_2", "config": {"title": "担当", "readonly": true}},
	 {"id": "FORMITM_10", "type": "file", "parent": "FORMBOX_2", "config": {"title": "添付", "readonly": true}}
	]}`)
	values := map[string]any{
		"FORMITM_1": "<b>プリンタ</b>", "FORMITM_3": "secret", "FORMITM_4": "sw", "FORMITM_5": []any{"a", "b"},
		"FORMITM_12": "red", "FORMITM_13": map[string]any{"group": "2", "user": "alice"},
		"FORMITM_10": []any{map[string]any{"id": float64(7), "name": "log.txt", "size": float64(12)}},
	}
	fv := buildForm(formInput{Form: form, View: view, Values: values, Groups: []groupChoice{{Value: "2", Name: "情シス"}},
		Errors: map[string]string{"FORMITM_4": "選んでください"}})
	html := renderForm(t, fv, "en")

	title := fieldHTML(t, html, "FORMITM_1")
	wantIn(t, "read-only title", title, `&lt;b&gt;プリンタ&lt;/b&gt;`)
	wantIn(t, "form", html, `class="field t-h_title ro" data-field="FORMITM_1"`)
	if strings.Contains(title, "<input") || strings.Contains(title, "<b>") {
		t.Errorf("read-only field is an input or unescaped:\n%s", title)
	}
	if strings.Contains(html, "FORMITM_3") || strings.Contains(html, "secret") {
		t.Error("field hidden at this step rendered")
	}
	for _, id := range []string{"FORMITM_2", "FORMITM_6", "FORMITM_7", "FORMITM_14"} {
		if strings.Contains(html, `data-field="`+id+`"`) {
			t.Errorf("%s is not in the step's view but rendered", id)
		}
	}
	kind := fieldHTML(t, html, "FORMITM_4")
	wantIn(t, "selectbox with error", kind, `<option value="sw" selected>ソフト</option>`, `aria-invalid="true"`,
		`<p class="error" id="e-FORMITM_4">選んでください</p>`)
	if strings.Contains(kind, "required") {
		t.Error("FORMITM_4 is not required at this step")
	}
	wantIn(t, "read-only checkbox", fieldHTML(t, html, "FORMITM_5"), `<li>甲</li><li>乙</li>`)
	wantIn(t, "read-only level", fieldHTML(t, html, "FORMITM_12"), `light-red`, `<span>Red</span>`)
	wantIn(t, "read-only group", fieldHTML(t, html, "FORMITM_13"), `情シス / alice`)
	wantIn(t, "read-only files", fieldHTML(t, html, "FORMITM_10"), `<a href="/files/7">log.txt</a>`)
	if fv.Editable != 1 {
		t.Errorf("editable = %d, want 1", fv.Editable)
	}
}

func TestSubmissionRoundTrip(t *testing.T) {
	form := parseForm(t, allTypesForm)
	fv := buildForm(formInput{Form: form, Defaults: true})
	post := url.Values{
		"FORMITM_1": {"件名"}, "FORMITM_2": {"250"}, "FORMITM_4": {"hw"},
		"FORMITM_5.sent": {"1"}, "FORMITM_5": {"a", "b"},
		"FORMITM_7": {"2024-06-01"}, "FORMITM_8": {"2024-06-01T10:15"}, "FORMITM_9": {"1.5"},
		"FORMITM_13.group": {"2"}, "FORMITM_13.user": {"alice"},
		"FORMITM_14.sent": {"1"},
		"FORMITM_15":      {"must be ignored: hidden"},
	}
	vals := readSubmission(fv, post)
	want := map[string]string{"FORMITM_1": "件名", "FORMITM_2": "250", "FORMITM_4": "hw", "FORMITM_7": "2024-06-01",
		"FORMITM_8": "2024-06-01 10:15", "FORMITM_9": "1.5", "FORMITM_14": ""}
	for id, w := range want {
		if vals[id] != w {
			t.Errorf("%s = %#v, want %q", id, vals[id], w)
		}
	}
	if got := vals["FORMITM_5"].([]string); strings.Join(got, ",") != "a,b" {
		t.Errorf("checkbox = %v", got)
	}
	if g := vals["FORMITM_13"].(map[string]any); g["group"] != "2" || g["user"] != "alice" {
		t.Errorf("h_group = %v", g)
	}
	for _, id := range []string{"FORMITM_3", "FORMITM_6", "FORMITM_15"} {
		if _, ok := vals[id]; ok {
			t.Errorf("%s was not posted (or is hidden) but is in the values: %#v", id, vals[id])
		}
	}
	// The engine accepts what the form produced.
	if _, errs := form.Validate(nil, vals, nil, def.ModeFile); len(errs) > 0 {
		t.Fatalf("engine rejects the page's values: %v", errs)
	}

	// A rejected post is shown again with what was typed.
	applyValues(fv, vals, map[string]string{"FORMITM_2": "bad"})
	html := renderForm(t, fv, "ja")
	wantIn(t, "re-rendered", html, `value="250"`, `value="2024-06-01T10:15"`, `<option value="2" selected>`, `<p class="error" id="e-FORMITM_2">bad</p>`)
}

func TestInputValueAndChoices(t *testing.T) {
	cases := []struct {
		typ, in, want string
	}{
		{def.TypeDatetime, "2024-05-01 09:30:15", "2024-05-01T09:30"},
		{def.TypeDatetime, "2024/05/01 09:30", "2024-05-01T09:30"},
		{def.TypeDate, "2024/05/01", "2024-05-01"},
		{def.TypeInputbox, "a b", "a b"},
	}
	for _, c := range cases {
		f := &fieldView{Type: c.typ, Value: c.in}
		if got := f.InputValue(); got != c.want {
			t.Errorf("%s %q: %q, want %q", c.typ, c.in, got, c.want)
		}
	}
	if boxWidth("box6") != 6 || boxWidth("box") != 12 || boxWidth("box99") != 12 {
		t.Error("box widths")
	}
	refs := fileRefs(`[{"id": 3, "name": "a.pdf", "size": 10}]`)
	if len(refs) != 1 || refs[0].ID != 3 || refs[0].Name != "a.pdf" {
		t.Errorf("file refs from JSON text: %+v", refs)
	}
	if got := valueText(map[string]any{"group": "2", "user": "bob"}); got != "2 / bob" {
		t.Errorf("group text %q", got)
	}
	if got := valueText([]any{"a", "b"}); got != "a, b" {
		t.Errorf("list text %q", got)
	}
}

func TestDatesFollowTheUsersZoneAndLanguage(t *testing.T) {
	rd := testRenderer(t)
	at := time.Date(2024, 5, 1, 0, 30, 0, 0, time.UTC)
	cases := []struct{ lang, zone, want string }{
		{"ja", "Asia/Tokyo", "2024年5月1日 09:30"},
		{"en", "Europe/London", "1 May 2024 01:30"},
		{"en", "", "1 May 2024 09:30"}, // no zone chosen: Asia/Tokyo
		{"ja", "No/Such_Zone", "2024年5月1日 09:30"},
	}
	for _, c := range cases {
		tm, err := rd.template("home", c.lang, location(c.zone))
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := tm.ExecuteTemplate(&b, "tasktable", []flow.TaskView{{ID: 1, TicketNo: "X-1", CreatedAt: at}}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), ">"+c.want+"</time>") {
			t.Errorf("%s %q: want %q in\n%s", c.lang, c.zone, c.want, b.String())
		}
	}
}
