// Package httpjson writes JSON responses and the API's one error shape,
// {"error":{"code","message","field"}}, for the web packages.
package httpjson

import (
	"encoding/json"
	"net/http"

	"github.com/omflow/omflow/flow"
)

// ErrorBody is the payload of every error response.
type ErrorBody struct {
	Code    string              `json:"code"`
	Message string              `json:"message"`
	Field   string              `json:"field"`
	Details []flow.FieldProblem `json:"details,omitempty"`
}

// Write sends v as JSON with status. The Cache-Control header keeps API
// answers, which may be personal, out of shared caches.
func Write(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if v == nil || status == http.StatusNoContent {
		return
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v) // the client went away; nothing to do
}

// Error sends an error response.
func Error(w http.ResponseWriter, status int, body ErrorBody) {
	Write(w, status, struct {
		Error ErrorBody `json:"error"`
	}{body})
}

// Fail is Error with the three usual fields.
func Fail(w http.ResponseWriter, status int, code, message, field string) {
	Error(w, status, ErrorBody{Code: code, Message: message, Field: field})
}
