package web

import (
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/omflow/omflow/flow"
	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/web/auth"
)

type attachmentJSON struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	TicketID    *int64    `json:"ticket_id"`
	FieldID     string    `json:"field_id,omitempty"`
	UploaderID  int64     `json:"uploader_id"`
	CreatedAt   time.Time `json:"created_at"`
}

func toAttachmentJSON(a *store.Attachment) attachmentJSON {
	return attachmentJSON{ID: a.ID, Name: a.Name, ContentType: a.ContentType, Size: a.Size, SHA256: a.SHA256,
		TicketID: a.TicketID, FieldID: a.FieldID, UploaderID: a.UploaderID, CreatedAt: a.CreatedAt}
}

// uploadAttachment stores a file sent as multipart/form-data: the part
// "file" (required), and optionally "ticket_id" (a ticket the caller can
// read) and "field_id" (the form field it belongs to). A file larger than
// MaxAttachmentBytes is answered 413.
func (s *Server) uploadAttachment(w http.ResponseWriter, r *http.Request) error {
	limit := s.o.MaxAttachmentBytes
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		return badRequest("file", "send the file as multipart/form-data with a part named \"file\"")
	}
	tooLarge := errorf(http.StatusRequestEntityTooLarge, "too_large", "file", "the file is larger than the limit of %d bytes (%s)", limit, humanBytes(limit))
	if r.MultipartForm == nil { // the CSRF check may have parsed it already
		r.Body = http.MaxBytesReader(w, r.Body, limit+1<<20)
		if err := r.ParseMultipartForm(limit + 1<<20); err != nil {
			var mb *http.MaxBytesError
			if errors.As(err, &mb) {
				return tooLarge
			}
			return badRequest("file", "the multipart body cannot be read: %v", err)
		}
	}
	defer func() { _ = r.MultipartForm.RemoveAll() }()
	files := r.MultipartForm.File["file"]
	if len(files) != 1 {
		return badRequest("file", "send exactly one part named \"file\" (got %d)", len(files))
	}
	fh := files[0]
	if fh.Size > limit {
		return tooLarge
	}
	var ticketID *int64
	if v := formValue(r.MultipartForm, "ticket_id"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return badRequest("ticket_id", "ticket_id must be a positive whole number, not %q", v)
		}
		// Only to a ticket the caller can see.
		if _, err := s.eng.Ticket(r.Context(), auth.ActorFrom(r.Context()), id); err != nil {
			return err
		}
		ticketID = &id
	}
	fieldID := formValue(r.MultipartForm, "field_id")
	if len(fieldID) > 64 {
		return badRequest("field_id", "field_id must be at most 64 bytes")
	}
	f, err := fh.Open()
	if err != nil {
		return fmt.Errorf("open uploaded file: %w", err)
	}
	defer f.Close()
	a := &store.Attachment{Name: fh.Filename, ContentType: uploadType(fh), TicketID: ticketID, FieldID: fieldID,
		UploaderID: auth.UserFrom(r.Context()).ID}
	if err := s.db.SaveAttachment(r.Context(), a, f, limit); err != nil {
		var tl *store.TooLargeError
		if errors.As(err, &tl) {
			return tooLarge
		}
		return err
	}
	w.Header().Set("Location", "/api/v1/attachments/"+itoa(a.ID))
	writeJSON(w, http.StatusCreated, toAttachmentJSON(a))
	return nil
}

func formValue(f *multipart.Form, name string) string {
	if vs := f.Value[name]; len(vs) > 0 {
		return strings.TrimSpace(vs[0])
	}
	return ""
}

// uploadType is the part's declared type when it is a well-formed media
// type, else application/octet-stream. It is only ever served with nosniff
// and as a download, so a wrong type cannot make it run as a page.
func uploadType(fh *multipart.FileHeader) string {
	ct := fh.Header.Get("Content-Type")
	if mt, params, err := mime.ParseMediaType(ct); err == nil {
		return mime.FormatMediaType(mt, params)
	}
	return "application/octet-stream"
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// canRead reports whether the caller may fetch a: its uploader, an
// administrator, or a reader of its ticket.
func (s *Server) canRead(r *http.Request, a *store.Attachment) error {
	act := auth.ActorFrom(r.Context())
	if act.Admin || a.UploaderID == act.UserID {
		return nil
	}
	if a.TicketID != nil {
		_, err := s.eng.Ticket(r.Context(), act, *a.TicketID)
		var ie *flow.InputError
		if err == nil {
			return nil
		}
		if !errors.As(err, &ie) {
			return err
		}
	}
	return forbidden("you may not read attachment %d: only its uploader, an administrator or a reader of its ticket may", a.ID)
}

// downloadAttachment sends the file as a download: Content-Disposition
// attachment, nosniff and a sandboxing CSP, so an uploaded page or script
// never runs in the application's origin.
func (s *Server) downloadAttachment(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	info, err := s.db.AttachmentInfo(r.Context(), id)
	if err != nil {
		return err
	}
	if err := s.canRead(r, info); err != nil {
		return err
	}
	a, err := s.db.AttachmentByID(r.Context(), id)
	if err != nil {
		return err
	}
	h := w.Header()
	ct := a.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	h.Set("Content-Length", strconv.FormatInt(int64(len(a.Data)), 10))
	cd := mime.FormatMediaType("attachment", map[string]string{"filename": store.SanitizeFilename(a.Name)})
	if cd == "" {
		cd = "attachment"
	}
	h.Set("Content-Disposition", cd)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	h.Set("Cache-Control", "private, no-store")
	if a.SHA256 != "" {
		h.Set("ETag", `"`+a.SHA256+`"`)
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(a.Data)
	}
	return nil
}

// ticketAttachments lists a readable ticket's attachments.
func (s *Server) ticketAttachments(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if _, err := s.eng.Ticket(r.Context(), auth.ActorFrom(r.Context()), id); err != nil {
		return err
	}
	as, err := s.db.TicketAttachments(r.Context(), id)
	if err != nil {
		return err
	}
	out := make([]attachmentJSON, 0, len(as))
	for i := range as {
		out = append(out, toAttachmentJSON(&as[i]))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
