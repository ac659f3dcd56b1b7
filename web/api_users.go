package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zones resolve on hosts without a zoneinfo database

	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/web/auth"
)

// users lists every user.
func (s *Server) users(w http.ResponseWriter, r *http.Request) error {
	us, err := s.db.Users(r.Context())
	if err != nil {
		return err
	}
	out := make([]userJSON, 0, len(us))
	now := s.auth.Now()
	for i := range us {
		out = append(out, toUserJSON(&us[i], now))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getUser shows one user with their groups.
func (s *Server) getUser(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	return s.writeUser(w, r.Context(), id, http.StatusOK)
}

func (s *Server) writeUser(w http.ResponseWriter, ctx context.Context, id int64, status int) error {
	u, err := s.db.UserByID(ctx, id)
	if err != nil {
		return err
	}
	gs, err := s.db.UserGroups(ctx, id)
	if err != nil {
		return err
	}
	out := toUserJSON(u, s.auth.Now())
	out.Groups = []groupRef{}
	for _, g := range gs {
		out.Groups = append(out.Groups, groupRef{ID: g.ID, Name: g.Name})
	}
	writeJSON(w, status, out)
	return nil
}

type createUserRequest struct {
	Username    string `json:"username"`
	Password    string `json:"password"`
	DisplayName string `json:"display_name"`
	Email       string `json:"email"`
	Admin       bool   `json:"admin"`
	Lang        string `json:"lang"`
	TimeZone    string `json:"timezone"`
}

func checkLang(v string) error {
	if v != "" && v != "ja" && v != "en" {
		return errorf(http.StatusUnprocessableEntity, "invalid", "lang", `lang must be "ja", "en" or "" (browser's choice), not %q`, v)
	}
	return nil
}

func checkZone(v string) error {
	if v == "" {
		return nil
	}
	if _, err := time.LoadLocation(v); err != nil || strings.EqualFold(v, "local") {
		return errorf(http.StatusUnprocessableEntity, "invalid", "timezone", "timezone must be an IANA time zone such as Asia/Tokyo, not %q", v)
	}
	return nil
}

// createUser adds a user.
func (s *Server) createUser(w http.ResponseWriter, r *http.Request) error {
	var req createUserRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if req.Username == "" {
		return badRequest("username", "username is required")
	}
	if req.Password == "" {
		return badRequest("password", "password is required")
	}
	if err := checkLang(req.Lang); err != nil {
		return err
	}
	if err := checkZone(req.TimeZone); err != nil {
		return err
	}
	if req.Email != "" && !strings.Contains(req.Email, "@") {
		return errorf(http.StatusUnprocessableEntity, "invalid", "email", "email must be an e-mail address (name@domain)")
	}
	u := &store.User{Username: req.Username, DisplayName: strings.TrimSpace(req.DisplayName), Email: strings.TrimSpace(req.Email),
		Admin: req.Admin, Lang: req.Lang, TimeZone: req.TimeZone}
	if err := s.db.CreateUser(r.Context(), u, req.Password); err != nil {
		if store.IsDuplicate(err) {
			return errorf(http.StatusConflict, "exists", "username", "a user named %q already exists", req.Username)
		}
		return err
	}
	w.Header().Set("Location", "/api/v1/users/"+itoa(u.ID))
	return s.writeUser(w, r.Context(), u.ID, http.StatusCreated)
}

type updateUserRequest struct {
	DisplayName Optional[string] `json:"display_name"`
	Email       Optional[string] `json:"email"`
	Lang        Optional[string] `json:"lang"`
	TimeZone    Optional[string] `json:"timezone"`
	Admin       Optional[bool]   `json:"admin"`
	Disabled    Optional[bool]   `json:"disabled"`
	Unlock      Optional[bool]   `json:"unlock"`
}

// updateUser changes a user's profile, administrator flag or disabled flag.
// Administrators cannot take their own admin right away or disable
// themselves (so that someone can always administer).
func (s *Server) updateUser(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req updateUserRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	for name, o := range map[string]Optional[bool]{"admin": req.Admin, "disabled": req.Disabled, "unlock": req.Unlock} {
		if o.Null {
			return badRequest(name, "%s must be true or false, not null", name)
		}
	}
	up := store.UserUpdate{
		DisplayName: nullAsEmpty(req.DisplayName), Email: nullAsEmpty(req.Email),
		Lang: nullAsEmpty(req.Lang), TimeZone: nullAsEmpty(req.TimeZone),
		Admin: req.Admin.Ptr(), Disabled: req.Disabled.Ptr(), Unlock: req.Unlock.Set && req.Unlock.Value,
	}
	if up.Lang != nil {
		if err := checkLang(*up.Lang); err != nil {
			return err
		}
	}
	if up.TimeZone != nil {
		if err := checkZone(*up.TimeZone); err != nil {
			return err
		}
	}
	me := auth.UserFrom(r.Context())
	if id == me.ID && ((up.Admin != nil && !*up.Admin) || (up.Disabled != nil && *up.Disabled)) {
		return errorf(http.StatusUnprocessableEntity, "self", "", "you cannot take away your own admin right or disable yourself: ask another administrator")
	}
	if _, err := s.db.UpdateUser(r.Context(), id, up); err != nil {
		return err
	}
	if up.Disabled != nil && *up.Disabled {
		if err := s.db.DeleteUserSessions(r.Context(), id, "", 0); err != nil {
			return err
		}
	}
	s.auth.Forget()
	return s.writeUser(w, r.Context(), id, http.StatusOK)
}

// nullAsEmpty: for text fields, null clears like "".
func nullAsEmpty(o Optional[string]) *string {
	if !o.Set {
		return nil
	}
	v := o.Value
	if o.Null {
		v = ""
	}
	return &v
}

type setPasswordRequest struct {
	Password string `json:"password"`
}

// setUserPassword sets another user's password (an administrator's reset)
// and ends that user's sessions and tokens.
func (s *Server) setUserPassword(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req setPasswordRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if err := store.ValidatePassword(req.Password); err != nil {
		return err
	}
	if err := s.db.SetPassword(r.Context(), id, req.Password); err != nil {
		return err
	}
	keepSession, keepToken := "", int64(0)
	if me := auth.IdentityFrom(r.Context()); me.User.ID == id {
		if me.Session != nil {
			keepSession = me.Session.ID
		}
		if me.Token != nil {
			keepToken = me.Token.ID
		}
	}
	if err := s.db.DeleteUserSessions(r.Context(), id, keepSession, keepToken); err != nil {
		return err
	}
	s.auth.Forget()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// groupJSON is a group as the API shows it.
type groupJSON struct {
	ID          int64      `json:"id"`
	Name        string     `json:"name"`
	ParentID    *int64     `json:"parent_id"`
	Description string     `json:"description"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	Members     []userJSON `json:"members,omitempty"`
}

func toGroupJSON(g *store.Group) groupJSON {
	return groupJSON{ID: g.ID, Name: g.Name, ParentID: g.ParentID, Description: g.Description, CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt}
}

// groups lists every group (any logged-in user: the pages show group names).
func (s *Server) groups(w http.ResponseWriter, r *http.Request) error {
	gs, err := s.db.Groups(r.Context())
	if err != nil {
		return err
	}
	out := make([]groupJSON, 0, len(gs))
	for i := range gs {
		out = append(out, toGroupJSON(&gs[i]))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getGroup shows a group with its members.
func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	return s.writeGroup(w, r.Context(), id, http.StatusOK)
}

func (s *Server) writeGroup(w http.ResponseWriter, ctx context.Context, id int64, status int) error {
	g, err := s.db.GroupByID(ctx, id)
	if err != nil {
		return err
	}
	ms, err := s.db.GroupMembers(ctx, id)
	if err != nil {
		return err
	}
	out := toGroupJSON(g)
	out.Members = []userJSON{}
	now := s.auth.Now()
	for i := range ms {
		out.Members = append(out.Members, toUserJSON(&ms[i], now))
	}
	writeJSON(w, status, out)
	return nil
}

type createGroupRequest struct {
	Name        string `json:"name"`
	ParentID    *int64 `json:"parent_id"`
	Description string `json:"description"`
}

// createGroup adds a group.
func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) error {
	var req createGroupRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if req.Name == "" {
		return badRequest("name", "name is required")
	}
	g := &store.Group{Name: req.Name, ParentID: req.ParentID, Description: req.Description}
	if err := s.db.CreateGroup(r.Context(), g); err != nil {
		if store.IsDuplicate(err) {
			return errorf(http.StatusConflict, "exists", "name", "a group named %q already exists", req.Name)
		}
		return err
	}
	w.Header().Set("Location", "/api/v1/groups/"+itoa(g.ID))
	return s.writeGroup(w, r.Context(), g.ID, http.StatusCreated)
}

type updateGroupRequest struct {
	Name        Optional[string] `json:"name"`
	ParentID    Optional[int64]  `json:"parent_id"`
	Description Optional[string] `json:"description"`
}

// updateGroup renames a group, moves it under another parent (null: top
// level) or changes its description.
func (s *Server) updateGroup(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req updateGroupRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if req.Name.Null {
		return badRequest("name", "name cannot be null")
	}
	up := store.GroupUpdate{Name: req.Name.Ptr(), Description: nullAsEmpty(req.Description), SetParent: req.ParentID.Set, Parent: req.ParentID.Ptr()}
	if _, err := s.db.UpdateGroup(r.Context(), id, up); err != nil {
		if store.IsDuplicate(err) {
			return errorf(http.StatusConflict, "exists", "name", "a group named %q already exists", req.Name.Value)
		}
		return err
	}
	s.auth.Forget()
	return s.writeGroup(w, r.Context(), id, http.StatusOK)
}

// deleteGroup removes a group; its subgroups move up to its parent.
func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.db.DeleteGroup(r.Context(), id); err != nil {
		return err
	}
	s.auth.Forget()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) addMember(w http.ResponseWriter, r *http.Request) error {
	return s.changeMember(w, r, s.db.AddGroupMember)
}

func (s *Server) removeMember(w http.ResponseWriter, r *http.Request) error {
	return s.changeMember(w, r, s.db.RemoveGroupMember)
}

// changeMember adds or removes the member {uid} of group {id}.
func (s *Server) changeMember(w http.ResponseWriter, r *http.Request, change func(ctx context.Context, gid, uid int64) error) error {
	gid, err := pathID(r, "id")
	if err != nil {
		return err
	}
	uid, err := pathID(r, "uid")
	if err != nil {
		return err
	}
	if err := change(r.Context(), gid, uid); err != nil {
		return err
	}
	s.auth.Forget()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
