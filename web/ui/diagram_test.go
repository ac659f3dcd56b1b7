package ui

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/omflow/omflow/flow/def"
)

func missionGraph(t *testing.T) *def.Graph {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "flow", "testdata", "mission.json"))
	if err != nil {
		t.Fatal(err)
	}
	app, err := def.ParseApp(data)
	if err != nil {
		t.Fatal(err)
	}
	return app.Flows[0].Graph
}

// svgDoc is the part of the SVG the tests look at.
type svgDoc struct {
	XMLName xml.Name `xml:"svg"`
	ViewBox string   `xml:"viewBox,attr"`
	Title   string   `xml:"title"`
	Lines   []struct {
		Class string  `xml:"class,attr"`
		ID    string  `xml:"data-line,attr"`
		X1    float64 `xml:"x1,attr"`
		Y1    float64 `xml:"y1,attr"`
		X2    float64 `xml:"x2,attr"`
		Y2    float64 `xml:"y2,attr"`
	} `xml:"g>line"`
	Nodes []struct {
		Class     string `xml:"class,attr"`
		ID        string `xml:"data-node,attr"`
		Transform string `xml:"transform,attr"`
		Current   string `xml:"aria-current,attr"`
		Title     string `xml:"title"`
		Text      string `xml:"text"`
	} `xml:"g>g"`
}

func parseSVG(t *testing.T, s string) svgDoc {
	t.Helper()
	var d svgDoc
	if err := xml.Unmarshal([]byte(s), &d); err != nil {
		t.Fatalf("diagram is not well-formed XML: %v\n%s", err, s)
	}
	return d
}

func TestDiagramPlacesNodesAndHighlightsTheCurrentStep(t *testing.T) {
	g := missionGraph(t)
	svg := string(diagramSVG(diagramInput{
		Graph: g, Current: []string{"FITEM_4"}, Visited: map[string]bool{"FITEM_1": true, "FITEM_2": true, "FITEM_3": true},
		Title: "任務單", TypeName: func(typ string) string { return "type:" + typ },
	}))
	d := parseSVG(t, svg)
	if d.Title != "任務單" {
		t.Errorf("title %q", d.Title)
	}
	if len(d.Nodes) != len(g.Nodes) || len(d.Lines) != len(g.Lines) {
		t.Fatalf("%d nodes, %d lines; want %d, %d", len(d.Nodes), len(d.Lines), len(g.Nodes), len(g.Lines))
	}
	// Nodes sit at their designer position: 任務處理 is at top 200, left 400.
	byID := map[string]int{}
	for i, n := range d.Nodes {
		byID[n.ID] = i
	}
	n := d.Nodes[byID["FITEM_4"]]
	if n.Transform != "translate(400 200)" {
		t.Errorf("FITEM_4 at %q, want translate(400 200)", n.Transform)
	}
	if !strings.Contains(n.Class, "current") || n.Current != "step" || n.Text != "任務處理" || n.Title != "任務處理 (type:form)" {
		t.Errorf("current node %+v", n)
	}
	if c := d.Nodes[byID["FITEM_2"]].Class; !strings.Contains(c, "visited") || strings.Contains(c, "current") {
		t.Errorf("visited node class %q", c)
	}
	if c := d.Nodes[byID["FITEM_8"]].Class; strings.Contains(c, "visited") || !strings.Contains(c, "type-end") {
		t.Errorf("end node class %q", c)
	}
	for _, shape := range []string{`<polygon class="shape"`, `rx="22"`} {
		if !strings.Contains(svg, shape) {
			t.Errorf("no %s (switch diamond / start-end pill)", shape)
		}
	}
	// Lines run between node edges, not centres: FLINE_1 goes from start
	// (40,40) to 任務分析 (220,40): both at the same height, so from the
	// right edge of one to the left edge of the other.
	for _, l := range d.Lines {
		if l.ID != "FLINE_1" {
			continue
		}
		if l.X1 != 40+nodeW || l.X2 != 220 || l.Y1 != 40+nodeH/2 || l.Y2 != 40+nodeH/2 {
			t.Errorf("FLINE_1 from (%v,%v) to (%v,%v)", l.X1, l.Y1, l.X2, l.Y2)
		}
		if !strings.Contains(l.Class, "walked") {
			t.Errorf("FLINE_1 between visited nodes has class %q", l.Class)
		}
	}
	// FLINE_2 (FITEM_2→FITEM_3) and FLINE_3 (back) do not lie on each other.
	var l2, l3 [4]float64
	for _, l := range d.Lines {
		switch l.ID {
		case "FLINE_2":
			l2 = [4]float64{l.X1, l.Y1, l.X2, l.Y2}
		case "FLINE_3":
			l3 = [4]float64{l.X2, l.Y2, l.X1, l.Y1}
		}
	}
	if l2 == l3 {
		t.Errorf("lines in both directions overlap: %v", l2)
	}
	// The view box holds every node with a margin.
	f := strings.Fields(d.ViewBox)
	if len(f) != 4 {
		t.Fatalf("viewBox %q", d.ViewBox)
	}
	x, _ := strconv.ParseFloat(f[0], 64)
	w, _ := strconv.ParseFloat(f[2], 64)
	if x != 40-pad || w != 760+nodeW-40+2*pad {
		t.Errorf("viewBox %q", d.ViewBox)
	}
}

func TestDiagramEscapesNamesAndSurvivesOddGraphs(t *testing.T) {
	g := &def.Graph{
		Nodes: []*def.Node{
			{ID: "FITEM_1", Type: "start", Name: `<script>alert("x")</script>`, Top: 0, Left: 0},
			{ID: "FITEM_2", Type: `weird"type`, Name: "とても長いステップの名前がここに入ります", Top: 100, Left: 300},
		},
	}
	svg := string(diagramSVG(diagramInput{Graph: g, Title: `a<b`}))
	if strings.Contains(svg, "<script>") || strings.Contains(svg, `weird"type`) {
		t.Fatalf("unescaped text in SVG:\n%s", svg)
	}
	d := parseSVG(t, svg)
	if d.Nodes[0].Text != `<script>alert("x")</script>`[:16]+"…" {
		t.Errorf("long ASCII name: %q", d.Nodes[0].Text)
	}
	if d.Nodes[1].Text != "とても長いステッ…" {
		t.Errorf("long CJK name: %q", d.Nodes[1].Text)
	}
	if !strings.Contains(d.Nodes[1].Class, "type-weirdtype") {
		t.Errorf("class of an odd type: %q", d.Nodes[1].Class)
	}
	if diagramSVG(diagramInput{Graph: &def.Graph{}}) != "" || diagramSVG(diagramInput{}) != "" {
		t.Error("an empty graph draws something")
	}
}
