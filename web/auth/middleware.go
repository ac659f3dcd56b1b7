package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/omflow/omflow/flow"
	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/web/internal/httpjson"
)

// Identity is who made a request and how they proved it. Exactly one of
// Session and Token is set. Treat it as read-only: it may be shared by
// concurrent requests.
type Identity struct {
	User    *store.User
	Actor   *flow.Actor
	Session *store.Session  // browser session (cookie)
	Token   *store.APIToken // bearer token
}

type identityKey struct{}

// WithIdentity returns ctx carrying id (tests and internal callers).
func WithIdentity(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the caller's identity, or nil when not logged in.
func IdentityFrom(ctx context.Context) *Identity {
	id, _ := ctx.Value(identityKey{}).(*Identity)
	return id
}

// ActorFrom returns the logged-in caller as the engine sees them, or nil.
func ActorFrom(ctx context.Context) *flow.Actor {
	if id := IdentityFrom(ctx); id != nil {
		return id.Actor
	}
	return nil
}

// UserFrom returns the logged-in user, or nil.
func UserFrom(ctx context.Context) *store.User {
	if id := IdentityFrom(ctx); id != nil {
		return id.User
	}
	return nil
}

// CSRFToken returns the CSRF token of the caller's browser session ("" for
// bearer tokens and anonymous callers). Pages put it in a hidden form field
// named csrf_token or send it in the X-CSRF-Token header.
func CSRFToken(ctx context.Context) string {
	if id := IdentityFrom(ctx); id != nil && id.Session != nil {
		return id.Session.CSRFToken
	}
	return ""
}

// Actor is ActorFrom as a method, for callers that take Auth as an
// interface.
func (a *Auth) Actor(ctx context.Context) *flow.Actor { return ActorFrom(ctx) }

// CSRFToken is the package function CSRFToken as a method.
func (a *Auth) CSRFToken(ctx context.Context) string { return CSRFToken(ctx) }

type cacheEntry struct {
	id     *Identity
	loaded time.Time
}

const maxCache = 10000

func (a *Auth) cached(key string) *Identity {
	if a.opts.CacheTTL < 0 {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.cache[key]
	if !ok || time.Since(e.loaded) > a.opts.CacheTTL {
		return nil
	}
	return e.id
}

func (a *Auth) remember(key string, id *Identity) {
	if a.opts.CacheTTL < 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.cache) >= maxCache {
		clear(a.cache)
	}
	a.cache[key] = cacheEntry{id: id, loaded: time.Now()}
}

func (a *Auth) forget(key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.cache, key)
}

// Forget drops every cached identity, so that a change to users, groups or
// roles takes effect on this server's next request.
func (a *Auth) Forget() {
	a.mu.Lock()
	defer a.mu.Unlock()
	clear(a.cache)
}

// errNoLogin means the token or session is unknown, expired or belongs to a
// disabled user.
var errNoLogin = errors.New("not logged in")

func (a *Auth) identify(ctx context.Context, key string, load func() (*store.User, *store.Session, *store.APIToken, error)) (*Identity, error) {
	if id := a.cached(key); id != nil {
		return id, nil
	}
	u, s, t, err := load()
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoLogin
	}
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, errNoLogin
	}
	act, err := ActorFor(ctx, a.db, u)
	if err != nil {
		return nil, err
	}
	id := &Identity{User: u, Actor: act, Session: s, Token: t}
	a.remember(key, id)
	return id, nil
}

// FromToken identifies a bearer token.
func (a *Auth) FromToken(ctx context.Context, plain string) (*Identity, error) {
	id, err := a.identify(ctx, "t:"+store.HashToken(plain), func() (*store.User, *store.Session, *store.APIToken, error) {
		t, err := a.db.APITokenByToken(ctx, plain)
		if err != nil {
			return nil, nil, nil, err
		}
		u, err := a.db.UserByID(ctx, t.UserID)
		return u, nil, t, err
	})
	if err != nil {
		return nil, err
	}
	if err := a.db.TouchAPIToken(ctx, copyToken(id.Token)); err != nil {
		a.log.Warn("record token use", "err", err)
	}
	return id, nil
}

// FromSession identifies a session cookie value and slides its expiry.
func (a *Auth) FromSession(ctx context.Context, cookie string) (*Identity, error) {
	id, err := a.identify(ctx, "s:"+store.HashToken(cookie), func() (*store.User, *store.Session, *store.APIToken, error) {
		s, err := a.db.SessionByToken(ctx, cookie)
		if err != nil {
			return nil, nil, nil, err
		}
		u, err := a.db.UserByID(ctx, s.UserID)
		return u, s, nil, err
	})
	if err != nil {
		return nil, err
	}
	if a.db.Now().Sub(id.Session.LastSeenAt) >= time.Minute {
		ttl, err := a.SessionTTL(ctx)
		if err == nil {
			s := *id.Session
			_, err = a.db.TouchSession(ctx, &s, ttl)
		}
		if err != nil {
			a.log.Warn("record session use", "err", err)
		}
	}
	return id, nil
}

func copyToken(t *store.APIToken) *store.APIToken {
	c := *t
	return &c
}

// Middleware identifies the caller of every request and stores the
// Identity in the request context:
//   - "Authorization: Bearer <token>": an API token. A malformed header or an
//     unknown, revoked or expired token is answered 401 at once.
//   - else the session cookie: a live session identifies the user; an
//     unknown or expired one leaves the request anonymous. Unsafe methods
//     (anything but GET, HEAD, OPTIONS, TRACE) on a session must carry the
//     session's CSRF token in the X-CSRF-Token header or the csrf_token form
//     field, or are refused with 403.
//   - else the request is anonymous; handlers that need a login use
//     RequireLogin or check ActorFrom.
func (a *Auth) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if h := r.Header.Get("Authorization"); h != "" {
			scheme, tok, ok := strings.Cut(h, " ")
			tok = strings.TrimSpace(tok)
			if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
				unauthorized(w, "invalid_token", `the Authorization header must be "Bearer <token>"`)
				return
			}
			id, err := a.FromToken(ctx, tok)
			if errors.Is(err, errNoLogin) {
				unauthorized(w, "invalid_token", "the token is unknown, revoked or expired: log in again")
				return
			}
			if err != nil {
				a.internal(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(WithIdentity(ctx, id)))
			return
		}
		c, err := r.Cookie(CookieName)
		if err != nil || c.Value == "" {
			next.ServeHTTP(w, r)
			return
		}
		id, err := a.FromSession(ctx, c.Value)
		if errors.Is(err, errNoLogin) {
			next.ServeHTTP(w, r)
			return
		}
		if err != nil {
			a.internal(w, r, err)
			return
		}
		if !safeMethod(r.Method) {
			if status, code, msg := a.checkCSRF(w, r, id.Session.CSRFToken); status != 0 {
				httpjson.Fail(w, status, code, msg, CSRFField)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(WithIdentity(ctx, id)))
	})
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions || m == http.MethodTrace
}

// checkCSRF compares the header or form field with want. For a form body it
// parses the form (bounded by MaxFormBytes); the handler then reads the
// parsed form.
func (a *Auth) checkCSRF(w http.ResponseWriter, r *http.Request, want string) (int, string, string) {
	got := r.Header.Get(CSRFHeader)
	if got == "" {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt == "application/x-www-form-urlencoded" || mt == "multipart/form-data" {
			r.Body = http.MaxBytesReader(w, r.Body, a.opts.MaxFormBytes)
			var err error
			if mt == "multipart/form-data" {
				err = r.ParseMultipartForm(a.opts.MaxFormBytes)
			} else {
				err = r.ParseForm()
			}
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return http.StatusRequestEntityTooLarge, "too_large", "the request body is larger than the limit of " + strconv.FormatInt(tooBig.Limit, 10) + " bytes"
			}
			if err != nil {
				return http.StatusBadRequest, "bad_form", "the form cannot be read: " + err.Error()
			}
			got = r.PostFormValue(CSRFField)
		}
	}
	if got == "" {
		return http.StatusForbidden, "csrf", "the CSRF token is missing: send the X-CSRF-Token header or the csrf_token form field"
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return http.StatusForbidden, "csrf", "the CSRF token does not match this session: reload the page"
	}
	return 0, "", ""
}

func unauthorized(w http.ResponseWriter, code, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="omflow"`)
	httpjson.Fail(w, http.StatusUnauthorized, code, msg, "")
}

func (a *Auth) internal(w http.ResponseWriter, r *http.Request, err error) {
	a.log.Error("identify caller", "path", r.URL.Path, "err", err)
	httpjson.Fail(w, http.StatusInternalServerError, "internal", "internal error: see the server log", "")
}

// DenyFunc answers a request that Require refused, with status 401 (not
// logged in) or 403 (not an administrator).
type DenyFunc func(w http.ResponseWriter, r *http.Request, status int)

// DenyJSON answers with the API's JSON error.
func DenyJSON(w http.ResponseWriter, r *http.Request, status int) {
	if status == http.StatusUnauthorized {
		unauthorized(w, "unauthorized", "log in first: send Authorization: Bearer <token> or use a browser session")
		return
	}
	httpjson.Fail(w, http.StatusForbidden, "forbidden", "only an administrator may do this", "")
}

// Require returns middleware that lets a request through only when the
// caller is logged in (and an administrator when admin is set); others are
// answered by deny. Pages pass a deny that redirects to the login page.
func Require(admin bool, deny DenyFunc) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			act := ActorFrom(r.Context())
			switch {
			case act == nil:
				deny(w, r, http.StatusUnauthorized)
			case admin && !act.Admin:
				deny(w, r, http.StatusForbidden)
			default:
				next.ServeHTTP(w, r)
			}
		})
	}
}

// RequireLogin lets only logged-in callers through; others get a 401 JSON
// error.
func RequireLogin(next http.Handler) http.Handler { return Require(false, DenyJSON)(next) }

// RequireAdmin lets only administrators through; others get a 401 or 403
// JSON error.
func RequireAdmin(next http.Handler) http.Handler { return Require(true, DenyJSON)(next) }
