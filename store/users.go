package store

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"gorm.io/gorm"
)

// Password hashing: argon2id in the PHC string format
// ($argon2id$v=19$m=...,t=...,p=...$salt$hash, unpadded base64). The
// parameters are OWASP's minimum recommendation for argon2id (19 MiB, two
// passes, one lane); CheckPassword reads them back from each hash, so they can
// be raised later without invalidating stored passwords.
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonKeyLen    = 32
	argonSaltLen   = 16

	// MinPasswordLen and MaxPasswordLen bound passwords; the upper bound
	// keeps hashing cheap for an attacker's megabyte-long "password".
	MinPasswordLen = 8
	MaxPasswordLen = 1024
)

// ErrInvalidInput marks a value that breaks a rule of the store (a bad
// username, a short password, a group made its own parent). The error text
// names the field.
var ErrInvalidInput = errors.New("invalid input")

// FieldError is a rejected value: Field names it, Msg the rule it broke.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Unwrap lets errors.Is(err, ErrInvalidInput) match.
func (e *FieldError) Unwrap() error { return ErrInvalidInput }

func invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// HashPassword returns the argon2id PHC string for password.
func HashPassword(password string) (string, error) {
	if err := ValidatePassword(password); err != nil {
		return "", err
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemoryKiB, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches the PHC hash. A malformed
// hash never matches. The comparison is constant-time.
func CheckPassword(hash, password string) bool {
	if len(password) > MaxPasswordLen {
		return false
	}
	parts := strings.Split(hash, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false
	}
	// Refuse parameters no hash of ours has, so a tampered row cannot make
	// a login allocate gigabytes.
	if m == 0 || m > 1<<20 || t == 0 || t > 16 || p == 0 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) == 0 {
		return false
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 128 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is checked against when a login names no user, so that the
// answer takes as long as for a real user with a wrong password.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$4UqbOo0RYDQFhDk5X5wZlXTz9k9n4HtEBqNfEqg+Fc8"

// BurnPasswordCheck spends the time of one password check and returns false.
// Call it when a login names no user.
func BurnPasswordCheck(password string) bool {
	CheckPassword(dummyHash, password)
	return false
}

// ValidatePassword checks the length rules for a new password.
func ValidatePassword(password string) error {
	if n := utf8.RuneCountInString(password); n < MinPasswordLen {
		return invalid("password", "must be at least %d characters", MinPasswordLen)
	}
	if len(password) > MaxPasswordLen {
		return invalid("password", "must be at most %d bytes", MaxPasswordLen)
	}
	return nil
}

// ValidateUsername checks a username: 1 to 64 characters, letters, digits
// and . _ - @ only, so it is safe in URLs, logs and permission lists.
func ValidateUsername(name string) error {
	if name == "" {
		return invalid("username", "is required")
	}
	if utf8.RuneCountInString(name) > 64 {
		return invalid("username", "must be at most 64 characters")
	}
	for _, r := range name {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._-@", r)) {
			return invalid("username", "may contain only letters, digits and . _ - @ (found %q)", r)
		}
	}
	return nil
}

// CreateUser stores a new user with password hashed. u.ID is set. A taken
// username is a duplicate error (IsDuplicate).
func (db *DB) CreateUser(ctx context.Context, u *User, password string) error {
	u.Username = strings.TrimSpace(u.Username)
	if err := ValidateUsername(u.Username); err != nil {
		return err
	}
	if err := validateProfile(u); err != nil {
		return err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	u.ID = 0
	u.PasswordHash = hash
	u.FailedLogins = 0
	u.LockedUntil = nil
	if err := db.conn(ctx).Create(u).Error; err != nil {
		return fmt.Errorf("create user %q: %w", u.Username, err)
	}
	return nil
}

// validateProfile checks the lengths (the columns' sizes) and the e-mail.
func validateProfile(u *User) error {
	for _, f := range []struct {
		name, v string
		max     int
	}{{"display_name", u.DisplayName, 191}, {"email", u.Email, 191}, {"lang", u.Lang, 16}, {"timezone", u.TimeZone, 64}} {
		if utf8.RuneCountInString(f.v) > f.max {
			return invalid(f.name, "must be at most %d characters", f.max)
		}
	}
	if u.Email != "" && !strings.Contains(u.Email, "@") {
		return invalid("email", "must be an e-mail address (name@domain)")
	}
	return nil
}

// UserByID returns the user with id.
func (db *DB) UserByID(ctx context.Context, id int64) (*User, error) {
	var u User
	return &u, notFound(db.conn(ctx).Where("id = ?", id).Take(&u).Error, fmt.Sprintf("user %d", id))
}

// UserByUsername returns the user called name.
func (db *DB) UserByUsername(ctx context.Context, name string) (*User, error) {
	var u User
	return &u, notFound(db.conn(ctx).Where("username = ?", name).Take(&u).Error, fmt.Sprintf("user %q", name))
}

// Users lists every user by username.
func (db *DB) Users(ctx context.Context) ([]User, error) {
	var us []User
	if err := db.conn(ctx).Order("username").Find(&us).Error; err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}

// UserUpdate lists the profile fields to change; nil leaves a field alone.
type UserUpdate struct {
	DisplayName *string
	Email       *string
	Lang        *string
	TimeZone    *string
	Admin       *bool
	Disabled    *bool
	// Unlock clears a login lock-out and the failure count.
	Unlock bool
}

// UpdateUser applies up to user id and returns the user as stored.
func (db *DB) UpdateUser(ctx context.Context, id int64, up UserUpdate) (*User, error) {
	set := map[string]any{}
	str := func(col, field string, v *string, max int) error {
		if v == nil {
			return nil
		}
		s := strings.TrimSpace(*v)
		if utf8.RuneCountInString(s) > max {
			return invalid(field, "must be at most %d characters", max)
		}
		set[col] = s
		return nil
	}
	if err := errors.Join(
		str("display_name", "display_name", up.DisplayName, 191),
		str("email", "email", up.Email, 191),
		str("lang", "lang", up.Lang, 16),
		str("time_zone", "timezone", up.TimeZone, 64),
	); err != nil {
		return nil, err
	}
	if up.Email != nil && set["email"] != "" && !strings.Contains(set["email"].(string), "@") {
		return nil, invalid("email", "must be an e-mail address (name@domain)")
	}
	if up.Admin != nil {
		set["admin"] = *up.Admin
	}
	if up.Disabled != nil {
		set["disabled"] = *up.Disabled
	}
	if up.Unlock {
		set["failed_logins"] = 0
		set["locked_until"] = nil
	}
	var out *User
	err := db.Tx(ctx, func(ctx context.Context) error {
		if len(set) > 0 {
			set["updated_at"] = db.Now()
			res := db.conn(ctx).Model(&User{}).Where("id = ?", id).Updates(set)
			if res.Error != nil {
				return fmt.Errorf("update user %d: %w", id, res.Error)
			}
		}
		u, err := db.UserByID(ctx, id)
		out = u
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SetPassword replaces the user's password and clears any lock-out.
func (db *DB) SetPassword(ctx context.Context, id int64, password string) error {
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	res := db.conn(ctx).Model(&User{}).Where("id = ?", id).Updates(map[string]any{
		"password_hash": hash, "failed_logins": 0, "locked_until": nil, "updated_at": db.Now(),
	})
	if res.Error != nil {
		return fmt.Errorf("set password of user %d: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("user %d: %w", id, ErrNotFound)
	}
	return nil
}

// RecordLoginFailure counts a failed login of user id at now. When the count
// reaches maxFailures the account is locked until now+lockFor, the count starts
// again from zero, and the lock's end is returned; otherwise it returns nil.
func (db *DB) RecordLoginFailure(ctx context.Context, id int64, now time.Time, maxFailures int, lockFor time.Duration) (*time.Time, error) {
	var until *time.Time
	err := db.Tx(ctx, func(ctx context.Context) error {
		res := db.conn(ctx).Model(&User{}).Where("id = ?", id).
			Update("failed_logins", gorm.Expr("failed_logins + 1"))
		if res.Error != nil {
			return fmt.Errorf("count failed login of user %d: %w", id, res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("user %d: %w", id, ErrNotFound)
		}
		var u User
		if err := db.conn(ctx).Select("id, failed_logins").Where("id = ?", id).Take(&u).Error; err != nil {
			return notFound(err, fmt.Sprintf("user %d", id))
		}
		if maxFailures <= 0 || u.FailedLogins < maxFailures {
			return nil
		}
		t := now.Add(lockFor).UTC()
		res = db.conn(ctx).Model(&User{}).Where("id = ? AND failed_logins >= ?", id, maxFailures).
			Updates(map[string]any{"failed_logins": 0, "locked_until": t})
		if res.Error != nil {
			return fmt.Errorf("lock user %d: %w", id, res.Error)
		}
		if res.RowsAffected > 0 {
			until = &t
		}
		return nil
	})
	return until, err
}

// RecordLoginSuccess clears the failure count and any lock of user id.
func (db *DB) RecordLoginSuccess(ctx context.Context, id int64) error {
	err := db.conn(ctx).Model(&User{}).Where("id = ? AND (failed_logins <> 0 OR locked_until IS NOT NULL)", id).
		Updates(map[string]any{"failed_logins": 0, "locked_until": nil}).Error
	if err != nil {
		return fmt.Errorf("reset failed logins of user %d: %w", id, err)
	}
	return nil
}

// AdminUsername is the administrator created on first start.
const AdminUsername = "admin"

// EnsureAdmin creates the user "admin" (an administrator) with password when
// it does not exist yet, and reports whether it did. An existing admin user
// is left alone, whatever its password.
func (db *DB) EnsureAdmin(ctx context.Context, password string) (bool, error) {
	_, err := db.UserByUsername(ctx, AdminUsername)
	if err == nil {
		return false, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return false, fmt.Errorf("ensure admin: %w", err)
	}
	u := &User{Username: AdminUsername, DisplayName: "Administrator", Admin: true}
	if err := db.CreateUser(ctx, u, password); err != nil {
		if IsDuplicate(err) { // another server created it first
			return false, nil
		}
		return false, fmt.Errorf("ensure admin: %w", err)
	}
	return true, nil
}

// ValidateGroupName checks a group or role name: 1 to 191 characters, no
// control characters, no leading or trailing space.
func ValidateGroupName(field, name string) error {
	if name == "" {
		return invalid(field, "is required")
	}
	if strings.TrimSpace(name) != name {
		return invalid(field, "must not start or end with spaces")
	}
	if utf8.RuneCountInString(name) > 191 {
		return invalid(field, "must be at most 191 characters")
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return invalid(field, "must not contain control characters")
		}
	}
	return nil
}

// CreateGroup stores a new group; g.ID is set. A parent must exist.
func (db *DB) CreateGroup(ctx context.Context, g *Group) error {
	if err := ValidateGroupName("name", g.Name); err != nil {
		return err
	}
	if utf8.RuneCountInString(g.Description) > 500 {
		return invalid("description", "must be at most 500 characters")
	}
	return db.Tx(ctx, func(ctx context.Context) error {
		if g.ParentID != nil {
			if _, err := db.GroupByID(ctx, *g.ParentID); errors.Is(err, ErrNotFound) {
				return invalid("parent_id", "group %d does not exist", *g.ParentID)
			} else if err != nil {
				return err
			}
		}
		g.ID = 0
		if err := db.conn(ctx).Create(g).Error; err != nil {
			return fmt.Errorf("create group %q: %w", g.Name, err)
		}
		return db.BumpVersion(ctx, "groups")
	})
}

// GroupByID returns the group with id.
func (db *DB) GroupByID(ctx context.Context, id int64) (*Group, error) {
	var g Group
	return &g, notFound(db.conn(ctx).Where("id = ?", id).Take(&g).Error, fmt.Sprintf("group %d", id))
}

// Groups lists every group by name.
func (db *DB) Groups(ctx context.Context) ([]Group, error) {
	var gs []Group
	if err := db.conn(ctx).Order("name").Find(&gs).Error; err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	return gs, nil
}

// GroupUpdate lists the fields of a group to change; nil leaves a field
// alone. SetParent with Parent nil makes the group a top-level group.
type GroupUpdate struct {
	Name        *string
	Description *string
	SetParent   bool
	Parent      *int64
}

// UpdateGroup applies up to group id. A parent that would make a cycle (the
// group itself or one of its descendants) is refused.
func (db *DB) UpdateGroup(ctx context.Context, id int64, up GroupUpdate) (*Group, error) {
	var out *Group
	err := db.Tx(ctx, func(ctx context.Context) error {
		g, err := db.GroupByID(ctx, id)
		if err != nil {
			return err
		}
		set := map[string]any{}
		if up.Name != nil {
			if err := ValidateGroupName("name", *up.Name); err != nil {
				return err
			}
			set["name"] = *up.Name
		}
		if up.Description != nil {
			if utf8.RuneCountInString(*up.Description) > 500 {
				return invalid("description", "must be at most 500 characters")
			}
			set["description"] = *up.Description
		}
		if up.SetParent {
			if up.Parent != nil {
				if err := db.checkParent(ctx, id, *up.Parent); err != nil {
					return err
				}
			}
			set["parent_id"] = up.Parent
		}
		if len(set) > 0 {
			set["updated_at"] = db.Now()
			if err := db.conn(ctx).Model(&Group{}).Where("id = ?", id).Updates(set).Error; err != nil {
				return fmt.Errorf("update group %d: %w", id, err)
			}
			if err := db.BumpVersion(ctx, "groups"); err != nil {
				return err
			}
			if g, err = db.GroupByID(ctx, id); err != nil {
				return err
			}
		}
		out = g
		return nil
	})
	return out, err
}

// checkParent refuses parent for group id when it does not exist or when it
// is id itself or below it.
func (db *DB) checkParent(ctx context.Context, id, parent int64) error {
	seen := map[int64]bool{}
	for p := parent; ; {
		if p == id {
			return invalid("parent_id", "group %d cannot be its own ancestor", id)
		}
		if seen[p] { // a cycle already stored; stop walking
			return nil
		}
		seen[p] = true
		g, err := db.GroupByID(ctx, p)
		if errors.Is(err, ErrNotFound) {
			return invalid("parent_id", "group %d does not exist", p)
		}
		if err != nil {
			return err
		}
		if g.ParentID == nil {
			return nil
		}
		p = *g.ParentID
	}
}

// DeleteGroup removes group id and its memberships. Its subgroups move up to
// the deleted group's parent.
func (db *DB) DeleteGroup(ctx context.Context, id int64) error {
	return db.Tx(ctx, func(ctx context.Context) error {
		g, err := db.GroupByID(ctx, id)
		if err != nil {
			return err
		}
		if err := db.conn(ctx).Model(&Group{}).Where("parent_id = ?", id).Update("parent_id", g.ParentID).Error; err != nil {
			return fmt.Errorf("move subgroups of group %d: %w", id, err)
		}
		if err := db.conn(ctx).Where("group_id = ?", id).Delete(&GroupMember{}).Error; err != nil {
			return fmt.Errorf("delete members of group %d: %w", id, err)
		}
		if err := db.conn(ctx).Where("id = ?", id).Delete(&Group{}).Error; err != nil {
			return fmt.Errorf("delete group %d: %w", id, err)
		}
		return db.BumpVersion(ctx, "groups")
	})
}

// AddGroupMember puts user uid into group gid. Adding a member twice is
// harmless.
func (db *DB) AddGroupMember(ctx context.Context, gid, uid int64) error {
	return db.Tx(ctx, func(ctx context.Context) error {
		if _, err := db.GroupByID(ctx, gid); err != nil {
			return err
		}
		if _, err := db.UserByID(ctx, uid); err != nil {
			return err
		}
		var n int64
		if err := db.conn(ctx).Model(&GroupMember{}).Where("group_id = ? AND user_id = ?", gid, uid).Count(&n).Error; err != nil {
			return fmt.Errorf("add user %d to group %d: %w", uid, gid, err)
		}
		if n > 0 {
			return nil
		}
		if err := db.conn(ctx).Create(&GroupMember{GroupID: gid, UserID: uid}).Error; err != nil && !IsDuplicate(err) {
			return fmt.Errorf("add user %d to group %d: %w", uid, gid, err)
		}
		return db.BumpVersion(ctx, "groups")
	})
}

// RemoveGroupMember takes user uid out of group gid; ErrNotFound when the
// user was not a member.
func (db *DB) RemoveGroupMember(ctx context.Context, gid, uid int64) error {
	res := db.conn(ctx).Where("group_id = ? AND user_id = ?", gid, uid).Delete(&GroupMember{})
	if res.Error != nil {
		return fmt.Errorf("remove user %d from group %d: %w", uid, gid, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("user %d in group %d: %w", uid, gid, ErrNotFound)
	}
	return db.BumpVersion(ctx, "groups")
}

// GroupMembers lists the users of group gid by username.
func (db *DB) GroupMembers(ctx context.Context, gid int64) ([]User, error) {
	var us []User
	err := db.conn(ctx).Where("id IN (?)", db.conn(ctx).Model(&GroupMember{}).Select("user_id").Where("group_id = ?", gid)).
		Order("username").Find(&us).Error
	if err != nil {
		return nil, fmt.Errorf("list members of group %d: %w", gid, err)
	}
	return us, nil
}

// UserGroups lists the groups user uid is a direct member of, by name.
func (db *DB) UserGroups(ctx context.Context, uid int64) ([]Group, error) {
	var gs []Group
	err := db.conn(ctx).Where("id IN (?)", db.conn(ctx).Model(&GroupMember{}).Select("group_id").Where("user_id = ?", uid)).
		Order("name").Find(&gs).Error
	if err != nil {
		return nil, fmt.Errorf("list groups of user %d: %w", uid, err)
	}
	return gs, nil
}

// CreateRole stores a new role named name. The built-in roles "admin" and
// "user" are not rows and cannot be created.
func (db *DB) CreateRole(ctx context.Context, name string) (*Role, error) {
	if err := ValidateGroupName("name", name); err != nil {
		return nil, err
	}
	if name == "admin" || name == "user" {
		return nil, invalid("name", "%q is a built-in role", name)
	}
	r := &Role{Name: name}
	if err := db.conn(ctx).Create(r).Error; err != nil {
		return nil, fmt.Errorf("create role %q: %w", name, err)
	}
	return r, nil
}

// Roles lists every stored role by name.
func (db *DB) Roles(ctx context.Context) ([]Role, error) {
	var rs []Role
	if err := db.conn(ctx).Order("name").Find(&rs).Error; err != nil {
		return nil, fmt.Errorf("list roles: %w", err)
	}
	return rs, nil
}

// AddRoleMember gives user uid role rid. Adding twice is harmless.
func (db *DB) AddRoleMember(ctx context.Context, rid, uid int64) error {
	return db.Tx(ctx, func(ctx context.Context) error {
		var n int64
		if err := db.conn(ctx).Model(&Role{}).Where("id = ?", rid).Count(&n).Error; err != nil {
			return fmt.Errorf("add user %d to role %d: %w", uid, rid, err)
		}
		if n == 0 {
			return fmt.Errorf("role %d: %w", rid, ErrNotFound)
		}
		if _, err := db.UserByID(ctx, uid); err != nil {
			return err
		}
		if err := db.conn(ctx).Model(&RoleMember{}).Where("role_id = ? AND user_id = ?", rid, uid).Count(&n).Error; err != nil {
			return fmt.Errorf("add user %d to role %d: %w", uid, rid, err)
		}
		if n > 0 {
			return nil
		}
		if err := db.conn(ctx).Create(&RoleMember{RoleID: rid, UserID: uid}).Error; err != nil && !IsDuplicate(err) {
			return fmt.Errorf("add user %d to role %d: %w", uid, rid, err)
		}
		return nil
	})
}

// RemoveRoleMember takes role rid from user uid; ErrNotFound when the user
// did not have it.
func (db *DB) RemoveRoleMember(ctx context.Context, rid, uid int64) error {
	res := db.conn(ctx).Where("role_id = ? AND user_id = ?", rid, uid).Delete(&RoleMember{})
	if res.Error != nil {
		return fmt.Errorf("remove user %d from role %d: %w", uid, rid, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("user %d in role %d: %w", uid, rid, ErrNotFound)
	}
	return nil
}

// UserRoles lists the names of the stored roles user uid has, sorted. The
// built-in roles are not included: the caller adds "user" (every enabled
// user) and "admin" (User.Admin).
func (db *DB) UserRoles(ctx context.Context, uid int64) ([]string, error) {
	var names []string
	err := db.conn(ctx).Model(&Role{}).Where("id IN (?)", db.conn(ctx).Model(&RoleMember{}).Select("role_id").Where("user_id = ?", uid)).
		Order("name").Pluck("name", &names).Error
	if err != nil {
		return nil, fmt.Errorf("list roles of user %d: %w", uid, err)
	}
	return names, nil
}
