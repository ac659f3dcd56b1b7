package web

import (
	"net/http"

	"github.com/omflow/omflow/flow"
	"github.com/omflow/omflow/web/auth"
)

// flowPermissions lists a flow's permission entries with the group each is
// mapped to and whether its subject names a known group or role.
func (s *Server) flowPermissions(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	perms, err := s.eng.Permissions(r.Context(), auth.ActorFrom(r.Context()), id)
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
	if err := s.eng.MapPermission(r.Context(), auth.ActorFrom(r.Context()), id, gid); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "group_id": gid})
	return nil
}
