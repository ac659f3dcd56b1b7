package ui

import (
	"embed"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
	_ "time/tzdata" // the binary runs on closed networks and minimal hosts: carry the zone database

	"github.com/BurntSushi/toml"
	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

//go:embed locales/*.toml
var localeFS embed.FS

// Languages the pages are written in, in the order the language switch lists
// them.
var Languages = []string{"ja", "en"}

// DefaultTimeZone is used for users who chose none.
const DefaultTimeZone = "Asia/Tokyo"

// catalog holds the message catalogs of every language.
type catalog struct {
	bundle   *i18n.Bundle
	matcher  language.Matcher
	fallback string
	locs     map[string]*i18n.Localizer
	ids      map[string]map[string]bool // lang -> message ids
}

// newCatalog loads the embedded catalogs. fallback is the language used when
// the browser asks for none we have.
func newCatalog(fallback string) (*catalog, error) {
	if fallback == "" {
		fallback = "ja"
	}
	if !supported(fallback) {
		return nil, fmt.Errorf("default language %q: want one of %s", fallback, strings.Join(Languages, ", "))
	}
	b := i18n.NewBundle(language.MustParse(fallback))
	b.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	c := &catalog{bundle: b, fallback: fallback, locs: map[string]*i18n.Localizer{}, ids: map[string]map[string]bool{}}
	for _, lang := range Languages {
		p := path.Join("locales", lang+".toml")
		data, err := fs.ReadFile(localeFS, p)
		if err != nil {
			return nil, fmt.Errorf("read catalog %s: %w", p, err)
		}
		mf, err := b.ParseMessageFileBytes(data, p)
		if err != nil {
			return nil, fmt.Errorf("parse catalog %s: %w", p, err)
		}
		ids := map[string]bool{}
		for _, m := range mf.Messages {
			ids[m.ID] = true
		}
		c.ids[lang] = ids
		c.locs[lang] = i18n.NewLocalizer(b, lang)
	}
	tags := []language.Tag{language.MustParse(fallback)}
	for _, l := range Languages {
		if l != fallback {
			tags = append(tags, language.MustParse(l))
		}
	}
	c.matcher = language.NewMatcher(tags)
	return c, nil
}

func supported(lang string) bool {
	for _, l := range Languages {
		if l == lang {
			return true
		}
	}
	return false
}

// match picks a language for an Accept-Language header; ok is false when
// the header asks for none we have.
func (c *catalog) match(acceptLanguage string) (string, bool) {
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return c.fallback, false
	}
	_, idx, conf := c.matcher.Match(tags...)
	if conf == language.No {
		return c.fallback, false
	}
	// The matcher's index follows the order of tags given to NewMatcher.
	order := []string{c.fallback}
	for _, l := range Languages {
		if l != c.fallback {
			order = append(order, l)
		}
	}
	return order[idx], true
}

// tr translates for one language. The zero value is not usable.
type tr struct {
	lang string
	loc  *i18n.Localizer
}

func (c *catalog) tr(lang string) tr {
	if !supported(lang) {
		lang = c.fallback
	}
	return tr{lang: lang, loc: c.locs[lang]}
}

// T returns the message id in the translator's language. args are pairs of
// name and value for the message's {{.Name}} placeholders. A missing message
// shows as its id in brackets, which the catalog tests rule out.
func (t tr) T(id string, args ...any) string {
	var data map[string]any
	if len(args) > 0 {
		data = make(map[string]any, len(args)/2)
		for i := 0; i+1 < len(args); i += 2 {
			data[fmt.Sprint(args[i])] = args[i+1]
		}
	}
	s, err := t.loc.Localize(&i18n.LocalizeConfig{MessageID: id, TemplateData: data})
	if err != nil {
		return "[" + id + "]"
	}
	return s
}

// k marks a string as a message id for the catalog tests, where an id is
// chosen in one place and translated in another.
func k(id string) string { return id }

// langFor decides a request's language from the user's choice, the
// language switch's cookie and Accept-Language; ok is false when none of
// them names a language we have.
func (c *catalog) langFor(r *http.Request, userLang string) (string, bool) {
	if supported(userLang) {
		return userLang, true
	}
	if ck, err := r.Cookie(langCookie); err == nil && supported(ck.Value) {
		return ck.Value, true
	}
	return c.match(r.Header.Get("Accept-Language"))
}

const langCookie = "omflow_lang"

// location returns the user's time zone, DefaultTimeZone when unset or
// unknown.
func location(name string) *time.Location {
	if name == "" {
		name = DefaultTimeZone
	}
	if loc, err := time.LoadLocation(name); err == nil {
		return loc
	}
	loc, err := time.LoadLocation(DefaultTimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}
