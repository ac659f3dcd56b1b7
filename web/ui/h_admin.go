package ui

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/omflow/omflow/flow"
	"github.com/omflow/omflow/store"
)

// maxImport caps an uploaded app export.
const maxImport = 32 << 20

type appsData struct {
	Apps     []appRow
	Result   *flow.ImportResult
	Unmapped []unmappedRow // the result's unmapped names, with their flows
	Problems []string
}

type appRow struct {
	flow.AppInfo
	Versions map[int64][]versionRow
}

// versionRow is a flow version with its time parsed, to show it in the
// reader's zone.
type versionRow struct {
	Version   int
	Current   bool
	CreatedAt time.Time
}

func (u *UI) loadApps(rq *req) ([]appRow, error) {
	apps, err := u.o.Engine.Apps(rq.ctx, rq.actor)
	if err != nil {
		return nil, err
	}
	out := make([]appRow, 0, len(apps))
	for _, a := range apps {
		row := appRow{AppInfo: a, Versions: map[int64][]versionRow{}}
		for _, f := range a.Flows {
			vs, err := u.o.Engine.FlowVersions(rq.ctx, rq.actor, f.ID)
			if err != nil {
				return nil, err
			}
			for _, v := range vs {
				at, _ := time.Parse(time.RFC3339, v.CreatedAt)
				row.Versions[f.ID] = append(row.Versions[f.ID], versionRow{Version: v.Version, Current: v.Current, CreatedAt: at})
			}
		}
		out = append(out, row)
	}
	return out, nil
}

func (u *UI) appsPage(rq *req) error {
	apps, err := u.loadApps(rq)
	if err != nil {
		return err
	}
	return rq.render(http.StatusOK, "apps", rq.T("apps.title"), "admin", appsData{Apps: apps})
}

func (u *UI) appsImport(rq *req) error {
	d := appsData{}
	status := http.StatusOK
	if err := rq.parseForm(); err != nil {
		return err
	}
	file, fh, err := rq.r.FormFile("file")
	if err != nil {
		d.Problems = []string{rq.T("apps.nofile")}
		status = http.StatusUnprocessableEntity
	} else {
		defer file.Close()
		data, rerr := io.ReadAll(io.LimitReader(file, maxImport+1))
		switch {
		case rerr != nil:
			return fmt.Errorf("read uploaded export %q: %w", fh.Filename, rerr)
		case len(data) > maxImport:
			d.Problems = []string{rq.T("error.toolarge")}
			status = http.StatusRequestEntityTooLarge
		default:
			res, ierr := u.o.Engine.ImportApp(rq.ctx, rq.actor, data)
			if ierr != nil {
				var ie *flow.InputError
				if !errors.As(ierr, &ie) {
					return ierr
				}
				status, _ = statusOf(ierr)
				d.Problems = append(d.Problems, rq.T("apps.rejected", "File", fh.Filename))
				if len(ie.Details) == 0 {
					d.Problems = append(d.Problems, ie.Message)
				}
				for _, p := range ie.Details {
					d.Problems = append(d.Problems, p.Message)
				}
			} else {
				d.Result = res
				if d.Unmapped, err = u.unmappedRows(rq, res); err != nil {
					return err
				}
			}
		}
	}
	apps, err := u.loadApps(rq)
	if err != nil {
		return err
	}
	d.Apps = apps
	return rq.render(status, "apps", rq.T("apps.title"), "admin", d)
}

func (u *UI) appsExport(rq *req) error {
	id, err := strconv.ParseInt(rq.r.PathValue("id"), 10, 64)
	if err != nil {
		return rq.fail(http.StatusNotFound, k("error.notfound"))
	}
	data, err := u.o.Engine.ExportApp(rq.ctx, rq.actor, id)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("app-%d.json", id)
	if apps, err := u.o.Engine.Apps(rq.ctx, rq.actor); err == nil {
		for _, a := range apps {
			if a.ID == id {
				name = store.SanitizeFilename(a.Name) + ".json"
			}
		}
	}
	h := rq.w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=\"app-%d.json\"; filename*=UTF-8''%s", id, pathEscapeRFC5987(path.Base(name))))
	_, err = rq.w.Write(data)
	return err
}

func pathEscapeRFC5987(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// flowEnabled enables or disables a flow, or publishes one of its versions.
func (u *UI) flowEnabled(rq *req) error {
	id, err := strconv.ParseInt(rq.r.PathValue("id"), 10, 64)
	if err != nil {
		return rq.fail(http.StatusNotFound, k("error.notfound"))
	}
	if err := rq.parseForm(); err != nil {
		return err
	}
	if v := rq.r.PostFormValue("publish"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return rq.fail(http.StatusBadRequest, k("error.invalid"))
		}
		if err := u.o.Engine.PublishVersion(rq.ctx, rq.actor, id, n); err != nil {
			return err
		}
		rq.flash(k("flash.published"), v)
		return rq.redirect("/admin/apps")
	}
	on := rq.r.PostFormValue("enabled") == "1"
	if err := u.o.Engine.SetFlowEnabled(rq.ctx, rq.actor, id, on); err != nil {
		return err
	}
	if on {
		rq.flash(k("flash.enabled"), "")
	} else {
		rq.flash(k("flash.disabled"), "")
	}
	return rq.redirect("/admin/apps")
}

type usersData struct {
	Users []store.User
	Now   time.Time
}

func (u *UI) usersPage(rq *req) error {
	users, err := u.o.Directory.Users(rq.ctx)
	if err != nil {
		return err
	}
	return rq.render(http.StatusOK, "users", rq.T("users.title"), "admin", usersData{Users: users, Now: time.Now()})
}

type userForm struct {
	New     bool
	User    store.User
	Groups  []store.Group
	Member  map[int64]bool
	Errors  map[string]string
	Zones   []string
	Locked  bool
	Problem string
}

// Zones offered in the user form; any IANA name may be typed.
var commonZones = []string{"Asia/Tokyo", "Asia/Taipei", "Asia/Shanghai", "Asia/Hong_Kong", "Asia/Singapore", "Asia/Seoul",
	"Asia/Bangkok", "Asia/Kolkata", "Europe/London", "Europe/Berlin", "America/New_York", "America/Los_Angeles", "UTC"}

func (u *UI) userFormData(rq *req) (*userForm, error) {
	f := &userForm{New: true, Member: map[int64]bool{}, Errors: map[string]string{}, Zones: commonZones}
	groups, err := u.o.Directory.Groups(rq.ctx)
	if err != nil {
		return nil, err
	}
	f.Groups = groups
	if idStr := rq.r.PathValue("id"); idStr != "" {
		id, err := strconv.ParseInt(idStr, 10, 64)
		if err != nil {
			return nil, &flow.InputError{Kind: flow.ErrNotFound, Message: "no such user"}
		}
		usr, err := u.o.Directory.UserByID(rq.ctx, id)
		if err != nil {
			return nil, err
		}
		f.New, f.User = false, *usr
		f.Locked = usr.LockedUntil != nil && usr.LockedUntil.After(time.Now())
		ug, err := u.o.Directory.UserGroups(rq.ctx, id)
		if err != nil {
			return nil, err
		}
		for _, g := range ug {
			f.Member[g.ID] = true
		}
	}
	return f, nil
}

func (u *UI) userPage(rq *req) error {
	f, err := u.userFormData(rq)
	if err != nil {
		return err
	}
	return rq.render(http.StatusOK, "user", u.userTitle(rq, f), "admin", f)
}

func (u *UI) userTitle(rq *req, f *userForm) string {
	if f.New {
		return rq.T("users.new")
	}
	return rq.T("users.edit", "Name", f.User.Username)
}

func (u *UI) userPost(rq *req) error {
	f, err := u.userFormData(rq)
	if err != nil {
		return err
	}
	if err := rq.parseForm(); err != nil {
		return err
	}
	pf := rq.r.PostForm
	f.User.DisplayName = strings.TrimSpace(pf.Get("display_name"))
	f.User.Email = strings.TrimSpace(pf.Get("email"))
	f.User.Lang = pf.Get("lang")
	f.User.TimeZone = strings.TrimSpace(pf.Get("time_zone"))
	admin, disabled := pf.Get("admin") == "1", pf.Get("disabled") == "1"
	password := pf.Get("password")
	want := map[int64]bool{}
	for _, s := range pf["groups"] {
		if id, err := strconv.ParseInt(s, 10, 64); err == nil {
			want[id] = true
		}
	}
	if f.User.Lang != "" && !supported(f.User.Lang) {
		f.Errors["lang"] = rq.T("err.field.choice")
	}
	if f.User.TimeZone != "" {
		if _, err := time.LoadLocation(f.User.TimeZone); err != nil {
			f.Errors["time_zone"] = rq.T("users.badzone")
		}
	}
	if f.New {
		f.User.Username = strings.TrimSpace(pf.Get("username"))
		if f.User.Username == "" {
			f.Errors["username"] = rq.T("err.field.required")
		}
		if password == "" {
			f.Errors["password"] = rq.T("err.field.required")
		}
	}
	if password != "" && len([]rune(password)) < MinPasswordLength {
		f.Errors["password"] = rq.T("password.short", "Min", MinPasswordLength)
	}
	if rq.actor.UserID == f.User.ID && (!admin || disabled) {
		f.Errors["admin"] = rq.T("users.notself")
	}
	f.Member = want
	f.User.Admin, f.User.Disabled = admin, disabled
	if len(f.Errors) > 0 {
		return rq.render(http.StatusUnprocessableEntity, "user", u.userTitle(rq, f), "admin", f)
	}
	err = u.saveUser(rq, f, password, pf.Get("unlock") == "1")
	if err != nil {
		var fe *store.FieldError
		switch {
		case errors.As(err, &fe):
			f.Errors[userField(fe.Field)] = fe.Msg
		case store.IsDuplicate(err):
			f.Errors["username"] = rq.T("users.taken")
		default:
			return err
		}
		return rq.render(http.StatusUnprocessableEntity, "user", u.userTitle(rq, f), "admin", f)
	}
	rq.flash(k("flash.saved"), f.User.Username)
	return rq.redirect("/admin/users")
}

// userField maps a store field name to the form's.
func userField(f string) string {
	switch f {
	case "display_name", "email", "lang", "time_zone", "username", "password":
		return f
	case "timezone":
		return "time_zone"
	}
	return "username"
}

func (u *UI) saveUser(rq *req, f *userForm, password string, unlock bool) error {
	d := u.o.Directory
	usr := f.User
	if f.New {
		if err := d.CreateUser(rq.ctx, &usr, password); err != nil {
			return err
		}
		f.User.ID = usr.ID
	} else {
		up := store.UserUpdate{DisplayName: &usr.DisplayName, Email: &usr.Email, Lang: &usr.Lang, TimeZone: &usr.TimeZone,
			Admin: &usr.Admin, Disabled: &usr.Disabled, Unlock: unlock}
		if _, err := d.UpdateUser(rq.ctx, usr.ID, up); err != nil {
			return err
		}
		if password != "" {
			if err := d.SetPassword(rq.ctx, usr.ID, password); err != nil {
				return err
			}
		}
		if password != "" || usr.Disabled {
			if err := rq.endSessions(usr.ID); err != nil {
				return err
			}
		}
	}
	current, err := d.UserGroups(rq.ctx, usr.ID)
	if err != nil {
		return err
	}
	have := map[int64]bool{}
	for _, g := range current {
		have[g.ID] = true
		if !f.Member[g.ID] {
			if err := d.RemoveGroupMember(rq.ctx, g.ID, usr.ID); err != nil {
				return err
			}
		}
	}
	for gid := range f.Member {
		if !have[gid] {
			if err := d.AddGroupMember(rq.ctx, gid, usr.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

type groupsData struct {
	Groups  []store.Group
	Names   map[int64]string
	Members map[int64]int
}

func (u *UI) groupsPage(rq *req) error {
	groups, err := u.o.Directory.Groups(rq.ctx)
	if err != nil {
		return err
	}
	d := groupsData{Groups: groups, Names: map[int64]string{}, Members: map[int64]int{}}
	for _, g := range groups {
		d.Names[g.ID] = g.Name
		ms, err := u.o.Directory.GroupMembers(rq.ctx, g.ID)
		if err != nil {
			return err
		}
		d.Members[g.ID] = len(ms)
	}
	return rq.render(http.StatusOK, "groups", rq.T("groups.title"), "admin", d)
}

type groupForm struct {
	New     bool
	Group   store.Group
	Parent  string
	Groups  []store.Group
	Users   []store.User
	Member  map[int64]bool
	Errors  map[string]string
	Problem string
}

func (u *UI) groupFormData(rq *req) (*groupForm, error) {
	f := &groupForm{New: true, Member: map[int64]bool{}, Errors: map[string]string{}}
	groups, err := u.o.Directory.Groups(rq.ctx)
	if err != nil {
		return nil, err
	}
	users, err := u.o.Directory.Users(rq.ctx)
	if err != nil {
		return nil, err
	}
	f.Users = users
	if idStr := rq.r.PathValue("id"); idStr != "" {
		id, err := strconv.ParseInt(idStr, 10, 64)
		if err != nil {
			return nil, &flow.InputError{Kind: flow.ErrNotFound, Message: "no such group"}
		}
		g, err := u.o.Directory.GroupByID(rq.ctx, id)
		if err != nil {
			return nil, err
		}
		f.New, f.Group = false, *g
		if g.ParentID != nil {
			f.Parent = strconv.FormatInt(*g.ParentID, 10)
		}
		ms, err := u.o.Directory.GroupMembers(rq.ctx, id)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			f.Member[m.ID] = true
		}
	}
	for _, g := range groups {
		if g.ID != f.Group.ID {
			f.Groups = append(f.Groups, g)
		}
	}
	return f, nil
}

func (u *UI) groupTitle(rq *req, f *groupForm) string {
	if f.New {
		return rq.T("groups.new")
	}
	return rq.T("groups.edit", "Name", f.Group.Name)
}

func (u *UI) groupPage(rq *req) error {
	f, err := u.groupFormData(rq)
	if err != nil {
		return err
	}
	return rq.render(http.StatusOK, "group", u.groupTitle(rq, f), "admin", f)
}

func (u *UI) groupPost(rq *req) error {
	f, err := u.groupFormData(rq)
	if err != nil {
		return err
	}
	if err := rq.parseForm(); err != nil {
		return err
	}
	pf := rq.r.PostForm
	f.Group.Name = strings.TrimSpace(pf.Get("name"))
	f.Group.Description = strings.TrimSpace(pf.Get("description"))
	f.Parent = pf.Get("parent")
	var parent *int64
	if f.Parent != "" {
		id, err := strconv.ParseInt(f.Parent, 10, 64)
		if err != nil {
			f.Errors["parent"] = rq.T("err.field.choice")
		} else {
			parent = &id
		}
	}
	want := map[int64]bool{}
	for _, s := range pf["members"] {
		if id, err := strconv.ParseInt(s, 10, 64); err == nil {
			want[id] = true
		}
	}
	if f.Group.Name == "" {
		f.Errors["name"] = rq.T("err.field.required")
	}
	before := f.Member
	f.Member = want
	if len(f.Errors) > 0 {
		return rq.render(http.StatusUnprocessableEntity, "group", u.groupTitle(rq, f), "admin", f)
	}
	err = u.saveGroup(rq, f, parent, before)
	if err != nil {
		var fe *store.FieldError
		switch {
		case errors.As(err, &fe):
			field := "name"
			if strings.Contains(fe.Field, "parent") {
				field = "parent"
			}
			f.Errors[field] = fe.Msg
		case store.IsDuplicate(err):
			f.Errors["name"] = rq.T("groups.taken")
		default:
			return err
		}
		return rq.render(http.StatusUnprocessableEntity, "group", u.groupTitle(rq, f), "admin", f)
	}
	rq.flash(k("flash.saved"), f.Group.Name)
	return rq.redirect("/admin/groups")
}

func (u *UI) saveGroup(rq *req, f *groupForm, parent *int64, before map[int64]bool) error {
	d := u.o.Directory
	if f.New {
		g := store.Group{Name: f.Group.Name, Description: f.Group.Description, ParentID: parent}
		if err := d.CreateGroup(rq.ctx, &g); err != nil {
			return err
		}
		f.Group.ID = g.ID
	} else {
		up := store.GroupUpdate{Name: &f.Group.Name, Description: &f.Group.Description, SetParent: true, Parent: parent}
		if _, err := d.UpdateGroup(rq.ctx, f.Group.ID, up); err != nil {
			return err
		}
	}
	for uid := range before {
		if !f.Member[uid] {
			if err := d.RemoveGroupMember(rq.ctx, f.Group.ID, uid); err != nil {
				return err
			}
		}
	}
	for uid := range f.Member {
		if !before[uid] {
			if err := d.AddGroupMember(rq.ctx, f.Group.ID, uid); err != nil {
				return err
			}
		}
	}
	return nil
}

// settingRow is one system setting in the form.
type settingRow struct {
	Key, Label, Help, Value, Default string
	Kind                             store.SettingKind
	Choices                          []string
	Labels                           map[string]string // choice -> what the list shows
	Min, Max                         int
	Error                            string
}

type settingsData struct {
	Rows    []settingRow
	Cluster *clusterBlock // nil for a standalone server
}

// settingLabel names a known setting; a setting the pages do not know yet
// shows its key and the store's description.
func settingLabel(key string) (label, help string) {
	switch key {
	case store.SettingLoginMaxFailures:
		return k("settings.login_max_failures"), k("settings.login_max_failures.help")
	case store.SettingLoginLockMinutes:
		return k("settings.login_lock_minutes"), k("settings.login_lock_minutes.help")
	case store.SettingSessionTimeout:
		return k("settings.session_timeout_minutes"), k("settings.session_timeout_minutes.help")
	case store.SettingLogLevel:
		return k("settings.log_level"), k("settings.log_level.help")
	case store.SettingDefaultLang:
		return k("settings.default_lang"), k("settings.default_lang.help")
	}
	return "", ""
}

func (u *UI) settingsRows(rq *req, values map[string]string) []settingRow {
	var rows []settingRow
	for _, s := range store.SettingSpecs() {
		r := settingRow{Key: s.Key, Value: values[s.Key], Default: s.Default, Kind: s.Kind, Choices: s.Choices, Min: s.Min, Max: s.Max}
		if s.Key == store.SettingDefaultLang {
			r.Labels = map[string]string{"ja": "日本語", "en": "English"}
		}
		if lbl, help := settingLabel(s.Key); lbl != "" {
			r.Label, r.Help = rq.T(lbl), rq.T(help)
		} else {
			r.Label, r.Help = s.Key, s.Doc
		}
		rows = append(rows, r)
	}
	order := []string{store.SettingLoginMaxFailures, store.SettingLoginLockMinutes, store.SettingSessionTimeout, store.SettingLogLevel, store.SettingDefaultLang}
	slices.SortStableFunc(rows, func(a, b settingRow) int {
		ia, ib := slices.Index(order, a.Key), slices.Index(order, b.Key)
		if ia < 0 {
			ia = len(order)
		}
		if ib < 0 {
			ib = len(order)
		}
		return ia - ib
	})
	return rows
}

func (u *UI) settingsPage(rq *req) error {
	values, err := u.o.Directory.Settings(rq.ctx)
	if err != nil {
		return err
	}
	return rq.render(http.StatusOK, "settings", rq.T("settings.title"), "admin", settingsData{Rows: u.settingsRows(rq, values), Cluster: u.clusterBlock(rq.ctx)})
}

func (u *UI) settingsPost(rq *req) error {
	if err := rq.parseForm(); err != nil {
		return err
	}
	values := map[string]string{}
	for _, s := range store.SettingSpecs() {
		if v, ok := rq.r.PostForm[s.Key]; ok && len(v) > 0 {
			values[s.Key] = strings.TrimSpace(v[0])
		}
	}
	errs := map[string]string{}
	for key, v := range values {
		spec, _ := store.LookupSetting(key)
		if spec.Validate(v) == nil {
			continue
		}
		switch spec.Kind {
		case store.KindInt:
			errs[key] = rq.T("err.setting.range", "Min", spec.Min, "Max", spec.Max)
		case store.KindChoice:
			errs[key] = rq.T("err.field.choice")
		default:
			errs[key] = rq.T("err.field.type")
		}
	}
	if len(errs) == 0 {
		if err := u.o.Directory.SetSettings(rq.ctx, values); err != nil {
			return err
		}
		rq.flash(k("flash.settings"), "")
		return rq.redirect("/admin/settings")
	}
	rows := u.settingsRows(rq, values)
	for i := range rows {
		rows[i].Error = errs[rows[i].Key]
	}
	return rq.render(http.StatusUnprocessableEntity, "settings", rq.T("settings.title"), "admin", settingsData{Rows: rows, Cluster: u.clusterBlock(rq.ctx)})
}
