package web

import (
	"context"

	"github.com/omflow/omflow/flow"
)

// Engine is what the API needs of the flow engine; *flow.Engine implements
// it. Every call carries the actor and the engine checks permissions. Errors
// are *flow.InputError for refused requests, anything else is internal.
type Engine interface {
	ImportApp(ctx context.Context, a *flow.Actor, data []byte) (*flow.ImportResult, error)
	ExportApp(ctx context.Context, a *flow.Actor, appID int64) ([]byte, error)
	// Flows lists the flows the caller may start (administrators: all,
	// disabled ones too).
	Flows(ctx context.Context, a *flow.Actor) ([]flow.FlowInfo, error)
	SetFlowEnabled(ctx context.Context, a *flow.Actor, flowID int64, enabled bool) error
	// FileTicket files a ticket in the flow named by flowRef (id or api_path).
	FileTicket(ctx context.Context, a *flow.Actor, flowRef string, fields map[string]any) (*flow.Filed, error)
	Ticket(ctx context.Context, a *flow.Actor, id int64) (*flow.TicketView, error)
	Tickets(ctx context.Context, a *flow.Actor, f flow.TicketFilter) (*flow.TicketPage, error)
	Tasks(ctx context.Context, a *flow.Actor, all bool) ([]flow.TaskView, error)
	CompleteTask(ctx context.Context, a *flow.Actor, taskID int64, fields map[string]any, action string) error
	// Permissions lists a flow's permission entries; MapPermission points
	// one at a group (nil: no mapping). Administrators only.
	Permissions(ctx context.Context, a *flow.Actor, flowID int64) ([]flow.PermissionView, error)
	MapPermission(ctx context.Context, a *flow.Actor, permissionID int64, groupID *int64) error
}
