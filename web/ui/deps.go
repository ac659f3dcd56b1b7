package ui

import (
	"context"
	"io"
	"net/http"

	"github.com/omflow/omflow/flow"
	"github.com/omflow/omflow/flow/def"
	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/web/auth"
)

// Engine is what the pages need of the flow engine; *flow.Engine implements
// it. Every call carries the actor, and the engine checks permissions.
type Engine interface {
	ImportApp(ctx context.Context, a *flow.Actor, data []byte) (*flow.ImportResult, error)
	ExportApp(ctx context.Context, a *flow.Actor, appID int64) ([]byte, error)
	Apps(ctx context.Context, a *flow.Actor) ([]flow.AppInfo, error)
	Flows(ctx context.Context, a *flow.Actor) ([]flow.FlowInfo, error)
	SetFlowEnabled(ctx context.Context, a *flow.Actor, flowID int64, enabled bool) error
	FlowVersions(ctx context.Context, a *flow.Actor, flowID int64) ([]flow.VersionInfo, error)
	PublishVersion(ctx context.Context, a *flow.Actor, flowID int64, version int) error
	// Permissions lists a flow's permission entries (administrators).
	Permissions(ctx context.Context, a *flow.Actor, flowID int64) ([]flow.PermissionView, error)
	// MapPermission maps a permission entry to a group, or unmaps it (nil).
	MapPermission(ctx context.Context, a *flow.Actor, permissionID int64, groupID *int64) error
	// FlowDefinition is the current version of a flow, parsed.
	FlowDefinition(ctx context.Context, a *flow.Actor, flowRef string) (*def.Flow, flow.FlowInfo, error)
	FileTicket(ctx context.Context, a *flow.Actor, flowRef string, fields map[string]any) (*flow.Filed, error)
	Ticket(ctx context.Context, a *flow.Actor, id int64) (*flow.TicketView, error)
	// TicketDefinition is the flow version a ticket runs on.
	TicketDefinition(ctx context.Context, a *flow.Actor, ticketID int64) (*def.Flow, error)
	Tickets(ctx context.Context, a *flow.Actor, f flow.TicketFilter) (*flow.TicketPage, error)
	Tasks(ctx context.Context, a *flow.Actor, all bool) ([]flow.TaskView, error)
	// Task is a task the actor may work on, with its step's form.
	Task(ctx context.Context, a *flow.Actor, id int64) (*flow.TaskForm, error)
	CompleteTask(ctx context.Context, a *flow.Actor, taskID int64, fields map[string]any, action string) error
}

// Accounts logs people in and out; *auth.Auth implements it. Who is
// asking comes from the context that auth.Middleware fills (sessions live in
// the database, so any server of a cluster serves any user).
type Accounts interface {
	// Login checks a username and password without starting a session. It
	// fails with auth.ErrBadCredentials, auth.ErrDisabled,
	// *auth.LockedError or *auth.RateLimitedError, or an internal error.
	Login(ctx context.Context, username, password, ip string) (*store.User, error)
	// StartSession sets the session cookie for u.
	StartSession(w http.ResponseWriter, r *http.Request, u *store.User) error
	// EndSession removes the request's session.
	EndSession(w http.ResponseWriter, r *http.Request) error
	// ClientIP is the caller's address (behind a trusted proxy, the one it
	// names), for login rate limits.
	ClientIP(r *http.Request) string
	// Forget drops cached sessions, after a change that ends some.
	Forget()
}

// Directory is the part of the store the pages use for users, groups,
// settings and files; *store.DB implements it. Permission checks are the
// pages' own (administration pages are for administrators; a file is served
// to whoever may see its ticket).
type Directory interface {
	UserByID(ctx context.Context, id int64) (*store.User, error)
	Users(ctx context.Context) ([]store.User, error)
	CreateUser(ctx context.Context, u *store.User, password string) error
	UpdateUser(ctx context.Context, id int64, up store.UserUpdate) (*store.User, error)
	SetPassword(ctx context.Context, id int64, password string) error
	// DeleteUserSessions ends a user's sessions and tokens but the session
	// keep (its stored id) and the token keepToken.
	DeleteUserSessions(ctx context.Context, uid int64, keep string, keepToken int64) error
	UserGroups(ctx context.Context, uid int64) ([]store.Group, error)

	Groups(ctx context.Context) ([]store.Group, error)
	GroupByID(ctx context.Context, id int64) (*store.Group, error)
	CreateGroup(ctx context.Context, g *store.Group) error
	UpdateGroup(ctx context.Context, id int64, up store.GroupUpdate) (*store.Group, error)
	GroupMembers(ctx context.Context, gid int64) ([]store.User, error)
	AddGroupMember(ctx context.Context, gid, uid int64) error
	RemoveGroupMember(ctx context.Context, gid, uid int64) error

	Settings(ctx context.Context) (map[string]string, error)
	SetSettings(ctx context.Context, values map[string]string) error

	SaveAttachment(ctx context.Context, a *store.Attachment, r io.Reader, limit int64) error
	AttachmentByID(ctx context.Context, id int64) (*store.Attachment, error)
	AttachmentInfo(ctx context.Context, id int64) (*store.Attachment, error)
	TicketAttachments(ctx context.Context, ticketID int64) ([]store.Attachment, error)
	LinkAttachment(ctx context.Context, id, ticketID int64, fieldID string) error
}

// Compile-time checks that the real parts fit.
var (
	_ Engine    = (*flow.Engine)(nil)
	_ Directory = (*store.DB)(nil)
	_ Accounts  = (*auth.Auth)(nil)
)
