package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxJSONBytes bounds an ordinary JSON request body.
const maxJSONBytes = 1 << 20

// readBody reads r's body, at most limit bytes; a larger body is a 413.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, errorf(http.StatusRequestEntityTooLarge, "too_large", "", "the request body is larger than the limit of %d bytes", tooBig.Limit)
	}
	if err != nil {
		return nil, badRequest("", "the request body cannot be read: %v", err)
	}
	return data, nil
}

// decodeBody reads r's JSON body (at most maxJSONBytes) into dst; see
// decodeJSON for the rules.
func decodeBody(w http.ResponseWriter, r *http.Request, dst any) error {
	data, err := readBody(w, r, maxJSONBytes)
	if err != nil {
		return err
	}
	if ae := decodeJSON(data, dst); ae != nil {
		return ae
	}
	return nil
}

// decodeJSON decodes one JSON object from data into dst, a pointer to a
// struct. Every problem is a 400 that names it: an empty body, bad syntax
// (with the byte offset), a key dst has no field for (the key is named), a
// value of the wrong type (the field is named), or data after the object.
func decodeJSON(data []byte, dst any) *apiError {
	if len(bytes.TrimSpace(data)) == 0 {
		return badRequest("", "the request body is empty: send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonProblem(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("", "the request body has more data after the JSON object")
	}
	return nil
}

func jsonProblem(err error) *apiError {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return badRequest("", "the request body is not valid JSON: %s (at byte %d)", strings.TrimPrefix(syn.Error(), "json: "), syn.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return badRequest("", "the request body must be a JSON object, not %s", typ.Value)
		}
		return badRequest(typ.Field, "%s must be %s, not %s", typ.Field, jsonType(typ.Type.String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("", "the request body is not valid JSON: it ends too early")
	}
	msg := err.Error()
	if k, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		k = strings.Trim(k, `"`)
		return badRequest(k, "%q is not a known field", k)
	}
	return badRequest("", "the request body cannot be decoded: %s", strings.TrimPrefix(msg, "json: "))
}

// jsonType names a Go type the way a JSON client thinks of it.
func jsonType(goType string) string {
	switch {
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "a whole number"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "map["), strings.HasPrefix(goType, "struct"):
		return "an object"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	}
	return "of type " + goType
}

// Optional is a field of a partial update: Set when the key was present,
// Null when its value was null.
type Optional[T any] struct {
	Set   bool
	Null  bool
	Value T
}

// UnmarshalJSON records presence and decodes the value.
func (o *Optional[T]) UnmarshalJSON(b []byte) error {
	*o = Optional[T]{Set: true}
	if string(bytes.TrimSpace(b)) == "null" {
		o.Null = true
		return nil
	}
	if err := json.Unmarshal(b, &o.Value); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return &json.UnmarshalTypeError{Value: typ.Value, Type: typ.Type}
		}
		return err
	}
	return nil
}

// Ptr returns the value as a pointer: nil when absent or null.
func (o Optional[T]) Ptr() *T {
	if !o.Set || o.Null {
		return nil
	}
	v := o.Value
	return &v
}

// String describes o for messages.
func (o Optional[T]) String() string {
	switch {
	case !o.Set:
		return "(absent)"
	case o.Null:
		return "null"
	}
	return fmt.Sprint(o.Value)
}
