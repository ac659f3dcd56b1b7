package script

import (
	"encoding/json"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"time"

	startime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"
)

// ToStarlark converts a Go value to a Starlark value. Accepted: nil, bool,
// string, the integer and float types, *big.Int, json.Number, time.Time,
// time.Duration, []any, []string, map[string]any and map[string]string
// (nested freely).
func ToStarlark(v any) (starlark.Value, error) {
	switch x := v.(type) {
	case nil:
		return starlark.None, nil
	case starlark.Value:
		return x, nil
	case bool:
		return starlark.Bool(x), nil
	case string:
		return starlark.String(x), nil
	case int:
		return starlark.MakeInt(x), nil
	case int8:
		return starlark.MakeInt64(int64(x)), nil
	case int16:
		return starlark.MakeInt64(int64(x)), nil
	case int32:
		return starlark.MakeInt64(int64(x)), nil
	case int64:
		return starlark.MakeInt64(x), nil
	case uint:
		return starlark.MakeUint64(uint64(x)), nil
	case uint8:
		return starlark.MakeUint64(uint64(x)), nil
	case uint16:
		return starlark.MakeUint64(uint64(x)), nil
	case uint32:
		return starlark.MakeUint64(uint64(x)), nil
	case uint64:
		return starlark.MakeUint64(x), nil
	case float32:
		return starlark.Float(x), nil
	case float64:
		return starlark.Float(x), nil
	case *big.Int:
		return starlark.MakeBigInt(x), nil
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return starlark.MakeInt64(i), nil
		}
		if b, ok := new(big.Int).SetString(string(x), 10); ok {
			return starlark.MakeBigInt(b), nil
		}
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("json.Number %q: %w", x, err)
		}
		return starlark.Float(f), nil
	case time.Time:
		return startime.Time(x), nil
	case time.Duration:
		return startime.Duration(x), nil
	case []any:
		l := make([]starlark.Value, len(x))
		for i, e := range x {
			sv, err := ToStarlark(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			l[i] = sv
		}
		return starlark.NewList(l), nil
	case []string:
		l := make([]starlark.Value, len(x))
		for i, e := range x {
			l[i] = starlark.String(e)
		}
		return starlark.NewList(l), nil
	case map[string]any:
		d := starlark.NewDict(len(x))
		for _, k := range sortedKeys(x) {
			sv, err := ToStarlark(x[k])
			if err != nil {
				return nil, fmt.Errorf("[%q]: %w", k, err)
			}
			if err := d.SetKey(starlark.String(k), sv); err != nil {
				return nil, err
			}
		}
		return d, nil
	case map[string]string:
		d := starlark.NewDict(len(x))
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if err := d.SetKey(starlark.String(k), starlark.String(x[k])); err != nil {
				return nil, err
			}
		}
		return d, nil
	}
	return nil, fmt.Errorf("cannot pass a Go %T to a script", v)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// FromStarlark converts a Starlark data value back to Go: None → nil, bool,
// string, int → int64 (or *big.Int when it does not fit), float → float64,
// list/tuple/set → []any, dict → map[string]any (non-string keys are written
// with str()), time.time → time.Time, time.duration → time.Duration. Functions,
// modules and other non-data values are an error.
func FromStarlark(v starlark.Value) (any, error) {
	switch x := v.(type) {
	case starlark.NoneType:
		return nil, nil
	case starlark.Bool:
		return bool(x), nil
	case starlark.String:
		return string(x), nil
	case starlark.Bytes:
		return string(x), nil
	case starlark.Int:
		if i, ok := x.Int64(); ok {
			return i, nil
		}
		return x.BigInt(), nil
	case starlark.Float:
		return float64(x), nil
	case *starlark.List:
		return iterToSlice(x, x.Len())
	case starlark.Tuple:
		return iterToSlice(x, x.Len())
	case *starlark.Set:
		return iterToSlice(x, x.Len())
	case *starlark.Dict:
		m := make(map[string]any, x.Len())
		for _, item := range x.Items() {
			k := item[0]
			ks, ok := k.(starlark.String)
			key := string(ks)
			if !ok {
				key = k.String()
			}
			gv, err := FromStarlark(item[1])
			if err != nil {
				return nil, fmt.Errorf("[%s]: %w", k.String(), err)
			}
			m[key] = gv
		}
		return m, nil
	case startime.Time:
		return time.Time(x), nil
	case startime.Duration:
		return time.Duration(x), nil
	}
	return nil, fmt.Errorf("a %s value cannot leave a script", v.Type())
}

func iterToSlice(it starlark.Iterable, n int) ([]any, error) {
	out := make([]any, 0, n)
	iter := it.Iterate()
	defer iter.Done()
	var e starlark.Value
	for i := 0; iter.Next(&e); i++ {
		gv, err := FromStarlark(e)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		out = append(out, gv)
	}
	return out, nil
}
