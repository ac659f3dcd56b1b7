package ui

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/web/auth"
)

// MinPasswordLength is the shortest password the pages accept.
const MinPasswordLength = 8

type loginData struct {
	Username string
	Next     string
	Error    string
}

func (u *UI) loginPage(rq *req) error {
	next := safeNext(rq.r.URL.Query().Get("next"))
	if rq.actor != nil {
		return rq.redirect(next)
	}
	return rq.render(http.StatusOK, "login", rq.T("login.title"), "", loginData{Next: next})
}

func (u *UI) loginPost(rq *req) error {
	if err := rq.parseForm(); err != nil {
		return err
	}
	d := loginData{
		Username: strings.TrimSpace(rq.r.PostFormValue("username")),
		Next:     safeNext(rq.r.PostFormValue("next")),
	}
	password := rq.r.PostFormValue("password")
	if d.Username == "" || password == "" {
		d.Error = rq.T("login.missing")
		return rq.render(http.StatusUnprocessableEntity, "login", rq.T("login.title"), "", d)
	}
	usr, err := u.o.Accounts.Login(rq.ctx, d.Username, password, u.o.Accounts.ClientIP(rq.r))
	if err != nil {
		msg, status, ok := rq.loginProblem(err)
		if !ok {
			return err
		}
		d.Error = msg
		return rq.render(status, "login", rq.T("login.title"), "", d)
	}
	if err := u.o.Accounts.StartSession(rq.w, rq.r, usr); err != nil {
		return err
	}
	// The language chosen on the login page becomes the user's, if they
	// have none yet.
	if usr.Lang == "" {
		if c, err := rq.r.Cookie(langCookie); err == nil && supported(c.Value) {
			lang := c.Value
			if _, err := u.o.Directory.UpdateUser(rq.ctx, usr.ID, store.UserUpdate{Lang: &lang}); err != nil {
				u.log.Warn("save language chosen at login", "user", usr.ID, "err", err)
			}
		}
	}
	return rq.redirect(d.Next)
}

func (u *UI) logout(rq *req) error {
	if err := u.o.Accounts.EndSession(rq.w, rq.r); err != nil {
		return err
	}
	return rq.redirect("/login")
}

type passwordData struct {
	Errors map[string]string
}

func (u *UI) passwordPage(rq *req) error {
	return rq.render(http.StatusOK, "password", rq.T("password.title"), "", passwordData{})
}

func (u *UI) passwordPost(rq *req) error {
	if err := rq.parseForm(); err != nil {
		return err
	}
	cur := rq.r.PostFormValue("current")
	nw := rq.r.PostFormValue("new")
	confirm := rq.r.PostFormValue("confirm")
	d := passwordData{Errors: map[string]string{}}
	if cur == "" {
		d.Errors["current"] = rq.T("err.field.required")
	}
	if utf8.RuneCountInString(nw) < MinPasswordLength {
		d.Errors["new"] = rq.T("password.short", "Min", MinPasswordLength)
	} else if nw != confirm {
		d.Errors["confirm"] = rq.T("password.mismatch")
	}
	if len(d.Errors) == 0 {
		_, err := u.o.Accounts.Login(rq.ctx, rq.actor.Username, cur, u.o.Accounts.ClientIP(rq.r))
		if err != nil {
			msg, _, ok := rq.loginProblem(err)
			if !ok {
				return err
			}
			if errors.Is(err, auth.ErrBadCredentials) {
				msg = rq.T("password.wrong")
			}
			d.Errors["current"] = msg
		}
	}
	if len(d.Errors) > 0 {
		return rq.render(http.StatusUnprocessableEntity, "password", rq.T("password.title"), "", d)
	}
	if err := u.o.Directory.SetPassword(rq.ctx, rq.actor.UserID, nw); err != nil {
		return err
	}
	if err := rq.endSessions(rq.actor.UserID); err != nil {
		return err
	}
	rq.flash(k("flash.password"), "")
	return rq.redirect("/")
}

// langPost switches the language: for a logged-in user it is saved with the
// user, for anyone it is kept in a cookie.
func (u *UI) langPost(rq *req) error {
	if err := rq.parseForm(); err != nil {
		return err
	}
	if rq.actor != nil && !u.csrfOK(rq) {
		return rq.fail(http.StatusForbidden, k("error.csrf"))
	}
	lang := rq.r.PostFormValue("lang")
	if !supported(lang) {
		return rq.fail(http.StatusBadRequest, k("error.invalid"))
	}
	http.SetCookie(rq.w, &http.Cookie{
		Name: langCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: auth.IsHTTPS(rq.r),
	})
	if rq.user != nil && rq.user.Lang != lang {
		if _, err := u.o.Directory.UpdateUser(rq.ctx, rq.user.ID, store.UserUpdate{Lang: &lang}); err != nil {
			return err
		}
	}
	next := rq.r.PostFormValue("next")
	if strings.HasPrefix(next, "/login") && !strings.ContainsAny(next, "\r\n\\") {
		return rq.redirect(next) // back to the login page, keeping its next
	}
	return rq.redirect(safeNext(next))
}

// safeNext keeps a redirect target on this site.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.ContainsAny(next, "\r\n") || strings.HasPrefix(next, "/login") {
		return "/"
	}
	if u, err := url.Parse(next); err != nil || u.Host != "" || u.Scheme != "" || u.User != nil {
		return "/"
	}
	return next
}

// loginProblem explains a failed login; ok is false for errors that are not
// the person's doing.
func (rq *req) loginProblem(err error) (msg string, status int, ok bool) {
	var locked *auth.LockedError
	var limited *auth.RateLimitedError
	switch {
	case errors.Is(err, auth.ErrBadCredentials):
		return rq.T("login.bad"), http.StatusUnauthorized, true
	case errors.Is(err, auth.ErrDisabled):
		return rq.T("login.disabled"), http.StatusForbidden, true
	case errors.As(err, &locked):
		return rq.T("login.locked", "Until", locked.Until.In(rq.loc).Format(rq.T("fmt.datetime"))), http.StatusLocked, true
	case errors.As(err, &limited):
		secs := int(limited.RetryAfter.Round(time.Second) / time.Second)
		return rq.T("login.ratelimited", "Seconds", max(secs, 1)), http.StatusTooManyRequests, true
	}
	return "", 0, false
}
