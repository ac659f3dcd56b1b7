package def

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// looseBool reads OMFLOW booleans: true/false, "true"/"True"/"1"/"yes"/"on",
// numbers (non-zero is true), "" and null (false).
type looseBool bool

func (b *looseBool) UnmarshalJSON(data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	switch x := v.(type) {
	case nil:
		*b = false
	case bool:
		*b = looseBool(x)
	case float64:
		*b = x != 0
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true", "1", "yes", "y", "on", "checked":
			*b = true
		case "false", "0", "no", "n", "off", "", "null", "none":
			*b = false
		default:
			return fmt.Errorf("%q is not a boolean", x)
		}
	default:
		return fmt.Errorf("%s is not a boolean", compact(data))
	}
	return nil
}

// looseString reads a string, a number (its JSON text), a boolean, or null
// (""). Objects and arrays are kept as compact JSON text.
type looseString string

func (s *looseString) UnmarshalJSON(data []byte) error {
	t := bytes.TrimSpace(data)
	if len(t) == 0 {
		return nil
	}
	switch t[0] {
	case '"':
		var x string
		if err := json.Unmarshal(t, &x); err != nil {
			return err
		}
		*s = looseString(x)
	case 'n':
		*s = ""
	default:
		*s = looseString(compact(t))
	}
	return nil
}

// looseFloat reads a number or a numeric string ("120", "120px"); "" and null
// are 0.
type looseFloat float64

func (f *looseFloat) UnmarshalJSON(data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	switch x := v.(type) {
	case nil:
		*f = 0
	case float64:
		*f = looseFloat(x)
	case string:
		t := strings.TrimSuffix(strings.TrimSpace(x), "px")
		if t == "" {
			*f = 0
			return nil
		}
		n, err := strconv.ParseFloat(t, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", x)
		}
		*f = looseFloat(n)
	default:
		return fmt.Errorf("%s is not a number", compact(data))
	}
	return nil
}

// embedded returns the JSON object held by raw, which may be the object
// itself or a JSON string containing it (how OMFLOW often stores formobject
// and flowobject). Absent, null and "" give nil.
func embedded(raw json.RawMessage) (json.RawMessage, error) {
	return unwrapJSON(raw, '{', "want a JSON object (or a string holding one)")
}

// embeddedList is embedded for arrays: a JSON array or a string holding one.
func embeddedList(raw json.RawMessage) (json.RawMessage, error) {
	return unwrapJSON(raw, '[', "want a JSON array")
}

// unwrapJSON returns the JSON value starting with open held by raw, itself
// or inside a JSON string; want words the error for anything else.
func unwrapJSON(raw json.RawMessage, open byte, want string) (json.RawMessage, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil, nil
	}
	if t[0] == '"' {
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return nil, err
		}
		s = strings.TrimSpace(s)
		if s == "" || s == "null" {
			return nil, nil
		}
		t = []byte(s)
	}
	if t[0] != open {
		return nil, fmt.Errorf("%s, got %s", want, shorten(string(t), 40))
	}
	if !json.Valid(t) {
		var v any
		err := json.Unmarshal(t, &v)
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	return json.RawMessage(t), nil
}

// jsonErr rewords encoding/json type errors without Go type names.
func jsonErr(err error) error {
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		want := "a different type"
		switch ute.Type.Kind() {
		case reflect.Struct, reflect.Map:
			want = "an object"
		case reflect.Slice, reflect.Array:
			want = "an array"
		case reflect.String:
			want = "a string"
		case reflect.Bool:
			want = "a boolean"
		case reflect.Float64, reflect.Int, reflect.Int64:
			want = "a number"
		}
		if ute.Field != "" {
			return fmt.Errorf("%s: want %s, got %s", ute.Field, want, ute.Value)
		}
		return fmt.Errorf("want %s, got %s", want, ute.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid JSON at byte %d: %v", se.Offset, se)
	}
	return err
}

func compact(data []byte) string {
	var b bytes.Buffer
	if json.Compact(&b, data) != nil {
		return string(data)
	}
	return b.String()
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "..."
}

// scalarText renders a JSON value as text: strings as is, numbers and
// booleans by their JSON text, null as "", arrays and objects as compact JSON.
func scalarText(raw json.RawMessage) string {
	var s looseString
	if len(bytes.TrimSpace(raw)) == 0 {
		return ""
	}
	if err := s.UnmarshalJSON(raw); err != nil {
		return compact(raw)
	}
	return string(s)
}

// decode is json.Unmarshal with errors worded for flow authors.
func decode(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return jsonErr(err)
	}
	return nil
}
