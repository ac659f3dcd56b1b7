package ui_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/web/ui/uitest"
)

func fileMission(t *testing.T, c *uitest.Client, csrf, title string) int64 {
	t.Helper()
	p := c.Post("/new/mission", url.Values{"csrf_token": {csrf}, "FORMITM_1": {title}, "FORMITM_3": {"green"}, "FORMITM_6": {"software"}})
	mustStatus(t, p, http.StatusSeeOther)
	var id int64
	if _, err := fmt.Sscanf(p.Location, "/tickets/%d", &id); err != nil {
		t.Fatalf("filed: redirect to %q", p.Location)
	}
	return id
}

// A new task for my group reaches my open event stream.
func TestNewTaskIsPushedToTheGroup(t *testing.T) {
	s := missionStack(t)
	carol := s.Client(t)
	carol.Login("carol", "carol-pass-1234")
	alice := s.Client(t)
	csrf := alice.Login("alice", "alice-pass-1234")
	bob := s.Client(t)
	bob.Login("bob", "bob-pass-1234")

	stream := func(c *uitest.Client) (<-chan string, func()) {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/ui/events", nil)
		hc := *c.HTTP
		hc.Timeout = 0
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		lines := make(chan string, 100)
		go func() {
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		return lines, cancel
	}
	carolEvents, stopC := stream(carol)
	defer stopC()
	bobEvents, stopB := stream(bob)
	defer stopB()
	deadline := time.Now().Add(5 * time.Second)
	for s.UI.Broker().Subscribers() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}

	ticket := fileMission(t, alice, csrf, "ライブ更新")
	var got []string
	timeout := time.After(10 * time.Second)
	for done := false; !done; {
		select {
		case l, ok := <-carolEvents:
			if !ok {
				t.Fatal("stream closed")
			}
			got = append(got, l)
			if strings.HasPrefix(l, "data: ") {
				done = true
			}
		case <-timeout:
			t.Fatalf("no event for carol; got %q", got)
		}
	}
	joined := strings.Join(got, "\n")
	if !strings.Contains(joined, "event: task") || !strings.Contains(joined, fmt.Sprintf(`"ticket_id":%d`, ticket)) ||
		!strings.Contains(joined, `"title":"任務分析"`) {
		t.Fatalf("event: %q", joined)
	}
	// alice completes it in her browser: carol's inbox hears of it.
	task := waitTask(t, s, ticket, "任務分析")
	mustStatus(t, alice.Post(fmt.Sprintf("/tasks/%d", task.ID), url.Values{"csrf_token": {csrf}, "action": {"action1"}}), http.StatusSeeOther)
	got = nil
	timeout = time.After(10 * time.Second)
	for done := false; !done; {
		select {
		case l := <-carolEvents:
			got = append(got, l)
			done = strings.Contains(l, fmt.Sprintf(`"task_id":%d`, task.ID)) && strings.Contains(strings.Join(got, "\n"), "event: task-done")
		case <-timeout:
			t.Fatalf("no task-done event for carol; got %q", got)
		}
	}
	// bob's group is not assigned: his stream stays quiet (but for the
	// greeting).
	select {
	case l := <-bobEvents:
		for strings.HasPrefix(l, "retry:") || strings.HasPrefix(l, ":") || l == "" {
			select {
			case l = <-bobEvents:
			case <-time.After(300 * time.Millisecond):
				return
			}
		}
		t.Fatalf("bob got %q", l)
	case <-time.After(300 * time.Millisecond):
	}
}

// Two people work the same task: the second gets a clear 409, with what
// they typed still on the page.
func TestSecondCompletionGetsConflictAndKeepsInput(t *testing.T) {
	s := missionStack(t)
	alice := s.Client(t)
	alice.Lang = "en"
	acsrf := alice.Login("alice", "alice-pass-1234")
	carol := s.Client(t)
	ccsrf := carol.Login("carol", "carol-pass-1234")
	ticket := fileMission(t, alice, acsrf, "競合")
	task := waitTask(t, s, ticket, "任務分析")
	path := fmt.Sprintf("/tasks/%d", task.ID)
	mustStatus(t, alice.Get(path), http.StatusOK)
	mustStatus(t, carol.Get(path), http.StatusOK)

	p := carol.Post(path, url.Values{"csrf_token": {ccsrf}, "action": {"action1"}})
	mustStatus(t, p, http.StatusSeeOther)
	p = alice.Post(path, url.Values{"csrf_token": {acsrf}, "action": {"action1"}, "FORMITM_2": {"長い説明をここに書いた"}})
	mustStatus(t, p, http.StatusConflict)
	mustContain(t, p, `id="conflict"`, "Someone else completed this task while you were working on it.", "長い説明をここに書いた",
		fmt.Sprintf(`href="/tickets/%d"`, ticket))
	if strings.Contains(p.Body, `name="action" value="action1"`) {
		t.Error("the finished task still offers its buttons")
	}
	// Carol's page in Japanese says the same.
	p = carol.Post(path, url.Values{"csrf_token": {ccsrf}, "action": {"action1"}})
	mustStatus(t, p, http.StatusConflict)
	mustContain(t, p, "作業中に、ほかの人がこのタスクを完了しました。")
}

func TestFilesAreAttachedAndGuarded(t *testing.T) {
	s := uitest.Start(t, uitest.Options{})
	s.User(t, "alice", store.User{Lang: "en"}, "一般使用者") // the role features.json grants
	s.User(t, "bob", store.User{Lang: "en"})
	s.Import(t, "features.json")
	alice := s.Client(t)
	csrf := alice.Login("alice", "alice-pass-1234")
	p := alice.Get("/new/features")
	mustStatus(t, p, http.StatusOK)
	mustContain(t, p, `name="FORMITM_11" type="file"`, `enctype="multipart/form-data"`)

	// The first post fails validation (no title): the upload is kept and
	// offered again, so it need not be chosen twice.
	form := url.Values{"csrf_token": {csrf}, "FORMITM_2": {"100"}, "FORMITM_11.sent": {"1"}}
	p = alice.PostMultipart("/new/features", form, uitest.File{Field: "FORMITM_11", Name: "ログ.txt", Type: "text/plain", Data: []byte("hello")})
	mustStatus(t, p, http.StatusUnprocessableEntity)
	m := regexp.MustCompile(`name="FORMITM_11.keep" value="(\d+)" checked> <a href="/files/(\d+)">ログ.txt</a>`).FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("upload not kept:\n%s", p.Body)
	}
	form.Set("FORMITM_1", "添付つき")
	form.Set("FORMITM_11.keep", m[1])
	p = alice.PostMultipart("/new/features", form)
	mustStatus(t, p, http.StatusSeeOther)
	p = alice.Get(p.Location)
	mustContain(t, p, `<a href="/files/`+m[1]+`">ログ.txt</a>`)

	resp, err := alice.HTTP.Get(s.URL + "/files/" + m[1])
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Disposition"), "filename") ||
		resp.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("download: %d %v", resp.StatusCode, resp.Header)
	}
	// features.json grants view only to its own role: bob may not see the
	// ticket, so not its file either.
	bob := s.Client(t)
	bob.Login("bob", "bob-pass-1234")
	mustStatus(t, bob.Get("/files/"+m[1]), http.StatusForbidden)
}

func TestLanguageSwitchAndPasswordChange(t *testing.T) {
	s := uitest.Start(t, uitest.Options{})
	s.User(t, "gina", store.User{})
	c := s.Client(t)
	c.Lang = "en"
	// Before login the switch sets a cookie; the login keeps the choice.
	p := c.Post("/ui/lang", url.Values{"lang": {"ja"}, "next": {"/login"}})
	mustStatus(t, p, http.StatusSeeOther)
	mustContain(t, c.Get("/login"), `<html lang="ja">`)
	csrf := c.Login("gina", "gina-pass-1234")
	if u, _ := s.DB.UserByUsername(context.Background(), "gina"); u.Lang != "ja" {
		t.Fatalf("language chosen at login not saved: %q", u.Lang)
	}
	p = c.Post("/ui/lang", url.Values{"csrf_token": {csrf}, "lang": {"en"}, "next": {"/tickets"}})
	mustStatus(t, p, http.StatusSeeOther)
	if p.Location != "/tickets" {
		t.Fatalf("switch went to %q", p.Location)
	}
	if u, _ := s.DB.UserByUsername(context.Background(), "gina"); u.Lang != "en" {
		t.Fatalf("language not saved: %q", u.Lang)
	}
	mustContain(t, c.Get("/tickets"), `<html lang="en">`)
	// An open redirect is refused.
	p = c.Post("/ui/lang", url.Values{"csrf_token": {csrf}, "lang": {"en"}, "next": {"//evil.example/"}})
	if p.Location != "/" {
		t.Fatalf("next=//evil went to %q", p.Location)
	}

	p = c.Post("/password", url.Values{"csrf_token": {csrf}, "current": {"wrong-pass-1"}, "new": {"new-pass-5678"}, "confirm": {"new-pass-5678"}})
	mustStatus(t, p, http.StatusUnprocessableEntity)
	mustContain(t, p, "The current password is wrong.")
	p = c.Post("/password", url.Values{"csrf_token": {csrf}, "current": {"gina-pass-1234"}, "new": {"new-pass-5678"}, "confirm": {"other-pass-5678"}})
	mustContain(t, p, "The two new passwords differ.")
	p = c.Post("/password", url.Values{"csrf_token": {csrf}, "current": {"gina-pass-1234"}, "new": {"new-pass-5678"}, "confirm": {"new-pass-5678"}})
	mustStatus(t, p, http.StatusSeeOther)
	mustContain(t, c.Get("/"), "Your password was changed.")

	// Logout ends the session; the new password works.
	p = c.Post("/logout", url.Values{"csrf_token": {csrf}})
	mustStatus(t, p, http.StatusSeeOther)
	mustStatus(t, c.Get("/"), http.StatusSeeOther)
	c.Login("gina", "new-pass-5678")

	// A post without the session's token is refused.
	mustStatus(t, c.Post("/password", url.Values{"current": {"x"}}), http.StatusForbidden)
}

func TestTicketListFiltersAndPages(t *testing.T) {
	s := missionStack(t)
	alice := s.Client(t)
	alice.Lang = "en"
	csrf := alice.Login("alice", "alice-pass-1234")
	for i := 0; i < 27; i++ {
		fileMission(t, alice, csrf, fmt.Sprintf("件名%02d", i))
	}
	p := alice.Get("/tickets")
	mustContain(t, p, "27 ticket(s)", "Page 1 of 2", `rel="next"`)
	p = alice.Get("/tickets?page=2")
	mustContain(t, p, "Page 2 of 2", `rel="prev"`)
	if n := strings.Count(p.Body, `<tr data-ticket=`); n != 2 {
		t.Fatalf("page 2 has %d rows", n)
	}
	p = alice.Get("/tickets?q=" + url.QueryEscape("件名07"))
	mustContain(t, p, "1 ticket(s)", "件名07")
	p = alice.Get("/tickets?state=closed&flow=mission")
	mustContain(t, p, "0 ticket(s)", `<option value="mission" selected>`, `<option value="closed" selected>`)
	p = alice.Get("/tickets?flow=nosuchflow")
	mustStatus(t, p, http.StatusOK)
	mustContain(t, p, "27 ticket(s)")
	// bob (another group, no permission on the flow) sees none of them.
	bob := s.Client(t)
	bob.Login("bob", "bob-pass-1234")
	mustContain(t, bob.Get("/tickets"), "0 件")
	mustStatus(t, bob.Get("/tickets/1"), http.StatusForbidden)
}
