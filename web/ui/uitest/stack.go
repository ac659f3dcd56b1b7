// Package uitest starts the whole server stack in a test — a fresh SQLite
// database, the flow engine (polling), login and sessions, the REST API and
// the pages — on an httptest server, for the page tests of package ui and
// the browser tests in e2e.
package uitest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/omflow/omflow/cluster"
	"github.com/omflow/omflow/flow"
	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/store/storetest"
	"github.com/omflow/omflow/web"
	"github.com/omflow/omflow/web/auth"
	"github.com/omflow/omflow/web/ui"
)

// AdminPassword is the password of the "admin" user of every stack.
const AdminPassword = "admin-pass-1234"

// Stack is a running server.
type Stack struct {
	URL    string
	DB     *store.DB
	Engine *flow.Engine
	Auth   *auth.Auth
	UI     *ui.UI
	Web    *web.Server
	HTTP   *httptest.Server

	down atomic.Bool
}

// SetDown makes the server drop every new request without an answer (true),
// as a lost connection looks to a browser, or serve again (false).
func (s *Stack) SetDown(on bool) { s.down.Store(on) }

// gate drops requests while the stack is down.
func (s *Stack) gate(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.down.Load() {
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					_ = conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		}
		h.ServeHTTP(w, r)
	})
}

// Options adjusts a stack.
type Options struct {
	// DefaultLang is ui.Options.DefaultLang.
	DefaultLang string
	// Heartbeat is ui.Options.Heartbeat.
	Heartbeat time.Duration
	// Cluster and Degraded are ui.Options.Cluster and Degraded (cluster
	// mode); nil for a standalone server.
	Cluster  func(ctx context.Context) (cluster.Status, error)
	Degraded func() bool
}

// Start builds and starts a stack; it stops at the test's cleanup.
func Start(t testing.TB, o Options) *Stack {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t, store.SQLite)
	if _, err := db.EnsureAdmin(ctx, AdminPassword); err != nil {
		t.Fatalf("uitest: create admin: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	broker := ui.NewBroker()
	eng := flow.New(db, flow.Options{Node: "uitest", Workers: 2, Poll: true, Logger: logger,
		Hooks: flow.Hooks{TaskAssigned: broker.TaskAssigned, TaskClosed: broker.TaskClosed}})
	a := auth.New(db, auth.Options{Logger: logger, CacheTTL: -1, LoginBurst: 1000})
	pages, err := ui.New(ui.Options{Engine: eng, Accounts: a, Directory: db, Broker: broker, Logger: logger,
		DefaultLang: o.DefaultLang, Version: "test", Heartbeat: o.Heartbeat, Cluster: o.Cluster, Degraded: o.Degraded})
	if err != nil {
		t.Fatalf("uitest: pages: %v", err)
	}
	w, err := web.New(web.Options{Engine: eng, DB: db, Logger: logger, Version: "test", Role: "server", Auth: a, UI: pages.Handler()})
	if err != nil {
		t.Fatalf("uitest: web: %v", err)
	}
	ectx, cancel := context.WithCancel(ctx)
	if err := eng.Start(ectx); err != nil {
		t.Fatalf("uitest: engine: %v", err)
	}
	st := &Stack{DB: db, Engine: eng, Auth: a, UI: pages, Web: w}
	srv := httptest.NewServer(st.gate(w.Handler()))
	st.URL, st.HTTP = srv.URL, srv
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		cancel()
		eng.Stop()
	})
	return st
}

// Testdata returns the path of a file in flow/testdata.
func Testdata(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "flow", "testdata", name)
}

// Import imports an app export from flow/testdata as the administrator.
func (s *Stack) Import(t testing.TB, name string) *flow.ImportResult {
	t.Helper()
	data, err := os.ReadFile(Testdata(name))
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Engine.ImportApp(context.Background(), s.Actor(t, store.AdminUsername), data)
	if err != nil {
		t.Fatalf("uitest: import %s: %v", name, err)
	}
	return res
}

// Actor is the engine's view of a user.
func (s *Stack) Actor(t testing.TB, username string) *flow.Actor {
	t.Helper()
	u, err := s.DB.UserByUsername(context.Background(), username)
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.ActorFor(context.Background(), s.DB, u)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// User creates a user with password "<username>-pass-1234" and puts it in
// the groups (created when missing; group ids are returned in order).
func (s *Stack) User(t testing.TB, username string, u store.User, groups ...string) []int64 {
	t.Helper()
	ctx := context.Background()
	u.Username = username
	if err := s.DB.CreateUser(ctx, &u, username+"-pass-1234"); err != nil {
		t.Fatalf("uitest: create user %s: %v", username, err)
	}
	var ids []int64
	for _, name := range groups {
		id := s.Group(t, name)
		if err := s.DB.AddGroupMember(ctx, id, u.ID); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// Group returns the id of the named group, creating it when missing.
func (s *Stack) Group(t testing.TB, name string) int64 {
	t.Helper()
	ctx := context.Background()
	gs, err := s.DB.Groups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		if g.Name == name {
			return g.ID
		}
	}
	g := &store.Group{Name: name}
	if err := s.DB.CreateGroup(ctx, g); err != nil {
		t.Fatalf("uitest: create group %s: %v", name, err)
	}
	return g.ID
}

// Client is a browser-like HTTP client: cookies, no automatic redirects
// followed for posts (the answer's status and Location are checked).
type Client struct {
	t    testing.TB
	base string
	HTTP *http.Client
	Lang string // Accept-Language
}

// Client returns a new client without a session.
func (s *Stack) Client(t testing.TB) *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{t: t, base: s.URL, HTTP: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Page is a fetched page.
type Page struct {
	Status   int
	Location string
	Body     string
}

// Get fetches a path.
func (c *Client) Get(path string) Page {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.base+path, nil)
	return c.do(req)
}

// Post sends a form. The session's CSRF token is added from the last page
// fetched with a form.
func (c *Client) Post(path string, form url.Values) Page {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.base)
	return c.do(req)
}

func (c *Client) do(req *http.Request) Page {
	c.t.Helper()
	if c.Lang != "" {
		req.Header.Set("Accept-Language", c.Lang)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	p := Page{Status: resp.StatusCode, Location: resp.Header.Get("Location"), Body: b.String()}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		if m := missingMsg.FindString(p.Body); m != "" {
			c.t.Errorf("%s %s shows an untranslated message %s", req.Method, req.URL.Path, m)
		}
	}
	return p
}

// missingMsg is how a message id missing from a catalog shows on a page.
var missingMsg = regexp.MustCompile(`\[[a-z]+\.[a-z0-9_.]+\]`)

// File is an upload for PostMultipart.
type File struct {
	Field, Name, Type string
	Data              []byte
}

// PostMultipart sends a multipart form with files.
func (c *Client) PostMultipart(path string, form url.Values, files ...File) Page {
	c.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, vs := range form {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	for _, f := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%s"; filename="%s"`, f.Field, f.Name))
		h.Set("Content-Type", f.Type)
		w, err := mw.CreatePart(h)
		if err != nil {
			c.t.Fatal(err)
		}
		_, _ = w.Write(f.Data)
	}
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, c.base+path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", c.base)
	return c.do(req)
}

var csrfRe = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// CSRF reads the CSRF token from a page.
func CSRF(t testing.TB, p Page) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no csrf_token in page (status %d)", p.Status)
	}
	return m[1]
}

// Login logs the client in and returns the CSRF token of the new session.
func (c *Client) Login(username, password string) string {
	c.t.Helper()
	p := c.Post("/login", url.Values{"username": {username}, "password": {password}, "next": {"/"}})
	if p.Status != http.StatusSeeOther {
		c.t.Fatalf("login %s: status %d\n%s", username, p.Status, p.Body)
	}
	return CSRF(c.t, c.Get("/"))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
