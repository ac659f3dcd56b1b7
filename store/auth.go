package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Sessions and API tokens. Only the SHA-256 of a secret is stored: the
// plain value is handed out once, so a copy of the database does not give
// away live logins.

// TokenPrefix starts every API token, so a leaked one is easy to recognise
// in logs and by secret scanners.
const TokenPrefix = "omf_"

// touchEvery is how often a session's or token's last-use time is written
// at most: often enough for sliding expiry, rare enough that every request
// does not write.
const touchEvery = time.Minute

func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// HashToken returns the stored form (hex SHA-256) of a session or API token.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CreateSession starts a browser session for user uid that expires after
// ttl unless used. It returns the plain cookie value (never stored) and the
// session row, whose CSRFToken the pages must echo.
func (db *DB) CreateSession(ctx context.Context, uid int64, ttl time.Duration, ip, userAgent string) (string, *Session, error) {
	token, err := newSecret()
	if err != nil {
		return "", nil, err
	}
	csrf, err := newSecret()
	if err != nil {
		return "", nil, err
	}
	now := db.Now()
	s := &Session{
		ID: HashToken(token), UserID: uid, CSRFToken: csrf,
		ExpiresAt: now.Add(ttl), LastSeenAt: now, CreatedAt: now,
		IP: clip(ip, 64), UserAgent: clip(userAgent, 255),
	}
	if err := db.conn(ctx).Create(s).Error; err != nil {
		return "", nil, fmt.Errorf("create session for user %d: %w", uid, err)
	}
	return token, s, nil
}

// clip cuts s to at most n bytes on a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// SessionByToken returns the live session whose cookie value is token;
// ErrNotFound when there is none or it has expired.
func (db *DB) SessionByToken(ctx context.Context, token string) (*Session, error) {
	var s Session
	err := db.conn(ctx).Where("id = ? AND expires_at > ?", HashToken(token), db.Now()).Take(&s).Error
	if err != nil {
		return nil, notFound(err, "session")
	}
	return &s, nil
}

// TouchSession records that session s was used and pushes its expiry to
// now+ttl, at most once a minute. It reports whether it wrote.
func (db *DB) TouchSession(ctx context.Context, s *Session, ttl time.Duration) (bool, error) {
	now := db.Now()
	if now.Sub(s.LastSeenAt) < touchEvery {
		return false, nil
	}
	res := db.conn(ctx).Model(&Session{}).Where("id = ? AND last_seen_at < ?", s.ID, now.Add(-touchEvery)).
		Updates(map[string]any{"last_seen_at": now, "expires_at": now.Add(ttl)})
	if res.Error != nil {
		return false, fmt.Errorf("touch session: %w", res.Error)
	}
	if res.RowsAffected > 0 {
		s.LastSeenAt, s.ExpiresAt = now, now.Add(ttl)
	}
	return res.RowsAffected > 0, nil
}

// DeleteSession ends the session whose cookie value is token. Ending an
// unknown session is harmless.
func (db *DB) DeleteSession(ctx context.Context, token string) error {
	if err := db.conn(ctx).Where("id = ?", HashToken(token)).Delete(&Session{}).Error; err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions ends every session of user uid except the one whose id
// (stored hash) is keep, and revokes every API token of the user except the
// one with id keepToken (0: none kept). Used when a password changes or a
// user is disabled.
func (db *DB) DeleteUserSessions(ctx context.Context, uid int64, keep string, keepToken int64) error {
	return db.Tx(ctx, func(ctx context.Context) error {
		if err := db.conn(ctx).Where("user_id = ? AND id <> ?", uid, keep).Delete(&Session{}).Error; err != nil {
			return fmt.Errorf("delete sessions of user %d: %w", uid, err)
		}
		if err := db.conn(ctx).Where("user_id = ? AND id <> ?", uid, keepToken).Delete(&APIToken{}).Error; err != nil {
			return fmt.Errorf("revoke tokens of user %d: %w", uid, err)
		}
		return nil
	})
}

// DeleteExpired removes expired sessions and expired API tokens and returns
// how many rows went. Servers call it now and then.
func (db *DB) DeleteExpired(ctx context.Context) (int64, error) {
	now := db.Now()
	res := db.conn(ctx).Where("expires_at <= ?", now).Delete(&Session{})
	if res.Error != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", res.Error)
	}
	n := res.RowsAffected
	res = db.conn(ctx).Where("expires_at IS NOT NULL AND expires_at <= ?", now).Delete(&APIToken{})
	if res.Error != nil {
		return n, fmt.Errorf("delete expired tokens: %w", res.Error)
	}
	return n + res.RowsAffected, nil
}

// CreateAPIToken issues a bearer token for user uid. The plain token is
// returned once and never stored; expiresAt nil means it does not expire.
func (db *DB) CreateAPIToken(ctx context.Context, uid int64, name string, expiresAt *time.Time) (string, *APIToken, error) {
	secret, err := newSecret()
	if err != nil {
		return "", nil, err
	}
	plain := TokenPrefix + secret
	if expiresAt != nil {
		t := expiresAt.UTC()
		expiresAt = &t
	}
	t := &APIToken{UserID: uid, Name: clip(strings.TrimSpace(name), 191), TokenHash: HashToken(plain), ExpiresAt: expiresAt, CreatedAt: db.Now()}
	if err := db.conn(ctx).Create(t).Error; err != nil {
		return "", nil, fmt.Errorf("create API token for user %d: %w", uid, err)
	}
	return plain, t, nil
}

// APITokenByToken returns the live token row for a plain token; ErrNotFound
// when unknown, revoked or expired.
func (db *DB) APITokenByToken(ctx context.Context, plain string) (*APIToken, error) {
	var t APIToken
	err := db.conn(ctx).Where("token_hash = ? AND (expires_at IS NULL OR expires_at > ?)", HashToken(plain), db.Now()).Take(&t).Error
	if err != nil {
		return nil, notFound(err, "API token")
	}
	return &t, nil
}

// TouchAPIToken records that t was used, at most once a minute.
func (db *DB) TouchAPIToken(ctx context.Context, t *APIToken) error {
	now := db.Now()
	if t.LastUsedAt != nil && now.Sub(*t.LastUsedAt) < touchEvery {
		return nil
	}
	err := db.conn(ctx).Model(&APIToken{}).Where("id = ? AND (last_used_at IS NULL OR last_used_at < ?)", t.ID, now.Add(-touchEvery)).
		Update("last_used_at", now).Error
	if err != nil {
		return fmt.Errorf("touch API token %d: %w", t.ID, err)
	}
	t.LastUsedAt = &now
	return nil
}

// RevokeAPIToken deletes token id of user uid; ErrNotFound when the user has
// no such token.
func (db *DB) RevokeAPIToken(ctx context.Context, uid, id int64) error {
	res := db.conn(ctx).Where("id = ? AND user_id = ?", id, uid).Delete(&APIToken{})
	if res.Error != nil {
		return fmt.Errorf("revoke API token %d: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("API token %d: %w", id, ErrNotFound)
	}
	return nil
}

// APITokens lists user uid's tokens, newest first. The plain tokens are not
// known; the rows say name, creation, expiry and last use.
func (db *DB) APITokens(ctx context.Context, uid int64) ([]APIToken, error) {
	var ts []APIToken
	if err := db.conn(ctx).Where("user_id = ?", uid).Order("id DESC").Find(&ts).Error; err != nil {
		return nil, fmt.Errorf("list API tokens of user %d: %w", uid, err)
	}
	return ts, nil
}
