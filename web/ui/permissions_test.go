package ui_test

import (
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

// An import lists the permission name that matches no group with a link to
// the flow's permissions; mapping it there to a group lets that group's
// members file tickets.
func TestMapUnmappedPermissionLetsTheGroupFile(t *testing.T) {
	s := uitest.Start(t, uitest.Options{})
	helpdesk := s.User(t, "dave", store.User{Lang: "en"}, "Helpdesk")[0]
	s.User(t, "erin", store.User{Lang: "en"}, "総務")
	admin := s.Client(t)
	admin.Lang = "en"
	csrf := admin.Login(store.AdminUsername, uitest.AdminPassword)

	mission, err := os.ReadFile(uitest.Testdata("mission.json"))
	if err != nil {
		t.Fatal(err)
	}
	p := admin.PostMultipart("/admin/apps/import", url.Values{"csrf_token": {csrf}},
		uitest.File{Field: "file", Name: "mission.json", Type: "application/json", Data: mission})
	mustStatus(t, p, http.StatusOK)
	link := regexp.MustCompile(`<ul id="unmapped"><li><code>任務處理組</code> — <a href="(/admin/flows/(\d+)/permissions)">map in 任務單</a>`).FindStringSubmatch(p.Body)
	if link == nil {
		t.Fatalf("no mapping link for 任務處理組 in the import result:\n%s", p.Body)
	}
	permsURL, flowID := link[1], link[2]

	dave := s.Client(t)
	dave.Lang = "en"
	daveCSRF := dave.Login("dave", "dave-pass-1234")
	file := func(c *uitest.Client, csrf string) uitest.Page {
		return c.Post("/new/mission", url.Values{"csrf_token": {csrf}, "FORMITM_1": {"権限のテスト"}, "FORMITM_3": {"green"}, "FORMITM_6": {"software"}})
	}
	if p := file(dave, daveCSRF); p.Status == http.StatusSeeOther {
		t.Fatalf("dave filed a ticket before the permission was mapped (to %s)", p.Location)
	}
	// Only administrators see or change the mapping.
	mustStatus(t, dave.Get(permsURL), http.StatusForbidden)

	p = admin.Get(permsURL)
	mustStatus(t, p, http.StatusOK)
	row := regexp.MustCompile(`(?s)<tr id="perm-(\d+)" data-subject="任務處理組">(.*?)</tr>`).FindStringSubmatch(p.Body)
	if row == nil {
		t.Fatalf("no entry for 任務處理組:\n%s", p.Body)
	}
	permID, cells := row[1], row[2]
	for _, want := range []string{"<code>任務處理組</code>", ">view<", ">file<", `tag closed">No<`, `class="mapped"><span class="muted">None<`,
		`<option value="` + fmt.Sprint(helpdesk) + `">Helpdesk</option>`, `name="csrf_token"`} {
		if !strings.Contains(cells, want) {
			t.Fatalf("entry lacks %q:\n%s", want, cells)
		}
	}
	if strings.Contains(cells, ">modify<") || strings.Contains(cells, ">delete<") {
		t.Fatalf("entry shows rights it has not:\n%s", cells)
	}
	mustContain(t, p, "Permissions of 任務單")

	post := url.Values{"csrf_token": {csrf}, "permission": {permID}, "group": {fmt.Sprint(helpdesk)}}
	// Without the CSRF token, or by a non-administrator, nothing changes.
	mustStatus(t, admin.Post(permsURL, url.Values{"permission": {permID}, "group": {fmt.Sprint(helpdesk)}}), http.StatusForbidden)
	mustStatus(t, dave.Post(permsURL, url.Values{"csrf_token": {daveCSRF}, "permission": {permID}, "group": {fmt.Sprint(helpdesk)}}), http.StatusForbidden)
	// A group that does not exist is refused next to the entry.
	p = admin.Post(permsURL, url.Values{"csrf_token": {csrf}, "permission": {permID}, "group": {"9999"}})
	mustStatus(t, p, http.StatusUnprocessableEntity)
	mustContain(t, p, `id="e-perm-`+permID+`"`)
	// An entry of another flow is not this page's.
	mustStatus(t, admin.Post(permsURL, url.Values{"csrf_token": {csrf}, "permission": {"9999"}, "group": {""}}), http.StatusNotFound)
	if p := file(dave, daveCSRF); p.Status == http.StatusSeeOther {
		t.Fatal("a refused mapping granted dave the right to file")
	}

	p = admin.Post(permsURL, post)
	mustStatus(t, p, http.StatusSeeOther)
	if p.Location != "/admin/flows/"+flowID+"/permissions" {
		t.Fatalf("mapped: redirect to %q", p.Location)
	}
	p = admin.Get(permsURL)
	mustContain(t, p, "Permission 任務處理組 mapped.", `class="mapped">Helpdesk<`,
		`<option value="`+fmt.Sprint(helpdesk)+`" selected>Helpdesk</option>`)

	// A member of the group can now file; someone outside it still cannot.
	p = file(dave, daveCSRF)
	mustStatus(t, p, http.StatusSeeOther)
	if !ticketLoc.MatchString(p.Location) {
		t.Fatalf("filed: redirect to %q", p.Location)
	}
	erin := s.Client(t)
	erin.Lang = "en"
	if p := file(erin, erin.Login("erin", "erin-pass-1234")); p.Status == http.StatusSeeOther {
		t.Fatalf("erin (not in Helpdesk) filed a ticket (to %s)", p.Location)
	}

	// Unmapping takes the right away again.
	p = admin.Post(permsURL, url.Values{"csrf_token": {csrf}, "permission": {permID}, "group": {""}})
	mustStatus(t, p, http.StatusSeeOther)
	mustContain(t, admin.Get(permsURL), "Permission 任務處理組 is no longer mapped to a group.")
	if p := file(dave, daveCSRF); p.Status == http.StatusSeeOther {
		t.Fatal("dave still files after the mapping was removed")
	}

	// The page in Japanese.
	ja := s.Client(t)
	ja.Lang = "ja"
	ja.Login(store.AdminUsername, uitest.AdminPassword)
	p = ja.Get(permsURL)
	mustStatus(t, p, http.StatusOK)
	mustContain(t, p, "任務單 の権限", "割り当てたグループ", ">なし<", ">閲覧<")
	mustContain(t, ja.Get("/admin/apps"), `href="/admin/flows/`+flowID+`/permissions">権限</a>`)
}
