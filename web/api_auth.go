package web

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/web/auth"
)

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// login checks the password and issues a bearer token named "login" that
// expires after the session timeout.
func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	var req loginRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if req.Username == "" {
		return badRequest("username", "username is required")
	}
	if req.Password == "" {
		return badRequest("password", "password is required")
	}
	u, err := s.auth.Login(r.Context(), req.Username, req.Password, s.auth.ClientIP(r))
	if err != nil {
		return loginError(w, err)
	}
	tok, exp, err := s.auth.IssueToken(r.Context(), u, "login")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"token": tok, "expires_at": exp})
	return nil
}

// loginError maps auth.Login's errors to responses.
func loginError(w http.ResponseWriter, err error) error {
	var locked *auth.LockedError
	var limited *auth.RateLimitedError
	switch {
	case errors.Is(err, auth.ErrBadCredentials):
		return errorf(http.StatusUnauthorized, "bad_credentials", "", "wrong username or password")
	case errors.Is(err, auth.ErrDisabled):
		return errorf(http.StatusForbidden, "disabled", "", "this account is disabled: ask an administrator")
	case errors.As(err, &locked):
		w.Header().Set("Retry-After", retryAfter(time.Until(locked.Until)))
		return errorf(http.StatusForbidden, "locked", "", "this account is locked after too many failed logins until %s", locked.Until.UTC().Format(time.RFC3339))
	case errors.As(err, &limited):
		w.Header().Set("Retry-After", retryAfter(limited.RetryAfter))
		return errorf(http.StatusTooManyRequests, "rate_limited", "", "too many failed logins from this address: try again in %s", limited.RetryAfter.Round(time.Second))
	}
	return err
}

func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

// logout ends the caller's browser session or revokes the bearer token the
// request came with.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	id := auth.IdentityFrom(r.Context())
	if id.Token != nil {
		if err := s.auth.RevokeToken(r.Context(), id); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	} else if err := s.auth.EndSession(w, r); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// userJSON is a user as the API shows it.
type userJSON struct {
	ID          int64      `json:"id"`
	Username    string     `json:"username"`
	DisplayName string     `json:"display_name"`
	Email       string     `json:"email"`
	Admin       bool       `json:"admin"`
	Disabled    bool       `json:"disabled"`
	Lang        string     `json:"lang"`
	TimeZone    string     `json:"timezone"`
	LockedUntil *time.Time `json:"locked_until,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	Groups      []groupRef `json:"groups,omitempty"`
}

type groupRef struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

func toUserJSON(u *store.User, now time.Time) userJSON {
	out := userJSON{
		ID: u.ID, Username: u.Username, DisplayName: u.DisplayName, Email: u.Email, Admin: u.Admin,
		Disabled: u.Disabled, Lang: u.Lang, TimeZone: u.TimeZone, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
	if u.LockedUntil != nil && u.LockedUntil.After(now) {
		t := u.LockedUntil.UTC()
		out.LockedUntil = &t
	}
	return out
}

// me is the caller: profile, groups, roles, and the CSRF token of a browser
// session.
func (s *Server) me(w http.ResponseWriter, r *http.Request) error {
	id := auth.IdentityFrom(r.Context())
	u, err := s.db.UserByID(r.Context(), id.User.ID)
	if err != nil {
		return err
	}
	out := struct {
		userJSON
		Roles     []string `json:"roles"`
		CSRFToken string   `json:"csrf_token,omitempty"`
	}{userJSON: toUserJSON(u, s.auth.Now()), Roles: id.Actor.Roles, CSRFToken: auth.CSRFToken(r.Context())}
	out.Groups = []groupRef{}
	for _, g := range id.Actor.Groups {
		out.Groups = append(out.Groups, groupRef{ID: g.ID, Name: g.Name})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type passwordChange struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// changeMyPassword sets the caller's password after checking the current
// one, and ends the caller's other sessions and tokens.
func (s *Server) changeMyPassword(w http.ResponseWriter, r *http.Request) error {
	var req passwordChange
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	id := auth.IdentityFrom(r.Context())
	if req.CurrentPassword == "" {
		return badRequest("current_password", "current_password is required")
	}
	if err := store.ValidatePassword(req.NewPassword); err != nil {
		return fieldAs(err, "new_password")
	}
	u, err := s.db.UserByID(r.Context(), id.User.ID)
	if err != nil {
		return err
	}
	if !store.CheckPassword(u.PasswordHash, req.CurrentPassword) {
		return errorf(http.StatusUnprocessableEntity, "wrong_password", "current_password", "current_password is not the current password")
	}
	if err := s.db.SetPassword(r.Context(), u.ID, req.NewPassword); err != nil {
		return err
	}
	keepSession, keepToken := "", int64(0)
	if id.Session != nil {
		keepSession = id.Session.ID
	}
	if id.Token != nil {
		keepToken = id.Token.ID
	}
	if err := s.db.DeleteUserSessions(r.Context(), u.ID, keepSession, keepToken); err != nil {
		return err
	}
	s.auth.Forget()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// fieldAs renames the field of a store.FieldError (a password rule says
// "password"; the request's field may be "new_password").
func fieldAs(err error, field string) error {
	var fe *store.FieldError
	if errors.As(err, &fe) {
		return errorf(http.StatusUnprocessableEntity, "invalid", field, "%s %s", field, fe.Msg)
	}
	return fmt.Errorf("%s: %w", field, err)
}
