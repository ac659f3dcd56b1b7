package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/web/ui/uitest"
)

func TestAdminImportsExportsAndSwitchesFlows(t *testing.T) {
	s := uitest.Start(t, uitest.Options{})
	admin := s.Client(t)
	admin.Lang = "en"
	csrf := admin.Login(store.AdminUsername, uitest.AdminPassword)

	p := admin.Get("/admin/apps")
	mustStatus(t, p, http.StatusOK)
	mustContain(t, p, "No apps yet", `action="/admin/apps/import"`)

	// A broken export is refused with every problem listed, and nothing is
	// stored.
	broken, err := os.ReadFile(uitest.Testdata("broken_graph.json"))
	if err != nil {
		t.Fatal(err)
	}
	p = admin.PostMultipart("/admin/apps/import", url.Values{"csrf_token": {csrf}},
		uitest.File{Field: "file", Name: "broken.json", Type: "application/json", Data: broken})
	mustStatus(t, p, http.StatusUnprocessableEntity)
	mustContain(t, p, "broken.json was not imported; nothing was changed", "FITEM_")
	if apps, _ := s.DB.Apps(context.Background()); len(apps) != 0 {
		t.Fatalf("a rejected import stored %d apps", len(apps))
	}

	mission, err := os.ReadFile(uitest.Testdata("mission.json"))
	if err != nil {
		t.Fatal(err)
	}
	p = admin.PostMultipart("/admin/apps/import", url.Values{"csrf_token": {csrf}},
		uitest.File{Field: "file", Name: "mission.json", Type: "application/json", Data: mission})
	mustStatus(t, p, http.StatusOK)
	mustContain(t, p, `id="import-result"`, "Imported app 任務處理", "任務單 (mission) — v1 (new version)", "<code>任務處理組</code>",
		`data-flow="mission"`, "Disable")
	appID := regexp.MustCompile(`href="/admin/apps/(\d+)/export"`).FindStringSubmatch(p.Body)
	if appID == nil {
		t.Fatalf("no export link:\n%s", p.Body)
	}

	// Export gives back an export that imports unchanged.
	resp, err := admin.HTTP.Get(s.URL + "/admin/apps/" + appID[1] + "/export")
	if err != nil {
		t.Fatal(err)
	}
	var exported struct {
		App   map[string]any   `json:"app"`
		Flows []map[string]any `json:"flows"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&exported); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") ||
		exported.App["name"] != "任務處理" || len(exported.Flows) != 1 || exported.Flows[0]["api_path"] != "mission" {
		t.Fatalf("export: %d %q %+v", resp.StatusCode, resp.Header.Get("Content-Disposition"), exported.App)
	}

	// Disabling takes the flow out of the catalog; enabling brings it back.
	flowID := regexp.MustCompile(`action="/admin/flows/(\d+)/enabled"`).FindStringSubmatch(p.Body)[1]
	p = admin.Post("/admin/flows/"+flowID+"/enabled", url.Values{"csrf_token": {csrf}, "enabled": {"0"}})
	mustStatus(t, p, http.StatusSeeOther)
	p = admin.Get("/admin/apps")
	mustContain(t, p, "The flow was disabled", ">Enable<")
	s.User(t, "eve", store.User{Lang: "en"}, "任務處理組")
	eve := s.Client(t)
	eve.Login("eve", "eve-pass-1234")
	if p = eve.Get("/catalog"); strings.Contains(p.Body, `href="/new/mission"`) {
		t.Fatal("disabled flow still in the catalog")
	}
	mustStatus(t, eve.Get("/new/mission"), http.StatusForbidden)
	admin.Post("/admin/flows/"+flowID+"/enabled", url.Values{"csrf_token": {csrf}, "enabled": {"1"}})
	mustContain(t, eve.Get("/catalog"), `href="/new/mission"`)

	// A changed export publishes version 2; version 1 can be published again.
	var raw map[string]any
	_ = json.Unmarshal(mission, &raw)
	raw["flows"].([]any)[0].(map[string]any)["flow_name"] = "任務單 v2"
	changed, _ := json.Marshal(raw)
	p = admin.PostMultipart("/admin/apps/import", url.Values{"csrf_token": {csrf}},
		uitest.File{Field: "file", Name: "mission2.json", Type: "application/json", Data: changed})
	mustContain(t, p, "任務單 v2 (mission) — v2 (new version)", `name="publish" value="1"`)
	p = admin.Post("/admin/flows/"+flowID+"/enabled", url.Values{"csrf_token": {csrf}, "publish": {"1"}})
	mustStatus(t, p, http.StatusSeeOther)
	mustContain(t, admin.Get("/admin/apps"), "Version 1 is now the current version", `name="publish" value="2"`)

	// Administration is for administrators only.
	mustStatus(t, eve.Get("/admin/apps"), http.StatusForbidden)
	mustStatus(t, eve.Get("/admin/users"), http.StatusForbidden)
	evecsrf := uitest.CSRF(t, eve.Get("/"))
	mustStatus(t, eve.Post("/admin/settings", url.Values{"csrf_token": {evecsrf}, store.SettingLogLevel: {"debug"}}), http.StatusForbidden)
}

func TestAdminManagesUsersAndGroups(t *testing.T) {
	s := uitest.Start(t, uitest.Options{})
	admin := s.Client(t)
	admin.Lang = "ja"
	csrf := admin.Login(store.AdminUsername, uitest.AdminPassword)

	// Groups: create two, one under the other.
	p := admin.Post("/admin/groups/new", url.Values{"csrf_token": {csrf}, "name": {"情報システム部"}, "description": {"IT"}})
	mustStatus(t, p, http.StatusSeeOther)
	parent := s.Group(t, "情報システム部")
	p = admin.Post("/admin/groups/new", url.Values{"csrf_token": {csrf}, "name": {"ヘルプデスク"}, "parent": {fmt.Sprint(parent)}})
	mustStatus(t, p, http.StatusSeeOther)
	child := s.Group(t, "ヘルプデスク")
	p = admin.Post("/admin/groups/new", url.Values{"csrf_token": {csrf}, "name": {"ヘルプデスク"}})
	mustStatus(t, p, http.StatusUnprocessableEntity)
	mustContain(t, p, "この名前のグループはすでにあります。")
	p = admin.Get("/admin/groups")
	mustContain(t, p, `data-group="ヘルプデスク"`, "<td>情報システム部</td>")

	// Users: a new user needs a username and a long enough password.
	p = admin.Post("/admin/users/new", url.Values{"csrf_token": {csrf}, "username": {""}, "password": {"short"}})
	mustStatus(t, p, http.StatusUnprocessableEntity)
	mustContain(t, p, `id="e-username"`, "必須項目です。", `id="e-password"`, "8 文字以上にしてください。")
	p = admin.Post("/admin/users/new", url.Values{"csrf_token": {csrf}, "username": {"frank"}, "display_name": {"Frank"},
		"password": {"frank-pass-1234"}, "lang": {"en"}, "time_zone": {"Europe/Berlin"}, "groups": {fmt.Sprint(child)}})
	mustStatus(t, p, http.StatusSeeOther)
	u, err := s.DB.UserByUsername(context.Background(), "frank")
	if err != nil {
		t.Fatal(err)
	}
	if u.DisplayName != "Frank" || u.Lang != "en" || u.TimeZone != "Europe/Berlin" || u.Admin || u.Disabled {
		t.Fatalf("created user %+v", u)
	}
	if gs, _ := s.DB.UserGroups(context.Background(), u.ID); len(gs) != 1 || gs[0].ID != child {
		t.Fatalf("groups of frank: %+v", gs)
	}
	p = admin.Post("/admin/users/new", url.Values{"csrf_token": {csrf}, "username": {"frank"}, "password": {"frank-pass-1234"}})
	mustContain(t, p, "このユーザー名はすでに使われています。")
	p = admin.Post(fmt.Sprintf("/admin/users/%d", u.ID), url.Values{"csrf_token": {csrf}, "time_zone": {"Mars/Olympus"}})
	mustStatus(t, p, http.StatusUnprocessableEntity)
	mustContain(t, p, "タイムゾーンが不明です。")

	// frank logs in, in English and in his zone.
	frank := s.Client(t)
	frank.Lang = "en"
	frank.Login("frank", "frank-pass-1234")
	mustContain(t, frank.Get("/"), `<html lang="en">`, "Times in Europe/Berlin")

	// A password reset by the administrator ends his session.
	p = admin.Post(fmt.Sprintf("/admin/users/%d", u.ID), url.Values{"csrf_token": {csrf}, "display_name": {"Frank"},
		"lang": {"en"}, "groups": {fmt.Sprint(child)}, "password": {"reset-pass-9876"}})
	mustStatus(t, p, http.StatusSeeOther)
	mustStatus(t, frank.Get("/"), http.StatusSeeOther)
	frank.Login("frank", "reset-pass-9876")

	// Edit: move him to the parent group, disable him.
	p = admin.Post(fmt.Sprintf("/admin/users/%d", u.ID), url.Values{"csrf_token": {csrf}, "display_name": {"Frank F."},
		"lang": {"en"}, "groups": {fmt.Sprint(parent)}, "disabled": {"1"}})
	mustStatus(t, p, http.StatusSeeOther)
	u, _ = s.DB.UserByUsername(context.Background(), "frank")
	if !u.Disabled || u.DisplayName != "Frank F." {
		t.Fatalf("edited user %+v", u)
	}
	if gs, _ := s.DB.UserGroups(context.Background(), u.ID); len(gs) != 1 || gs[0].ID != parent {
		t.Fatalf("groups of frank after edit: %+v", gs)
	}
	mustStatus(t, frank.Get("/"), http.StatusSeeOther)
	p = frank.Post("/login", url.Values{"username": {"frank"}, "password": {"reset-pass-9876"}})
	mustContain(t, p, "This account is disabled.")

	// Group membership edited from the group's page.
	p = admin.Post(fmt.Sprintf("/admin/groups/%d", child), url.Values{"csrf_token": {csrf}, "name": {"ヘルプデスク"},
		"parent": {fmt.Sprint(parent)}, "members": {fmt.Sprint(u.ID)}})
	mustStatus(t, p, http.StatusSeeOther)
	if ms, _ := s.DB.GroupMembers(context.Background(), child); len(ms) != 1 || ms[0].Username != "frank" {
		t.Fatalf("members %+v", ms)
	}
	// A group cannot become its own ancestor's child.
	p = admin.Post(fmt.Sprintf("/admin/groups/%d", parent), url.Values{"csrf_token": {csrf}, "name": {"情報システム部"}, "parent": {fmt.Sprint(child)}})
	mustStatus(t, p, http.StatusUnprocessableEntity)
	mustContain(t, p, `id="e-parent"`)

	// The administrator cannot lock himself out.
	me, _ := s.DB.UserByUsername(context.Background(), store.AdminUsername)
	p = admin.Post(fmt.Sprintf("/admin/users/%d", me.ID), url.Values{"csrf_token": {csrf}, "lang": {"ja"}})
	mustStatus(t, p, http.StatusUnprocessableEntity)
	mustContain(t, p, "自分自身の管理者権限を外したり")
}

func TestAdminSettings(t *testing.T) {
	s := uitest.Start(t, uitest.Options{})
	admin := s.Client(t)
	admin.Lang = "en"
	csrf := admin.Login(store.AdminUsername, uitest.AdminPassword)
	p := admin.Get("/admin/settings")
	mustStatus(t, p, http.StatusOK)
	mustContain(t, p, "Failed logins before lock-out", `name="login_max_failures" type="number" min="1" max="100" value="5"`,
		`id="licence"`, "Booster licence", "runs standalone", `id="cluster"`)

	p = admin.Post("/admin/settings", url.Values{"csrf_token": {csrf}, store.SettingLoginMaxFailures: {"0"}, store.SettingLogLevel: {"debug"}})
	mustStatus(t, p, http.StatusUnprocessableEntity)
	mustContain(t, p, "Enter a whole number from 1 to 100.", `value="0"`)
	if v, _ := s.DB.SettingString(context.Background(), store.SettingLogLevel); v != "info" {
		t.Fatalf("a rejected form stored log_level %q", v)
	}
	p = admin.Post("/admin/settings", url.Values{"csrf_token": {csrf}, store.SettingLoginMaxFailures: {"3"}, store.SettingSessionTimeout: {"60"}, store.SettingDefaultLang: {"en"}})
	mustStatus(t, p, http.StatusSeeOther)
	vals, _ := s.DB.Settings(context.Background())
	if vals[store.SettingLoginMaxFailures] != "3" || vals[store.SettingSessionTimeout] != "60" || vals[store.SettingDefaultLang] != "en" {
		t.Fatalf("settings %v", vals)
	}
	// default_lang decides for a browser that asks for neither language.
	anon := s.Client(t)
	anon.Lang = "de-DE"
	mustContain(t, anon.Get("/login"), `<html lang="en">`)
	anon.Lang = "ja"
	mustContain(t, anon.Get("/login"), `<html lang="ja">`)
}
