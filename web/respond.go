package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/omflow/omflow/flow"
	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/web/internal/httpjson"
)

// apiError is a refused request: HTTP status plus the error body.
type apiError struct {
	Status  int
	Code    string
	Message string
	Field   string
	Details []flow.FieldProblem
}

func (e *apiError) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

func errorf(status int, code, field, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

func badRequest(field, format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "bad_request", field, format, args...)
}

func notFoundErr(format string, args ...any) *apiError {
	return errorf(http.StatusNotFound, "not_found", "", format, args...)
}

func forbidden(format string, args ...any) *apiError {
	return errorf(http.StatusForbidden, "forbidden", "", format, args...)
}

// handlerFunc is an API handler that returns its error instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// api adapts h: a returned error becomes the JSON error response.
func (s *Server) api(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// writeError maps err to a status and the JSON error body:
//   - *apiError as it is;
//   - *flow.InputError by kind: ErrInvalid 422, ErrForbidden 403,
//     ErrNotFound 404, ErrConflict 409;
//   - store field errors 422, store.ErrNotFound 404, duplicates and
//     store.ErrConflict 409;
//   - anything else 500 with a generic message; the details go to the log.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	var ie *flow.InputError
	var fe *store.FieldError
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &ie):
		ae = &apiError{Status: http.StatusUnprocessableEntity, Code: ie.Code, Message: ie.Message, Field: ie.Field, Details: ie.Details}
		switch {
		case errors.Is(ie, flow.ErrForbidden):
			ae.Status = http.StatusForbidden
		case errors.Is(ie, flow.ErrNotFound):
			ae.Status = http.StatusNotFound
		case errors.Is(ie, flow.ErrConflict):
			ae.Status = http.StatusConflict
		}
		if ae.Code == "" {
			ae.Code = codeFor(ae.Status)
		}
		if ae.Message == "" {
			ae.Message = ie.Error()
		}
	case errors.As(err, &fe):
		ae = &apiError{Status: http.StatusUnprocessableEntity, Code: "invalid", Message: fe.Field + " " + fe.Msg, Field: fe.Field}
	case errors.Is(err, store.ErrNotFound):
		ae = notFoundErr("%s", trimWrap(err))
	case store.IsDuplicate(err):
		ae = errorf(http.StatusConflict, "exists", "", "it already exists")
	case errors.Is(err, store.ErrConflict):
		ae = errorf(http.StatusConflict, "conflict", "", "it was changed by someone else: reload and try again")
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		ae = errorf(http.StatusInternalServerError, "internal", "", "internal error: see the server log")
	}
	httpjson.Error(w, ae.Status, httpjson.ErrorBody{Code: ae.Code, Message: ae.Message, Field: ae.Field, Details: ae.Details})
}

// trimWrap keeps the innermost, most readable part of a not-found chain
// ("user 7: not found").
func trimWrap(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "+store.ErrNotFound.Error()); i >= 0 {
		head := msg[:i]
		if j := strings.LastIndex(head, ": "); j >= 0 {
			head = head[j+2:]
		}
		return head + " not found"
	}
	return msg
}

func codeFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusConflict:
		return "conflict"
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusUnprocessableEntity:
		return "invalid"
	}
	return "error"
}

func writeJSON(w http.ResponseWriter, status int, v any) { httpjson.Write(w, status, v) }
