package standalone

import (
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	s := Sorted(ds)
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0.001, time.Millisecond}} {
		if got := Percentile(s, c.q); got != c.want {
			t.Errorf("p%v = %v, want %v", c.q*100, got, c.want)
		}
	}
	if Percentile(nil, 0.5) != 0 {
		t.Error("empty percentile not 0")
	}
	if got := Percentile([]time.Duration{7}, 0.99); got != 7 {
		t.Errorf("single = %v", got)
	}
	if ds[0] != 100*time.Millisecond {
		t.Error("Sorted changed its input")
	}
}

func TestParseStatCPU(t *testing.T) {
	line := "1234 (omflow (x) y) S 1 1234 1234 0 -1 4194560 2000 0 0 0 250 50 0 0 20 0 12 0 100 0 0"
	d, err := parseStatCPU(line)
	if err != nil || d != 3*time.Second {
		t.Fatalf("parseStatCPU = %v, %v; want 3s", d, err)
	}
	if _, err := parseStatCPU("garbage"); err == nil {
		t.Fatal("garbage parsed")
	}
}

func TestParseMetrics(t *testing.T) {
	in := `# HELP go_memstats_heap_inuse_bytes x
# TYPE go_memstats_heap_inuse_bytes gauge
go_memstats_heap_inuse_bytes 1.2345e+07
omflow_jobs{state="ready"} 3
omflow_jobs{state="a b"} 4 1700000000000
bad line
`
	m, err := ParseMetrics(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if m["go_memstats_heap_inuse_bytes"] != 12345000 || m[`omflow_jobs{state="ready"}`] != 3 || m[`omflow_jobs{state="a b"}`] != 4 {
		t.Fatalf("parsed %v", m)
	}
}

func TestMachineCPU(t *testing.T) {
	busy, total := MachineCPU()
	if total <= 0 || busy < 0 || busy > total {
		t.Fatalf("MachineCPU = %v busy of %v", busy, total)
	}
}
