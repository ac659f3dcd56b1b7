package ui_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/omflow/omflow/flow"
	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/web/ui/uitest"
)

// missionStack imports the example flow and makes alice and carol members
// of 任務處理組 (group id 2, which the flow assigns its first step to) and
// bob a member of another group.
func missionStack(t *testing.T) *uitest.Stack {
	t.Helper()
	s := uitest.Start(t, uitest.Options{})
	if id := s.Group(t, "総務"); id != 1 {
		t.Fatalf("first group id %d", id)
	}
	if id := s.Group(t, "任務處理組"); id != 2 {
		t.Fatalf("second group id %d", id)
	}
	s.User(t, "alice", store.User{DisplayName: "Alice", Lang: "en", TimeZone: "Asia/Tokyo"}, "任務處理組")
	s.User(t, "carol", store.User{DisplayName: "Carol", Lang: "ja"}, "任務處理組")
	s.User(t, "bob", store.User{DisplayName: "Bob"}, "総務")
	s.Import(t, "mission.json")
	return s
}

// waitTask waits until the ticket has an open task at the named step.
func waitTask(t *testing.T, s *uitest.Stack, ticket int64, step string) flow.TaskView {
	t.Helper()
	admin := s.Actor(t, store.AdminUsername)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		v, err := s.Engine.Ticket(context.Background(), admin, ticket)
		if err != nil {
			t.Fatal(err)
		}
		if v.Error != "" {
			t.Fatalf("ticket %d in error: %s", ticket, v.Error)
		}
		for _, tk := range v.Tasks {
			if tk.NodeName == step {
				return tk
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("ticket %d never reached step %s", ticket, step)
	return flow.TaskView{}
}

func waitClosed(t *testing.T, s *uitest.Stack, ticket int64) {
	t.Helper()
	admin := s.Actor(t, store.AdminUsername)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		v, err := s.Engine.Ticket(context.Background(), admin, ticket)
		if err != nil {
			t.Fatal(err)
		}
		if v.Closed {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("ticket %d never closed", ticket)
}

func mustContain(t *testing.T, p uitest.Page, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(p.Body, s) {
			t.Fatalf("page (status %d) lacks %q:\n%s", p.Status, s, p.Body)
		}
	}
}

func mustStatus(t *testing.T, p uitest.Page, want int) {
	t.Helper()
	if p.Status != want {
		t.Fatalf("status %d, want %d:\n%s", p.Status, want, p.Body)
	}
}

var ticketLoc = regexp.MustCompile(`^/tickets/(\d+)$`)

func TestLoginRedirectsAndExplainsFailures(t *testing.T) {
	s := uitest.Start(t, uitest.Options{})
	c := s.Client(t)
	c.Lang = "ja,en;q=0.5"
	p := c.Get("/tickets?q=x")
	mustStatus(t, p, http.StatusSeeOther)
	if p.Location != "/login?next="+url.QueryEscape("/tickets?q=x") {
		t.Fatalf("redirect to %q", p.Location)
	}
	p = c.Get(p.Location)
	mustStatus(t, p, http.StatusOK)
	mustContain(t, p, `<html lang="ja">`, "ログイン", `name="next" value="/tickets?q=x"`)

	p = c.Post("/login", url.Values{"username": {"admin"}, "password": {"wrong-password"}})
	mustStatus(t, p, http.StatusUnauthorized)
	mustContain(t, p, "ユーザー名またはパスワードが正しくありません。")

	c.Lang = "en-GB,en;q=0.8"
	p = c.Post("/login", url.Values{"username": {"admin"}, "password": {uitest.AdminPassword}, "next": {"/tickets?q=x"}})
	mustStatus(t, p, http.StatusSeeOther)
	if p.Location != "/tickets?q=x" {
		t.Fatalf("after login to %q", p.Location)
	}
	p = c.Get("/")
	mustStatus(t, p, http.StatusOK)
	mustContain(t, p, `<html lang="en">`, "My open tasks", "Administration")
}

func TestLockedAccountIsExplained(t *testing.T) {
	s := uitest.Start(t, uitest.Options{})
	if err := s.DB.SetSettings(context.Background(), map[string]string{store.SettingLoginMaxFailures: "2"}); err != nil {
		t.Fatal(err)
	}
	s.User(t, "dave", store.User{Lang: "en"})
	c := s.Client(t)
	c.Lang = "en"
	c.Post("/login", url.Values{"username": {"dave"}, "password": {"nope-nope-1"}})
	p := c.Post("/login", url.Values{"username": {"dave"}, "password": {"nope-nope-2"}})
	mustStatus(t, p, http.StatusLocked)
	mustContain(t, p, "This account is locked after too many failed logins")
	// Even the right password is refused while locked.
	p = c.Post("/login", url.Values{"username": {"dave"}, "password": {"dave-pass-1234"}})
	mustStatus(t, p, http.StatusLocked)
}

func TestMissionThroughThePages(t *testing.T) {
	s := missionStack(t)
	alice := s.Client(t)
	csrf := alice.Login("alice", "alice-pass-1234")

	p := alice.Get("/catalog")
	mustContain(t, p, "任務處理", `href="/new/mission"`, "任務單")

	p = alice.Get("/new/mission")
	mustStatus(t, p, http.StatusOK)
	mustContain(t, p, "任務資訊", `name="FORMITM_1"`, `placeholder="請輸入任務標題"`, `<textarea id="f-FORMITM_2"`,
		`name="FORMITM_3" value="green" checked`, `name="FORMITM_5.group"`, `name="FORMITM_5.user"`,
		`<select id="f-FORMITM_6"`, `<option value="hardware">硬體</option>`, `type="number"`)

	// A submission without the required fields comes back with the errors
	// next to them and what was typed.
	form := url.Values{"csrf_token": {csrf}, "FORMITM_2": {"紙が詰まる"}, "FORMITM_3": {"red"}, "FORMITM_7": {"abc"}}
	p = alice.Post("/new/mission", form)
	mustStatus(t, p, http.StatusUnprocessableEntity)
	mustContain(t, p, `id="e-FORMITM_1"`, "Required: please fill this in.", `id="e-FORMITM_7"`, "紙が詰まる", `value="red" checked`)

	form.Set("FORMITM_1", "プリンタ故障")
	form.Set("FORMITM_6", "hardware")
	form.Set("FORMITM_7", "2.5")
	p = alice.Post("/new/mission", form)
	mustStatus(t, p, http.StatusSeeOther)
	m := ticketLoc.FindStringSubmatch(p.Location)
	if m == nil {
		t.Fatalf("filed: redirect to %q", p.Location)
	}
	var ticket int64
	fmt.Sscan(m[1], &ticket)
	p = alice.Get(p.Location)
	mustContain(t, p, "was opened", "MISSION-", "プリンタ故障")

	task := waitTask(t, s, ticket, "任務分析")
	p = alice.Get("/tasks")
	mustContain(t, p, fmt.Sprintf(`href="/tasks/%d"`, task.ID), "任務分析")
	p = alice.Get(fmt.Sprintf("/tasks/%d", task.ID))
	mustStatus(t, p, http.StatusOK)
	mustContain(t, p, `name="action" value="action1"`, ">指派<")

	// bob is in another group: he may not open the task.
	bob := s.Client(t)
	bob.Login("bob", "bob-pass-1234")
	p = bob.Get(fmt.Sprintf("/tasks/%d", task.ID))
	mustStatus(t, p, http.StatusForbidden)

	steps := []struct{ step, action, text string }{
		{"任務分析", "action1", "指派"},
		{"任務處理", "action1", "完成"},
		{"任務審核", "action1", "通過"},
	}
	for _, st := range steps {
		task = waitTask(t, s, ticket, st.step)
		page := alice.Get(fmt.Sprintf("/tasks/%d", task.ID))
		mustContain(t, page, ">"+st.text+"<")
		f := url.Values{"csrf_token": {csrf}, "action": {st.action}, "FORMITM_2": {"紙が詰まる"}}
		p = alice.Post(fmt.Sprintf("/tasks/%d", task.ID), f)
		mustStatus(t, p, http.StatusSeeOther)
	}
	waitClosed(t, s, ticket)
	p = alice.Get(fmt.Sprintf("/tickets/%d", ticket))
	mustStatus(t, p, http.StatusOK)
	mustContain(t, p, `id="ticket-state">Closed<`, "check_done", `<svg`, `data-node="FITEM_8"`, `data-event="completed"`, "通過", "Opened")
}
