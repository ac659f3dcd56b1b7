package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omflow/omflow/flow"
	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/store/storetest"
	"github.com/omflow/omflow/web/auth"
)

// fakeEngine is an Engine made of function fields; a nil field answers
// "not found".
type fakeEngine struct {
	importApp      func(ctx context.Context, a *flow.Actor, data []byte) (*flow.ImportResult, error)
	exportApp      func(ctx context.Context, a *flow.Actor, appID int64) ([]byte, error)
	flows          func(ctx context.Context, a *flow.Actor) ([]flow.FlowInfo, error)
	setFlowEnabled func(ctx context.Context, a *flow.Actor, flowID int64, enabled bool) error
	fileTicket     func(ctx context.Context, a *flow.Actor, flowRef string, fields map[string]any) (*flow.Filed, error)
	ticket         func(ctx context.Context, a *flow.Actor, id int64) (*flow.TicketView, error)
	tickets        func(ctx context.Context, a *flow.Actor, f flow.TicketFilter) (*flow.TicketPage, error)
	tasks          func(ctx context.Context, a *flow.Actor, all bool) ([]flow.TaskView, error)
	completeTask   func(ctx context.Context, a *flow.Actor, taskID int64, fields map[string]any, action string) error
	permissions    func(ctx context.Context, a *flow.Actor, flowID int64) ([]flow.PermissionView, error)
	mapPermission  func(ctx context.Context, a *flow.Actor, permissionID int64, groupID *int64) error
}

var _ Engine = (*fakeEngine)(nil)
var _ Engine = (*flow.Engine)(nil)

func nf() error {
	return &flow.InputError{Kind: flow.ErrNotFound, Code: "not_found", Message: "no such thing"}
}

func (f *fakeEngine) ImportApp(ctx context.Context, a *flow.Actor, data []byte) (*flow.ImportResult, error) {
	if f.importApp == nil {
		return nil, nf()
	}
	return f.importApp(ctx, a, data)
}
func (f *fakeEngine) ExportApp(ctx context.Context, a *flow.Actor, id int64) ([]byte, error) {
	if f.exportApp == nil {
		return nil, nf()
	}
	return f.exportApp(ctx, a, id)
}
func (f *fakeEngine) Flows(ctx context.Context, a *flow.Actor) ([]flow.FlowInfo, error) {
	if f.flows == nil {
		return nil, nil
	}
	return f.flows(ctx, a)
}
func (f *fakeEngine) SetFlowEnabled(ctx context.Context, a *flow.Actor, id int64, on bool) error {
	if f.setFlowEnabled == nil {
		return nf()
	}
	return f.setFlowEnabled(ctx, a, id, on)
}
func (f *fakeEngine) FileTicket(ctx context.Context, a *flow.Actor, ref string, fields map[string]any) (*flow.Filed, error) {
	if f.fileTicket == nil {
		return nil, nf()
	}
	return f.fileTicket(ctx, a, ref, fields)
}
func (f *fakeEngine) Ticket(ctx context.Context, a *flow.Actor, id int64) (*flow.TicketView, error) {
	if f.ticket == nil {
		return nil, nf()
	}
	return f.ticket(ctx, a, id)
}
func (f *fakeEngine) Tickets(ctx context.Context, a *flow.Actor, fl flow.TicketFilter) (*flow.TicketPage, error) {
	if f.tickets == nil {
		return &flow.TicketPage{}, nil
	}
	return f.tickets(ctx, a, fl)
}
func (f *fakeEngine) Tasks(ctx context.Context, a *flow.Actor, all bool) ([]flow.TaskView, error) {
	if f.tasks == nil {
		return nil, nil
	}
	return f.tasks(ctx, a, all)
}
func (f *fakeEngine) CompleteTask(ctx context.Context, a *flow.Actor, id int64, fields map[string]any, action string) error {
	if f.completeTask == nil {
		return nf()
	}
	return f.completeTask(ctx, a, id, fields, action)
}

func (f *fakeEngine) Permissions(ctx context.Context, a *flow.Actor, flowID int64) ([]flow.PermissionView, error) {
	if f.permissions == nil {
		return nil, nf()
	}
	return f.permissions(ctx, a, flowID)
}

func (f *fakeEngine) MapPermission(ctx context.Context, a *flow.Actor, id int64, groupID *int64) error {
	if f.mapPermission == nil {
		return nf()
	}
	return f.mapPermission(ctx, a, id, groupID)
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	t     *testing.T
	srv   *Server
	db    *store.DB
	eng   *fakeEngine
	clock *clock
	h     http.Handler

	adminToken string
	userToken  string
	user       *store.User
	admin      *store.User
	logs       *bytes.Buffer
}

func newEnv(t *testing.T, mod ...func(*Options)) *env {
	t.Helper()
	db := storetest.Open(t, store.SQLite)
	ctx := context.Background()
	e := &env{t: t, db: db, eng: &fakeEngine{}, clock: &clock{t: time.Now().UTC()}, logs: &bytes.Buffer{}}
	o := Options{
		Engine: e.eng, DB: db, Version: "v-test", Role: "server",
		Logger:             slog.New(slog.NewTextHandler(&lockedWriter{w: e.logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		AuthOptions:        auth.Options{Now: e.clock.Now, LoginBurst: 100},
		MaxAttachmentBytes: 1000,
	}
	for _, m := range mod {
		m(&o)
	}
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	e.srv, e.h = srv, srv.Handler()
	e.admin = &store.User{Username: "root", Admin: true}
	if err := db.CreateUser(ctx, e.admin, "admin-password"); err != nil {
		t.Fatal(err)
	}
	e.user = &store.User{Username: "taro", DisplayName: "山田太郎"}
	if err := db.CreateUser(ctx, e.user, "user-password"); err != nil {
		t.Fatal(err)
	}
	e.adminToken = e.login("root", "admin-password")
	e.userToken = e.login("taro", "user-password")
	return e
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

type resp struct {
	*httptest.ResponseRecorder
	t *testing.T
}

func (r resp) json() map[string]any {
	r.t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body.Bytes(), &m); err != nil {
		r.t.Fatalf("body %q is not a JSON object: %v", r.Body.String(), err)
	}
	return m
}

// errBody returns the error object and checks the shape.
func (r resp) errBody() (code, message, field string) {
	r.t.Helper()
	m := r.json()
	eo, ok := m["error"].(map[string]any)
	if !ok || len(m) != 1 {
		r.t.Fatalf("error body %s is not {\"error\":{...}}", r.Body.String())
	}
	for _, k := range []string{"code", "message", "field"} {
		if _, ok := eo[k].(string); !ok {
			r.t.Fatalf("error body %s lacks string %q", r.Body.String(), k)
		}
	}
	return eo["code"].(string), eo["message"].(string), eo["field"].(string)
}

func (e *env) do(method, path, token string, body any, hdr ...string) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, _ := json.Marshal(b)
		rd = bytes.NewReader(data)
	}
	req := httptest.NewRequest(method, path, rd)
	req.RemoteAddr = "192.0.2.1:1234"
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Cookie" {
			req.Header.Add("Cookie", hdr[i+1])
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return resp{rec, e.t}
}

func (e *env) login(user, pw string) string {
	e.t.Helper()
	r := e.do("POST", "/api/v1/login", "", map[string]string{"username": user, "password": pw})
	if r.Code != 200 {
		e.t.Fatalf("login %s: %d %s", user, r.Code, r.Body)
	}
	tok, _ := r.json()["token"].(string)
	if !strings.HasPrefix(tok, store.TokenPrefix) {
		e.t.Fatalf("login token %q", tok)
	}
	return tok
}

// session starts a browser session for u and returns its cookie and CSRF
// token.
func (e *env) session(u *store.User) (cookie, csrf string) {
	e.t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/login", nil)
	if err := e.srv.Auth().StartSession(rec, req, u); err != nil {
		e.t.Fatal(err)
	}
	var c *http.Cookie
	for _, k := range rec.Result().Cookies() {
		if k.Name == auth.CookieName {
			c = k
		}
	}
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure {
		e.t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Lax, not Secure over plain HTTP", c)
	}
	r := e.do("GET", "/api/v1/me", "", nil, "Cookie", c.Name+"="+c.Value)
	if r.Code != 200 {
		e.t.Fatalf("me with session: %d %s", r.Code, r.Body)
	}
	return c.Name + "=" + c.Value, r.json()["csrf_token"].(string)
}

func TestHealthAndReadiness(t *testing.T) {
	ready := true
	e := newEnv(t, func(o *Options) { o.Ready = func() bool { return ready } })
	r := e.do("GET", "/healthz", "", nil)
	if r.Code != 200 || r.json()["version"] != "v-test" || r.json()["role"] != "server" || r.json()["status"] != "ok" {
		t.Fatalf("healthz: %d %s", r.Code, r.Body)
	}
	if r := e.do("GET", "/readyz", "", nil); r.Code != 200 {
		t.Fatalf("readyz: %d %s", r.Code, r.Body)
	}
	ready = false
	if r := e.do("GET", "/readyz", "", nil); r.Code != 503 || r.json()["status"] != "starting" {
		t.Fatalf("readyz not ready: %d %s", r.Code, r.Body)
	}
	ready = true
	e.srv.SetDraining(true)
	if r := e.do("GET", "/readyz", "", nil); r.Code != 503 || r.json()["status"] != "draining" {
		t.Fatalf("readyz draining: %d %s", r.Code, r.Body)
	}
	e.srv.SetDraining(false)
	if r := e.do("GET", "/readyz", "", nil); r.Code != 200 {
		t.Fatalf("readyz after drain: %d", r.Code)
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	e := newEnv(t)
	for _, r := range []resp{e.do("GET", "/healthz", "", nil), e.do("GET", "/api/v1/flows", "", nil), e.do("GET", "/api/v1/nope", e.userToken, nil)} {
		for _, h := range []string{"X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy", "Referrer-Policy"} {
			if r.Header().Get(h) == "" {
				t.Errorf("status %d response lacks %s", r.Code, h)
			}
		}
	}
	r := e.do("GET", "/healthz", "", nil, "X-Forwarded-Proto", "https")
	if r.Header().Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS behind an HTTPS proxy")
	}
}

func TestLoginLockoutAndUnlock(t *testing.T) {
	e := newEnv(t)
	if r := e.do("PUT", "/api/v1/settings", e.adminToken, map[string]any{"login_max_failures": 3, "login_lock_minutes": 15}); r.Code != 200 {
		t.Fatalf("settings: %d %s", r.Code, r.Body)
	}
	bad := map[string]string{"username": "taro", "password": "wrong-password"}
	for i := 1; i <= 2; i++ {
		r := e.do("POST", "/api/v1/login", "", bad)
		if code, _, _ := r.errBody(); r.Code != 401 || code != "bad_credentials" {
			t.Fatalf("failure %d: %d %s", i, r.Code, r.Body)
		}
	}
	r := e.do("POST", "/api/v1/login", "", bad)
	if code, msg, _ := r.errBody(); r.Code != 403 || code != "locked" || !strings.Contains(msg, "until") || r.Header().Get("Retry-After") == "" {
		t.Fatalf("third failure: %d %s", r.Code, r.Body)
	}
	// Locked: even the right password is refused.
	good := map[string]string{"username": "taro", "password": "user-password"}
	if r := e.do("POST", "/api/v1/login", "", good); r.Code != 403 {
		t.Fatalf("right password while locked: %d %s", r.Code, r.Body)
	}
	// The admin sees the lock.
	r = e.do("GET", "/api/v1/users/"+itoa(e.user.ID), e.adminToken, nil)
	if r.json()["locked_until"] == nil {
		t.Fatalf("locked_until not shown: %s", r.Body)
	}
	e.clock.Add(16 * time.Minute)
	if r := e.do("POST", "/api/v1/login", "", good); r.Code != 200 {
		t.Fatalf("after the lock ran out: %d %s", r.Code, r.Body)
	}
	u, _ := e.db.UserByID(context.Background(), e.user.ID)
	if u.FailedLogins != 0 || u.LockedUntil != nil {
		t.Fatalf("success did not reset: %+v", u)
	}
	// Unknown users and empty fields.
	if r := e.do("POST", "/api/v1/login", "", map[string]string{"username": "nobody", "password": "x"}); r.Code != 401 {
		t.Fatalf("unknown user: %d", r.Code)
	}
	if r := e.do("POST", "/api/v1/login", "", map[string]string{"username": "taro"}); r.Code != 400 {
		t.Fatalf("no password: %d", r.Code)
	} else if _, _, f := r.errBody(); f != "password" {
		t.Fatalf("no password names field %q", f)
	}
}

func TestLoginRateLimitPerAddress(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.AuthOptions.LoginBurst = 3; o.AuthOptions.LoginEvery = time.Minute })
	bad := map[string]string{"username": "nobody", "password": "wrong-password"}
	for i := 0; i < 3; i++ {
		if r := e.do("POST", "/api/v1/login", "", bad); r.Code != 401 {
			t.Fatalf("failure %d: %d", i, r.Code)
		}
	}
	r := e.do("POST", "/api/v1/login", "", map[string]string{"username": "taro", "password": "user-password"})
	if code, _, _ := r.errBody(); r.Code != 429 || code != "rate_limited" || r.Header().Get("Retry-After") == "" {
		t.Fatalf("over the limit: %d %s", r.Code, r.Body)
	}
	e.clock.Add(time.Minute)
	if r := e.do("POST", "/api/v1/login", "", map[string]string{"username": "taro", "password": "user-password"}); r.Code != 200 {
		t.Fatalf("after refill: %d %s", r.Code, r.Body)
	}
}

func TestDisabledUserCannotLoginAndLosesTokens(t *testing.T) {
	e := newEnv(t)
	r := e.do("PATCH", "/api/v1/users/"+itoa(e.user.ID), e.adminToken, map[string]any{"disabled": true})
	if r.Code != 200 || r.json()["disabled"] != true {
		t.Fatalf("disable: %d %s", r.Code, r.Body)
	}
	if r := e.do("GET", "/api/v1/me", e.userToken, nil); r.Code != 401 {
		t.Fatalf("disabled user's token still works: %d", r.Code)
	}
	if r := e.do("POST", "/api/v1/login", "", map[string]string{"username": "taro", "password": "user-password"}); r.Code != 403 {
		t.Fatalf("disabled login: %d %s", r.Code, r.Body)
	}
	// An admin cannot disable or demote themselves.
	if r := e.do("PATCH", "/api/v1/users/"+itoa(e.admin.ID), e.adminToken, map[string]any{"admin": false}); r.Code != 422 {
		t.Fatalf("self-demotion: %d %s", r.Code, r.Body)
	}
}

func TestBearerRequiredAndAdminOnly(t *testing.T) {
	e := newEnv(t)
	for _, p := range []struct{ method, path string }{
		{"GET", "/api/v1/flows"}, {"GET", "/api/v1/tickets/1"}, {"GET", "/api/v1/tasks"}, {"GET", "/api/v1/me"},
		{"POST", "/api/v1/flows/x/tickets"}, {"POST", "/api/v1/logout"}, {"GET", "/api/v1/users"}, {"GET", "/api/v1/settings"},
	} {
		r := e.do(p.method, p.path, "", "{}")
		if code, _, _ := r.errBody(); r.Code != 401 || code != "unauthorized" || r.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s without token: %d %s", p.method, p.path, r.Code, r.Body)
		}
	}
	if r := e.do("GET", "/api/v1/me", "omf_forged", nil); r.Code != 401 {
		t.Errorf("forged token: %d", r.Code)
	}
	if r := e.do("GET", "/api/v1/me", "", nil, "Authorization", "Basic dXNlcjpwdw=="); r.Code != 401 {
		t.Errorf("basic auth: %d", r.Code)
	}
	for _, p := range []struct{ method, path string }{
		{"POST", "/api/v1/apps/import"}, {"GET", "/api/v1/apps/1/export"}, {"POST", "/api/v1/flows/1/enable"},
		{"POST", "/api/v1/flows/1/disable"}, {"GET", "/api/v1/users"}, {"POST", "/api/v1/users"},
		{"PATCH", "/api/v1/users/1"}, {"POST", "/api/v1/users/1/password"}, {"POST", "/api/v1/groups"},
		{"PATCH", "/api/v1/groups/1"}, {"DELETE", "/api/v1/groups/1"}, {"POST", "/api/v1/groups/1/members/1"},
		{"DELETE", "/api/v1/groups/1/members/1"}, {"GET", "/api/v1/settings"}, {"PUT", "/api/v1/settings"},
		{"GET", "/api/v1/tasks?all=1"},
	} {
		r := e.do(p.method, p.path, e.userToken, "{}")
		if code, _, _ := r.errBody(); r.Code != 403 || code != "forbidden" {
			t.Errorf("%s %s as a user: %d %s", p.method, p.path, r.Code, r.Body)
		}
	}
	// Logout revokes the token.
	tok := e.login("taro", "user-password")
	if r := e.do("POST", "/api/v1/logout", tok, nil); r.Code != 204 {
		t.Fatalf("logout: %d %s", r.Code, r.Body)
	}
	if r := e.do("GET", "/api/v1/me", tok, nil); r.Code != 401 {
		t.Fatalf("token after logout: %d", r.Code)
	}
}

func TestCSRFForCookieSessions(t *testing.T) {
	e := newEnv(t)
	var got map[string]any
	e.eng.fileTicket = func(ctx context.Context, a *flow.Actor, ref string, fields map[string]any) (*flow.Filed, error) {
		got = fields
		return &flow.Filed{ID: 1, No: "T-1", Status: "open"}, nil
	}
	cookie, csrf := e.session(e.user)
	if len(csrf) < 40 {
		t.Fatalf("csrf token %q", csrf)
	}
	body := map[string]any{"fields": map[string]any{"FORMITM_1": "x"}}
	r := e.do("POST", "/api/v1/flows/req/tickets", "", body, "Cookie", cookie)
	if code, _, field := r.errBody(); r.Code != 403 || code != "csrf" || field != "csrf_token" {
		t.Fatalf("no CSRF header: %d %s", r.Code, r.Body)
	}
	if got != nil {
		t.Fatal("the engine was called without a CSRF token")
	}
	if r := e.do("POST", "/api/v1/flows/req/tickets", "", body, "Cookie", cookie, "X-CSRF-Token", csrf+"x"); r.Code != 403 {
		t.Fatalf("wrong CSRF header: %d", r.Code)
	}
	if r := e.do("POST", "/api/v1/flows/req/tickets", "", body, "Cookie", cookie, "X-CSRF-Token", csrf); r.Code != 201 {
		t.Fatalf("with CSRF header: %d %s", r.Code, r.Body)
	}
	// The form field works too (a plain HTML form).
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("csrf_token", csrf)
	fw, _ := mw.CreateFormFile("file", "a.txt")
	_, _ = fw.Write([]byte("hi"))
	_ = mw.Close()
	if r := e.do("POST", "/api/v1/attachments", "", buf.Bytes(), "Cookie", cookie, "Content-Type", mw.FormDataContentType()); r.Code != 201 {
		t.Fatalf("multipart with csrf_token field: %d %s", r.Code, r.Body)
	}
	// GET needs no token; bearer requests are exempt.
	if r := e.do("GET", "/api/v1/me", "", nil, "Cookie", cookie); r.Code != 200 {
		t.Fatalf("GET with cookie: %d", r.Code)
	}
	if r := e.do("POST", "/api/v1/flows/req/tickets", e.userToken, body, "Cookie", cookie); r.Code != 201 {
		t.Fatalf("bearer with a cookie too: %d %s", r.Code, r.Body)
	}
	// Logout ends the session and clears the cookie.
	r = e.do("POST", "/api/v1/logout", "", nil, "Cookie", cookie, "X-CSRF-Token", csrf)
	if r.Code != 204 || !strings.Contains(r.Header().Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("logout: %d %v", r.Code, r.Header())
	}
	if r := e.do("GET", "/api/v1/me", "", nil, "Cookie", cookie); r.Code != 401 {
		t.Fatalf("session after logout: %d", r.Code)
	}
}

func TestSecureCookieBehindHTTPSProxy(t *testing.T) {
	e := newEnv(t)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/login", nil)
	req.Header.Set("X-Forwarded-Proto", "https")
	if err := e.srv.Auth().StartSession(rec, req, e.user); err != nil {
		t.Fatal(err)
	}
	if c := rec.Result().Cookies(); len(c) != 1 || !c[0].Secure {
		t.Fatalf("cookie over https: %+v", c)
	}
}

func TestErrorShapeAndDecoding(t *testing.T) {
	e := newEnv(t)
	e.eng.fileTicket = func(ctx context.Context, a *flow.Actor, ref string, fields map[string]any) (*flow.Filed, error) {
		switch ref {
		case "invalid":
			return nil, &flow.InputError{Kind: flow.ErrInvalid, Code: "required", Field: "FORMITM_2", Message: "FORMITM_2 is required",
				Details: []flow.FieldProblem{{Field: "FORMITM_2", Code: "required", Message: "is required"}}}
		case "forbidden":
			return nil, &flow.InputError{Kind: flow.ErrForbidden, Message: "you may not file tickets in this flow"}
		case "conflict":
			return nil, &flow.InputError{Kind: flow.ErrConflict, Message: "changed"}
		case "boom":
			return nil, errors.New("database exploded at 0xdeadbeef")
		case "panic":
			panic("secret internal state")
		}
		return nil, nf()
	}
	cases := []struct {
		ref, body    string
		status       int
		code, field  string
		msgContains  string
		msgNotContai string
	}{
		{"req", `{"fields":{},"nope":1}`, 400, "bad_request", "nope", "nope", ""},
		{"req", `{"fields":"x"}`, 400, "bad_request", "fields", "object", ""},
		{"req", `{"fields":{}`, 400, "bad_request", "", "JSON", ""},
		{"req", `[1]`, 400, "bad_request", "", "object", ""},
		{"req", ``, 400, "bad_request", "", "empty", ""},
		{"req", `{"fields":{}} {}`, 400, "bad_request", "", "more data", ""},
		{"req", `{"fields":{"a":1},}`, 400, "bad_request", "", "byte", ""},
		{"invalid", `{"fields":{}}`, 422, "required", "FORMITM_2", "required", ""},
		{"forbidden", `{}`, 403, "forbidden", "", "may not", ""},
		{"conflict", `{}`, 409, "conflict", "", "changed", ""},
		{"missing", `{}`, 404, "not_found", "", "no such", ""},
		{"boom", `{}`, 500, "internal", "", "internal error", "deadbeef"},
		{"panic", `{}`, 500, "internal", "", "internal error", "secret"},
	}
	for _, c := range cases {
		r := e.do("POST", "/api/v1/flows/"+c.ref+"/tickets", e.userToken, c.body)
		code, msg, field := r.errBody()
		if r.Code != c.status || code != c.code || field != c.field || !strings.Contains(msg, c.msgContains) ||
			(c.msgNotContai != "" && strings.Contains(r.Body.String(), c.msgNotContai)) {
			t.Errorf("%s %q: %d %s", c.ref, c.body, r.Code, r.Body)
		}
		if strings.Contains(r.Body.String(), "goroutine") {
			t.Errorf("%s: stack trace in the response", c.ref)
		}
	}
	if !strings.Contains(e.logs.String(), "secret internal state") {
		t.Error("the panic was not logged")
	}
	// Details of an invalid request are passed on.
	r := e.do("POST", "/api/v1/flows/invalid/tickets", e.userToken, `{"fields":{}}`)
	if d, _ := r.json()["error"].(map[string]any)["details"].([]any); len(d) != 1 {
		t.Errorf("details: %s", r.Body)
	}
	// A body over the limit.
	big := `{"fields":{"a":"` + strings.Repeat("x", maxJSONBytes) + `"}}`
	if r := e.do("POST", "/api/v1/flows/req/tickets", e.userToken, big); r.Code != 413 {
		t.Errorf("huge body: %d", r.Code)
	}
	// Unknown routes and methods answer in JSON.
	r = e.do("GET", "/api/v1/nothing", e.userToken, nil)
	if code, _, _ := r.errBody(); r.Code != 404 || code != "not_found" {
		t.Errorf("unknown route: %d %s", r.Code, r.Body)
	}
	r = e.do("GET", "/api/v1/login", "", nil)
	if code, _, _ := r.errBody(); r.Code != 405 || code != "method_not_allowed" || r.Header().Get("Allow") != "POST" {
		t.Errorf("wrong method: %d %s %v", r.Code, r.Body, r.Header())
	}
	r = e.do("GET", "/api/v1/tickets/abc", e.userToken, nil)
	if _, _, f := r.errBody(); r.Code != 400 || f != "id" {
		t.Errorf("bad id: %d %s", r.Code, r.Body)
	}
	r = e.do("GET", "/api/v1/tickets?closed=maybe", e.userToken, nil)
	if _, _, f := r.errBody(); r.Code != 400 || f != "closed" {
		t.Errorf("bad closed: %d %s", r.Code, r.Body)
	}
	r = e.do("GET", "/api/v1/tickets?per_page=1000", e.userToken, nil)
	if _, _, f := r.errBody(); r.Code != 400 || f != "per_page" {
		t.Errorf("bad per_page: %d %s", r.Code, r.Body)
	}
}

func TestFlowsTicketsTasksAndMetrics(t *testing.T) {
	e := newEnv(t)
	e.eng.flows = func(ctx context.Context, a *flow.Actor) ([]flow.FlowInfo, error) {
		if a.Username != "taro" || a.Name != "山田太郎" || a.Roles[0] != "user" {
			t.Errorf("actor %+v", a)
		}
		return []flow.FlowInfo{{ID: 1, Name: "申請", App: "IT", Version: 2, APIPath: "req"}}, nil
	}
	r := e.do("GET", "/api/v1/flows", e.userToken, nil)
	var fl []map[string]any
	_ = json.Unmarshal(r.Body.Bytes(), &fl)
	if r.Code != 200 || len(fl) != 1 || fl[0]["api_path"] != "req" || fl[0]["app"] != "IT" {
		t.Fatalf("flows: %d %s", r.Code, r.Body)
	}
	e.eng.fileTicket = func(ctx context.Context, a *flow.Actor, ref string, fields map[string]any) (*flow.Filed, error) {
		if ref != "req" || fields["FORMITM_1"] != "PC" {
			t.Errorf("file %q %v", ref, fields)
		}
		return &flow.Filed{ID: 7, No: "REQ-7", Status: "open"}, nil
	}
	r = e.do("POST", "/api/v1/flows/req/tickets", e.userToken, map[string]any{"fields": map[string]any{"FORMITM_1": "PC"}})
	if m := r.json(); r.Code != 201 || m["id"] != float64(7) || m["no"] != "REQ-7" || m["closed"] != false {
		t.Fatalf("file: %d %s", r.Code, r.Body)
	}
	e.eng.tickets = func(ctx context.Context, a *flow.Actor, f flow.TicketFilter) (*flow.TicketPage, error) {
		if f.Flow != "req" || f.Closed == nil || *f.Closed || f.Query != "PC" || f.Page != 2 || f.PerPage != 10 {
			t.Errorf("filter %+v", f)
		}
		return &flow.TicketPage{Items: []flow.TicketSummary{{ID: 7}}, Total: 11, Page: 2, PerPage: 10}, nil
	}
	if r := e.do("GET", "/api/v1/tickets?flow=req&closed=false&q=PC&page=2&per_page=10", e.userToken, nil); r.Code != 200 || r.json()["total"] != float64(11) {
		t.Fatalf("tickets: %d %s", r.Code, r.Body)
	}
	e.eng.tasks = func(ctx context.Context, a *flow.Actor, all bool) ([]flow.TaskView, error) {
		return []flow.TaskView{{ID: 3, TicketID: 7, Actions: []flow.TaskAction{{ID: "action1", Text: "完成"}}}}, nil
	}
	if r := e.do("GET", "/api/v1/tasks", e.userToken, nil); r.Code != 200 || !strings.Contains(r.Body.String(), "完成") {
		t.Fatalf("tasks: %d %s", r.Code, r.Body)
	}
	if r := e.do("GET", "/api/v1/tasks?all=1", e.adminToken, nil); r.Code != 200 {
		t.Fatalf("all tasks as admin: %d", r.Code)
	}
	e.eng.completeTask = func(ctx context.Context, a *flow.Actor, id int64, fields map[string]any, action string) error {
		if id != 3 || action != "action1" {
			t.Errorf("complete %d %q", id, action)
		}
		return &flow.InputError{Kind: flow.ErrConflict, Code: "task_done", Message: "someone else completed this task"}
	}
	if r := e.do("POST", "/api/v1/tasks/3/complete", e.userToken, map[string]any{"fields": map[string]any{}, "action": "action1"}); r.Code != 409 {
		t.Fatalf("complete conflict: %d %s", r.Code, r.Body)
	}
	if r := e.do("POST", "/api/v1/tasks/3/complete", e.userToken, map[string]any{"action": "action9"}); r.Code != 400 {
		t.Fatalf("bad action: %d %s", r.Code, r.Body)
	}
	e.eng.importApp = func(ctx context.Context, a *flow.Actor, data []byte) (*flow.ImportResult, error) {
		if !a.Admin || string(data) != `{"app":{}}` {
			t.Errorf("import %v %s", a.Admin, data)
		}
		return &flow.ImportResult{App: flow.ImportedApp{ID: 1, Name: "IT"}, Flows: []flow.ImportedFlow{{ID: 1, Name: "申請", Version: 1, APIPath: "req"}}}, nil
	}
	if r := e.do("POST", "/api/v1/apps/import", e.adminToken, `{"app":{}}`); r.Code != 201 || r.json()["app"].(map[string]any)["name"] != "IT" {
		t.Fatalf("import: %d %s", r.Code, r.Body)
	}
	e.eng.exportApp = func(ctx context.Context, a *flow.Actor, id int64) ([]byte, error) { return []byte(`{"app":{}}`), nil }
	if r := e.do("GET", "/api/v1/apps/1/export", e.adminToken, nil); r.Code != 200 || !strings.HasPrefix(r.Header().Get("Content-Disposition"), "attachment") {
		t.Fatalf("export: %d %v", r.Code, r.Header())
	}
	e.eng.setFlowEnabled = func(ctx context.Context, a *flow.Actor, id int64, on bool) error {
		if id != 1 || on {
			t.Errorf("enable %d %v", id, on)
		}
		return nil
	}
	if r := e.do("POST", "/api/v1/flows/1/disable", e.adminToken, nil); r.Code != 200 || r.json()["enabled"] != false {
		t.Fatalf("disable: %d %s", r.Code, r.Body)
	}

	e.srv.Metrics().ObserveStep("form", 3*time.Millisecond)
	if err := e.db.EnqueueJobs(context.Background(), &store.Job{Kind: "step", TicketID: 7}); err != nil {
		t.Fatal(err)
	}
	m := e.do("GET", "/metrics", "", nil).Body.String()
	for _, want := range []string{
		`omflow_tickets_filed_total 1`,
		`omflow_http_requests_total{code="201",route="POST /api/v1/flows/{ref}/tickets"} 1`,
		`omflow_http_request_duration_seconds_count{route="GET /api/v1/flows"} 1`,
		`omflow_jobs{state="ready"} 1`,
		`omflow_step_duration_seconds_count{kind="form"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if !strings.Contains(e.logs.String(), "route=\"POST /api/v1/flows/{ref}/tickets\" path=/api/v1/flows/req/tickets status=201") ||
		!strings.Contains(e.logs.String(), "user=taro") {
		t.Errorf("request log lacks route/status/user:\n%s", e.logs.String())
	}
}

func TestSettingsValidationStoresNothing(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/api/v1/settings", e.adminToken, nil)
	if m := r.json(); r.Code != 200 || m["login_max_failures"] != float64(5) || m["default_lang"] != "ja" || m["session_timeout_minutes"] != float64(480) {
		t.Fatalf("defaults: %s", r.Body)
	}
	if r := e.do("PUT", "/api/v1/settings", e.adminToken, map[string]any{"login_max_failures": "7", "log_level": "debug"}); r.Code != 200 || r.json()["login_max_failures"] != float64(7) {
		t.Fatalf("put: %d %s", r.Code, r.Body)
	}
	for _, c := range []struct {
		body  string
		field string
	}{
		{`{"log_level":"warn","session_timeout_minutes":"abc"}`, "session_timeout_minutes"},
		{`{"log_level":"warn","session_timeout_minutes":1.5}`, "session_timeout_minutes"},
		{`{"log_level":"warn","login_max_failures":0}`, "login_max_failures"},
		{`{"log_level":"warn","bogus":1}`, "bogus"},
		{`{"default_lang":"fr","log_level":"warn"}`, "default_lang"},
		{`{"log_level":5}`, "log_level"},
	} {
		r := e.do("PUT", "/api/v1/settings", e.adminToken, c.body)
		if _, _, f := r.errBody(); r.Code != 400 || f != c.field {
			t.Errorf("%s: %d %s", c.body, r.Code, r.Body)
		}
	}
	vals, err := e.db.Settings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if vals["log_level"] != "debug" || vals["login_max_failures"] != "7" || vals["default_lang"] != "ja" || vals["session_timeout_minutes"] != "480" {
		t.Fatalf("a refused request changed settings: %v", vals)
	}
}

func upload(t *testing.T, name string, data []byte, extra map[string]string) ([]byte, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range extra {
		_ = mw.WriteField(k, v)
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="`+name+`"`)
	h.Set("Content-Type", "text/html")
	fw, err := mw.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(data)
	_ = mw.Close()
	return buf.Bytes(), mw.FormDataContentType()
}

func TestAttachments(t *testing.T) {
	e := newEnv(t)
	other := &store.User{Username: "hanako"}
	if err := e.db.CreateUser(context.Background(), other, "other-password"); err != nil {
		t.Fatal(err)
	}
	otherTok := e.login("hanako", "other-password")
	// Ticket 5 is readable by taro only.
	e.eng.ticket = func(ctx context.Context, a *flow.Actor, id int64) (*flow.TicketView, error) {
		if id == 5 && a.Username == "taro" {
			return &flow.TicketView{ID: 5}, nil
		}
		return nil, &flow.InputError{Kind: flow.ErrForbidden, Message: "not yours"}
	}

	body, ct := upload(t, "../../etc/passwd", []byte("<script>alert(1)</script>"), map[string]string{"ticket_id": "5", "field_id": "FORMITM_4"})
	r := e.do("POST", "/api/v1/attachments", e.userToken, body, "Content-Type", ct)
	if r.Code != 201 {
		t.Fatalf("upload: %d %s", r.Code, r.Body)
	}
	m := r.json()
	if m["name"] != "passwd" || m["size"] != float64(25) || m["ticket_id"] != float64(5) || m["field_id"] != "FORMITM_4" {
		t.Fatalf("upload answer %s", r.Body)
	}
	id := itoa(int64(m["id"].(float64)))

	r = e.do("GET", "/api/v1/attachments/"+id, e.userToken, nil)
	if r.Code != 200 || r.Body.String() != "<script>alert(1)</script>" {
		t.Fatalf("download: %d %s", r.Code, r.Body)
	}
	if cd := r.Header().Get("Content-Disposition"); cd != `attachment; filename=passwd` {
		t.Errorf("Content-Disposition %q", cd)
	}
	if r.Header().Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(r.Header().Get("Content-Security-Policy"), "sandbox") {
		t.Errorf("download headers %v", r.Header())
	}
	// Another user who cannot read ticket 5: refused. The admin: allowed.
	if r := e.do("GET", "/api/v1/attachments/"+id, otherTok, nil); r.Code != 403 {
		t.Errorf("other user: %d %s", r.Code, r.Body)
	}
	if r := e.do("GET", "/api/v1/attachments/"+id, e.adminToken, nil); r.Code != 200 {
		t.Errorf("admin: %d", r.Code)
	}
	if r := e.do("GET", "/api/v1/attachments/999", e.adminToken, nil); r.Code != 404 {
		t.Errorf("missing: %d", r.Code)
	}
	// Uploading to a ticket the caller cannot read is refused.
	body, ct = upload(t, "a.txt", []byte("x"), map[string]string{"ticket_id": "5"})
	if r := e.do("POST", "/api/v1/attachments", otherTok, body, "Content-Type", ct); r.Code != 403 {
		t.Errorf("upload to another's ticket: %d %s", r.Code, r.Body)
	}
	// Unlinked uploads: only the uploader (and admins) may read them.
	body, ct = upload(t, `C:\Users\x\見積.txt`, []byte("draft"), nil)
	r = e.do("POST", "/api/v1/attachments", otherTok, body, "Content-Type", ct)
	if r.Code != 201 || r.json()["name"] != "見積.txt" {
		t.Fatalf("unlinked upload: %d %s", r.Code, r.Body)
	}
	id2 := itoa(int64(r.json()["id"].(float64)))
	if r := e.do("GET", "/api/v1/attachments/"+id2, e.userToken, nil); r.Code != 403 {
		t.Errorf("someone else's draft: %d", r.Code)
	}
	r = e.do("GET", "/api/v1/attachments/"+id2, otherTok, nil)
	if r.Code != 200 || !strings.Contains(r.Header().Get("Content-Disposition"), "filename*=utf-8''%E8%A6%8B%E7%A9%8D.txt") {
		t.Errorf("own draft: %d %v", r.Code, r.Header())
	}
	// Too large: 413 with a message, both just over the limit and far over.
	for _, n := range []int{1001, 5 << 20} {
		body, ct = upload(t, "big.bin", bytes.Repeat([]byte("a"), n), nil)
		r = e.do("POST", "/api/v1/attachments", e.userToken, body, "Content-Type", ct)
		if code, msg, _ := r.errBody(); r.Code != 413 || code != "too_large" || !strings.Contains(msg, "1000 bytes") {
			t.Errorf("%d bytes: %d %s", n, r.Code, r.Body)
		}
	}
	// Not multipart.
	if r := e.do("POST", "/api/v1/attachments", e.userToken, "{}"); r.Code != 400 {
		t.Errorf("json upload: %d", r.Code)
	}
	r = e.do("GET", "/api/v1/tickets/5/attachments", e.userToken, nil)
	var list []map[string]any
	_ = json.Unmarshal(r.Body.Bytes(), &list)
	if r.Code != 200 || len(list) != 1 || list[0]["name"] != "passwd" {
		t.Errorf("ticket attachments: %d %s", r.Code, r.Body)
	}
}

func TestUsersAndGroupsCRUD(t *testing.T) {
	e := newEnv(t)
	tok := e.adminToken
	r := e.do("POST", "/api/v1/users", tok, map[string]any{"username": "jiro", "password": "jiro-password", "display_name": "次郎", "lang": "en", "timezone": "Asia/Tokyo"})
	if r.Code != 201 || r.json()["username"] != "jiro" || r.json()["timezone"] != "Asia/Tokyo" || r.Header().Get("Location") == "" {
		t.Fatalf("create user: %d %s", r.Code, r.Body)
	}
	if strings.Contains(r.Body.String(), "argon2") || strings.Contains(r.Body.String(), "password") {
		t.Fatalf("user JSON leaks the password hash: %s", r.Body)
	}
	uid := itoa(int64(r.json()["id"].(float64)))
	for _, c := range []struct {
		body   any
		status int
		field  string
	}{
		{map[string]any{"username": "jiro", "password": "jiro-password"}, 409, "username"},
		{map[string]any{"username": "new", "password": "short"}, 422, "password"},
		{map[string]any{"username": "bad name", "password": "long-enough"}, 422, "username"},
		{map[string]any{"username": "new", "password": "long-enough", "timezone": "Mars/Olympus"}, 422, "timezone"},
		{map[string]any{"username": "new", "password": "long-enough", "lang": "fr"}, 422, "lang"},
		{map[string]any{"username": "new", "password": "long-enough", "role": "x"}, 400, "role"},
		{map[string]any{"username": "new", "password": "long-enough", "display_name": strings.Repeat("長", 192)}, 422, "display_name"},
	} {
		r := e.do("POST", "/api/v1/users", tok, c.body)
		if _, _, f := r.errBody(); r.Code != c.status || f != c.field {
			t.Errorf("create %v: %d %s", c.body, r.Code, r.Body)
		}
	}
	r = e.do("PATCH", "/api/v1/users/"+uid, tok, map[string]any{"email": "jiro@example.com", "display_name": nil})
	if r.Code != 200 || r.json()["email"] != "jiro@example.com" || r.json()["display_name"] != "" || r.json()["lang"] != "en" {
		t.Fatalf("patch: %d %s", r.Code, r.Body)
	}
	if r := e.do("PATCH", "/api/v1/users/"+uid, tok, map[string]any{"admin": "yes"}); r.Code != 400 {
		t.Fatalf("patch admin=\"yes\": %d %s", r.Code, r.Body)
	} else if _, _, f := r.errBody(); f != "admin" {
		t.Fatalf("patch admin=\"yes\" names %q", f)
	}
	if r := e.do("PATCH", "/api/v1/users/999", tok, map[string]any{"email": ""}); r.Code != 404 {
		t.Fatalf("patch missing: %d %s", r.Code, r.Body)
	}
	// Password: admin reset ends the user's tokens; the user's own change needs the current one.
	jiroTok := e.login("jiro", "jiro-password")
	if r := e.do("POST", "/api/v1/users/"+uid+"/password", tok, map[string]any{"password": "reset-password"}); r.Code != 204 {
		t.Fatalf("reset: %d %s", r.Code, r.Body)
	}
	if r := e.do("GET", "/api/v1/me", jiroTok, nil); r.Code != 401 {
		t.Fatalf("token survived a reset: %d", r.Code)
	}
	jiroTok = e.login("jiro", "reset-password")
	if r := e.do("POST", "/api/v1/me/password", jiroTok, map[string]any{"current_password": "wrong-one", "new_password": "mine-password"}); r.Code != 422 {
		t.Fatalf("wrong current: %d %s", r.Code, r.Body)
	}
	if r := e.do("POST", "/api/v1/me/password", jiroTok, map[string]any{"current_password": "reset-password", "new_password": "short"}); r.Code != 422 {
		t.Fatalf("short new: %d %s", r.Code, r.Body)
	} else if _, _, f := r.errBody(); f != "new_password" {
		t.Fatalf("short new names %q", f)
	}
	if r := e.do("POST", "/api/v1/me/password", jiroTok, map[string]any{"current_password": "reset-password", "new_password": "mine-password"}); r.Code != 204 {
		t.Fatalf("change own: %d %s", r.Code, r.Body)
	}
	if r := e.do("GET", "/api/v1/me", jiroTok, nil); r.Code != 200 {
		t.Fatalf("the token used for the change must survive: %d", r.Code)
	}
	e.login("jiro", "mine-password")

	// Groups.
	r = e.do("POST", "/api/v1/groups", tok, map[string]any{"name": "情報システム部"})
	if r.Code != 201 {
		t.Fatalf("create group: %d %s", r.Code, r.Body)
	}
	parent := itoa(int64(r.json()["id"].(float64)))
	r = e.do("POST", "/api/v1/groups", tok, map[string]any{"name": "helpdesk", "parent_id": r.json()["id"]})
	if r.Code != 201 || r.json()["parent_id"] == nil {
		t.Fatalf("create child: %d %s", r.Code, r.Body)
	}
	gid := itoa(int64(r.json()["id"].(float64)))
	if r := e.do("POST", "/api/v1/groups", tok, map[string]any{"name": "helpdesk"}); r.Code != 409 {
		t.Fatalf("duplicate group: %d", r.Code)
	}
	if r := e.do("PATCH", "/api/v1/groups/"+parent, tok, map[string]any{"parent_id": json.Number(gid)}); r.Code != 422 {
		t.Fatalf("cycle: %d %s", r.Code, r.Body)
	}
	if r := e.do("POST", "/api/v1/groups/"+gid+"/members/"+uid, tok, nil); r.Code != 204 {
		t.Fatalf("add member: %d %s", r.Code, r.Body)
	}
	if r := e.do("POST", "/api/v1/groups/"+gid+"/members/999", tok, nil); r.Code != 404 {
		t.Fatalf("add missing user: %d %s", r.Code, r.Body)
	}
	r = e.do("GET", "/api/v1/groups/"+gid, tok, nil)
	if ms, _ := r.json()["members"].([]any); r.Code != 200 || len(ms) != 1 {
		t.Fatalf("group: %d %s", r.Code, r.Body)
	}
	// The member's actor now has the group, at once on this server.
	r = e.do("GET", "/api/v1/me", e.login("jiro", "mine-password"), nil)
	if gs, _ := r.json()["groups"].([]any); len(gs) != 1 {
		t.Fatalf("me.groups: %s", r.Body)
	}
	r = e.do("PATCH", "/api/v1/groups/"+gid, tok, map[string]any{"name": "service-desk", "parent_id": nil})
	if r.Code != 200 || r.json()["name"] != "service-desk" || r.json()["parent_id"] != nil {
		t.Fatalf("rename/unparent: %d %s", r.Code, r.Body)
	}
	r = e.do("GET", "/api/v1/groups", e.userToken, nil)
	var gs []map[string]any
	_ = json.Unmarshal(r.Body.Bytes(), &gs)
	if r.Code != 200 || len(gs) != 2 {
		t.Fatalf("groups as user: %d %s", r.Code, r.Body)
	}
	if r := e.do("DELETE", "/api/v1/groups/"+gid+"/members/"+uid, tok, nil); r.Code != 204 {
		t.Fatalf("remove member: %d", r.Code)
	}
	if r := e.do("DELETE", "/api/v1/groups/"+gid+"/members/"+uid, tok, nil); r.Code != 404 {
		t.Fatalf("remove again: %d", r.Code)
	}
	if r := e.do("DELETE", "/api/v1/groups/"+gid, tok, nil); r.Code != 204 {
		t.Fatalf("delete group: %d", r.Code)
	}
	if r := e.do("GET", "/api/v1/groups/"+gid, tok, nil); r.Code != 404 {
		t.Fatalf("deleted group: %d", r.Code)
	}
	r = e.do("GET", "/api/v1/users", tok, nil)
	var us []map[string]any
	_ = json.Unmarshal(r.Body.Bytes(), &us)
	if r.Code != 200 || len(us) != 3 {
		t.Fatalf("users: %d %s", r.Code, r.Body)
	}
}

func TestStartStopGraceful(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	started := make(chan struct{})
	e.eng.flows = func(ctx context.Context, a *flow.Actor) ([]flow.FlowInfo, error) {
		close(started)
		<-release
		return nil, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := e.srv.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	url := "http://" + e.srv.Addr().String()
	done := make(chan int)
	go func() {
		req, _ := http.NewRequest("GET", url+"/api/v1/flows", nil)
		req.Header.Set("Authorization", "Bearer "+e.userToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			done <- 0
			return
		}
		res.Body.Close()
		done <- res.StatusCode
	}()
	<-started
	stopped := make(chan struct{})
	go func() { e.srv.Stop(); close(stopped) }()
	time.Sleep(50 * time.Millisecond)
	select {
	case <-stopped:
		t.Fatal("Stop returned with a request in flight")
	default:
	}
	close(release)
	if code := <-done; code != 200 {
		t.Fatalf("request in flight got %d", code)
	}
	<-stopped
	e.srv.Stop() // harmless
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Fatal("still serving after Stop")
	}
}
