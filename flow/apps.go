package flow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/omflow/omflow/flow/def"
	"github.com/omflow/omflow/store"
)

// ImportApp reads an OMFLOW app export and stores it: the app, each flow,
// and for each flow whose definition changed a new published version
// (tickets already running stay on theirs). The whole export is checked
// first; if anything is wrong nothing is stored and the error lists every
// problem, each naming its flow and node.
func (e *Engine) ImportApp(ctx context.Context, a *Actor, data []byte) (*ImportResult, error) {
	if !a.Admin {
		return nil, forbidden("only administrators may import apps")
	}
	app, err := def.ParseApp(data)
	if err != nil {
		return nil, importError(err)
	}
	if app.Name == "" {
		return nil, &InputError{Kind: ErrInvalid, Code: "app_name", Field: "app.name", Message: "the export names no app (app.name)"}
	}
	if err := checkAPIPaths(app); err != nil {
		return nil, err
	}
	appRaw := appObject(app.Raw)
	res := &ImportResult{}
	err = e.db.Tx(ctx, func(ctx context.Context) error {
		row, err := e.db.AppByName(ctx, app.Name)
		if errors.Is(err, store.ErrNotFound) {
			row, err = &store.App{Name: app.Name}, nil
		}
		if err != nil {
			return err
		}
		row.Raw = appRaw
		if err := e.db.SaveApp(ctx, row); err != nil {
			return err
		}
		res.App = ImportedApp{ID: row.ID, Name: row.Name}
		var subjects []string
		for _, f := range app.Flows {
			imp, err := e.importFlow(ctx, a, row.ID, f)
			if err != nil {
				return err
			}
			res.Flows = append(res.Flows, *imp)
			for _, p := range f.Permissions {
				subjects = append(subjects, p.RoleName)
			}
		}
		known, err := e.db.KnownSubjects(ctx, subjects)
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, s := range subjects {
			if !known[s] && !seen[s] && !builtinSubject(s) {
				seen[s] = true
				res.Unmapped = append(res.Unmapped, s)
			}
		}
		sort.Strings(res.Unmapped)
		return e.db.BumpVersion(ctx, scopeFlows)
	})
	if err != nil {
		return nil, err
	}
	e.flowsChanged()
	return res, nil
}

func (e *Engine) flowsChanged() {
	e.Invalidate()
	if e.opts.Hooks.FlowsChanged != nil {
		e.opts.Hooks.FlowsChanged()
	}
}

// checkAPIPaths: every flow needs an api_path (it names the flow in the
// API, numbers its tickets and identifies the flow on re-import), and one
// of digits only would be mistaken for a flow id.
func checkAPIPaths(app *def.App) error {
	var probs []FieldProblem
	for _, f := range app.Flows {
		switch {
		case f.APIPath == "":
			probs = append(probs, FieldProblem{Field: f.Name + ": api_path", Code: "api_path",
				Message: fmt.Sprintf("flow %q has no api_path: give it one of letters, digits, '-' and '_'", f.Name)})
		case strings.Trim(f.APIPath, "0123456789") == "":
			probs = append(probs, FieldProblem{Field: f.Name + ": api_path", Code: "api_path",
				Message: fmt.Sprintf("flow %q: api_path %q is only digits and would be taken for a flow id: add a letter", f.Name, f.APIPath)})
		}
	}
	if len(probs) == 0 {
		return nil
	}
	ie := &InputError{Kind: ErrInvalid, Code: "api_path", Field: probs[0].Field, Message: probs[0].Message, Details: probs}
	if len(probs) > 1 {
		ie.Message = fmt.Sprintf("%s (and %d more problems)", probs[0].Message, len(probs)-1)
	}
	return ie
}

func (e *Engine) importFlow(ctx context.Context, a *Actor, appID int64, f *def.Flow) (*ImportedFlow, error) {
	raw := string(f.Raw)
	all, err := e.db.Flows(ctx, 0)
	if err != nil {
		return nil, err
	}
	var row *store.Flow
	for i := range all {
		if all[i].APIPath == f.APIPath {
			row = &all[i]
		}
	}
	switch {
	case row == nil:
		row = &store.Flow{AppID: appID, Name: f.Name, APIPath: f.APIPath, Enabled: true}
	case row.AppID != appID:
		return nil, &InputError{Kind: ErrConflict, Code: "api_path_taken", Field: "api_path",
			Message: fmt.Sprintf("flow %q: api_path %q already belongs to another app's flow %q", f.Name, f.APIPath, row.Name)}
	}
	changed := true
	if row.CurrentVersion > 0 {
		cur, err := e.db.FlowVersion(ctx, row.ID, row.CurrentVersion)
		if err != nil {
			return nil, err
		}
		changed = !sameJSON(cur.Definition, raw)
	}
	row.Name = f.Name
	if changed {
		var latest int
		if row.ID != 0 {
			vs, err := e.db.FlowVersions(ctx, row.ID)
			if err != nil {
				return nil, err
			}
			if len(vs) > 0 {
				latest = vs[0].Version
			}
		}
		row.CurrentVersion = latest + 1
	}
	if err := e.db.SaveFlow(ctx, row); err != nil {
		return nil, err
	}
	if changed {
		uid := a.UserID
		v := &store.FlowVersion{FlowID: row.ID, Version: row.CurrentVersion, Definition: raw, CreatedBy: &uid}
		if uid == 0 {
			v.CreatedBy = nil
		}
		if err := e.db.AddFlowVersion(ctx, v); err != nil {
			return nil, err
		}
	}
	perms := make([]store.FlowPermission, 0, len(f.Permissions))
	for _, p := range f.Permissions {
		perms = append(perms, store.FlowPermission{Subject: p.RoleName, View: p.View, Add: p.Add, Modify: p.Modify, Delete: p.Delete})
	}
	if err := e.db.ReplacePermissions(ctx, row.ID, perms); err != nil {
		return nil, err
	}
	return &ImportedFlow{ID: row.ID, Name: row.Name, Version: row.CurrentVersion, APIPath: row.APIPath, Changed: changed}, nil
}

// importError turns a definition problem into an InputError listing every
// problem found.
func importError(err error) error {
	var ve *def.ValidationError
	if !errors.As(err, &ve) {
		return &InputError{Kind: ErrInvalid, Code: "invalid_json", Message: err.Error()}
	}
	ie := &InputError{Kind: ErrInvalid, Code: "invalid_flow", Message: ve.Error()}
	for _, ne := range ve.Errors {
		field := ne.Node
		if ne.Flow != "" {
			field = ne.Flow + ": " + ne.Node
		}
		ie.Details = append(ie.Details, FieldProblem{Field: field, Code: "invalid_flow", Message: ne.Error()})
	}
	if len(ve.Errors) > 0 {
		ie.Field = ie.Details[0].Field
	}
	return ie
}

// appObject extracts the export's "app" object (kept for export).
func appObject(raw json.RawMessage) string {
	var top map[string]json.RawMessage
	if json.Unmarshal(raw, &top) != nil {
		return "{}"
	}
	if a, ok := top["app"]; ok {
		return string(a)
	}
	return "{}"
}

func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return a == b
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return bytes.Equal(ja, jb)
}

// ExportApp writes an app in OMFLOW's export format: the app object as
// imported and each flow at its current version, unknown keys included.
func (e *Engine) ExportApp(ctx context.Context, a *Actor, appID int64) ([]byte, error) {
	if !a.Admin {
		return nil, forbidden("only administrators may export apps")
	}
	app, err := e.db.AppByID(ctx, appID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFoundErr("app_not_found", "no app %d", appID)
	}
	if err != nil {
		return nil, err
	}
	flows, err := e.db.Flows(ctx, appID)
	if err != nil {
		return nil, err
	}
	out := struct {
		App   json.RawMessage   `json:"app"`
		Flows []json.RawMessage `json:"flows"`
	}{App: json.RawMessage(app.Raw), Flows: []json.RawMessage{}}
	if len(out.App) == 0 || !json.Valid(out.App) {
		out.App, _ = json.Marshal(map[string]string{"name": app.Name})
	}
	for _, f := range flows {
		if f.CurrentVersion == 0 {
			continue
		}
		v, err := e.db.FlowVersion(ctx, f.ID, f.CurrentVersion)
		if err != nil {
			return nil, err
		}
		out.Flows = append(out.Flows, json.RawMessage(v.Definition))
	}
	return json.MarshalIndent(out, "", "  ")
}

// AppInfo is an app with its flows, for administration.
type AppInfo struct {
	ID    int64      `json:"id"`
	Name  string     `json:"name"`
	Flows []FlowInfo `json:"flows"`
}

// Apps lists every app with its flows (administrators).
func (e *Engine) Apps(ctx context.Context, a *Actor) ([]AppInfo, error) {
	if !a.Admin {
		return nil, forbidden("only administrators may list apps")
	}
	apps, err := e.db.Apps(ctx)
	if err != nil {
		return nil, err
	}
	c, err := e.loadCatalog(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]AppInfo, 0, len(apps))
	for _, ap := range apps {
		ai := AppInfo{ID: ap.ID, Name: ap.Name, Flows: []FlowInfo{}}
		for _, fe := range c.list {
			if fe.AppID == ap.ID {
				ai.Flows = append(ai.Flows, fe.info(fe.Enabled))
			}
		}
		out = append(out, ai)
	}
	return out, nil
}

// SetFlowEnabled enables or disables filing in a flow (administrators).
// Tickets already running go on either way.
func (e *Engine) SetFlowEnabled(ctx context.Context, a *Actor, flowID int64, enabled bool) error {
	if !a.Admin {
		return forbidden("only administrators may enable or disable flows")
	}
	err := e.db.Tx(ctx, func(ctx context.Context) error {
		if err := e.db.SetFlowEnabled(ctx, flowID, enabled); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return notFoundErr("flow_not_found", "no flow %d", flowID)
			}
			return err
		}
		return e.db.BumpVersion(ctx, scopeFlows)
	})
	if err == nil {
		e.flowsChanged()
	}
	return err
}

// VersionInfo is one published version of a flow.
type VersionInfo struct {
	Version   int    `json:"version"`
	Current   bool   `json:"current"`
	CreatedAt string `json:"created_at"`
}

// FlowVersions lists a flow's versions, newest first (administrators).
func (e *Engine) FlowVersions(ctx context.Context, a *Actor, flowID int64) ([]VersionInfo, error) {
	if !a.Admin {
		return nil, forbidden("only administrators may list flow versions")
	}
	fe, err := e.flowByID(ctx, flowID)
	if err != nil {
		return nil, err
	}
	vs, err := e.db.FlowVersions(ctx, flowID)
	if err != nil {
		return nil, err
	}
	out := make([]VersionInfo, 0, len(vs))
	for _, v := range vs {
		out = append(out, VersionInfo{Version: v.Version, Current: v.Version == fe.CurrentVersion, CreatedAt: v.CreatedAt.UTC().Format("2006-01-02T15:04:05Z")})
	}
	return out, nil
}

// PublishVersion makes an existing version the one new tickets start on,
// for example to roll back (administrators).
func (e *Engine) PublishVersion(ctx context.Context, a *Actor, flowID int64, version int) error {
	if !a.Admin {
		return forbidden("only administrators may publish flow versions")
	}
	err := e.db.Tx(ctx, func(ctx context.Context) error {
		if err := e.db.SetCurrentVersion(ctx, flowID, version); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return notFoundErr("version_not_found", "flow %d has no version %d", flowID, version)
			}
			return err
		}
		return e.db.BumpVersion(ctx, scopeFlows)
	})
	if err == nil {
		e.flowsChanged()
	}
	return err
}
