package machine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestProcParsers(t *testing.T) {
	dir := t.TempDir()
	cpu := filepath.Join(dir, "cpuinfo")
	os.WriteFile(cpu, []byte("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n"), 0o600)
	if got := cpuModel(cpu); got != "AMD EPYC 7B13" {
		t.Errorf("cpuModel = %q", got)
	}
	mem := filepath.Join(dir, "meminfo")
	os.WriteFile(mem, []byte("MemTotal:       24684544 kB\nMemFree:        100 kB\nMemAvailable:   20480000 kB\n"), 0o600)
	if tot, av := meminfo(mem); tot != 24106 || av != 20000 {
		t.Errorf("meminfo = %d, %d", tot, av)
	}
	if got := cpuModel(filepath.Join(dir, "missing")); got != "" {
		t.Errorf("missing file gave %q", got)
	}
}

func TestDescribeMarkdown(t *testing.T) {
	in := Describe(context.Background(), ".")
	in.PostgreSQL = "15.2"
	md := in.Markdown()
	for _, want := range []string{"- CPU: ", "- Memory: ", "- Go: go", "- PostgreSQL: 15.2"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if in.CPUs < 1 {
		t.Errorf("CPUs = %d", in.CPUs)
	}
}
