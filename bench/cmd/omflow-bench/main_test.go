package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/omflow/omflow/bench/internal/machine"
	"github.com/omflow/omflow/bench/standalone"
)

func TestParseFlags(t *testing.T) {
	if e, err := parseEngines(" sqlite, PostgreSQL "); err != nil || strings.Join(e, ",") != "sqlite,postgres" {
		t.Errorf("engines = %v, %v", e, err)
	}
	for _, bad := range []string{"", "oracle", "sqlite,mysql"} {
		if _, err := parseEngines(bad); err == nil {
			t.Errorf("engines %q accepted", bad)
		}
	}
	if c, err := parseConc("1, 8,32"); err != nil || len(c) != 3 || c[2] != 32 {
		t.Errorf("conc = %v, %v", c, err)
	}
	for _, bad := range []string{"", "0", "x", "1,-2", "5000"} {
		if _, err := parseConc(bad); err == nil {
			t.Errorf("conc %q accepted", bad)
		}
	}
}

func results() []standalone.Result {
	return []standalone.Result{
		{Engine: "sqlite", Conc: 1, Filed: 1000, Elapsed: 10 * time.Second, Advanced: 10 * time.Second, P50: time.Millisecond, P99: 3 * time.Millisecond},
		{Engine: "postgres", Conc: 32, Filed: 5000, Elapsed: 10 * time.Second, Advanced: 12500 * time.Millisecond, P50: 20 * time.Millisecond, P99: 90 * time.Millisecond, OtherBusy: 0.4, Load1: 9},
	}
}

func TestSectionAndAim(t *testing.T) {
	f := flags{duration: 10 * time.Second, warmup: 2 * time.Second}
	body := section(f, machine.Info{CPUs: 2, CPUModel: "Test CPU", PostgreSQL: "15.2", GitCommit: "abc123"}, results())
	for _, want := range []string{
		"| PostgreSQL | 32 | 5000 | 500 | 400 | 20.0 ms | 90.0 ms | 0 |",
		"**not met** — 500 filed/s, 400 advanced/s",
		"2 × Test CPU", "PostgreSQL: 15.2", "Commit: abc123", "`make bench`", "shared with other work",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("section lacks %q:\n%s", want, body)
		}
	}
	rs := results()
	rs[1].Filed, rs[1].Advanced = 12000, 11*time.Second
	if got := aim(rs); !strings.HasPrefix(got, "Aim (≥1,000 tickets/s on PostgreSQL at 32 clients, no request error): met") {
		t.Errorf("aim = %q", got)
	}
}

func TestWriteSectionKeepsOthers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	if err := writeSection(path, "first"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	doc := string(b)
	if !strings.HasPrefix(doc, "# Benchmarks") || !strings.Contains(doc, sectionStandalone+"\n\nfirst\n") || !strings.HasSuffix(strings.TrimSpace(doc), "(bench/cluster)._") {
		t.Fatalf("new doc:\n%s", doc)
	}
	doc = strings.Replace(doc, "_Not measured yet: written by the cluster benchmark (bench/cluster)._", "their table", 1)
	os.WriteFile(path, []byte(doc), 0o644)
	if err := writeSection(path, "second"); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	doc = string(b)
	if strings.Contains(doc, "first") || !strings.Contains(doc, "second") || !strings.Contains(doc, sectionBooster+"\n\ntheir table") ||
		strings.Index(doc, sectionStandalone) > strings.Index(doc, sectionBooster) {
		t.Fatalf("rewritten doc:\n%s", doc)
	}
}
