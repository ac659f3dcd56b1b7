package store

import (
	"context"
	"fmt"
	"strconv"

	"gorm.io/gorm"
)

// AppByName returns the app with that name.
func (db *DB) AppByName(ctx context.Context, name string) (*App, error) {
	var a App
	return &a, notFound(db.conn(ctx).Where("name = ?", name).Take(&a).Error, "app "+strconv.Quote(name))
}

// AppByID returns the app with that id.
func (db *DB) AppByID(ctx context.Context, id int64) (*App, error) {
	var a App
	return &a, notFound(db.conn(ctx).Take(&a, id).Error, fmt.Sprintf("app %d", id))
}

// Apps lists every app by name.
func (db *DB) Apps(ctx context.Context) ([]App, error) {
	var out []App
	return out, notFound(db.conn(ctx).Order("name").Find(&out).Error, "list apps")
}

// SaveApp inserts or updates an app.
func (db *DB) SaveApp(ctx context.Context, a *App) error {
	return notFound(db.conn(ctx).Save(a).Error, "save app "+strconv.Quote(a.Name))
}

// FlowByID returns a flow.
func (db *DB) FlowByID(ctx context.Context, id int64) (*Flow, error) {
	var f Flow
	return &f, notFound(db.conn(ctx).Take(&f, id).Error, fmt.Sprintf("flow %d", id))
}

// FlowByRef returns a flow by numeric id or api_path.
func (db *DB) FlowByRef(ctx context.Context, ref string) (*Flow, error) {
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		return db.FlowByID(ctx, id)
	}
	var f Flow
	return &f, notFound(db.conn(ctx).Where("api_path = ?", ref).Take(&f).Error, "flow "+strconv.Quote(ref))
}

// Flows lists flows, all of them or those of one app (appID > 0).
func (db *DB) Flows(ctx context.Context, appID int64) ([]Flow, error) {
	q := db.conn(ctx).Order("app_id, name")
	if appID > 0 {
		q = q.Where("app_id = ?", appID)
	}
	var out []Flow
	return out, notFound(q.Find(&out).Error, "list flows")
}

// SaveFlow inserts or updates a flow.
func (db *DB) SaveFlow(ctx context.Context, f *Flow) error {
	return notFound(db.conn(ctx).Save(f).Error, "save flow "+strconv.Quote(f.APIPath))
}

// SetFlowEnabled enables or disables a flow.
func (db *DB) SetFlowEnabled(ctx context.Context, id int64, enabled bool) error {
	res := db.conn(ctx).Model(&Flow{}).Where("id = ?", id).Update("enabled", enabled)
	if res.Error == nil && res.RowsAffected == 0 {
		return fmt.Errorf("flow %d: %w", id, ErrNotFound)
	}
	return notFound(res.Error, fmt.Sprintf("enable flow %d", id))
}

// AddFlowVersion stores a new immutable version.
func (db *DB) AddFlowVersion(ctx context.Context, v *FlowVersion) error {
	return notFound(db.conn(ctx).Create(v).Error, fmt.Sprintf("add version %d of flow %d", v.Version, v.FlowID))
}

// FlowVersionByID returns one stored version.
func (db *DB) FlowVersionByID(ctx context.Context, id int64) (*FlowVersion, error) {
	var v FlowVersion
	return &v, notFound(db.conn(ctx).Take(&v, id).Error, fmt.Sprintf("flow version %d", id))
}

// FlowVersion returns version n of a flow.
func (db *DB) FlowVersion(ctx context.Context, flowID int64, n int) (*FlowVersion, error) {
	var v FlowVersion
	err := db.conn(ctx).Where("flow_id = ? AND version = ?", flowID, n).Take(&v).Error
	return &v, notFound(err, fmt.Sprintf("version %d of flow %d", n, flowID))
}

// FlowVersions lists a flow's versions, newest first, without definitions.
func (db *DB) FlowVersions(ctx context.Context, flowID int64) ([]FlowVersion, error) {
	var out []FlowVersion
	err := db.conn(ctx).Select("id, flow_id, version, created_by, created_at").
		Where("flow_id = ?", flowID).Order("version DESC").Find(&out).Error
	return out, notFound(err, fmt.Sprintf("versions of flow %d", flowID))
}

// SetCurrentVersion makes version n the one new tickets start on.
func (db *DB) SetCurrentVersion(ctx context.Context, flowID int64, n int) error {
	if _, err := db.FlowVersion(ctx, flowID, n); err != nil {
		return err
	}
	return notFound(db.conn(ctx).Model(&Flow{}).Where("id = ?", flowID).Update("current_version", n).Error,
		fmt.Sprintf("publish version %d of flow %d", n, flowID))
}

// ReplacePermissions sets a flow's permission entries, keeping an
// administrator's group mapping for subjects that stay.
func (db *DB) ReplacePermissions(ctx context.Context, flowID int64, perms []FlowPermission) error {
	return db.Tx(ctx, func(ctx context.Context) error {
		old, err := db.Permissions(ctx, flowID)
		if err != nil {
			return err
		}
		mapped := map[string]*int64{}
		for _, p := range old {
			mapped[p.Subject] = p.GroupID
		}
		if err := db.conn(ctx).Where("flow_id = ?", flowID).Delete(&FlowPermission{}).Error; err != nil {
			return fmt.Errorf("replace permissions of flow %d: %w", flowID, err)
		}
		for i := range perms {
			perms[i].ID = 0
			perms[i].FlowID = flowID
			if perms[i].GroupID == nil {
				perms[i].GroupID = mapped[perms[i].Subject]
			}
		}
		if len(perms) == 0 {
			return nil
		}
		return notFound(db.conn(ctx).Create(&perms).Error, fmt.Sprintf("replace permissions of flow %d", flowID))
	})
}

// Permissions lists the permission entries of the given flows (all flows
// when none is given).
func (db *DB) Permissions(ctx context.Context, flowIDs ...int64) ([]FlowPermission, error) {
	q := db.conn(ctx).Order("flow_id, id")
	if len(flowIDs) > 0 {
		q = q.Where("flow_id IN ?", flowIDs)
	}
	var out []FlowPermission
	return out, notFound(q.Find(&out).Error, "list permissions")
}

// MapPermission points a permission entry at a group.
func (db *DB) MapPermission(ctx context.Context, id int64, groupID *int64) error {
	res := db.conn(ctx).Model(&FlowPermission{}).Where("id = ?", id).Update("group_id", groupID)
	if res.Error == nil && res.RowsAffected == 0 {
		return fmt.Errorf("permission %d: %w", id, ErrNotFound)
	}
	return notFound(res.Error, fmt.Sprintf("map permission %d", id))
}

// KnownSubjects returns which of names are existing group or role names.
func (db *DB) KnownSubjects(ctx context.Context, names []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(names) == 0 {
		return out, nil
	}
	var found []string
	if err := db.conn(ctx).Model(&Group{}).Where("name IN ?", names).Pluck("name", &found).Error; err != nil {
		return nil, fmt.Errorf("look up groups: %w", err)
	}
	var roles []string
	if err := db.conn(ctx).Model(&Role{}).Where("name IN ?", names).Pluck("name", &roles).Error; err != nil {
		return nil, fmt.Errorf("look up roles: %w", err)
	}
	for _, n := range append(found, roles...) {
		out[n] = true
	}
	return out, nil
}

// BumpVersion increments the change counter of scope, so other servers drop
// their caches of it.
func (db *DB) BumpVersion(ctx context.Context, scope string) error {
	now := db.Now()
	res := db.conn(ctx).Model(&ChangeVersion{}).Where("scope = ?", scope).
		Updates(map[string]any{"version": gorm.Expr("version + 1"), "updated_at": now})
	if res.Error != nil {
		return fmt.Errorf("bump %s version: %w", scope, res.Error)
	}
	if res.RowsAffected == 0 {
		err := db.conn(ctx).Create(&ChangeVersion{Scope: scope, Version: 1, UpdatedAt: now}).Error
		if err != nil && !IsDuplicate(err) {
			return fmt.Errorf("bump %s version: %w", scope, err)
		}
		if err != nil {
			return db.BumpVersion(ctx, scope)
		}
	}
	return nil
}

// Versions returns every change counter.
func (db *DB) Versions(ctx context.Context) (map[string]int64, error) {
	var rows []ChangeVersion
	if err := db.conn(ctx).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("read change versions: %w", err)
	}
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		out[r.Scope] = r.Version
	}
	return out, nil
}
