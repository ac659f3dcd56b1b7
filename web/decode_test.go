package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

type decodeTarget struct {
	Name   string           `json:"name"`
	N      int              `json:"n"`
	On     bool             `json:"on"`
	Fields map[string]any   `json:"fields"`
	Parent Optional[int64]  `json:"parent"`
	Note   Optional[string] `json:"note"`
	List   []string         `json:"list"`
}

func TestDecodeJSON(t *testing.T) {
	for _, c := range []struct {
		in, field, msg string
	}{
		{`{"name":"a","zzz":1}`, "zzz", `"zzz" is not a known field`},
		{`{"n":"x"}`, "n", "n must be a whole number"},
		{`{"n":1.5}`, "n", "n must be a whole number"},
		{`{"on":1}`, "on", "on must be true or false"},
		{`{"fields":[]}`, "fields", "fields must be an object"},
		{`{"parent":"x"}`, "parent", "parent must be a whole number"},
		{`{"list":{}}`, "list", "list must be an array"},
		{`"str"`, "", "must be a JSON object"},
		{`{"name":`, "", "ends too early"},
		{`{"name":"a"}x`, "", "more data"},
		{`{'name':1}`, "", "not valid JSON"},
		{"  \n", "", "empty"},
	} {
		var d decodeTarget
		ae := decodeJSON([]byte(c.in), &d)
		if ae == nil {
			t.Errorf("%s: accepted", c.in)
			continue
		}
		if ae.Status != http.StatusBadRequest || ae.Field != c.field || !strings.Contains(ae.Message, c.msg) {
			t.Errorf("%s: %d field=%q %q; want field %q and %q", c.in, ae.Status, ae.Field, ae.Message, c.field, c.msg)
		}
	}
	var d decodeTarget
	if ae := decodeJSON([]byte(`{"name":"a","parent":null,"fields":{"x":[1]}}`), &d); ae != nil {
		t.Fatal(ae)
	}
	if !d.Parent.Set || !d.Parent.Null || d.Parent.Ptr() != nil || d.Note.Set || d.Name != "a" {
		t.Fatalf("decoded %+v", d)
	}
	if ae := decodeJSON([]byte(`{"parent":7}`), &d); ae != nil || d.Parent.Ptr() == nil || *d.Parent.Ptr() != 7 {
		t.Fatalf("parent 7: %v %+v", ae, d.Parent)
	}
}

// FuzzDecodeJSON: any body gives either a decoded value or a 400 with a
// message, never a panic; what decodes re-encodes and decodes the same.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"name":"x","n":1,"on":true}`, `{"fields":{"a":[1,{"b":null}]}}`, `{"parent":null}`,
		`{"parent":"1"}`, `[]`, `null`, `{"x":1}`, `{"n":1e400}`, `{"name":"\ud800"}`, "{\"name\":\"a\"}\n{}", `{"list":["a",1]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var d decodeTarget
		ae := decodeJSON(data, &d)
		if ae != nil {
			if ae.Status != http.StatusBadRequest || ae.Message == "" || ae.Code != "bad_request" {
				t.Fatalf("%q: bad error %+v", data, ae)
			}
			if ae.Field != "" && !json.Valid([]byte(`"`+strings.ReplaceAll(ae.Field, `"`, ``)+`"`)) {
				t.Fatalf("%q: field %q", data, ae.Field)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("%q: invalid JSON accepted", data)
		}
	})
}
