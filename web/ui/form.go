package ui

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/omflow/omflow/flow/def"
	"github.com/omflow/omflow/flow/expr"
)

// formView is a form ready to render: its boxes and fields in designer
// order, each field with its value, its flags at this step and its error.
type formView struct {
	Items []*formNode
	// Editable counts the fields a person can change here.
	Editable int
	// Groups and Users offer the choices of h_group fields.
	Groups []groupChoice
	Users  []userChoice
	// Members maps a group id to the usernames in it, for the user choice of
	// an h_group field.
	Members map[string][]string
}

// formNode is a box (Box set) or a field (Field set).
type formNode struct {
	Box   *boxView
	Field *fieldView
}

type boxView struct {
	ID    string
	Title string
	Width int // of 12 columns
	Items []*formNode
}

// fieldView is one field as rendered.
type fieldView struct {
	ID          string
	Type        string
	Title       string
	Placeholder string
	Regex       string
	Required    bool
	Readonly    bool
	Value       string   // the value as text (single-valued fields)
	Values      []string // checkbox values
	Group, User string   // h_group parts
	UserPick    bool     // h_group: a user may be chosen
	Choices     []def.Choice
	Files       []fileRef // file: the files already attached
	Error       string    // translated message, if the last submission failed here
}

// fileRef is one attached file, as a file field's value holds it.
type fileRef struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	Size int64  `json:"size,omitempty"`
}

type groupChoice struct {
	Value string // the group id
	Name  string
}

type userChoice struct {
	Username string
	Name     string
}

// Multi reports whether the field is a set of checkboxes (a checkbox with
// choices); a checkbox without choices is a single yes/no box.
func (f *fieldView) Multi() bool { return f.Type == def.TypeCheckbox && len(f.Choices) > 0 }

// InputType is the type attribute of an <input> for the field.
func (f *fieldView) InputType() string {
	switch f.Type {
	case def.TypeNumber:
		return "number"
	case def.TypeDate:
		return "date"
	case def.TypeDatetime:
		return "datetime-local"
	}
	return "text"
}

// InputValue is Value as the input type wants it (datetime-local needs a T).
func (f *fieldView) InputValue() string {
	if f.Type == def.TypeDatetime {
		v := strings.Replace(strings.TrimSpace(f.Value), " ", "T", 1)
		v = strings.ReplaceAll(v, "/", "-")
		if len(v) > 16 && v[10] == 'T' {
			v = v[:16] // drop seconds and zone: the picker shows minutes
		}
		return v
	}
	if f.Type == def.TypeDate {
		return strings.ReplaceAll(strings.TrimSpace(f.Value), "/", "-")
	}
	return f.Value
}

// ChoiceText is the text of the chosen value, for read-only display.
func (f *fieldView) ChoiceText(v string) string {
	for _, c := range f.Choices {
		if c.Value == v {
			return c.Text
		}
	}
	return v
}

// Checked reports whether a checkbox value is chosen.
func (f *fieldView) Checked(v string) bool {
	for _, x := range f.Values {
		if x == v {
			return true
		}
	}
	return false
}

// formInput gathers what buildForm needs.
type formInput struct {
	Form *def.Form // the flow's form
	View *def.Form // the form as this step shows it; nil: the whole form
	// Values are the field values to show: the ticket's, or those just
	// submitted.
	Values map[string]any
	// Defaults fills fields without a value from their config (new ticket).
	Defaults bool
	Errors   map[string]string
	Groups   []groupChoice
	Users    []userChoice
	Members  map[string][]string
}

// buildForm lays out a form for rendering. Fields hidden at this step, and
// fields the step's view does not list, are left out; read-only fields are
// shown as text.
func buildForm(in formInput) *formView {
	fv := &formView{Groups: in.Groups, Users: in.Users, Members: in.Members}
	if in.Form == nil {
		return fv
	}
	view := in.View
	if view == nil {
		view = in.Form
	}
	boxes := map[string]*boxView{}
	hiddenBox := map[string]bool{}
	var top []*formNode
	place := func(parent string, n *formNode) {
		if b, ok := boxes[parent]; ok {
			b.Items = append(b.Items, n)
			return
		}
		top = append(top, n)
	}
	for i := range in.Form.Items {
		it := &in.Form.Items[i]
		shown := view.Field(it.ID)
		if it.IsBox() {
			src := it
			if vb := viewBox(view, it.ID); vb != nil {
				src = vb
			}
			if src.Hidden || hiddenBox[it.Parent] {
				hiddenBox[it.ID] = true
				continue
			}
			b := &boxView{ID: it.ID, Title: src.Config.Title, Width: boxWidth(it.Type)}
			boxes[it.ID] = b
			place(it.Parent, &formNode{Box: b})
			continue
		}
		if shown == nil || shown.Hidden || hiddenBox[it.Parent] {
			continue
		}
		f := &fieldView{
			ID:          it.ID,
			Type:        it.Type,
			Title:       firstNonEmpty(shown.Config.Title, it.Config.Title, it.ID),
			Placeholder: firstNonEmpty(shown.Config.Placeholder, it.Config.Placeholder),
			Regex:       it.Config.Regex,
			Required:    shown.Config.Require,
			Readonly:    shown.Config.Readonly,
			UserPick:    it.Config.User,
			Choices:     it.Config.Lists,
			Error:       in.Errors[it.ID],
		}
		if it.Type == def.TypeHLevel && len(f.Choices) == 0 {
			for _, l := range def.Levels {
				f.Choices = append(f.Choices, def.Choice{Value: l, Text: l})
			}
		}
		v, ok := in.Values[it.ID]
		if !ok && in.Defaults && it.Config.Value != "" {
			v, ok = it.Default()
			if !ok {
				v = it.Config.Value
			}
		}
		setValue(f, v)
		if !f.Readonly {
			fv.Editable++
		}
		place(it.Parent, &formNode{Field: f})
	}
	fv.Items = top
	return fv
}

func viewBox(view *def.Form, id string) *def.FormItem {
	if view == nil {
		return nil
	}
	for i := range view.Items {
		if view.Items[i].ID == id {
			return &view.Items[i]
		}
	}
	return nil
}

// boxWidth reads the width of a box type such as box6 (of 12 columns).
func boxWidth(typ string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(typ, "box"))
	if err != nil || n < 1 || n > 12 {
		return 12
	}
	return n
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if strings.TrimSpace(x) != "" {
			return x
		}
	}
	return ""
}

// setValue fills the field's value parts from a stored or submitted value.
func setValue(f *fieldView, v any) {
	switch f.Type {
	case def.TypeCheckbox:
		f.Values = expr.List(v)
		if !f.Multi() {
			f.Value = expr.Text(v)
			if len(f.Values) > 0 {
				f.Value = f.Values[0]
			}
		}
	case def.TypeHGroup:
		f.Group, f.User = expr.GroupParts(v)
	case def.TypeFile:
		f.Files = fileRefs(v)
	default:
		f.Value = expr.Text(v)
	}
}

// fileRefs reads a file field's value: a list of {"id","name","size"}.
func fileRefs(v any) []fileRef {
	var out []fileRef
	add := func(m map[string]any) {
		var r fileRef
		switch id := m["id"].(type) {
		case float64:
			r.ID = int64(id)
		case json.Number:
			r.ID, _ = id.Int64()
		case int64:
			r.ID = id
		case int:
			r.ID = int64(id)
		case string:
			r.ID, _ = strconv.ParseInt(id, 10, 64)
		}
		r.Name, _ = m["name"].(string)
		switch s := m["size"].(type) {
		case float64:
			r.Size = int64(s)
		case json.Number:
			r.Size, _ = s.Int64()
		case int64:
			r.Size = s
		}
		if r.ID > 0 {
			out = append(out, r)
		}
	}
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if m, ok := e.(map[string]any); ok {
				add(m)
			}
		}
	case map[string]any:
		add(x)
	case []fileRef:
		return x
	case string:
		var anyV any
		if json.Unmarshal([]byte(x), &anyV) == nil {
			if _, isStr := anyV.(string); !isStr {
				return fileRefs(anyV)
			}
		}
	}
	return out
}

// fileValue is a file field's value for a list of files.
func fileValue(refs []fileRef) []any {
	out := make([]any, 0, len(refs))
	for _, r := range refs {
		out = append(out, map[string]any{"id": r.ID, "name": r.Name, "size": r.Size})
	}
	return out
}

// valueText renders a field value for display (ticket page, history).
func valueText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case map[string]any:
		if _, ok := x["group"]; ok {
			g, u := expr.GroupParts(x)
			if u != "" {
				return g + " / " + u
			}
			return g
		}
		if refs := fileRefs(x); len(refs) > 0 {
			return refs[0].Name
		}
	case []any:
		if refs := fileRefs(x); len(refs) > 0 {
			names := make([]string, len(refs))
			for i, r := range refs {
				names[i] = r.Name
			}
			return strings.Join(names, ", ")
		}
		return strings.Join(expr.List(x), ", ")
	case []string:
		return strings.Join(x, ", ")
	}
	return expr.Text(v)
}

// readSubmission turns a posted form into field values for the fields a
// person can change at this step. File fields are left to the caller
// (attachFiles), which must store uploads and check the kept files.
func readSubmission(fv *formView, form url.Values) map[string]any {
	out := map[string]any{}
	var walk func([]*formNode)
	walk = func(items []*formNode) {
		for _, n := range items {
			if n.Box != nil {
				walk(n.Box.Items)
				continue
			}
			f := n.Field
			// A field the post does not carry keeps its value. Checkboxes
			// and file lists send nothing when none is ticked, so their
			// forms carry a marker field "<id>.sent".
			if f.Readonly || f.Type == def.TypeFile || !sent(form, f) {
				continue
			}
			switch f.Type {
			case def.TypeCheckbox:
				if f.Multi() {
					vals := form[f.ID]
					if vals == nil {
						vals = []string{}
					}
					out[f.ID] = vals
				} else {
					out[f.ID] = form.Get(f.ID)
				}
			case def.TypeHGroup:
				g := strings.TrimSpace(form.Get(f.ID + ".group"))
				u := ""
				if f.UserPick {
					u = strings.TrimSpace(form.Get(f.ID + ".user"))
				}
				out[f.ID] = expr.GroupValue(g, u)
			case def.TypeDatetime:
				out[f.ID] = strings.Replace(strings.TrimSpace(form.Get(f.ID)), "T", " ", 1)
			default:
				out[f.ID] = form.Get(f.ID)
			}
		}
	}
	walk(fv.Items)
	return out
}

// fileFields lists the file fields a person can change in this post.
func (fv *formView) fileFields(form url.Values) []*fieldView {
	var out []*fieldView
	for _, id := range fv.fieldIDs() {
		f := fv.field(id)
		if f.Type == def.TypeFile && !f.Readonly && sent(form, f) {
			out = append(out, f)
		}
	}
	return out
}

// sent reports whether a posted form carries field f.
func sent(form url.Values, f *fieldView) bool {
	key := f.ID
	switch f.Type {
	case def.TypeCheckbox, def.TypeFile:
		key = f.ID + ".sent"
	case def.TypeHGroup:
		key = f.ID + ".group"
	}
	_, ok := form[key]
	return ok
}

// applyValues puts submitted values back into the view, so a rejected
// submission is shown with everything the person typed.
func applyValues(fv *formView, values map[string]any, errs map[string]string) {
	var walk func([]*formNode)
	walk = func(items []*formNode) {
		for _, n := range items {
			if n.Box != nil {
				walk(n.Box.Items)
				continue
			}
			f := n.Field
			if v, ok := values[f.ID]; ok && !f.Readonly {
				setValue(f, v)
			}
			f.Error = errs[f.ID]
		}
	}
	walk(fv.Items)
}

// fieldIDs lists the ids of the fields in the view, in order.
func (fv *formView) fieldIDs() []string {
	var ids []string
	var walk func([]*formNode)
	walk = func(items []*formNode) {
		for _, n := range items {
			if n.Box != nil {
				walk(n.Box.Items)
				continue
			}
			ids = append(ids, n.Field.ID)
		}
	}
	walk(fv.Items)
	return ids
}

// field returns the field with the id, or nil.
func (fv *formView) field(id string) *fieldView {
	var found *fieldView
	var walk func([]*formNode)
	walk = func(items []*formNode) {
		for _, n := range items {
			if found != nil {
				return
			}
			if n.Box != nil {
				walk(n.Box.Items)
			} else if n.Field.ID == id {
				found = n.Field
			}
		}
	}
	walk(fv.Items)
	return found
}

// GroupName names a group value (an id or a name) for display.
func (fv *formView) GroupName(v string) string {
	for _, g := range fv.Groups {
		if g.Value == v {
			return g.Name
		}
	}
	return v
}

// GroupKnown reports whether v (an id or a name) is one of the offered
// groups.
func (fv *formView) GroupKnown(v string) bool {
	for _, g := range fv.Groups {
		if g.Value == v || g.Name == v {
			return true
		}
	}
	return false
}

// MembersJSON is the group → usernames map for the script.
func (fv *formView) MembersJSON() string {
	b, err := json.Marshal(fv.Members)
	if err != nil {
		return "{}"
	}
	return string(b)
}

// sortedKeys returns a map's keys sorted, for stable output.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// humanSize renders a byte count.
func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
