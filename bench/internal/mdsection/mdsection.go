// Package mdsection replaces one "## " section of a Markdown document and
// leaves the others as they are, so several benchmark programs can each
// keep their own section of docs/BENCHMARKS.md up to date.
package mdsection

import (
	"strings"
)

// section is one level-2 section: the lines from its heading up to (not
// including) the next level-2 heading.
type section struct {
	heading string // the heading line, "" for the text before the first heading
	lines   []string
}

// split cuts doc into sections. Lines inside fenced code blocks never start
// a section.
func split(doc string) []section {
	doc = strings.ReplaceAll(doc, "\r\n", "\n")
	lines := strings.Split(strings.TrimRight(doc, "\n"), "\n")
	if doc == "" {
		lines = nil
	}
	out := []section{{}}
	fence := ""
	for _, l := range lines {
		t := strings.TrimSpace(l)
		switch {
		case fence != "":
			if strings.HasPrefix(t, fence) {
				fence = ""
			}
		case strings.HasPrefix(t, "```"):
			fence = "```"
		case strings.HasPrefix(t, "~~~"):
			fence = "~~~"
		case isH2(l):
			out = append(out, section{heading: strings.TrimRight(l, " \t")})
			continue
		}
		out[len(out)-1].lines = append(out[len(out)-1].lines, l)
	}
	return out
}

func isH2(l string) bool { return strings.HasPrefix(l, "## ") }

// join puts sections back together: one blank line between a heading and
// its text and between sections, and a final newline.
func join(ss []section) string {
	var parts []string
	for _, s := range ss {
		body := strings.Trim(strings.Join(s.lines, "\n"), "\n")
		switch {
		case s.heading == "" && body != "":
			parts = append(parts, body)
		case s.heading != "" && body == "":
			parts = append(parts, s.heading)
		case s.heading != "":
			parts = append(parts, s.heading+"\n\n"+body)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, "\n\n") + "\n"
}

// Replace returns doc with the section titled heading (a full heading line
// such as "## Standalone server: filing tickets") holding body instead of
// what it held. A missing section is added before the first heading named
// in before that exists, or at the end. Every other section is kept as it
// was.
func Replace(doc, heading, body string, before ...string) string {
	heading = strings.TrimSpace(heading)
	ss := split(doc)
	bodyLines := strings.Split(strings.Trim(strings.ReplaceAll(body, "\r\n", "\n"), "\n"), "\n")
	for i := range ss {
		if ss[i].heading == heading {
			ss[i].lines = bodyLines
			return join(ss)
		}
	}
	at := len(ss)
	for _, b := range before {
		if i := find(ss, b); i >= 0 && i < at {
			at = i
		}
	}
	ss = append(ss[:at], append([]section{{heading: heading, lines: bodyLines}}, ss[at:]...)...)
	return join(ss)
}

// Ensure returns doc with a section titled heading, adding it at the end
// with placeholder as its text when it is missing.
func Ensure(doc, heading, placeholder string) string {
	if find(split(doc), strings.TrimSpace(heading)) >= 0 {
		return doc
	}
	return Replace(doc, heading, placeholder)
}

// Section returns the text of the section titled heading, without the
// heading line, and whether it exists.
func Section(doc, heading string) (string, bool) {
	ss := split(doc)
	i := find(ss, strings.TrimSpace(heading))
	if i < 0 {
		return "", false
	}
	return strings.Trim(strings.Join(ss[i].lines, "\n"), "\n"), true
}

func find(ss []section, heading string) int {
	for i, s := range ss {
		if s.heading != "" && s.heading == heading {
			return i
		}
	}
	return -1
}
