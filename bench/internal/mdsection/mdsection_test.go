package mdsection

import (
	"strings"
	"testing"
)

const doc = `# Benchmarks

Intro text.

## Standalone server: filing tickets

old table

## Booster: failover and dispatch

their numbers
` + "```" + `
## not a heading inside a fence
` + "```" + `
`

func TestReplaceKeepsOtherSections(t *testing.T) {
	got := Replace(doc, "## Standalone server: filing tickets", "new table\n\n| a |\n")
	if strings.Contains(got, "old table") || !strings.Contains(got, "new table\n\n| a |\n") {
		t.Fatalf("section not replaced:\n%s", got)
	}
	for _, keep := range []string{"# Benchmarks", "Intro text.", "## Booster: failover and dispatch", "their numbers", "## not a heading inside a fence"} {
		if !strings.Contains(got, keep) {
			t.Errorf("lost %q:\n%s", keep, got)
		}
	}
	if strings.Index(got, "new table") > strings.Index(got, "## Booster") {
		t.Errorf("replaced section moved:\n%s", got)
	}
	if again := Replace(got, "## Standalone server: filing tickets", "new table\n\n| a |\n"); again != got {
		t.Errorf("replace is not idempotent:\n%s\n---\n%s", got, again)
	}
}

func TestReplaceAddsMissingSectionBefore(t *testing.T) {
	d := "# B\n\n## Booster: failover and dispatch\n\nx\n"
	got := Replace(d, "## Standalone server: filing tickets", "table", "## Booster: failover and dispatch")
	want := "# B\n\n## Standalone server: filing tickets\n\ntable\n\n## Booster: failover and dispatch\n\nx\n"
	if got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
	got = Replace("", "## S", "t", "## missing")
	if got != "## S\n\nt\n" {
		t.Fatalf("empty doc: %q", got)
	}
}

func TestEnsureAndSection(t *testing.T) {
	got := Ensure("# B\n", "## Booster: failover and dispatch", "_pending_")
	if got != "# B\n\n## Booster: failover and dispatch\n\n_pending_\n" {
		t.Fatalf("ensure added wrongly: %q", got)
	}
	if Ensure(got, "## Booster: failover and dispatch", "other") != got {
		t.Fatal("ensure changed an existing section")
	}
	body, ok := Section(doc, "## Booster: failover and dispatch")
	if !ok || !strings.HasPrefix(body, "their numbers") || !strings.Contains(body, "inside a fence") {
		t.Fatalf("section = %q, %v", body, ok)
	}
	if _, ok := Section(doc, "## nope"); ok {
		t.Fatal("found a missing section")
	}
}
