package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"unicode"
)

// Attachments are kept in the database so that every server of a cluster
// serves them. Their size is limited by the caller (the web layer's upload
// limit).

// TooLargeError is returned when an attachment is larger than its limit.
type TooLargeError struct {
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("attachment is larger than the limit of %d bytes", e.Limit)
}

// SanitizeFilename makes an uploaded file's name safe to store and to send
// back in a Content-Disposition header: only the last path element is kept
// (both / and \ separate), control characters and characters that are not
// allowed in Windows file names are replaced by "_", leading dots and spaces
// are dropped, and the name is cut to 255 bytes keeping its extension where
// possible. An empty result becomes "file".
func SanitizeFilename(name string) string {
	name = strings.ToValidUTF8(name, "_")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	for _, r := range name {
		switch {
		case unicode.IsControl(r) || r == unicode.ReplacementChar:
			b.WriteRune('_')
		case strings.ContainsRune(`<>:"|?*`, r):
			b.WriteRune('_')
		case unicode.Is(unicode.Cf, r): // bidi overrides and other invisible format characters
			b.WriteRune('_')
		default:
			b.WriteRune(r)
		}
	}
	name = strings.TrimLeft(b.String(), ". ")
	name = strings.TrimRight(name, ". ")
	if len(name) > 255 {
		ext := path.Ext(name)
		if len(ext) > 16 {
			ext = ""
		}
		name = clip(name[:len(name)-len(ext)], 255-len(ext)) + ext
	}
	if name == "" {
		return "file"
	}
	return name
}

// SaveAttachment reads the file from r (at most limit bytes, else
// *TooLargeError and nothing stored), computes its size and SHA-256, cleans
// its name and stores it. a.ID is set.
func (db *DB) SaveAttachment(ctx context.Context, a *Attachment, r io.Reader, limit int64) error {
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, limit+1))
	if err != nil {
		return fmt.Errorf("read attachment %q: %w", a.Name, err)
	}
	if n > limit {
		return &TooLargeError{Limit: limit}
	}
	sum := sha256.Sum256(buf.Bytes())
	a.ID = 0
	a.Name = SanitizeFilename(a.Name)
	a.ContentType = clip(a.ContentType, 191)
	a.FieldID = clip(a.FieldID, 64)
	a.Data = buf.Bytes()
	a.Size = n
	a.SHA256 = hex.EncodeToString(sum[:])
	a.CreatedAt = db.Now()
	if err := db.conn(ctx).Create(a).Error; err != nil {
		return fmt.Errorf("store attachment %q: %w", a.Name, err)
	}
	return nil
}

// AttachmentByID returns attachment id with its data.
func (db *DB) AttachmentByID(ctx context.Context, id int64) (*Attachment, error) {
	var a Attachment
	return &a, notFound(db.conn(ctx).Where("id = ?", id).Take(&a).Error, fmt.Sprintf("attachment %d", id))
}

// AttachmentInfo returns attachment id without its data.
func (db *DB) AttachmentInfo(ctx context.Context, id int64) (*Attachment, error) {
	var a Attachment
	err := db.conn(ctx).Omit("data").Where("id = ?", id).Take(&a).Error
	return &a, notFound(err, fmt.Sprintf("attachment %d", id))
}

// TicketAttachments lists a ticket's attachments (without their data) in
// upload order.
func (db *DB) TicketAttachments(ctx context.Context, ticketID int64) ([]Attachment, error) {
	var as []Attachment
	if err := db.conn(ctx).Omit("data").Where("ticket_id = ?", ticketID).Order("id").Find(&as).Error; err != nil {
		return nil, fmt.Errorf("list attachments of ticket %d: %w", ticketID, err)
	}
	return as, nil
}

// ErrAttachmentLinked is returned when an attachment already belongs to
// another ticket.
var ErrAttachmentLinked = errors.New("attachment belongs to another ticket")

// LinkAttachment attaches upload id to ticketID (and form field fieldID when
// not empty). Linking again to the same ticket is harmless; an attachment of
// another ticket is refused (ErrAttachmentLinked).
func (db *DB) LinkAttachment(ctx context.Context, id, ticketID int64, fieldID string) error {
	set := map[string]any{"ticket_id": ticketID}
	if fieldID != "" {
		set["field_id"] = clip(fieldID, 64)
	}
	res := db.conn(ctx).Model(&Attachment{}).Where("id = ? AND (ticket_id IS NULL OR ticket_id = ?)", id, ticketID).Updates(set)
	if res.Error != nil {
		return fmt.Errorf("link attachment %d to ticket %d: %w", id, ticketID, res.Error)
	}
	if res.RowsAffected > 0 {
		return nil
	}
	if _, err := db.AttachmentInfo(ctx, id); err != nil {
		return err
	}
	// MySQL counts only changed rows: linking again to the same ticket with
	// the same field matches but changes nothing.
	var n int64
	if err := db.conn(ctx).Model(&Attachment{}).Where("id = ? AND ticket_id = ?", id, ticketID).Count(&n).Error; err != nil {
		return fmt.Errorf("link attachment %d to ticket %d: %w", id, ticketID, err)
	}
	if n > 0 {
		return nil
	}
	return fmt.Errorf("link attachment %d to ticket %d: %w", id, ticketID, ErrAttachmentLinked)
}
