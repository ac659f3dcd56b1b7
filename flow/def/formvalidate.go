package def

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/omflow/omflow/flow/expr"
)

// Mode says what a form submission is for.
type Mode int

const (
	// ModeFile is filing a new ticket: fields not given take their default.
	ModeFile Mode = iota
	// ModeStep is a human step submitting changes to an existing ticket.
	ModeStep
)

// TimeLayouts are the accepted spellings of date and datetime values, tried
// in order. Values without a zone are read in the location given to
// ParseTime.
var TimeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006-01-02",
	"2006/01/02 15:04:05",
	"2006/01/02 15:04",
	"2006/01/02",
}

// ParseTime reads a date or datetime in one of TimeLayouts; values without a
// zone are in loc (UTC when loc is nil).
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	t := strings.TrimSpace(s)
	for _, l := range TimeLayouts {
		if v, err := time.ParseInLocation(l, t, loc); err == nil {
			return v, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date or time: use 2006-01-02, 2006-01-02 15:04, 2006-01-02T15:04 or RFC 3339", s)
}

// Validate checks the values submitted for a ticket against the form as shown
// at one step (view; nil means the full form f, as when filing) and returns
// the ticket's field values after the submission, normalized, together with
// every problem found.
//
// Rules:
//   - a submitted id that is not a field of f is an error (unknown);
//   - a field hidden or read-only in view, or missing from view, may only be
//     submitted with its current value (prev, or on filing its default):
//     anything else is an error (readonly);
//   - a field required in view, visible and writable, must not be empty after
//     the submission (on filing, after defaults apply) (required);
//   - selectbox and radiobox values must be one of config.lists, each value of
//     a checkbox too (choice; fields without lists accept any value);
//     a number must parse (number); date and datetime must parse with
//     ParseTime (date); h_level is green, yellow or red (level); config.regex,
//     when set, must match a non-empty text value (regex); h_status is free
//     text.
//
// The result starts from prev (unknown keys kept), adds defaults on filing,
// then the accepted submitted values. Normalized forms: text as string,
// number as json.Number, h_level lower case, checkbox as []string, h_group as
// map {"group": g, "user": u}, date/datetime as the trimmed text given, file
// values unchanged.
func (f *Form) Validate(view *Form, in, prev map[string]any, mode Mode) (map[string]any, []FieldError) {
	if view == nil {
		view = f
	}
	out := maps.Clone(prev)
	if out == nil {
		out = map[string]any{}
	}
	var errs []FieldError
	fields := f.Fields()

	if mode == ModeFile {
		for i := range fields {
			it := &fields[i]
			if _, given := in[it.ID]; given {
				continue
			}
			if _, has := out[it.ID]; has {
				continue
			}
			if d, ok := it.Default(); ok {
				out[it.ID] = d
			}
		}
	}

	failed := map[string]bool{}
	for _, id := range submissionOrder(fields, in) {
		v := in[id]
		it := f.Field(id)
		if it == nil {
			errs = append(errs, FieldError{Field: id, Code: CodeUnknown, Message: fmt.Sprintf("field %s is not in this form", id)})
			failed[id] = true
			continue
		}
		hidden, readonly, _, shown := viewFlags(f, view, it)
		if !shown || hidden || readonly {
			cur, has := out[id]
			if !has && mode == ModeFile {
				cur, has = it.Default()
			}
			if canonical(it, v) != canonical(it, cur) {
				errs = append(errs, FieldError{Field: id, Code: CodeReadonly, Message: fmt.Sprintf("field %s is read-only at this step", it.Label())})
				failed[id] = true
			} else if has {
				out[id] = cur
			}
			continue
		}
		nv, ferr := it.check(v)
		if ferr != nil {
			errs = append(errs, *ferr)
			failed[id] = true
			continue
		}
		out[id] = nv
	}

	for i := range fields {
		it := &fields[i]
		hidden, readonly, require, shown := viewFlags(f, view, it)
		if !shown || hidden || readonly || !require || failed[it.ID] {
			continue
		}
		if expr.Empty(out[it.ID]) {
			errs = append(errs, FieldError{Field: it.ID, Code: CodeRequired, Message: fmt.Sprintf("field %s is required", it.Label())})
		}
	}
	return out, errs
}

// submissionOrder lists the submitted ids: form fields in form order, then
// unknown ids sorted.
func submissionOrder(fields []FormItem, in map[string]any) []string {
	ids := make([]string, 0, len(in))
	known := map[string]bool{}
	for _, it := range fields {
		if _, ok := in[it.ID]; ok {
			ids = append(ids, it.ID)
			known[it.ID] = true
		}
	}
	var rest []string
	for id := range in {
		if !known[id] {
			rest = append(rest, id)
		}
	}
	sort.Strings(rest)
	return append(ids, rest...)
}

// viewFlags returns how field it appears in view: hidden, read-only,
// required, and whether view shows it at all.
func viewFlags(f, view *Form, it *FormItem) (hidden, readonly, require, shown bool) {
	src := it
	if view != f {
		src = view.Field(it.ID)
		if src == nil {
			return false, false, false, false
		}
	}
	return src.Hidden, src.Config.Readonly, src.Config.Require, true
}

// Default returns the field's default value in normalized form, and whether
// it has one.
func (it *FormItem) Default() (any, bool) {
	if it.Config.Value == "" {
		return nil, false
	}
	v, ferr := it.check(it.Config.Value)
	if ferr != nil {
		return nil, false
	}
	return v, true
}

// check validates and normalizes one value for the field (not the required
// rule).
func (it *FormItem) check(v any) (any, *FieldError) {
	fail := func(code, format string, args ...any) (any, *FieldError) {
		return nil, &FieldError{Field: it.ID, Code: code, Message: fmt.Sprintf("field %s: ", it.Label()) + fmt.Sprintf(format, args...)}
	}
	switch it.Type {
	case TypeFile:
		return v, nil
	case TypeHGroup:
		if isComposite(v) {
			if _, ok := v.(map[string]any); !ok {
				if _, ok := v.(map[string]string); !ok {
					return fail(CodeType, "want a group or {\"group\", \"user\"}, got %s", expr.Text(v))
				}
			}
		}
		g, u := expr.GroupParts(v)
		return expr.GroupValue(strings.TrimSpace(g), strings.TrimSpace(u)), nil
	case TypeCheckbox:
		if m, ok := v.(map[string]any); ok {
			return fail(CodeType, "want a list of choices, got %s", expr.Text(m))
		}
		vals := expr.List(v)
		if vals == nil {
			vals = []string{}
		}
		if len(it.Config.Lists) > 0 {
			for _, x := range vals {
				if !it.HasChoice(x) {
					return fail(CodeChoice, "value %q is not one of the choices (%s)", x, it.choiceList())
				}
			}
		}
		return vals, nil
	}

	if isComposite(v) {
		return fail(CodeType, "want a single value, got %s", shorten(expr.Text(v), 60))
	}
	s := expr.Text(v)
	if s == "" {
		return "", nil
	}
	var nv any = s
	switch it.Type {
	case TypeNumber:
		t := strings.TrimSpace(s)
		if _, ok := expr.Number(t); !ok {
			return fail(CodeNumber, "%q is not a number", s)
		}
		nv = json.Number(t)
	case TypeDate, TypeDatetime:
		if _, err := ParseTime(s, nil); err != nil {
			return fail(CodeDate, "%v", err)
		}
		nv = strings.TrimSpace(s)
	case TypeHLevel:
		l := strings.ToLower(strings.TrimSpace(s))
		if !slices.Contains(Levels, l) {
			return fail(CodeLevel, "level %q must be green, yellow or red", s)
		}
		nv = l
	case TypeSelectbox, TypeRadiobox:
		if len(it.Config.Lists) > 0 && !it.HasChoice(s) {
			return fail(CodeChoice, "value %q is not one of the choices (%s)", s, it.choiceList())
		}
	}
	if it.Config.Regex != "" && it.Type != TypeHLevel {
		re, err := compileRegex(it.Config.Regex)
		if t := expr.Text(nv); err == nil && !re.MatchString(t) {
			return fail(CodeRegex, "value %q does not match the pattern %s", t, it.Config.Regex)
		}
	}
	return nv, nil
}

func (it *FormItem) choiceList() string {
	vals := make([]string, 0, len(it.Config.Lists))
	for _, c := range it.Config.Lists {
		vals = append(vals, fmt.Sprintf("%q", c.Value))
	}
	return strings.Join(vals, ", ")
}

func isComposite(v any) bool {
	switch v.(type) {
	case nil, string, bool, json.Number, float64, float32, int, int64, int32, uint64:
		return false
	case map[string]any, map[string]string, []any, []string:
		return true
	}
	return false
}

// canonical renders a value for the "unchanged" comparison of read-only
// fields.
func canonical(it *FormItem, v any) string {
	nv, ferr := it.check(v)
	if ferr != nil {
		return "raw:" + expr.Text(v)
	}
	switch x := nv.(type) {
	case map[string]any:
		g, u := expr.GroupParts(x)
		if g == "" && u == "" {
			return ""
		}
		return "group:" + g + "\x00" + u
	case []string:
		if len(x) == 0 {
			return ""
		}
		return "list:" + strings.Join(x, "\x00")
	case json.Number:
		if n, ok := expr.Number(x); ok {
			return "num:" + expr.Text(n)
		}
	}
	return expr.Text(nv)
}
