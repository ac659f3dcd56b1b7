package def

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Field types of OMFLOW forms.
const (
	TypeInputbox  = "inputbox"
	TypeAreabox   = "areabox"
	TypeSelectbox = "selectbox"
	TypeCheckbox  = "checkbox"
	TypeRadiobox  = "radiobox"
	TypeDatetime  = "datetime"
	TypeDate      = "date"
	TypeNumber    = "number"
	TypeFile      = "file"
	TypeHTitle    = "h_title"
	TypeHStatus   = "h_status"
	TypeHLevel    = "h_level"
	TypeHGroup    = "h_group"
)

// Levels are the values of an h_level field.
var Levels = []string{"green", "yellow", "red"}

// Form is an OMFLOW formobject: layout boxes (FORMBOX_n) and fields
// (FORMITM_n) in designer order.
type Form struct {
	Items []FormItem
	Raw   json.RawMessage // the formobject as given
}

// FormItem is one box or field of a form.
type FormItem struct {
	ID     string
	Type   string
	Parent string // the enclosing box, if any
	Hidden bool
	Config FieldConfig
}

// FieldConfig is the config of a form item.
type FieldConfig struct {
	Title       string
	Require     bool
	Readonly    bool
	Value       string // the default; a JSON array or object default is kept as its JSON text
	Regex       string
	Placeholder string
	Lists       []Choice // choices of selectbox, radiobox, checkbox, h_status
	User        bool     // h_group: a user may be chosen besides the group
}

// Choice is one entry of a choice list.
type Choice struct {
	Value string
	Text  string
}

// IsBox reports whether the item is a layout box rather than a field.
func (it *FormItem) IsBox() bool {
	return strings.HasPrefix(it.ID, "FORMBOX_") || strings.HasPrefix(it.Type, "box")
}

// Label names the field for messages: `FORMITM_3 "緊急程度"`.
func (it *FormItem) Label() string {
	if it.Config.Title == "" {
		return it.ID
	}
	return fmt.Sprintf("%s %q", it.ID, it.Config.Title)
}

// HasChoice reports whether v is one of the item's list values.
func (it *FormItem) HasChoice(v string) bool {
	for _, c := range it.Config.Lists {
		if c.Value == v {
			return true
		}
	}
	return false
}

// Fields returns the fields (not boxes) in designer order.
func (f *Form) Fields() []FormItem {
	if f == nil {
		return nil
	}
	out := make([]FormItem, 0, len(f.Items))
	for _, it := range f.Items {
		if !it.IsBox() {
			out = append(out, it)
		}
	}
	return out
}

// Field returns the field with the given id, or nil (also for a box id).
func (f *Form) Field(id string) *FormItem {
	if f == nil {
		return nil
	}
	for i := range f.Items {
		if f.Items[i].ID == id && !f.Items[i].IsBox() {
			return &f.Items[i]
		}
	}
	return nil
}

// Header maps the ticket header columns to the ids of the fields that fill
// them; "" where the form has no such field.
type Header struct {
	Title  string // h_title
	Status string // h_status
	Level  string // h_level
	Group  string // h_group
}

// HeaderFields returns which field fills each header column (the first field
// of each header type).
func (f *Form) HeaderFields() Header {
	var h Header
	for _, it := range f.Fields() {
		var p *string
		switch it.Type {
		case TypeHTitle:
			p = &h.Title
		case TypeHStatus:
			p = &h.Status
		case TypeHLevel:
			p = &h.Level
		case TypeHGroup:
			p = &h.Group
		}
		if p != nil && *p == "" {
			*p = it.ID
		}
	}
	return h
}

type rawForm struct {
	Items []json.RawMessage `json:"items"`
}

type rawFormItem struct {
	ID       looseString     `json:"id"`
	Type     looseString     `json:"type"`
	Parent   looseString     `json:"parent"`
	Hidden   looseBool       `json:"hidden"`
	Readonly looseBool       `json:"readonly"`
	Config   json.RawMessage `json:"config"`
}

type rawFieldConfig struct {
	Title       looseString     `json:"title"`
	Require     looseBool       `json:"require"`
	Required    looseBool       `json:"required"`
	Readonly    looseBool       `json:"readonly"`
	Hidden      looseBool       `json:"hidden"`
	Value       json.RawMessage `json:"value"`
	Regex       looseString     `json:"regex"`
	Placeholder looseString     `json:"placeholder"`
	Lists       json.RawMessage `json:"lists"`
	User        looseBool       `json:"user"`
}

type rawChoice struct {
	Value json.RawMessage `json:"value"`
	Text  json.RawMessage `json:"text"`
}

// ParseForm reads a formobject (a JSON object, or a JSON string holding one).
// Problems of single items are returned as a *ValidationError listing each;
// the form is returned with the readable items.
func ParseForm(data []byte) (*Form, error) {
	f, errs := parseForm(data)
	if len(errs) > 0 {
		return f, &ValidationError{Errors: errs}
	}
	return f, nil
}

func parseForm(data []byte) (*Form, []NodeError) {
	obj, err := embedded(data)
	if err != nil {
		return nil, []NodeError{{Node: "formobject", Message: err.Error()}}
	}
	f := &Form{Raw: obj}
	if obj == nil {
		return f, nil
	}
	var rf rawForm
	if err := decode(obj, &rf); err != nil {
		return f, []NodeError{{Node: "formobject", Message: err.Error()}}
	}
	var errs []NodeError
	for i, raw := range rf.Items {
		it, err := parseFormItem(raw)
		if err != nil {
			id := it.ID
			if id == "" {
				id = fmt.Sprintf("formobject item %d", i+1)
			}
			errs = append(errs, NodeError{Node: id, Message: err.Error()})
			continue
		}
		f.Items = append(f.Items, it)
	}
	return f, errs
}

func parseFormItem(raw json.RawMessage) (FormItem, error) {
	var ri rawFormItem
	if err := decode(raw, &ri); err != nil {
		// Recover the id for the message if possible.
		var idOnly struct {
			ID looseString `json:"id"`
		}
		_ = decode(raw, &idOnly)
		return FormItem{ID: string(idOnly.ID)}, fmt.Errorf("form item: %v", err)
	}
	it := FormItem{ID: string(ri.ID), Type: string(ri.Type), Parent: string(ri.Parent), Hidden: bool(ri.Hidden)}
	cfgRaw, err := embedded(ri.Config)
	if err != nil {
		return it, fmt.Errorf("config: %v", err)
	}
	if cfgRaw == nil {
		it.Config.Readonly = bool(ri.Readonly)
		return it, nil
	}
	var rc rawFieldConfig
	if err := decode(cfgRaw, &rc); err != nil {
		return it, fmt.Errorf("config: %v", err)
	}
	it.Hidden = it.Hidden || bool(rc.Hidden)
	it.Config = FieldConfig{
		Title:       string(rc.Title),
		Require:     bool(rc.Require) || bool(rc.Required),
		Readonly:    bool(rc.Readonly) || bool(ri.Readonly),
		Value:       scalarText(rc.Value),
		Regex:       string(rc.Regex),
		Placeholder: string(rc.Placeholder),
		User:        bool(rc.User),
	}
	lists, err := parseChoices(rc.Lists)
	if err != nil {
		return it, fmt.Errorf("config.lists: %v", err)
	}
	it.Config.Lists = lists
	return it, nil
}

// parseChoices reads lists: [{"value","text"}], ["a","b"], or a string
// holding either.
func parseChoices(raw json.RawMessage) ([]Choice, error) {
	arr, err := embeddedList(raw)
	if err != nil || arr == nil {
		return nil, err
	}
	var elems []json.RawMessage
	if err := decode(arr, &elems); err != nil {
		return nil, err
	}
	out := make([]Choice, 0, len(elems))
	for _, e := range elems {
		t := bytes.TrimSpace(e)
		if len(t) > 0 && t[0] == '{' {
			var rc rawChoice
			if err := decode(t, &rc); err != nil {
				return nil, err
			}
			c := Choice{Value: scalarText(rc.Value), Text: scalarText(rc.Text)}
			if len(bytes.TrimSpace(rc.Value)) == 0 {
				c.Value = c.Text
			}
			if c.Text == "" {
				c.Text = c.Value
			}
			out = append(out, c)
			continue
		}
		v := scalarText(t)
		out = append(out, Choice{Value: v, Text: v})
	}
	return out, nil
}

// compileRegex compiles an OMFLOW (JavaScript) field regex with Go's RE2. A
// pattern written as /.../flags has the slashes removed and the i, m and s
// flags applied.
func compileRegex(p string) (*regexp.Regexp, error) {
	if m := jsRegexLiteral.FindStringSubmatch(p); m != nil {
		p = m[1]
		var flags string
		for _, c := range m[2] {
			if strings.ContainsRune("ims", c) && !strings.ContainsRune(flags, c) {
				flags += string(c)
			}
		}
		if flags != "" {
			p = "(?" + flags + ")" + p
		}
	}
	return regexp.Compile(p)
}

var jsRegexLiteral = regexp.MustCompile(`^/(.+)/([gimsuy]*)$`)
