package expr

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Text renders a value as the string OMFLOW would see: nil is "", numbers in
// their shortest form ("3", "2.5"), booleans "true"/"false", lists and maps as
// JSON.
func Text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float64:
		return formatFloat(x)
	case float32:
		return formatFloat(float64(x))
	case *big.Int:
		return x.String()
	case time.Time:
		return x.Format(time.RFC3339Nano)
	case fmt.Stringer:
		return x.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func formatFloat(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// Number reports v as a float64 when it is a number or a string that parses
// as a finite decimal number (surrounding space ignored). Booleans and empty
// strings are not numbers.
func Number(v any) (float64, bool) {
	switch x := v.(type) {
	case nil, bool:
		return 0, false
	case float64:
		return x, !math.IsNaN(x) && !math.IsInf(x, 0)
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case *big.Int:
		f, _ := new(big.Float).SetInt(x).Float64()
		return f, true
	}
	s := strings.TrimSpace(Text(v))
	if s == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	// Reject spellings ParseFloat accepts that are not plain numbers.
	if strings.ContainsAny(s, "xXpP_") || strings.EqualFold(strings.TrimLeft(s, "+-"), "inf") {
		return 0, false
	}
	return f, true
}

// Empty reports whether v counts as empty: nil, "", an empty list or map, or
// an h_group value with neither group nor user.
func Empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case json.Number:
		return x == ""
	case map[string]any:
		if isGroupMap(x) {
			g, u := GroupParts(x)
			return g == "" && u == ""
		}
		return len(x) == 0
	case map[string]string:
		if _, ok := x["group"]; ok {
			return x["group"] == "" && x["user"] == ""
		}
		return len(x) == 0
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		return rv.Len() == 0
	}
	return false
}

func isGroupMap(m map[string]any) bool {
	_, g := m["group"]
	_, u := m["user"]
	return g || u
}

// GroupParts reads the group and user of an h_group value. The value may be a
// map {"group": ..., "user": ...}, the same as a JSON string (how OMFLOW
// stores it), or a plain string or number naming the group only.
func GroupParts(v any) (group, user string) {
	switch x := v.(type) {
	case nil:
		return "", ""
	case map[string]any:
		return Text(x["group"]), Text(x["user"])
	case map[string]string:
		return x["group"], x["user"]
	case string:
		t := strings.TrimSpace(x)
		if strings.HasPrefix(t, "{") {
			var m map[string]any
			if json.Unmarshal([]byte(t), &m) == nil {
				return Text(m["group"]), Text(m["user"])
			}
		}
		return x, ""
	}
	return Text(v), ""
}

// GroupValue builds the stored form of an h_group value.
func GroupValue(group, user string) map[string]any {
	return map[string]any{"group": group, "user": user}
}

// List reads v as a list of strings: a Go slice, a JSON array string (how
// OMFLOW stores checkbox values) or, for any other non-empty text, a
// one-element list. nil and "" give an empty list.
func List(v any) []string {
	switch x := v.(type) {
	case nil:
		return nil
	case []string:
		return append([]string(nil), x...)
	case []any:
		out := make([]string, len(x))
		for i, e := range x {
			out[i] = Text(e)
		}
		return out
	case string:
		t := strings.TrimSpace(x)
		if t == "" {
			return nil
		}
		if strings.HasPrefix(t, "[") {
			var l []any
			if json.Unmarshal([]byte(t), &l) == nil {
				return List(l)
			}
		}
		return []string{x}
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
		out := make([]string, rv.Len())
		for i := range out {
			out[i] = Text(rv.Index(i).Interface())
		}
		return out
	}
	return []string{Text(v)}
}

// isList reports whether v is a Go slice/array (not a string).
func isList(v any) bool {
	if v == nil {
		return false
	}
	k := reflect.ValueOf(v).Kind()
	return k == reflect.Slice || k == reflect.Array
}
