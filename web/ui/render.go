package ui

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

// renderer holds the parsed templates: one set per page (the layout, the
// shared partials and the page), never executed itself, and per language and
// time zone a clone with the translating and date functions bound, made once
// and reused.
type renderer struct {
	cat   *catalog
	pages map[string]*template.Template

	mu    sync.Mutex
	bound map[boundKey]*template.Template
}

type boundKey struct{ page, lang, zone string }

// placeholderFuncs gives every template function its signature at parse
// time; bind replaces the ones that depend on the reader.
func placeholderFuncs() template.FuncMap {
	return template.FuncMap{
		"t":        func(id string, args ...any) string { return id },
		"datetime": func(v any) string { return "" },
		"date":     func(v any) string { return "" },
		"lang":     func() string { return "" },
		"zone":     func() string { return "" },
		"json":     toJSON,
		"dict":     dict,
		"list":     func(v ...any) []any { return v },
		"has":      has,
		"add":      func(a, b int) int { return a + b },
		"text":     valueText,
		"levelkey": levelKey,
		"deref":    deref,
	}
}

// newRenderer parses every page template with the layout and partials.
func newRenderer(cat *catalog) (*renderer, error) {
	rd := &renderer{cat: cat, pages: map[string]*template.Template{}, bound: map[boundKey]*template.Template{}}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	var shared, pages []string
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" || strings.HasPrefix(base, "_") {
			shared = append(shared, n)
		} else {
			pages = append(pages, n)
		}
	}
	for _, p := range pages {
		t := template.New(path.Base(p)).Funcs(placeholderFuncs())
		files := append(append([]string{}, shared...), p)
		if _, err := t.ParseFS(templateFS, files...); err != nil {
			return nil, fmt.Errorf("parse template %s: %w", p, err)
		}
		rd.pages[strings.TrimSuffix(path.Base(p), ".html")] = t
	}
	return rd, nil
}

// template returns the page's templates bound to a language and zone.
func (rd *renderer) template(page, lang string, loc *time.Location) (*template.Template, error) {
	key := boundKey{page, lang, loc.String()}
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if t, ok := rd.bound[key]; ok {
		return t, nil
	}
	base, ok := rd.pages[page]
	if !ok {
		return nil, fmt.Errorf("no page template %q", page)
	}
	t, err := base.Clone()
	if err != nil {
		return nil, fmt.Errorf("clone template %s: %w", page, err)
	}
	tr := rd.cat.tr(lang)
	dt := tr.T("fmt.datetime")
	d := tr.T("fmt.date")
	t.Funcs(template.FuncMap{
		"t":        tr.T,
		"datetime": func(v any) string { return formatTime(v, loc, dt) },
		"date":     func(v any) string { return formatTime(v, loc, d) },
		"lang":     func() string { return lang },
		"zone":     func() string { return loc.String() },
	})
	rd.bound[key] = t
	return t, nil
}

// render writes a page with the layout. Rendering goes to a buffer first, so
// a template error becomes a clean 500 rather than half a page.
func (rd *renderer) render(w http.ResponseWriter, status int, page, lang string, loc *time.Location, data any) error {
	t, err := rd.template(page, lang, loc)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		return fmt.Errorf("render %s: %w", page, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Language", lang)
	w.WriteHeader(status)
	_, err = w.Write(buf.Bytes())
	return err
}

// fragment renders one named template of a page (no layout), for the parts
// the script refreshes.
func (rd *renderer) fragment(w http.ResponseWriter, page, name, lang string, loc *time.Location, data any) error {
	t, err := rd.template(page, lang, loc)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, data); err != nil {
		return fmt.Errorf("render %s/%s: %w", page, name, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, err = w.Write(buf.Bytes())
	return err
}

func formatTime(v any, loc *time.Location, layout string) string {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case *time.Time:
		if x == nil {
			return ""
		}
		t = *x
	default:
		return ""
	}
	if t.IsZero() {
		return ""
	}
	return t.In(loc).Format(layout)
}

func toJSON(v any) (template.JS, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return template.JS(b), nil
}

// dict builds a map from pairs, to pass several values to a template.
func dict(pairs ...any) (map[string]any, error) {
	if len(pairs)%2 != 0 {
		return nil, fmt.Errorf("dict: odd number of arguments")
	}
	m := make(map[string]any, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		k, ok := pairs[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", pairs[i])
		}
		m[k] = pairs[i+1]
	}
	return m, nil
}

// has reports whether list holds s.
func has(list any, s string) bool {
	switch l := list.(type) {
	case []string:
		for _, x := range l {
			if x == s {
				return true
			}
		}
	case map[string]bool:
		return l[s]
	}
	return false
}

// levelKey is the message id naming a level colour.
func levelKey(level string) string {
	switch level {
	case "green":
		return k("level.green")
	case "yellow":
		return k("level.yellow")
	case "red":
		return k("level.red")
	}
	return k("level.none")
}

// deref reads an optional id.
func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
