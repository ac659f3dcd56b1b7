package web

import (
	"bufio"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPIDocumentsEveryRoute keeps docs/openapi.yaml in step with the
// routes: every route is documented and every documented operation exists.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	f, err := os.Open("../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pathRe := regexp.MustCompile(`^  (/[^:]*):\s*$`)
	opRe := regexp.MustCompile(`^    (get|post|put|patch|delete):\s*$`)
	var documented []string
	inPaths, cur := false, ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "paths:":
			inPaths = true
		case inPaths && line != "" && !strings.HasPrefix(line, " "):
			inPaths = false
		case inPaths:
			if m := pathRe.FindStringSubmatch(line); m != nil {
				cur = m[1]
			} else if m := opRe.FindStringSubmatch(line); m != nil {
				documented = append(documented, strings.ToUpper(m[1])+" "+cur)
			}
		}
	}
	e := newEnv(t)
	routes := slices.Clone(e.srv.patterns)
	slices.Sort(routes)
	slices.Sort(documented)
	for _, r := range routes {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in docs/openapi.yaml", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routes, d) {
			t.Errorf("docs/openapi.yaml documents %s, which is no route", d)
		}
	}
	if len(routes) < 30 {
		t.Fatalf("only %d routes seen", len(routes))
	}
}
