package ui

import (
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/omflow/omflow/cluster"
	"github.com/omflow/omflow/flow"
	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/web/auth"
)

//go:embed static
var staticFS embed.FS

// CSRFField is the name of the hidden form field carrying the CSRF token.
const CSRFField = auth.CSRFField

// Options configures the pages.
type Options struct {
	Engine    Engine
	Accounts  Accounts
	Directory Directory
	// Broker feeds /ui/events; New makes one when nil (see UI.Broker).
	Broker *Broker
	Logger *slog.Logger
	// DefaultLang is the language for browsers that ask for none of ours:
	// "ja" (default) or "en".
	DefaultLang string
	// Version is shown in the footer.
	Version string
	// MaxUpload caps an uploaded file, in bytes (default 10 MiB, as
	// web.Options.MaxAttachmentBytes).
	MaxUpload int64
	// Heartbeat is the interval of keep-alive comments on event streams
	// (default 25 s).
	Heartbeat time.Duration
	// Cluster, in cluster mode, returns the cluster status for the
	// settings page's Cluster block; nil for a standalone server.
	Cluster func(ctx context.Context) (cluster.Status, error)
	// Degraded, in cluster mode, reports that no booster is reachable (the
	// server claims jobs itself); every page then shows a banner.
	Degraded func() bool
}

// UI serves the pages. Make it with New.
type UI struct {
	o   Options
	log *slog.Logger
	cat *catalog
	rd  *renderer
	h   http.Handler
}

// New checks the options, loads the catalogs and templates and builds the
// routes.
func New(o Options) (*UI, error) {
	if o.Engine == nil || o.Accounts == nil || o.Directory == nil {
		return nil, errors.New("ui: Options.Engine, Accounts and Directory are required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Broker == nil {
		o.Broker = NewBroker()
	}
	if o.MaxUpload <= 0 {
		o.MaxUpload = 10 << 20
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 25 * time.Second
	}
	cat, err := newCatalog(o.DefaultLang)
	if err != nil {
		return nil, fmt.Errorf("ui: %w", err)
	}
	rd, err := newRenderer(cat)
	if err != nil {
		return nil, fmt.Errorf("ui: %w", err)
	}
	u := &UI{o: o, log: o.Logger.With("component", "ui"), cat: cat, rd: rd}
	u.h = u.routes()
	return u, nil
}

// Handler serves every page under "/". Mount it behind package web's
// middleware that loads the actor from the session, so Accounts.Actor sees
// it; the REST API under /api/ stays with package web.
func (u *UI) Handler() http.Handler { return u.h }

// Broker is where the engine's hook publishes task events.
func (u *UI) Broker() *Broker { return u.o.Broker }

func (u *UI) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", cacheStatic(http.StripPrefix("/static/", http.FileServerFS(static))))

	mux.HandleFunc("GET /login", u.page(u.loginPage))
	mux.HandleFunc("POST /login", u.page(u.loginPost))
	mux.HandleFunc("POST /logout", u.user(u.logout))
	mux.HandleFunc("GET /password", u.user(u.passwordPage))
	mux.HandleFunc("POST /password", u.user(u.passwordPost))
	mux.HandleFunc("POST /ui/lang", u.page(u.langPost))
	mux.HandleFunc("GET /ui/events", u.user(u.events))
	mux.HandleFunc("GET /ui/inbox", u.user(u.inboxFragment))

	mux.HandleFunc("GET /{$}", u.user(u.home))
	mux.HandleFunc("GET /catalog", u.user(u.catalogPage))
	mux.HandleFunc("GET /new/{flow}", u.user(u.newTicketPage))
	mux.HandleFunc("POST /new/{flow}", u.user(u.newTicketPost))
	mux.HandleFunc("GET /tasks", u.user(u.inboxPage))
	mux.HandleFunc("GET /tasks/{id}", u.user(u.taskPage))
	mux.HandleFunc("POST /tasks/{id}", u.user(u.taskPost))
	mux.HandleFunc("GET /tickets", u.user(u.ticketsPage))
	mux.HandleFunc("GET /tickets/{id}", u.user(u.ticketPage))
	mux.HandleFunc("GET /files/{id}", u.user(u.fileDownload))

	mux.HandleFunc("GET /admin", u.admin(func(rq *req) error { return rq.redirect("/admin/apps") }))
	mux.HandleFunc("GET /admin/apps", u.admin(u.appsPage))
	mux.HandleFunc("POST /admin/apps/import", u.admin(u.appsImport))
	mux.HandleFunc("GET /admin/apps/{id}/export", u.admin(u.appsExport))
	mux.HandleFunc("POST /admin/flows/{id}/enabled", u.admin(u.flowEnabled))
	mux.HandleFunc("GET /admin/flows/{id}/permissions", u.admin(u.permissionsPage))
	mux.HandleFunc("POST /admin/flows/{id}/permissions", u.admin(u.permissionsPost))
	mux.HandleFunc("GET /admin/users", u.admin(u.usersPage))
	mux.HandleFunc("GET /admin/users/new", u.admin(u.userPage))
	mux.HandleFunc("POST /admin/users/new", u.admin(u.userPost))
	mux.HandleFunc("GET /admin/users/{id}", u.admin(u.userPage))
	mux.HandleFunc("POST /admin/users/{id}", u.admin(u.userPost))
	mux.HandleFunc("GET /admin/groups", u.admin(u.groupsPage))
	mux.HandleFunc("GET /admin/groups/new", u.admin(u.groupPage))
	mux.HandleFunc("POST /admin/groups/new", u.admin(u.groupPost))
	mux.HandleFunc("GET /admin/groups/{id}", u.admin(u.groupPage))
	mux.HandleFunc("POST /admin/groups/{id}", u.admin(u.groupPost))
	mux.HandleFunc("GET /admin/settings", u.admin(u.settingsPage))
	mux.HandleFunc("POST /admin/settings", u.admin(u.settingsPost))

	mux.HandleFunc("/", u.page(func(rq *req) error { return rq.fail(http.StatusNotFound, k("error.notfound")) }))

	// Cookie-authenticated form posts from other sites are refused by the
	// browser's Sec-Fetch-Site/Origin headers, and, for logged-in users, by
	// the session's CSRF token (checked in user and admin).
	cop := http.NewCrossOriginProtection()
	return securityHeaders(cop.Handler(mux))
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
		h.ServeHTTP(w, r)
	})
}

func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Files are embedded in the binary: they change only with it, and
		// pages link them with the version in the query.
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// req is one request to a page.
type req struct {
	u     *UI
	w     http.ResponseWriter
	r     *http.Request
	ctx   context.Context
	actor *flow.Actor
	user  *store.User
	lang  string
	loc   *time.Location
	tr    tr

	groupNames map[string]string // group id (as text) -> name, loaded once
}

// groupName shows a group as a task or ticket names it: an id becomes the
// group's name; a name, or an id the system does not know, stays as given.
func (rq *req) groupName(v string) string {
	if rq.groupNames == nil {
		rq.groupNames = map[string]string{}
		gs, err := rq.u.o.Directory.Groups(rq.ctx)
		if err != nil {
			rq.u.log.Warn("load group names", "err", err)
		}
		for _, g := range gs {
			rq.groupNames[strconv.FormatInt(g.ID, 10)] = g.Name
		}
	}
	if n, ok := rq.groupNames[v]; ok {
		return n
	}
	return v
}

// endSessions ends a user's other sessions and tokens (all of them when
// the user is not the one asking), after a password change or when the
// account is disabled.
func (rq *req) endSessions(uid int64) error {
	keep, keepToken := "", int64(0)
	if id := auth.IdentityFrom(rq.ctx); id != nil && id.User != nil && id.User.ID == uid {
		if id.Session != nil {
			keep = id.Session.ID
		}
		if id.Token != nil {
			keepToken = id.Token.ID
		}
	}
	if err := rq.u.o.Directory.DeleteUserSessions(rq.ctx, uid, keep, keepToken); err != nil {
		return err
	}
	rq.u.o.Accounts.Forget()
	return nil
}

// namedGroups returns tasks with their groups shown by name.
func (rq *req) namedGroups(tasks []flow.TaskView) []flow.TaskView {
	out := make([]flow.TaskView, len(tasks))
	for i, t := range tasks {
		t.Group = rq.groupName(t.Group)
		out[i] = t
	}
	return out
}

// T translates into the request's language.
func (rq *req) T(id string, args ...any) string { return rq.tr.T(id, args...) }

type handler func(rq *req) error

func (u *UI) newReq(w http.ResponseWriter, r *http.Request) *req {
	rq := &req{u: u, w: w, r: r, ctx: r.Context()}
	rq.actor = auth.ActorFrom(r.Context())
	rq.user = auth.UserFrom(r.Context())
	userLang, zone := "", ""
	if rq.actor != nil && rq.user != nil {
		userLang, zone = rq.user.Lang, rq.user.TimeZone
	}
	rq.lang = u.langFor(r, userLang)
	rq.loc = location(zone)
	rq.tr = u.cat.tr(rq.lang)
	return rq
}

// langFor decides a request's language: the user's choice, then the
// language switch's cookie, then Accept-Language, then the default_lang
// system setting.
func (u *UI) langFor(r *http.Request, userLang string) string {
	if lang, ok := u.cat.langFor(r, userLang); ok {
		return lang
	}
	if v, err := u.o.Directory.Settings(r.Context()); err == nil && supported(v[store.SettingDefaultLang]) {
		return v[store.SettingDefaultLang]
	}
	return u.cat.fallback
}

// page runs h for anyone, logged in or not.
func (u *UI) page(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rq := u.newReq(w, r)
		u.finish(rq, h(rq))
	}
}

// user runs h for a logged-in user; others go to the login page. Posts
// must carry the session's CSRF token.
func (u *UI) user(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rq := u.newReq(w, r)
		if rq.actor == nil {
			if r.Method == http.MethodGet && r.URL.Path != "/ui/events" && r.URL.Path != "/ui/inbox" {
				u.finish(rq, rq.redirect("/login?next="+url.QueryEscape(r.URL.RequestURI())))
				return
			}
			u.finish(rq, rq.fail(http.StatusUnauthorized, k("error.session")))
			return
		}
		if r.Method == http.MethodPost && !u.csrfOK(rq) {
			u.finish(rq, rq.fail(http.StatusForbidden, k("error.csrf")))
			return
		}
		u.finish(rq, h(rq))
	}
}

// admin runs h for an administrator.
func (u *UI) admin(h handler) http.HandlerFunc {
	return u.user(func(rq *req) error {
		if !rq.actor.Admin {
			return rq.fail(http.StatusForbidden, k("error.admin"))
		}
		return h(rq)
	})
}

func (u *UI) csrfOK(rq *req) bool {
	want := auth.CSRFToken(rq.ctx)
	if want == "" {
		return false
	}
	got := rq.r.Header.Get(auth.CSRFHeader)
	if got == "" {
		if err := rq.parseForm(); err != nil {
			return false
		}
		got = rq.r.PostFormValue(CSRFField)
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// parseForm reads a posted form, with files up to MaxUpload.
func (rq *req) parseForm() error {
	if rq.r.PostForm != nil {
		return nil
	}
	rq.r.Body = http.MaxBytesReader(rq.w, rq.r.Body, rq.u.o.MaxUpload)
	if strings.HasPrefix(rq.r.Header.Get("Content-Type"), "multipart/form-data") {
		return rq.r.ParseMultipartForm(4 << 20)
	}
	return rq.r.ParseForm()
}

// finish reports a handler's error: a page for the person, a log line for
// the operator when it was not the person's doing.
func (u *UI) finish(rq *req, err error) {
	if err == nil {
		return
	}
	var pe *pageError
	if errors.As(err, &pe) {
		return // already written
	}
	status, key := statusOf(err)
	if status >= 500 {
		u.log.Error("page failed", "method", rq.r.Method, "path", rq.r.URL.Path, "err", err)
	}
	if werr := rq.writeError(status, key, ""); werr != nil {
		u.log.Error("write error page", "err", werr)
	}
}

// pageError marks an error whose page was already written.
type pageError struct{ status int }

func (e *pageError) Error() string { return fmt.Sprintf("page answered %d", e.status) }

// statusOf maps an engine or store error to a status and a message id.
func statusOf(err error) (int, string) {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, k("error.toolarge")
	case errors.Is(err, flow.ErrNotFound), errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, k("error.notfound")
	case errors.Is(err, flow.ErrForbidden):
		return http.StatusForbidden, k("error.forbidden")
	case errors.Is(err, flow.ErrConflict), errors.Is(err, store.ErrConflict):
		return http.StatusConflict, k("error.conflict")
	case errors.Is(err, flow.ErrInvalid):
		return http.StatusUnprocessableEntity, k("error.invalid")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, k("error.unavailable")
	}
	return http.StatusInternalServerError, k("error.internal")
}

// fail writes an error page and returns an error that says so.
func (rq *req) fail(status int, key string) error {
	if err := rq.writeError(status, key, ""); err != nil {
		return err
	}
	return &pageError{status}
}

func (rq *req) writeError(status int, key, detail string) error {
	if status == http.StatusUnauthorized && rq.actor == nil && rq.r.Method == http.MethodGet {
		return rq.redirect("/login")
	}
	d := struct {
		Status  int
		Message string
		Detail  string
	}{status, rq.T(key), detail}
	return rq.render(status, "error", rq.T(k("error.title")), "", d)
}

// fetchHeader marks a form post sent by the page's script. Such a post is
// answered 204 with the next page in locationHeader instead of a redirect:
// a followed redirect would fetch (and so use up) the next page's flash
// message before the script can show that page.
const (
	fetchHeader    = "X-Omflow-Fetch"
	locationHeader = "X-Omflow-Location"
)

// redirect answers a post (or a page that moved) with 303 See Other.
func (rq *req) redirect(to string) error {
	if rq.r.Method == http.MethodPost && rq.r.Header.Get(fetchHeader) == "1" {
		rq.w.Header().Set(locationHeader, to)
		rq.w.WriteHeader(http.StatusNoContent)
		return nil
	}
	http.Redirect(rq.w, rq.r, to, http.StatusSeeOther)
	return nil
}

// pageData is what the layout needs, around a page's own data.
type pageData struct {
	Title     string
	Nav       string
	Lang      string
	Langs     []string
	Actor     *flow.Actor
	UserName  string
	CSRF      string
	CSRFField string
	Flash     string
	FlashKind string
	TaskCount int
	Path      string
	Version   string
	Degraded  bool // cluster mode without a booster: show the banner
	D         any
}

// render writes a page inside the layout.
func (rq *req) render(status int, page, title, nav string, d any) error {
	pd := pageData{
		Title: title, Nav: nav, Lang: rq.lang, Langs: Languages, Actor: rq.actor,
		CSRFField: CSRFField, Path: rq.r.URL.RequestURI(), Version: rq.u.o.Version, D: d,
		TaskCount: -1,
	}
	if rq.actor != nil {
		pd.UserName = rq.actor.Name
		if pd.UserName == "" {
			pd.UserName = rq.actor.Username
		}
		pd.CSRF = auth.CSRFToken(rq.ctx)
		if status < 400 {
			if tasks, err := rq.u.o.Engine.Tasks(rq.ctx, rq.actor, false); err == nil {
				pd.TaskCount = len(tasks)
			}
		}
	}
	pd.Flash, pd.FlashKind = rq.takeFlash()
	pd.Degraded = rq.actor != nil && rq.u.degraded()
	return rq.u.rd.render(rq.w, status, page, rq.lang, rq.loc, pd)
}

const flashCookie = "omflow_flash"

// flash leaves a message for the next page: a catalog id (flash.*) and one
// argument.
func (rq *req) flash(key, arg string) {
	http.SetCookie(rq.w, &http.Cookie{
		Name: flashCookie, Value: url.QueryEscape(key) + "|" + url.QueryEscape(arg),
		Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: 60, Secure: auth.IsHTTPS(rq.r),
	})
}

// takeFlash reads and clears the flash message.
func (rq *req) takeFlash() (string, string) {
	c, err := rq.r.Cookie(flashCookie)
	if err != nil {
		return "", ""
	}
	http.SetCookie(rq.w, &http.Cookie{Name: flashCookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	key, arg, _ := strings.Cut(c.Value, "|")
	key, _ = url.QueryUnescape(key)
	arg, _ = url.QueryUnescape(arg)
	if !strings.HasPrefix(key, "flash.") || !rq.u.cat.ids[rq.lang][key] {
		return "", ""
	}
	kind := "ok"
	if strings.HasPrefix(key, "flash.warn.") {
		kind = "warn"
	}
	return rq.T(key, "Arg", arg), kind
}
