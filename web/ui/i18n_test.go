package ui

import (
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// usedKeys finds every message id the templates and the Go code name:
// {{t "id" ...}} in templates, T("id") and k("id") in Go.
func usedKeys(t *testing.T) map[string][]string {
	t.Helper()
	used := map[string][]string{}
	tmplRe := regexp.MustCompile(`\bt "([^"]+)"`)
	goRe := regexp.MustCompile(`\b(?:T|k)\("([^"]+)"`)
	err := fs.WalkDir(templateFS, "templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(templateFS, p)
		if err != nil {
			return err
		}
		for _, m := range tmplRe.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = append(used[m[1]], p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range goRe.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = append(used[m[1]], f)
		}
	}
	if len(used) < 100 {
		t.Fatalf("found only %d message ids: is the scan broken?", len(used))
	}
	return used
}

func TestEveryMessageUsedExistsInBothLanguages(t *testing.T) {
	c, err := newCatalog("ja")
	if err != nil {
		t.Fatal(err)
	}
	for id, where := range usedKeys(t) {
		for _, lang := range Languages {
			if !c.ids[lang][id] {
				t.Errorf("message %q (used in %s) is missing from locales/%s.toml", id, strings.Join(where, ", "), lang)
			}
		}
	}
}

func TestCatalogsHaveTheSameMessagesAndNoUnusedOnes(t *testing.T) {
	c, err := newCatalog("ja")
	if err != nil {
		t.Fatal(err)
	}
	used := usedKeys(t)
	for _, a := range Languages {
		for id := range c.ids[a] {
			for _, b := range Languages {
				if !c.ids[b][id] {
					t.Errorf("message %q is in %s.toml but not in %s.toml", id, a, b)
				}
			}
			if _, ok := used[id]; !ok && a == Languages[0] {
				t.Errorf("message %q is in the catalogs but used nowhere", id)
			}
		}
	}
}

func TestTranslationsKeepTheirPlaceholders(t *testing.T) {
	c, err := newCatalog("ja")
	if err != nil {
		t.Fatal(err)
	}
	ph := regexp.MustCompile(`\{\{\s*\.(\w+)\s*\}\}`)
	ja, en := c.tr("ja"), c.tr("en")
	ids := make([]string, 0, len(c.ids["en"]))
	for id := range c.ids["en"] {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	raw := map[string]string{}
	for _, lang := range Languages {
		b, err := fs.ReadFile(localeFS, "locales/"+lang+".toml")
		if err != nil {
			t.Fatal(err)
		}
		raw[lang] = string(b)
	}
	for _, id := range ids {
		names := func(lang string) string {
			line := regexp.MustCompile(`(?m)^"` + regexp.QuoteMeta(id) + `" = (.*)$`).FindStringSubmatch(raw[lang])
			if line == nil {
				t.Fatalf("message %q not found as one line in %s.toml", id, lang)
			}
			var ns []string
			for _, m := range ph.FindAllStringSubmatch(line[1], -1) {
				ns = append(ns, m[1])
			}
			sort.Strings(ns)
			return strings.Join(ns, ",")
		}
		if a, b := names("ja"), names("en"); a != b {
			t.Errorf("message %q: placeholders ja {%s}, en {%s}", id, a, b)
		}
		if s := ja.T(id); s == "" || strings.HasPrefix(s, "[") {
			t.Errorf("ja %q renders %q", id, s)
		}
		if s := en.T(id); s == "" || strings.HasPrefix(s, "[") {
			t.Errorf("en %q renders %q", id, s)
		}
	}
	if got := en.T("login.locked", "Until", "1 May 2024 09:30"); !strings.Contains(got, "after 1 May 2024 09:30") {
		t.Errorf("placeholder not filled: %q", got)
	}
	if got := ja.T("no.such.message"); got != "[no.such.message]" {
		t.Errorf("missing message shows as %q", got)
	}
}

func TestLanguageChoice(t *testing.T) {
	c, err := newCatalog("ja")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		accept, cookie, user string
		want                 string
		ok                   bool
	}{
		{"en-US,en;q=0.9", "", "", "en", true},
		{"ja-JP", "", "", "ja", true},
		{"fr-FR,en;q=0.5", "", "", "en", true},
		{"de-DE", "", "", "ja", false}, // none of ours: the caller uses default_lang
		{"", "", "", "ja", false},
		{"ja", "en", "", "en", true},   // the switch's cookie beats the browser
		{"en", "en", "ja", "ja", true}, // the user's choice beats both
		{"en", "xx", "", "en", true},   // a bad cookie is ignored
	}
	for _, tc := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		if tc.accept != "" {
			r.Header.Set("Accept-Language", tc.accept)
		}
		if tc.cookie != "" {
			r.Header.Set("Cookie", langCookie+"="+tc.cookie)
		}
		got, ok := c.langFor(r, tc.user)
		if got != tc.want || ok != tc.ok {
			t.Errorf("accept %q cookie %q user %q: %s %v, want %s %v", tc.accept, tc.cookie, tc.user, got, ok, tc.want, tc.ok)
		}
	}
	if _, err := newCatalog("fr"); err == nil {
		t.Error("unsupported default language accepted")
	}
}
