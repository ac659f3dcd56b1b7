package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/web/ui/uitest"
)

// chromium finds the browser, or skips (fails in CI) without one.
func chromium(t *testing.T) string {
	t.Helper()
	p := os.Getenv("OMFLOW_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := os.Stat(p); err != nil {
		if lp, lerr := exec.LookPath("chromium"); lerr == nil {
			return lp
		}
		if os.Getenv("CI") != "" || os.Getenv("OMFLOW_E2E") == "require" {
			t.Fatalf("Chromium is needed for the browser tests and is not at %s (apt-get install chromium)", p)
		}
		t.Skipf("no Chromium at %s: browser tests skipped (set OMFLOW_CHROMIUM)", p)
	}
	return p
}

// browser is one headless Chromium with a fresh profile, driving one tab.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
}

func newBrowser(t *testing.T, s *uitest.Stack) *browser {
	t.Helper()
	path := chromium(t)
	profile := t.TempDir()
	actx, cancelA := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-features", "Translate"),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() {
		cancelT()
		cancelC()
		cancelA()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium %s: %v", path, err)
	}
	return &browser{t: t, ctx: ctx, base: s.URL}
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v\npage: %s", err, b.where())
	}
}

// where describes the page, for failure messages.
func (b *browser) where() string {
	ctx, cancel := context.WithTimeout(b.ctx, 3*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	txt, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 1500) : ""`))
	return loc + "\n" + txt
}

func (b *browser) open(path string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.base + path))
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		b.t.Fatalf("text of %s: %v\npage: %s", sel, err, b.where())
	}
	return strings.TrimSpace(s)
}

func (b *browser) value(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("value of %s: %v", sel, err)
	}
	return s
}

func evalJS[T any](b *browser, js string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// waitJS waits until the expression is true in the page.
func (b *browser) waitJS(what, js string) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](js))
		if err == nil && ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.t.Fatalf("waited in vain for %s (%s)\npage: %s", what, js, b.where())
}

func (b *browser) visible(sel string) {
	b.t.Helper()
	b.do(chromedp.WaitVisible(chromedp.CSS(sel)))
}

func (b *browser) click(sel string) {
	b.t.Helper()
	b.do(chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

func (b *browser) typeIn(sel, s string) {
	b.t.Helper()
	b.do(chromedp.SendKeys(chromedp.CSS(sel), s, chromedp.NodeVisible))
}

func (b *browser) login(user, password string) {
	b.t.Helper()
	b.open("/login")
	b.typeIn("#username", user)
	b.typeIn("#password", password)
	b.click("main form button[type=submit]")
	b.visible("header nav")
}

// path is the current page's path.
func (b *browser) path() string {
	b.t.Helper()
	return evalJS[string](b, `location.pathname`)
}

// words are the texts the tests expect, per language.
type words struct {
	filed, completed, closed, required, forbidden, sendFail, restored string
}

var texts = map[string]words{
	"ja": {filed: "を起票しました。", completed: "の処理を保存しました。", closed: "完了", required: "必須項目です。入力してください。",
		forbidden: "この操作を行う権限がありません。", sendFail: "サーバーに接続できませんでした。", restored: "前回入力した内容を復元しました。"},
	"en": {filed: "was opened.", completed: "was saved.", closed: "Closed", required: "Required: please fill this in.",
		forbidden: "You may not do this.", sendFail: "The server could not be reached.", restored: "What you typed before was restored."},
}

// missionStack starts the server with the example flow: 任務處理組 is group
// 2, which the flow assigns its first step to; alice works in it, bob is in
// another group.
func missionStack(t *testing.T, lang string) *uitest.Stack {
	t.Helper()
	s := uitest.Start(t, uitest.Options{})
	s.Group(t, "総務")
	if id := s.Group(t, "任務處理組"); id != 2 {
		t.Fatalf("group id %d", id)
	}
	s.User(t, "alice", store.User{DisplayName: "Alice", Lang: lang}, "任務處理組")
	s.User(t, "bob", store.User{DisplayName: "Bob", Lang: lang}, "総務")
	s.Import(t, "mission.json")
	return s
}

func (b *browser) ticketID() int64 {
	b.t.Helper()
	var id int64
	if _, err := fmt.Sscanf(b.path(), "/tickets/%d", &id); err != nil {
		b.t.Fatalf("not on a ticket page: %s", b.path())
	}
	return id
}

// workStep opens the ticket's open task from the ticket page, checks the
// quick action's text and chooses it.
func (b *browser) workStep(ticket int64, step, action, buttonText string, w words) {
	b.t.Helper()
	// The engine moves the ticket on in the background: look again until
	// the step is open.
	deadline := time.Now().Add(20 * time.Second)
	for {
		b.open(fmt.Sprintf("/tickets/%d", ticket))
		b.visible("#ticket-state")
		if evalJS[bool](b, fmt.Sprintf(`!!document.querySelector('svg.diagram g.current[data-node] title') && document.querySelector('svg.diagram g.current title').textContent.startsWith(%q) && !!document.querySelector('ul.tasks a.button')`, step)) {
			break
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("step %s never became current\npage: %s", step, b.where())
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.click("ul.tasks a.button")
	sel := fmt.Sprintf(`button[name=action][value=%s]`, action)
	b.visible(sel)
	if got := b.text("h1"); !strings.HasPrefix(got, step) {
		b.t.Fatalf("task page heading %q, want step %s", got, step)
	}
	if got := b.text(sel); got != buttonText {
		b.t.Fatalf("quick action %s reads %q, want %q", action, got, buttonText)
	}
	b.click(sel)
	b.waitJS("back in the inbox", `location.pathname === "/tasks" && !!document.querySelector(".flash")`)
	if got := b.text(".flash"); !strings.Contains(got, w.completed) {
		b.t.Fatalf("after %s: flash %q", buttonText, got)
	}
}

func TestMissionInTheBrowser(t *testing.T) {
	for _, lang := range []string{"ja", "en"} {
		t.Run(lang, func(t *testing.T) {
			w := texts[lang]
			s := missionStack(t, lang)
			b := newBrowser(t, s)
			b.login("alice", "alice-pass-1234")
			if got := evalJS[string](b, `document.documentElement.lang`); got != lang {
				t.Fatalf("page language %q, want %q", got, lang)
			}

			// Service catalog → new ticket.
			b.open("/catalog")
			b.click(`a[data-flow="mission"]`)
			b.visible("#f-FORMITM_1")
			b.typeIn("#f-FORMITM_1", "プリンタが印刷しない "+lang)
			b.typeIn("#f-FORMITM_2", "3階の複合機")
			b.click(`input[name="FORMITM_3"][value="yellow"]`)
			b.do(chromedp.SetValue(chromedp.CSS("#f-FORMITM_6"), "hardware"))
			b.typeIn("#f-FORMITM_7", "1.5")
			b.click("form.ticket-form .actions button.primary")
			b.waitJS("the new ticket's page", `location.pathname.startsWith("/tickets/") && !!document.querySelector("#ticket-state")`)
			if got := b.text(".flash"); !strings.Contains(got, w.filed) || !strings.Contains(got, "MISSION-") {
				t.Fatalf("flash after filing: %q", got)
			}
			ticket := b.ticketID()
			if got := b.text(".ticket-head h1"); !strings.Contains(got, "プリンタが印刷しない") {
				t.Fatalf("ticket heading %q", got)
			}
			if n := evalJS[int](b, `document.querySelectorAll(".ticket-head .light-yellow").length`); n == 0 {
				t.Fatal("the level is not shown as a yellow light")
			}

			// Work it through its human steps with the quick actions.
			b.workStep(ticket, "任務分析", "action1", "指派", w)
			b.workStep(ticket, "任務處理", "action1", "完成", w)
			b.workStep(ticket, "任務審核", "action1", "通過", w)

			// Closed: history and diagram tell what happened.
			deadline := time.Now().Add(20 * time.Second)
			for {
				b.open(fmt.Sprintf("/tickets/%d", ticket))
				if b.text("#ticket-state") == w.closed {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("ticket never closed\npage: %s", b.where())
				}
				time.Sleep(100 * time.Millisecond)
			}
			if got := b.text("#ticket-status"); got != "check_done" {
				t.Errorf("status %q", got)
			}
			if n := evalJS[int](b, `document.querySelectorAll('.timeline li[data-event="completed"]').length`); n != 3 {
				t.Errorf("%d completed steps in the history, want 3", n)
			}
			if n := evalJS[int](b, `document.querySelectorAll('.timeline li[data-event="filed"]').length`); n != 1 {
				t.Errorf("%d filed events, want 1", n)
			}
			hist := b.text(".timeline")
			for _, want := range []string{"指派", "完成", "通過", "alice", "check_done", "work_done"} {
				if !strings.Contains(hist, want) {
					t.Errorf("history lacks %q:\n%s", want, hist)
				}
			}
			if !evalJS[bool](b, `!!document.querySelector('svg.diagram g[data-node="FITEM_8"].visited') && !document.querySelector('svg.diagram g.current')`) {
				t.Error("diagram: the end is not marked as passed, or a step is still current")
			}
			if n := evalJS[int](b, `document.querySelectorAll('svg.diagram line.walked').length`); n < 5 {
				t.Errorf("diagram: %d walked lines", n)
			}
			if n := evalJS[int](b, `document.querySelectorAll('svg.diagram g[data-node]').length`); n != 8 {
				t.Errorf("diagram: %d nodes, want 8", n)
			}
		})
	}
}

func TestInvalidSubmissionShowsTheFieldError(t *testing.T) {
	for _, lang := range []string{"ja", "en"} {
		t.Run(lang, func(t *testing.T) {
			w := texts[lang]
			s := missionStack(t, lang)
			b := newBrowser(t, s)
			b.login("alice", "alice-pass-1234")
			b.open("/new/mission")
			b.visible("#f-FORMITM_1")
			b.typeIn("#f-FORMITM_2", "説明だけ書いた")
			b.click(`input[name="FORMITM_3"][value="red"]`)
			// h_group: the person list offers the chosen group's members.
			offered := func(group string) string {
				return evalJS[string](b, `(() => { const g = document.querySelector("#f-FORMITM_5-g"); g.value = "`+group+`";
					g.dispatchEvent(new Event("change", {bubbles: true}));
					return [...document.querySelectorAll("#f-FORMITM_5-u option")].filter(o => !o.hidden).map(o => o.value).join(","); })()`)
			}
			if got := offered("1"); got != ",bob" {
				t.Errorf("members offered for 総務: %q", got)
			}
			if got := offered("2"); got != ",alice" {
				t.Errorf("members offered for 任務處理組: %q", got)
			}
			b.do(chromedp.SetValue(chromedp.CSS("#f-FORMITM_5-u"), "alice"))
			// The browser would stop an empty required field itself; the
			// server must catch it too.
			evalJS[bool](b, `document.querySelectorAll("[required]").forEach(e => e.removeAttribute("required")), true`)
			b.click("form.ticket-form .actions button.primary")
			b.visible("#e-FORMITM_1")
			if got := b.text("#e-FORMITM_1"); got != w.required {
				t.Fatalf("error next to the title: %q", got)
			}
			if !evalJS[bool](b, `document.querySelector('[data-field="FORMITM_1"]').contains(document.querySelector("#e-FORMITM_1"))`) {
				t.Error("the error is not next to its field")
			}
			if got := b.value("#f-FORMITM_2"); got != "説明だけ書いた" {
				t.Errorf("typed description lost: %q", got)
			}
			if !evalJS[bool](b, `document.querySelector('input[name="FORMITM_3"][value="red"]').checked`) {
				t.Error("chosen level lost")
			}
			if g, u := b.value("#f-FORMITM_5-g"), b.value("#f-FORMITM_5-u"); g != "2" || u != "alice" {
				t.Errorf("chosen group and person lost: %q %q", g, u)
			}
			if got := b.path(); got != "/new/mission" {
				t.Errorf("page moved to %s", got)
			}
			if !evalJS[bool](b, `document.activeElement && (document.activeElement.id === "problems" || document.activeElement.closest(".field.invalid") !== null)`) {
				t.Error("focus is not on the problems")
			}
		})
	}
}

func TestOtherGroupCannotOpenTheTask(t *testing.T) {
	s := missionStack(t, "ja")
	ctx := context.Background()
	filed, err := s.Engine.FileTicket(ctx, s.Actor(t, "alice"), "mission", map[string]any{"FORMITM_1": "権限テスト", "FORMITM_6": "software"})
	if err != nil {
		t.Fatal(err)
	}
	var task int64
	deadline := time.Now().Add(10 * time.Second)
	for task == 0 && time.Now().Before(deadline) {
		v, err := s.Engine.Ticket(ctx, s.Actor(t, store.AdminUsername), filed.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Tasks) > 0 {
			task = v.Tasks[0].ID
		}
		time.Sleep(20 * time.Millisecond)
	}
	if task == 0 {
		t.Fatal("no task")
	}
	b := newBrowser(t, s)
	b.login("bob", "bob-pass-1234")
	b.open(fmt.Sprintf("/tasks/%d", task))
	if got := b.text("#error-message"); got != texts["ja"].forbidden {
		t.Fatalf("bob opening alice's group's task: %q", got)
	}
	if n := evalJS[int](b, `document.querySelectorAll("form.ticket-form").length`); n != 0 {
		t.Fatal("the task form is shown to bob")
	}
	b.open("/tasks")
	if n := evalJS[int](b, `document.querySelectorAll("tr[data-task]").length`); n != 0 {
		t.Fatalf("bob's inbox lists %d tasks of another group", n)
	}
}

func TestInboxUpdatesWithoutReload(t *testing.T) {
	s := missionStack(t, "en")
	b := newBrowser(t, s)
	b.login("alice", "alice-pass-1234")
	b.open("/tasks")
	b.visible("[data-inbox]")
	// Mark the page: a reload would lose the mark.
	evalJS[bool](b, `window.__sameDocument = true`)
	if n := evalJS[int](b, `document.querySelectorAll("tr[data-task]").length`); n != 0 {
		t.Fatalf("%d tasks before", n)
	}
	// Give the event stream a moment to connect, then file a ticket (as the
	// API would) for alice's group.
	deadline := time.Now().Add(10 * time.Second)
	for s.UI.Broker().Subscribers() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := s.Engine.FileTicket(context.Background(), s.Actor(t, "bob"), "mission", map[string]any{"FORMITM_1": "ライブ", "FORMITM_6": "network"}); err == nil {
		t.Fatal("bob may not file in this flow, yet he could")
	}
	if _, err := s.Engine.FileTicket(context.Background(), s.Actor(t, "alice"), "mission", map[string]any{"FORMITM_1": "ライブ", "FORMITM_6": "network"}); err != nil {
		t.Fatal(err)
	}
	b.waitJS("the new task in the inbox", `document.querySelectorAll("[data-inbox] tr[data-task]").length === 1`)
	if !evalJS[bool](b, `window.__sameDocument === true`) {
		t.Fatal("the page was reloaded")
	}
	if got := b.text("#live"); !strings.Contains(got, "New task: 任務分析") {
		t.Errorf("toast %q", got)
	}
	if got := b.text("#task-count"); got != "1" {
		t.Errorf("badge %q", got)
	}
}

func TestLostConnectionKeepsWhatWasTyped(t *testing.T) {
	s := missionStack(t, "en")
	w := texts["en"]
	b := newBrowser(t, s)
	b.login("alice", "alice-pass-1234")
	b.open("/new/mission")
	b.visible("#f-FORMITM_1")
	b.typeIn("#f-FORMITM_1", "接続が切れても")
	b.typeIn("#f-FORMITM_2", "消えない説明")
	b.do(chromedp.SetValue(chromedp.CSS("#f-FORMITM_6"), "software"))
	evalJS[bool](b, `document.querySelector("#f-FORMITM_6").dispatchEvent(new Event("change", {bubbles: true}))`)

	s.SetDown(true)
	b.click("form.ticket-form .actions button.primary")
	b.waitJS("the lost-connection message", `!document.querySelector("#offline").hidden`)
	if got := b.text("#offline"); !strings.Contains(got, w.sendFail) {
		t.Fatalf("message %q", got)
	}
	if got := b.value("#f-FORMITM_1"); got != "接続が切れても" {
		t.Fatalf("typed title lost: %q", got)
	}
	if b.path() != "/new/mission" {
		t.Fatalf("page moved to %s", b.path())
	}

	// Even a reload (or the browser's own error page and back) keeps it.
	s.SetDown(false)
	b.open("/new/mission")
	b.visible(".restored")
	if got := b.text(".restored"); !strings.Contains(got, w.restored) {
		t.Errorf("restore note %q", got)
	}
	if got, desc, kind := b.value("#f-FORMITM_1"), b.value("#f-FORMITM_2"), b.value("#f-FORMITM_6"); got != "接続が切れても" || desc != "消えない説明" || kind != "software" {
		t.Fatalf("restored %q %q %q", got, desc, kind)
	}

	// The session ends (logged out elsewhere) while the form is open: the
	// post is refused, the form stays as it is and says why.
	alice, err := s.DB.UserByUsername(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DB.DeleteUserSessions(context.Background(), alice.ID, "", 0); err != nil {
		t.Fatal(err)
	}
	b.click("form.ticket-form .actions button.primary")
	b.waitJS("the session message", `!document.querySelector("#offline").hidden`)
	if got := b.text("#offline"); !strings.Contains(got, "Your session has ended") {
		t.Fatalf("message %q", got)
	}
	if got := b.value("#f-FORMITM_2"); got != "消えない説明" || b.path() != "/new/mission" {
		t.Fatalf("form lost after the refused post: %q at %s", got, b.path())
	}
	b.login("alice", "alice-pass-1234")
	b.open("/new/mission")
	b.visible(".restored")
	b.click("form.ticket-form .actions button.primary")
	b.waitJS("the ticket page", `location.pathname.startsWith("/tickets/")`)
	if got := b.text(".ticket-head h1"); !strings.Contains(got, "接続が切れても") {
		t.Fatalf("filed ticket %q", got)
	}
	// Sent: nothing is restored any more.
	b.open("/new/mission")
	b.visible("#f-FORMITM_1")
	if n := evalJS[int](b, `document.querySelectorAll(".restored").length`); n != 0 {
		t.Error("input restored after it was sent")
	}
}
