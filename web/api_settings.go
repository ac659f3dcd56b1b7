package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strconv"

	"github.com/omflow/omflow/store"
)

// settingsJSON renders settings with their kinds: int settings as numbers.
func settingsJSON(values map[string]string) map[string]any {
	out := map[string]any{}
	for _, spec := range store.SettingSpecs() {
		v := values[spec.Key]
		if spec.Kind == store.KindInt {
			if n, err := strconv.Atoi(v); err == nil {
				out[spec.Key] = n
				continue
			}
		}
		out[spec.Key] = v
	}
	return out
}

// getSettings shows every known system setting's value.
func (s *Server) getSettings(w http.ResponseWriter, r *http.Request) error {
	vals, err := s.db.Settings(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, settingsJSON(vals))
	return nil
}

// putSettings changes the settings named in the body, a JSON object of key
// to value; others keep their values. Each key must be known and each value
// valid (int settings take a whole number or a string of one); otherwise the
// answer is 400 naming the first bad key and nothing is stored.
func (s *Server) putSettings(w http.ResponseWriter, r *http.Request) error {
	data, err := readBody(w, r, maxJSONBytes)
	if err != nil {
		return err
	}
	var raw map[string]json.RawMessage
	if ae := decodeJSON(data, &raw); ae != nil {
		return ae
	}
	if raw == nil {
		return badRequest("", "the request body must be a JSON object of setting names to values")
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	values := map[string]string{}
	for _, k := range keys {
		spec, ok := store.LookupSetting(k)
		if !ok {
			return badRequest(k, "%q is not a known setting", k)
		}
		v, err := settingValue(spec, raw[k])
		if err != nil {
			return err
		}
		if err := spec.Validate(v); err != nil {
			var fe *store.FieldError
			if errors.As(err, &fe) {
				return badRequest(k, "%s %s", k, fe.Msg)
			}
			return badRequest(k, "%s: %v", k, err)
		}
		values[k] = v
	}
	if err := s.db.SetSettings(r.Context(), values); err != nil {
		return err
	}
	return s.getSettings(w, r)
}

// settingValue turns a JSON value into the stored string form.
func settingValue(spec store.SettingSpec, raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	var str string
	if err := json.Unmarshal(raw, &str); err == nil {
		return str, nil
	}
	if spec.Kind == store.KindInt {
		var n json.Number
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&n); err == nil {
			if i, err := strconv.Atoi(n.String()); err == nil {
				return strconv.Itoa(i), nil
			}
		}
		return "", badRequest(spec.Key, "%s must be a whole number, not %s", spec.Key, string(raw))
	}
	return "", badRequest(spec.Key, "%s must be a string, not %s", spec.Key, string(raw))
}
