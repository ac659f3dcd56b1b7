package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/omflow/omflow/flow"
	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/web/ui/uitest"
)

// TestScreenshots regenerates docs/screenshots/<lang>-<screen>.png from a
// demo server: `OMFLOW_SCREENSHOTS=1 go test ./e2e -run Screenshots` (make
// screenshots). Japanese text needs a CJK font (Debian: fonts-ipafont-gothic
// or fonts-noto-cjk), or it shows as boxes.
func TestScreenshots(t *testing.T) {
	if os.Getenv("OMFLOW_SCREENSHOTS") != "1" {
		t.Skip("set OMFLOW_SCREENSHOTS=1 to regenerate docs/screenshots")
	}
	dir := filepath.Join("..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"ja", "en"} {
		t.Run(lang, func(t *testing.T) {
			s, d := demoStack(t, lang)
			b := newBrowser(t, s)
			shot := func(name string) {
				t.Helper()
				// Let fonts and the event stream settle; no animation runs.
				time.Sleep(300 * time.Millisecond)
				png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
				if err != nil {
					t.Fatalf("screenshot %s: %v", name, err)
				}
				p := filepath.Join(dir, lang+"-"+name+".png")
				if err := os.WriteFile(p, png, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("wrote %s (%d KB)", p, len(png)/1024)
			}
			b.open("/login")
			b.visible("#username")
			// The browser asks for English: choose the language with the
			// switch, as a person would.
			b.click(`button[name="lang"][value="` + lang + `"]`)
			b.waitJS("the login page in "+lang, `document.documentElement.lang === "`+lang+`"`)
			shot("login")
			b.login("alice", "alice-pass-1234")
			b.open("/")
			b.visible(".counts")
			shot("home")
			b.open("/catalog")
			b.visible(".tiles")
			shot("catalog")
			b.open("/new/mission")
			b.visible("#f-FORMITM_1")
			b.typeIn("#f-FORMITM_1", d.typed)
			b.click(`input[name="FORMITM_3"][value="yellow"]`)
			shot("new-ticket")
			b.open("/tasks")
			b.visible("[data-inbox] tr[data-task]")
			shot("inbox")
			b.open("/tasks/" + strconv.FormatInt(d.task, 10))
			b.visible("button[name=action]")
			shot("task")
			b.open("/tickets/" + strconv.FormatInt(d.ticket, 10))
			b.visible("svg.diagram")
			shot("ticket")
			b.open("/tickets")
			b.visible("table.list")
			shot("tickets")
			evalJS[bool](b, `document.querySelector('form[action="/logout"]').submit(), true`)
			b.waitJS("the login page", `location.pathname === "/login"`)
			b.login(store.AdminUsername, uitest.AdminPassword)
			b.open("/admin/apps")
			b.visible("table.list")
			shot("admin-apps")
			b.open("/admin/users")
			b.visible("table.list")
			shot("admin-users")
			b.open("/admin/settings")
			b.visible("#cluster")
			shot("admin-settings")
		})
	}
}

type demo struct {
	ticket int64 // a ticket in the middle of its flow
	task   int64 // its open task
	typed  string
}

// demoStack makes a server with a few people and tickets in every state.
func demoStack(t *testing.T, lang string) (*uitest.Stack, demo) {
	t.Helper()
	s := uitest.Start(t, uitest.Options{})
	ctx := context.Background()
	s.Group(t, "総務")
	s.Group(t, "任務處理組")
	s.Group(t, "ヘルプデスク")
	s.User(t, "alice", store.User{DisplayName: map[string]string{"ja": "佐藤 愛", "en": "Alice Sato"}[lang], Lang: lang, Email: "alice@example.com"}, "任務處理組")
	s.User(t, "bob", store.User{DisplayName: map[string]string{"ja": "鈴木 一郎", "en": "Bob Suzuki"}[lang], Lang: lang}, "総務")
	s.User(t, "carol", store.User{DisplayName: map[string]string{"ja": "高橋 花子", "en": "Carol Takahashi"}[lang], Lang: lang}, "任務處理組", "ヘルプデスク")
	s.Import(t, "mission.json")
	s.Import(t, "features.json")
	admin, err := s.DB.UserByUsername(ctx, store.AdminUsername)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB.UpdateUser(ctx, admin.ID, store.UserUpdate{Lang: &lang}); err != nil {
		t.Fatal(err)
	}
	alice := s.Actor(t, "alice")
	carol := s.Actor(t, "carol")

	titles := map[string][]string{
		"ja": {"会議室のプロジェクターが映らない", "VPN に接続できない", "新入社員のアカウント作成", "プリンタの紙詰まり", "共有フォルダの権限変更"},
		"en": {"Projector in room 3 shows nothing", "Cannot connect to the VPN", "Accounts for new staff", "Printer paper jam", "Change rights on a shared folder"},
	}[lang]
	levels := []string{"red", "yellow", "green", "green", "yellow"}
	kinds := []string{"hardware", "network", "software", "hardware", "software"}
	var ids []int64
	for i, title := range titles {
		f, err := s.Engine.FileTicket(ctx, alice, "mission", map[string]any{"FORMITM_1": title, "FORMITM_3": levels[i],
			"FORMITM_6": kinds[i], "FORMITM_2": map[string]string{"ja": "詳しくは添付をご覧ください。", "en": "Details in the description."}[lang]})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, f.ID)
	}
	// Move them along: 0 stays at 任務分析; 1 at 任務處理; 2 at 任務審核;
	// 3 closed; 4 sent back once, now at 任務處理.
	steps := map[int][]string{1: {"action1"}, 2: {"action1", "action1"}, 3: {"action1", "action1", "action1"}, 4: {"action1", "action2", "action1"}}
	for i, acts := range steps {
		for _, act := range acts {
			tk := openTask(t, s, ids[i])
			who := alice
			if act == "action2" {
				who = carol
			}
			if err := s.Engine.CompleteTask(ctx, who, tk.ID, map[string]any{"FORMITM_7": "2"}, act); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitFor(t, func() bool {
		v, err := s.Engine.Ticket(ctx, s.Actor(t, store.AdminUsername), ids[3])
		return err == nil && v.Closed
	})
	d := demo{ticket: ids[4], task: openTask(t, s, ids[4]).ID, typed: map[string]string{"ja": "ノート PC の交換", "en": "Replace a laptop"}[lang]}
	return s, d
}

// openTask waits for the ticket's one open task.
func openTask(t *testing.T, s *uitest.Stack, ticket int64) flow.TaskView {
	t.Helper()
	var out flow.TaskView
	waitFor(t, func() bool {
		v, err := s.Engine.Ticket(context.Background(), s.Actor(t, store.AdminUsername), ticket)
		if err != nil || len(v.Tasks) != 1 {
			return false
		}
		out = v.Tasks[0]
		return true
	})
	return out
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
