package def

import (
	"fmt"
	"strings"
)

// NodeError is one problem of a flow definition. Node names what is wrong: a
// node id (a node inside a subflow as "FITEM_5/FITEM_2"), a line id, a form
// item id, or a part of the flow such as "formobject" or "api_path"; it is ""
// for the flow as a whole.
type NodeError struct {
	Flow    string // the flow's name
	Node    string
	Name    string // the node's display name (its "text"), when it has one
	Message string
}

func (e NodeError) Error() string {
	var b strings.Builder
	if e.Flow != "" {
		fmt.Fprintf(&b, "flow %q: ", e.Flow)
	}
	if e.Node != "" {
		b.WriteString(e.Node)
		if e.Name != "" {
			fmt.Fprintf(&b, " (%s)", e.Name)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// ValidationError lists every problem found in a definition.
type ValidationError struct {
	Errors []NodeError
}

func (e *ValidationError) Error() string {
	switch len(e.Errors) {
	case 0:
		return "invalid flow definition"
	case 1:
		return "invalid flow definition: " + e.Errors[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "invalid flow definition: %d problems:", len(e.Errors))
	for _, ne := range e.Errors {
		b.WriteString("\n  - ")
		b.WriteString(ne.Error())
	}
	return b.String()
}

// Field error codes, stable for translation.
const (
	CodeRequired = "required"
	CodeRegex    = "regex"
	CodeChoice   = "choice"
	CodeReadonly = "readonly"
	CodeUnknown  = "unknown"
	CodeNumber   = "number"
	CodeDate     = "date"
	CodeLevel    = "level"
	CodeType     = "type"
)

// FieldError is a problem with one submitted form value.
type FieldError struct {
	Field   string // the field id
	Code    string // one of the Code constants
	Message string // English, names the field
}

func (e FieldError) Error() string { return e.Message }

// FieldErrors joins field errors into one error (nil when there are none).
type FieldErrors []FieldError

func (es FieldErrors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Message
	}
	return strings.Join(msgs, "; ")
}

// Err returns es as an error, or nil when es is empty.
func (es FieldErrors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}
