package web

import (
	"context"
	"net/http"

	"github.com/omflow/omflow/flow"
	"github.com/omflow/omflow/web/auth"
)

// permissionEngine is what the permission endpoints need of the engine;
// *flow.Engine implements it. It is separate from Engine so that engines
// made for tests need not implement it; an engine without it answers 501.
type permissionEngine interface {
	Permissions(ctx context.Context, a *flow.Actor, flowID int64) ([]flow.PermissionView, error)
	MapPermission(ctx context.Context, a *flow.Actor, permissionID int64, groupID *int64) error
}

var _ permissionEngine = (*flow.Engine)(nil)

func (s *Server) permissionEngine() (permissionEngine, error) {
	pe, ok := s.eng.(permissionEngine)
	if !ok {
		return nil, errorf(http.StatusNotImplemented, "not_implemented", "", "this server's engine does not manage flow permissions")
	}
	return pe, nil
}

// flowPermissions lists a flow's permission entries with the group each is
// mapped to and whether its subject names a known group or role.
func (s *Server) flowPermissions(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	pe, err := s.permissionEngine()
	if err != nil {
		return err
	}
	perms, err := pe.Permissions(r.Context(), auth.ActorFrom(r.Context()), id)
	if err != nil {
		return err
	}
	if perms == nil {
		perms = []flow.PermissionView{}
	}
	writeJSON(w, http.StatusOK, perms)
	return nil
}

type mapPermissionRequest struct {
	GroupID Optional[int64] `json:"group_id"`
}

// mapPermission maps a permission entry to a group ({"group_id": N}) or
// removes the mapping ({"group_id": null}).
func (s *Server) mapPermission(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req mapPermissionRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if !req.GroupID.Set {
		return badRequest("group_id", "group_id is required: a group id, or null to remove the mapping")
	}
	gid := req.GroupID.Ptr()
	if gid != nil && *gid <= 0 {
		return badRequest("group_id", "group_id must be a positive whole number or null, not %d", *gid)
	}
	pe, err := s.permissionEngine()
	if err != nil {
		return err
	}
	if err := pe.MapPermission(r.Context(), auth.ActorFrom(r.Context()), id, gid); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "group_id": gid})
	return nil
}
