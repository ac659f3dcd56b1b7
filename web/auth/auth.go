// Package auth logs people in and says who is asking: password logins with
// per-account lock-out and per-address rate limiting, browser sessions (an
// HttpOnly cookie plus a CSRF token) and bearer tokens, all kept in the
// database so that any server of a cluster serves any user. Its middleware
// puts the caller's identity in the request context, where handlers read it
// with ActorFrom, UserFrom and CSRFToken.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/omflow/omflow/flow"
	"github.com/omflow/omflow/store"
)

// CookieName is the session cookie.
const CookieName = "omflow_session"

// CSRFHeader and CSRFField carry the CSRF token of a cookie session on
// unsafe requests (POST, PUT, PATCH, DELETE).
const (
	CSRFHeader = "X-CSRF-Token"
	CSRFField  = "csrf_token"
)

// ErrBadCredentials is returned for an unknown user or a wrong password.
var ErrBadCredentials = errors.New("wrong username or password")

// ErrDisabled is returned when the password is right but the account has
// been disabled by an administrator.
var ErrDisabled = errors.New("account is disabled")

// LockedError is returned while an account is locked after too many failed
// logins.
type LockedError struct {
	Until time.Time
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("account is locked until %s after too many failed logins", e.Until.UTC().Format(time.RFC3339))
}

// RateLimitedError is returned when an address has failed to log in too
// often; it may try again after RetryAfter.
type RateLimitedError struct {
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("too many failed logins from this address: try again in %s", e.RetryAfter.Round(time.Second))
}

// Options configures Auth. Zero values pick the defaults.
type Options struct {
	Logger *slog.Logger
	// Now is the clock for lock-outs and rate limits (tests move it).
	Now func() time.Time
	// LoginBurst failed logins from one address are allowed at once; after
	// that one more every LoginEvery. Defaults: 10, 10s.
	LoginBurst int
	LoginEvery time.Duration
	// CacheTTL is how long a looked-up session or token is reused without
	// asking the database again (default 2s; negative turns the cache off).
	// A logout, password change or disabled account takes effect at once on
	// this server and within CacheTTL on the others.
	CacheTTL time.Duration
	// MaxFormBytes bounds a form body read to find the csrf_token field
	// (default 11 MiB).
	MaxFormBytes int64
	// TrustForwardedFor takes the client address from the last entry of
	// X-Forwarded-For (set by the load balancer in front). Only turn it on
	// behind a proxy that sets the header.
	TrustForwardedFor bool
}

// Auth logs users in and identifies requests. It is safe for concurrent use.
type Auth struct {
	db      *store.DB
	log     *slog.Logger
	now     func() time.Time
	opts    Options
	limiter *ipLimiter
	hashSem chan struct{}

	mu    sync.Mutex
	cache map[string]cacheEntry
}

// New returns an Auth over db.
func New(db *store.DB, o Options) *Auth {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.LoginBurst <= 0 {
		o.LoginBurst = 10
	}
	if o.LoginEvery <= 0 {
		o.LoginEvery = 10 * time.Second
	}
	if o.CacheTTL == 0 {
		o.CacheTTL = 2 * time.Second
	}
	if o.MaxFormBytes <= 0 {
		o.MaxFormBytes = 11 << 20
	}
	// argon2id takes 19 MiB per check: at most a few at once, so a burst of
	// logins queues instead of exhausting memory.
	n := max(2, runtime.GOMAXPROCS(0))
	return &Auth{
		db: db, log: o.Logger, now: o.Now, opts: o,
		limiter: newIPLimiter(rate.Every(o.LoginEvery), o.LoginBurst),
		hashSem: make(chan struct{}, n),
		cache:   map[string]cacheEntry{},
	}
}

// DB returns the database Auth works on.
func (a *Auth) DB() *store.DB { return a.db }

// Now returns the current time of Auth's clock.
func (a *Auth) Now() time.Time { return a.now() }

func (a *Auth) checkPassword(ctx context.Context, hash, password string) (bool, error) {
	select {
	case a.hashSem <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-a.hashSem }()
	if hash == "" {
		return store.BurnPasswordCheck(password), nil
	}
	return store.CheckPassword(hash, password), nil
}

// Login checks a username and password from address ip. It returns the
// user, or ErrBadCredentials, ErrDisabled, *LockedError or
// *RateLimitedError (use errors.Is / errors.As), or an internal error.
//
// A wrong password counts against the account: after login_max_failures in a
// row it is locked for login_lock_minutes (system settings). Every failure
// also counts against ip's token bucket.
func (a *Auth) Login(ctx context.Context, username, password, ip string) (*store.User, error) {
	now := a.now()
	if wait, ok := a.limiter.allowed(ip, now); !ok {
		return nil, &RateLimitedError{RetryAfter: wait}
	}
	u, err := a.db.UserByUsername(ctx, strings.TrimSpace(username))
	if errors.Is(err, store.ErrNotFound) {
		if _, err := a.checkPassword(ctx, "", password); err != nil {
			return nil, err
		}
		a.limiter.fail(ip, now)
		return nil, ErrBadCredentials
	}
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	if u.LockedUntil != nil && now.Before(*u.LockedUntil) {
		a.limiter.fail(ip, now)
		return nil, &LockedError{Until: u.LockedUntil.UTC()}
	}
	ok, err := a.checkPassword(ctx, u.PasswordHash, password)
	if err != nil {
		return nil, err
	}
	if !ok {
		a.limiter.fail(ip, now)
		maxFail, err := a.db.SettingInt(ctx, store.SettingLoginMaxFailures)
		if err != nil {
			return nil, fmt.Errorf("login: %w", err)
		}
		lockFor, err := a.db.SettingMinutes(ctx, store.SettingLoginLockMinutes)
		if err != nil {
			return nil, fmt.Errorf("login: %w", err)
		}
		until, err := a.db.RecordLoginFailure(ctx, u.ID, now, maxFail, lockFor)
		if err != nil {
			return nil, fmt.Errorf("login: %w", err)
		}
		if until != nil {
			a.log.Warn("account locked after failed logins", "user", u.Username, "until", until.Format(time.RFC3339), "ip", ip)
			return nil, &LockedError{Until: *until}
		}
		return nil, ErrBadCredentials
	}
	if u.Disabled {
		return nil, ErrDisabled
	}
	if u.FailedLogins != 0 || u.LockedUntil != nil {
		if err := a.db.RecordLoginSuccess(ctx, u.ID); err != nil {
			return nil, fmt.Errorf("login: %w", err)
		}
		u.FailedLogins, u.LockedUntil = 0, nil
	}
	return u, nil
}

// SessionTTL is the lifetime of a session or login token without use
// (setting session_timeout_minutes).
func (a *Auth) SessionTTL(ctx context.Context) (time.Duration, error) {
	return a.db.SettingMinutes(ctx, store.SettingSessionTimeout)
}

// IssueToken creates a bearer token named name for u that expires after
// the session timeout, and returns the plain token and its expiry.
func (a *Auth) IssueToken(ctx context.Context, u *store.User, name string) (string, time.Time, error) {
	ttl, err := a.SessionTTL(ctx)
	if err != nil {
		return "", time.Time{}, err
	}
	exp := a.now().Add(ttl).UTC()
	tok, _, err := a.db.CreateAPIToken(ctx, u.ID, name, &exp)
	if err != nil {
		return "", time.Time{}, err
	}
	return tok, exp, nil
}

// StartSession logs u in on this browser: it ends the session the request
// came with (if any, against session fixation), creates a new one and sets
// the cookie. From the next request on, CSRFToken returns the new session's
// token.
func (a *Auth) StartSession(w http.ResponseWriter, r *http.Request, u *store.User) error {
	ctx := r.Context()
	if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
		if err := a.db.DeleteSession(ctx, c.Value); err != nil {
			return err
		}
		a.forget("s:" + store.HashToken(c.Value))
	}
	ttl, err := a.SessionTTL(ctx)
	if err != nil {
		return err
	}
	token, _, err := a.db.CreateSession(ctx, u.ID, ttl, a.ClientIP(r), r.UserAgent())
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: token, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: IsHTTPS(r),
	})
	return nil
}

// EndSession logs this browser out: the session is deleted and the cookie
// cleared. Without a session it only clears the cookie.
func (a *Auth) EndSession(w http.ResponseWriter, r *http.Request) error {
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: IsHTTPS(r),
	})
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return nil
	}
	a.forget("s:" + store.HashToken(c.Value))
	return a.db.DeleteSession(r.Context(), c.Value)
}

// RevokeToken deletes the bearer token the request came with, if any.
func (a *Auth) RevokeToken(ctx context.Context, id *Identity) error {
	if id == nil || id.Token == nil {
		return nil
	}
	a.forget("t:" + id.Token.TokenHash)
	return a.db.RevokeAPIToken(ctx, id.User.ID, id.Token.ID)
}

// IsHTTPS reports whether the client reached us over TLS, directly or
// through a proxy that says so in X-Forwarded-Proto.
func IsHTTPS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// ClientIP is the caller's address: the connection's peer, or the last entry
// of X-Forwarded-For when Options.TrustForwardedFor is set.
func (a *Auth) ClientIP(r *http.Request) string {
	if a.opts.TrustForwardedFor {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			parts := strings.Split(xff, ",")
			if ip := strings.TrimSpace(parts[len(parts)-1]); net.ParseIP(ip) != nil {
				return ip
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// ActorFor builds the engine's view of u: its groups, and its roles with the
// built-in "user" (every enabled user) and "admin" (administrators).
func ActorFor(ctx context.Context, db *store.DB, u *store.User) (*flow.Actor, error) {
	gs, err := db.UserGroups(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	roles, err := db.UserRoles(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	act := &flow.Actor{UserID: u.ID, Username: u.Username, Name: u.DisplayName, Admin: u.Admin}
	if act.Name == "" {
		act.Name = u.Username
	}
	for _, g := range gs {
		act.Groups = append(act.Groups, flow.ActorGroup{ID: g.ID, Name: g.Name})
	}
	act.Roles = append([]string{"user"}, roles...)
	if u.Admin {
		act.Roles = append(act.Roles, "admin")
	}
	return act, nil
}
