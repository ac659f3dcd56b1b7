package ui

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzSafeNext: whatever a post names as the next page, the redirect stays
// on this site.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"", "/", "/tickets?q=1", "//evil.example", "/\\evil", "https://evil.example/", "/login?next=/", "/a\r\nSet-Cookie: x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.HasPrefix(got, "/\\") || strings.ContainsAny(got, "\r\n") {
			t.Fatalf("safeNext(%q) = %q leaves the site", next, got)
		}
		u, err := url.Parse(got)
		if err != nil || u.Host != "" || u.Scheme != "" {
			t.Fatalf("safeNext(%q) = %q parses as %v, %v", next, got, u, err)
		}
	})
}

// FuzzFileRefs: a file field's stored value, whatever it holds, reads as a
// list of files without panicking, and only with positive ids.
func FuzzFileRefs(f *testing.F) {
	for _, s := range []string{`[{"id": 3, "name": "a.pdf"}]`, `{"id": "4"}`, `"x"`, `[1, 2]`, `null`, `[{"id": -1}]`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range fileRefs(s) {
			if r.ID <= 0 {
				t.Fatalf("fileRefs(%q) gave id %d", s, r.ID)
			}
		}
		_ = valueText(s)
	})
}
