package flow

import (
	"errors"
	"fmt"
	"time"
)

// Actor is who asks: a logged-in user with the groups and roles that
// permissions and task assignment are checked against. The web layer builds
// it from a session or token (store.DB.Actor).
type Actor struct {
	UserID   int64
	Username string
	Name     string // display name
	Admin    bool
	Groups   []ActorGroup
	Roles    []string
}

// ActorGroup is a group the actor belongs to.
type ActorGroup struct {
	ID   int64
	Name string
}

// System is the actor for work done by the engine itself (timers, scripts).
var System = &Actor{Username: "system", Name: "system", Admin: true}

// Error kinds. Every error the engine returns for bad input or a refused
// request wraps one of these, so the web layer can pick the HTTP status.
var (
	ErrInvalid   = errors.New("invalid")   // 400/422: bad input; see FieldError/NodeError details
	ErrForbidden = errors.New("forbidden") // 403
	ErrNotFound  = errors.New("not found") // 404
	ErrConflict  = errors.New("conflict")  // 409: e.g. the task was completed by someone else
)

// InputError is a rejected request. Field names the offending form field
// (or node) when there is one; Errors lists every problem found.
type InputError struct {
	Kind    error // one of ErrInvalid, ErrForbidden, ErrNotFound, ErrConflict
	Code    string
	Field   string
	Message string
	Details []FieldProblem
}

// FieldProblem is one problem with one field or node.
type FieldProblem struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *InputError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Message)
	}
	return e.Message
}

// Unwrap lets errors.Is match the kind.
func (e *InputError) Unwrap() error { return e.Kind }

// FlowInfo is a flow a user may see or start.
type FlowInfo struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	App      string `json:"app"`
	AppID    int64  `json:"app_id"`
	Version  int    `json:"version"`
	APIPath  string `json:"api_path"`
	Enabled  bool   `json:"enabled"`
	CanStart bool   `json:"can_start"`
}

// ImportResult is what ImportApp created.
type ImportResult struct {
	App   ImportedApp    `json:"app"`
	Flows []ImportedFlow `json:"flows"`
	// Unmapped lists permission names that match no group or role, for an
	// administrator to map.
	Unmapped []string `json:"unmapped,omitempty"`
}

// ImportedApp names the app.
type ImportedApp struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// ImportedFlow is one flow of an import, at the version now current.
type ImportedFlow struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Version int    `json:"version"`
	APIPath string `json:"api_path"`
	Changed bool   `json:"changed"` // a new version was published by this import
}

// Filed is the answer to filing a ticket.
type Filed struct {
	ID     int64  `json:"id"`
	No     string `json:"no"`
	Status string `json:"status"`
	Closed bool   `json:"closed"`
}

// TicketView is a ticket as a permitted reader sees it.
type TicketView struct {
	ID        int64          `json:"id"`
	No        string         `json:"no"`
	FlowID    int64          `json:"flow_id"`
	FlowName  string         `json:"flow_name"`
	Version   int            `json:"version"`
	Title     string         `json:"title"`
	Status    string         `json:"status"`
	Level     string         `json:"level"`
	Group     string         `json:"group"`
	Assignee  string         `json:"assignee"`
	Creator   string         `json:"creator"`
	Closed    bool           `json:"closed"`
	Error     string         `json:"error"`
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`
	ClosedAt  *time.Time     `json:"closed_at,omitempty"`
	Fields    map[string]any `json:"fields"`
	Vars      map[string]any `json:"vars,omitempty"`
	Tasks     []TaskView     `json:"tasks"`
	History   []EventView    `json:"history"`
	// Current lists the node ids the ticket is at now (for the diagram).
	Current []string `json:"current"`
	CanEdit bool     `json:"can_modify"`
}

// TicketSummary is one row of a ticket list.
type TicketSummary struct {
	ID        int64     `json:"id"`
	No        string    `json:"no"`
	FlowID    int64     `json:"flow_id"`
	FlowName  string    `json:"flow_name"`
	Title     string    `json:"title"`
	Status    string    `json:"status"`
	Level     string    `json:"level"`
	Group     string    `json:"group"`
	Closed    bool      `json:"closed"`
	Error     string    `json:"error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// TicketFilter selects tickets for a list. Zero values mean "any".
type TicketFilter struct {
	Flow    string // flow id or api_path
	Closed  *bool
	Status  string
	Query   string // text search in number and title
	Mine    bool   // only tickets the actor filed
	Page    int    // 1-based
	PerPage int    // default 50, at most 200
}

// TicketPage is one page of tickets.
type TicketPage struct {
	Items   []TicketSummary `json:"items"`
	Total   int64           `json:"total"`
	Page    int             `json:"page"`
	PerPage int             `json:"per_page"`
}

// TaskView is an open (or finished) task.
type TaskView struct {
	ID         int64        `json:"id"`
	TicketID   int64        `json:"ticket_id"`
	TicketNo   string       `json:"ticket_no"`
	FlowID     int64        `json:"flow_id"`
	FlowName   string       `json:"flow_name"`
	NodeID     string       `json:"node_id"`
	NodeName   string       `json:"node_name"`
	Title      string       `json:"title"`
	Group      string       `json:"group"`
	AssigneeID *int64       `json:"assignee_id,omitempty"`
	State      string       `json:"state"`
	Actions    []TaskAction `json:"actions"`
	CreatedAt  time.Time    `json:"created_at"`
}

// TaskAction is a quick-action button of a form step.
type TaskAction struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

// EventView is one entry of a ticket's history.
type EventView struct {
	ID       int64             `json:"id"`
	Kind     string            `json:"kind"`
	NodeID   string            `json:"node_id,omitempty"`
	NodeName string            `json:"node_name,omitempty"`
	Actor    string            `json:"actor,omitempty"`
	Message  string            `json:"message,omitempty"`
	Changes  map[string][2]any `json:"changes,omitempty"`
	At       time.Time         `json:"at"`
}
