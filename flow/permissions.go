package flow

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/omflow/omflow/store"
)

// PermissionView is one permission entry of a flow, as imported from its
// app export, for an administrator to review and map. An entry applies to
// the members of the group or role its subject names; a subject that names
// none (Known false) applies to nobody until it is mapped to a group.
type PermissionView struct {
	ID      int64  `json:"id"`
	FlowID  int64  `json:"flow_id"`
	Subject string `json:"subject"`
	View    bool   `json:"view"`
	Add     bool   `json:"add"`
	Modify  bool   `json:"modify"`
	Delete  bool   `json:"delete"`
	// GroupID is the group an administrator mapped the entry to (null when
	// unmapped); GroupName is its name, empty when the group was deleted.
	GroupID   *int64 `json:"group_id"`
	GroupName string `json:"group_name"`
	// Known reports whether the subject is the name of an existing group
	// or role, or a built-in role ("user", "everyone", "admin").
	Known bool `json:"known"`
}

// builtinSubject reports whether s is a role every user (or every
// administrator) has without a row for it.
func builtinSubject(s string) bool {
	return s == "user" || s == "everyone" || s == "admin"
}

// Permissions lists the permission entries of a flow (administrators).
func (e *Engine) Permissions(ctx context.Context, a *Actor, flowID int64) ([]PermissionView, error) {
	if !a.Admin {
		return nil, forbidden("only administrators may see flow permissions")
	}
	if _, err := e.flowByID(ctx, flowID); err != nil {
		return nil, err
	}
	perms, err := e.db.Permissions(ctx, flowID)
	if err != nil {
		return nil, err
	}
	subjects := make([]string, 0, len(perms))
	mapped := false
	for _, p := range perms {
		subjects = append(subjects, p.Subject)
		mapped = mapped || p.GroupID != nil
	}
	known, err := e.db.KnownSubjects(ctx, subjects)
	if err != nil {
		return nil, err
	}
	groupNames := map[int64]string{}
	if mapped {
		groups, err := e.db.Groups(ctx)
		if err != nil {
			return nil, err
		}
		for _, g := range groups {
			groupNames[g.ID] = g.Name
		}
	}
	out := make([]PermissionView, 0, len(perms))
	for _, p := range perms {
		v := PermissionView{ID: p.ID, FlowID: p.FlowID, Subject: p.Subject, View: p.View, Add: p.Add,
			Modify: p.Modify, Delete: p.Delete, GroupID: p.GroupID, Known: known[p.Subject] || builtinSubject(p.Subject)}
		if p.GroupID != nil {
			v.GroupName = groupNames[*p.GroupID]
		}
		out = append(out, v)
	}
	return out, nil
}

// MapPermission points permission entry permissionID at a group, so that
// the group's members get the entry's rights; a nil groupID removes the
// mapping (administrators). The change reaches every server: the flows
// change counter moves and this engine drops its cached permissions.
func (e *Engine) MapPermission(ctx context.Context, a *Actor, permissionID int64, groupID *int64) error {
	if !a.Admin {
		return forbidden("only administrators may map flow permissions")
	}
	if groupID != nil {
		if _, err := e.db.GroupByID(ctx, *groupID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return &InputError{Kind: ErrInvalid, Code: "group_not_found", Field: "group_id",
					Message: fmt.Sprintf("group_id %d names no group: map the entry to an existing group, or send null to unmap it", *groupID)}
			}
			return err
		}
	}
	changed := false
	err := e.db.Tx(ctx, func(ctx context.Context) error {
		// Look the entry up first: MySQL reports an UPDATE that changes
		// nothing as zero rows, which the store would take for a missing
		// entry, and mapping an entry to its current group is no change.
		all, err := e.db.Permissions(ctx)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(all, func(p store.FlowPermission) bool { return p.ID == permissionID })
		if i < 0 {
			return notFoundErr("permission_not_found", "no permission entry %d", permissionID)
		}
		if cur := all[i].GroupID; (cur == nil && groupID == nil) || (cur != nil && groupID != nil && *cur == *groupID) {
			return nil
		}
		if err := e.db.MapPermission(ctx, permissionID, groupID); err != nil {
			return err
		}
		changed = true
		return e.db.BumpVersion(ctx, scopeFlows)
	})
	if err != nil {
		return err
	}
	if changed {
		e.flowsChanged()
	}
	return nil
}
