package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/omflow/omflow/store"
	"github.com/omflow/omflow/store/storetest"
)

func TestSanitizeFilename(t *testing.T) {
	for in, want := range map[string]string{
		"report.pdf":                 "report.pdf",
		"../../etc/passwd":           "passwd",
		`..\..\windows\system.ini`:   "system.ini",
		"..":                         "file",
		"":                           "file",
		".htaccess":                  "htaccess",
		"a\x00b\nc.txt":              "a_b_c.txt",
		`what?<>:"|*.txt`:            "what_______.txt",
		"見積書.xlsx":                   "見積書.xlsx",
		"evil\u202egnp.exe":          "evil_gnp.exe",
		"/":                          "file",
		"C:\\Users\\x\\Desktop\\a b": "a b",
	} {
		if got := store.SanitizeFilename(in); got != want {
			t.Errorf("SanitizeFilename(%q) = %q, want %q", in, got, want)
		}
	}
	long := strings.Repeat("あ", 200) + ".pdf"
	got := store.SanitizeFilename(long)
	if len(got) > 255 || !strings.HasSuffix(got, ".pdf") {
		t.Errorf("long name cut to %d bytes %q", len(got), got)
	}
}

func TestAttachments(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a := &store.Attachment{Name: "../secret/見積.txt", ContentType: "text/plain", UploaderID: 1}
		if err := db.SaveAttachment(ctx, a, strings.NewReader("hello"), 5); err != nil {
			t.Fatal(err)
		}
		if a.Name != "見積.txt" || a.Size != 5 || a.SHA256 != "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" {
			t.Fatalf("saved %+v", a)
		}
		big := &store.Attachment{Name: "big", UploaderID: 1}
		var tl *store.TooLargeError
		if err := db.SaveAttachment(ctx, big, strings.NewReader("123456"), 5); !errors.As(err, &tl) || tl.Limit != 5 {
			t.Fatalf("too large: %v", err)
		}
		got, err := db.AttachmentByID(ctx, a.ID)
		if err != nil || string(got.Data) != "hello" {
			t.Fatalf("AttachmentByID = %+v, %v", got, err)
		}
		if err := db.LinkAttachment(ctx, a.ID, 7, "FORMITM_3"); err != nil {
			t.Fatal(err)
		}
		if err := db.LinkAttachment(ctx, a.ID, 7, "FORMITM_3"); err != nil {
			t.Fatalf("relink to the same ticket: %v", err)
		}
		if err := db.LinkAttachment(ctx, a.ID, 8, ""); !errors.Is(err, store.ErrAttachmentLinked) {
			t.Fatalf("link to another ticket: %v", err)
		}
		if err := db.LinkAttachment(ctx, 999, 8, ""); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("link a missing attachment: %v", err)
		}
		list, err := db.TicketAttachments(ctx, 7)
		if err != nil || len(list) != 1 || list[0].FieldID != "FORMITM_3" || list[0].Data != nil {
			t.Fatalf("TicketAttachments = %+v, %v", list, err)
		}
		info, err := db.AttachmentInfo(ctx, a.ID)
		if err != nil || info.Data != nil || info.Size != 5 {
			t.Fatalf("AttachmentInfo = %+v, %v", info, err)
		}
	})
}
