package ui

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"unicode"

	"github.com/omflow/omflow/flow/def"
)

// Node box size in the diagram, in the designer's pixels.
const (
	nodeW = 120
	nodeH = 44
	pad   = 16
)

// diagramInput is what the diagram shows: the graph, where the ticket is now
// and where it has been.
type diagramInput struct {
	Graph   *def.Graph
	Current []string        // node ids the ticket waits at
	Visited map[string]bool // node ids the history mentions
	Title   string          // accessible name of the picture
	// TypeName translates a node type for the tooltip.
	TypeName func(typ string) string
}

// diagramSVG draws a flowobject as inline SVG: every node at its top/left,
// every line as an arrow between node edges, the current step highlighted
// and visited steps marked. Text is escaped; the SVG carries no script.
func diagramSVG(in diagramInput) template.HTML {
	g := in.Graph
	if g == nil || len(g.Nodes) == 0 {
		return ""
	}
	current := map[string]bool{}
	for _, id := range in.Current {
		current[id] = true
	}
	minX, minY := math.Inf(1), math.Inf(1)
	maxX, maxY := math.Inf(-1), math.Inf(-1)
	for _, n := range g.Nodes {
		minX = math.Min(minX, n.Left)
		minY = math.Min(minY, n.Top)
		maxX = math.Max(maxX, n.Left+nodeW)
		maxY = math.Max(maxY, n.Top+nodeH)
	}
	vx, vy := minX-pad, minY-pad
	vw, vh := maxX-minX+2*pad, maxY-minY+2*pad

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="diagram" viewBox="%s %s %s %s" width="%s" height="%s" role="img" aria-labelledby="diagram-title">`,
		num(vx), num(vy), num(vw), num(vh), num(vw), num(vh))
	fmt.Fprintf(&b, `<title id="diagram-title">%s</title>`, esc(in.Title))
	b.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker></defs>`)

	pairs := map[[2]string]bool{}
	for _, l := range g.Lines {
		pairs[[2]string{l.Source, l.Target}] = true
	}
	b.WriteString(`<g class="lines">`)
	for _, l := range g.Lines {
		s, t := g.Node(l.Source), g.Node(l.Target)
		if s == nil || t == nil || s == t {
			continue
		}
		sx, sy := s.Left+nodeW/2, s.Top+nodeH/2
		tx, ty := t.Left+nodeW/2, t.Top+nodeH/2
		// Two lines between the same nodes in opposite directions would
		// overlap: move each a little to its right.
		if pairs[[2]string{l.Target, l.Source}] {
			dx, dy := tx-sx, ty-sy
			d := math.Hypot(dx, dy)
			if d > 0 {
				ox, oy := -dy/d*7, dx/d*7
				sx, sy, tx, ty = sx+ox, sy+oy, tx+ox, ty+oy
			}
		}
		x1, y1 := clip(sx, sy, tx, ty, s)
		x2, y2 := clip(tx, ty, sx, sy, t)
		cls := "line"
		if in.Visited[l.Source] && (in.Visited[l.Target] || current[l.Target]) {
			cls += " walked"
		}
		fmt.Fprintf(&b, `<line class="%s" data-line="%s" x1="%s" y1="%s" x2="%s" y2="%s" marker-end="url(#arrow)"/>`,
			cls, esc(l.ID), num(x1), num(y1), num(x2), num(y2))
	}
	b.WriteString(`</g><g class="nodes">`)
	for _, n := range g.Nodes {
		cls := "node type-" + safeClass(n.Type)
		state := ""
		if current[n.ID] {
			cls += " current"
			state = ` aria-current="step"`
		} else if in.Visited[n.ID] {
			cls += " visited"
		}
		label := n.Name
		if label == "" {
			label = n.Type
		}
		typeName := n.Type
		if in.TypeName != nil {
			typeName = in.TypeName(n.Type)
		}
		fmt.Fprintf(&b, `<g class="%s" data-node="%s" transform="translate(%s %s)"%s>`, cls, esc(n.ID), num(n.Left), num(n.Top), state)
		fmt.Fprintf(&b, `<title>%s (%s)</title>`, esc(label), esc(typeName))
		switch n.Type {
		case def.NodeStart, def.NodeEnd:
			fmt.Fprintf(&b, `<rect class="shape" width="%d" height="%d" rx="%d"/>`, nodeW, nodeH, nodeH/2)
		case def.NodeSwitch:
			fmt.Fprintf(&b, `<polygon class="shape" points="%d,0 %d,%d %d,%d 0,%d"/>`, nodeW/2, nodeW, nodeH/2, nodeW/2, nodeH, nodeH/2)
		case def.NodeForm:
			fmt.Fprintf(&b, `<rect class="shape" width="%d" height="%d" rx="4"/>`, nodeW, nodeH)
		default:
			fmt.Fprintf(&b, `<rect class="shape" width="%d" height="%d" rx="10"/>`, nodeW, nodeH)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" dominant-baseline="central">%s</text>`, nodeW/2, nodeH/2, esc(fit(label, 16)))
		b.WriteString(`</g>`)
	}
	b.WriteString(`</g></svg>`)
	return template.HTML(b.String())
}

// clip moves (x, y), the centre of node n, along the line towards (ox, oy)
// to the edge of n's box.
func clip(x, y, ox, oy float64, n *def.Node) (float64, float64) {
	dx, dy := ox-x, oy-y
	if dx == 0 && dy == 0 {
		return x, y
	}
	hw, hh := float64(nodeW)/2, float64(nodeH)/2
	tx, ty := math.Inf(1), math.Inf(1)
	if dx != 0 {
		tx = hw / math.Abs(dx)
	}
	if dy != 0 {
		ty = hh / math.Abs(dy)
	}
	t := math.Min(tx, ty)
	if t > 1 {
		t = 1
	}
	return x + dx*t, y + dy*t
}

// fit shortens s to about width units, counting wide (CJK) characters as two.
func fit(s string, width int) string {
	w := 0
	for i, r := range s {
		rw := 1
		if unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Hangul, r) || (r >= 0xFF00 && r <= 0xFFEF) {
			rw = 2
		}
		if w+rw > width {
			return s[:i] + "…"
		}
		w += rw
	}
	return s
}

func num(f float64) string {
	if f == math.Trunc(f) {
		return fmt.Sprintf("%d", int64(f))
	}
	return fmt.Sprintf("%.1f", f)
}

func esc(s string) string { return template.HTMLEscapeString(s) }

// safeClass keeps letters, digits and dashes of a node type for a class name.
func safeClass(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_') {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "unknown"
	}
	return b.String()
}
