package ui

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/omflow/omflow/flow"
	"github.com/omflow/omflow/store"
)

// permsData is a flow's permission entries with the groups they may be
// mapped to.
type permsData struct {
	Flow   flow.FlowInfo
	Perms  []flow.PermissionView
	Groups []store.Group
	// Errors holds a message per entry whose mapping was refused.
	Errors map[int64]string
}

// unmappedRow is a permission name of an import that matches no group or
// role, with the imported flows whose entries carry it.
type unmappedRow struct {
	Name  string
	Flows []flow.ImportedFlow
}

// unmappedRows finds, for each unmapped name of an import, the flows whose
// permission entries name it, so the result can link to their mapping
// pages.
func (u *UI) unmappedRows(rq *req, res *flow.ImportResult) ([]unmappedRow, error) {
	if len(res.Unmapped) == 0 {
		return nil, nil
	}
	rows := make([]unmappedRow, len(res.Unmapped))
	at := map[string]int{}
	for i, n := range res.Unmapped {
		rows[i].Name, at[n] = n, i
	}
	for _, f := range res.Flows {
		perms, err := u.o.Engine.Permissions(rq.ctx, rq.actor, f.ID)
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		for _, p := range perms {
			if i, ok := at[p.Subject]; ok && !seen[p.Subject] {
				seen[p.Subject] = true
				rows[i].Flows = append(rows[i].Flows, f)
			}
		}
	}
	return rows, nil
}

// loadPerms reads the flow named by the path and its entries.
func (u *UI) loadPerms(rq *req) (*permsData, error) {
	id, err := strconv.ParseInt(rq.r.PathValue("id"), 10, 64)
	if err != nil {
		return nil, &flow.InputError{Kind: flow.ErrNotFound, Message: "no such flow"}
	}
	flows, err := u.o.Engine.Flows(rq.ctx, rq.actor)
	if err != nil {
		return nil, err
	}
	d := &permsData{Errors: map[int64]string{}}
	found := false
	for _, f := range flows {
		if f.ID == id {
			d.Flow, found = f, true
		}
	}
	if !found {
		return nil, &flow.InputError{Kind: flow.ErrNotFound, Message: "no such flow"}
	}
	if d.Perms, err = u.o.Engine.Permissions(rq.ctx, rq.actor, id); err != nil {
		return nil, err
	}
	if d.Groups, err = u.o.Directory.Groups(rq.ctx); err != nil {
		return nil, err
	}
	return d, nil
}

func (u *UI) permissionsTitle(rq *req, d *permsData) string {
	return rq.T("perms.title", "Flow", d.Flow.Name)
}

// permissionsPage shows a flow's permission entries, each with a form that
// maps it to a group.
func (u *UI) permissionsPage(rq *req) error {
	d, err := u.loadPerms(rq)
	if err != nil {
		return err
	}
	return rq.render(http.StatusOK, "permissions", u.permissionsTitle(rq, d), "admin", d)
}

// permissionsPost maps one entry (permission) to a group (group; empty
// for none).
func (u *UI) permissionsPost(rq *req) error {
	d, err := u.loadPerms(rq)
	if err != nil {
		return err
	}
	if err := rq.parseForm(); err != nil {
		return err
	}
	pid, err := strconv.ParseInt(rq.r.PostFormValue("permission"), 10, 64)
	if err != nil {
		return rq.fail(http.StatusBadRequest, k("error.invalid"))
	}
	var entry *flow.PermissionView
	for i := range d.Perms {
		if d.Perms[i].ID == pid {
			entry = &d.Perms[i]
		}
	}
	if entry == nil {
		// Not an entry of this flow (or it went with a re-import).
		return rq.fail(http.StatusNotFound, k("error.notfound"))
	}
	var gid *int64
	if v := rq.r.PostFormValue("group"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			d.Errors[pid] = rq.T("err.field.choice")
			return rq.render(http.StatusUnprocessableEntity, "permissions", u.permissionsTitle(rq, d), "admin", d)
		}
		gid = &id
	}
	if err := u.o.Engine.MapPermission(rq.ctx, rq.actor, pid, gid); err != nil {
		if !errors.Is(err, flow.ErrInvalid) {
			return err
		}
		// The group went meanwhile: say so next to the entry.
		if d.Groups, err = u.o.Directory.Groups(rq.ctx); err != nil {
			return err
		}
		d.Errors[pid] = rq.T("err.field.choice")
		return rq.render(http.StatusUnprocessableEntity, "permissions", u.permissionsTitle(rq, d), "admin", d)
	}
	if gid == nil {
		rq.flash(k("flash.unmapped"), entry.Subject)
	} else {
		rq.flash(k("flash.mapped"), entry.Subject)
	}
	return rq.redirect("/admin/flows/" + strconv.FormatInt(d.Flow.ID, 10) + "/permissions")
}
