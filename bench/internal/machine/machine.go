// Package machine describes the computer a benchmark ran on (CPU, memory,
// load, Go, database and source versions) so published numbers say what
// produced them.
package machine

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Info is what the benchmark report says about the machine.
type Info struct {
	CPUs       int    // logical CPUs this process may use
	CPUModel   string // "model name" of /proc/cpuinfo
	MemTotalMB int64
	MemFreeMB  int64  // MemAvailable
	LoadAvg    string // 1, 5 and 15 minute load averages when described
	Kernel     string
	GoVersion  string
	PostgreSQL string // server_version, "" when not used
	GitCommit  string // short hash, "+dirty" when the tree has changes
	Date       time.Time
}

// Describe reads the machine's description from /proc and git. Parts it
// cannot read are left empty.
func Describe(ctx context.Context, repoDir string) Info {
	in := Info{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Date: time.Now().UTC()}
	in.CPUModel = cpuModel("/proc/cpuinfo")
	in.MemTotalMB, in.MemFreeMB = meminfo("/proc/meminfo")
	in.LoadAvg = LoadAvg()
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		in.Kernel = strings.TrimSpace(string(b))
	}
	in.GitCommit = gitCommit(ctx, repoDir)
	return in
}

// LoadAvg returns the 1, 5 and 15 minute load averages as "a b c".
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// Load1 returns the 1-minute load average, or -1 when unknown.
func Load1() float64 {
	f := strings.Fields(LoadAvg())
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

func cpuModel(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func meminfo(path string) (total, avail int64) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 2 {
			continue
		}
		kb, err := strconv.ParseInt(fs[1], 10, 64)
		if err != nil {
			continue
		}
		switch fs[0] {
		case "MemTotal:":
			total = kb / 1024
		case "MemAvailable:":
			avail = kb / 1024
		}
	}
	return total, avail
}

func gitCommit(ctx context.Context, dir string) string {
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	c := strings.TrimSpace(string(out))
	st, err := exec.CommandContext(ctx, "git", "-C", dir, "status", "--porcelain", "--untracked-files=no").Output()
	if err == nil && len(strings.TrimSpace(string(st))) > 0 {
		c += "+dirty"
	}
	return c
}

// Markdown renders the description as a bullet list.
func (in Info) Markdown() string {
	var b strings.Builder
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "- %s: %s\n", k, v)
		}
	}
	line("Date", in.Date.Format("2006-01-02 15:04 UTC"))
	line("CPU", fmt.Sprintf("%d × %s", in.CPUs, orUnknown(in.CPUModel)))
	line("Memory", fmt.Sprintf("%d MB total, %d MB available at start", in.MemTotalMB, in.MemFreeMB))
	line("Load average at start (1/5/15 min)", in.LoadAvg)
	line("Kernel", in.Kernel)
	line("Go", in.GoVersion)
	line("PostgreSQL", in.PostgreSQL)
	line("Commit", in.GitCommit)
	return b.String()
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown model"
	}
	return s
}
