package def

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Node types of OMFLOW flows.
const (
	NodeStart      = "start"
	NodeEnd        = "end"
	NodeForm       = "form"
	NodeSwitch     = "switch"
	NodePython     = "python"
	NodeAsync      = "async"
	NodeCollection = "collection"
	NodeSubflow    = "subflow"
	NodeSleep      = "sleep"
	NodeSetform    = "setform"
)

// NodeTypes lists the supported node types.
var NodeTypes = []string{NodeStart, NodeEnd, NodeForm, NodeSwitch, NodePython, NodeAsync, NodeCollection, NodeSubflow, NodeSleep, NodeSetform}

// Graph is an OMFLOW flowobject: nodes (FITEM_n) and the lines joining them.
type Graph struct {
	Nodes []*Node // in designer order
	Lines []*Line
	// Form is the flow's form, used to check field references. ParseApp sets
	// it to the flow's formobject (or, without one, the flowobject's own
	// form_object); a subflow graph shares its parent's form.
	Form *Form
	Raw  json.RawMessage

	path  string // prefix of node ids in errors: "" or "FITEM_5/"
	byID  map[string]*Node
	lines map[string]*Line
	next  map[string][]string
	prev  map[string][]string
	bad   []NodeError // items that could not be read
	// unreadable: the item list itself could not be read; only bad is
	// reported.
	unreadable bool
}

// Line joins two nodes.
type Line struct {
	ID     string
	Source string // config.source_item
	Target string // config.target_item
	Raw    json.RawMessage
}

// Node is one step of a flow.
type Node struct {
	ID   string
	Type string
	Name string // the node's "text" (its label in the designer)
	// Top and Left place the node in the diagram, in pixels. OMFLOW keeps them
	// in config.top and config.left (the item's own top/left are usually 0);
	// the item's own values are used when config has none.
	Top, Left float64
	Config    NodeConfig
	Raw       json.RawMessage

	unreadable    bool // config could not be read; config checks are skipped
	subflowBroken bool // config.flowobject is present but not a readable object
}

// Assign is one assignment {"name": target, "value": source}.
type Assign struct {
	Name    string
	Value   string
	Require bool // OMFLOW's "require": the value must not be empty
}

// VarName returns Name without a $( ) wrapper: the variable or script global
// named by a start or python input.
func (a Assign) VarName() string {
	n := strings.TrimSpace(a.Name)
	if strings.HasPrefix(n, "$(") && strings.HasSuffix(n, ")") {
		return n[2 : len(n)-1]
	}
	return n
}

// Rule is one switch rule: if Value1 Rule Value2 holds, go to Target.
type Rule struct {
	Value1 string
	Rule   string
	Value2 string
	Target string
}

// NodeConfig is the part of a node's config the engine uses. Raw holds all
// of it.
type NodeConfig struct {
	Input  []Assign // start: variables; form/setform: fields set on arrival; python: script globals
	Output []Assign // python: results copied out; end: the flow's outputs
	Input1 []Assign // form: applied when quick action 1 is chosen
	Input2 []Assign // form: applied when quick action 2 is chosen

	FormObject  *Form // form: the form as this step shows it; nil shows the flow's form
	Action1     bool
	Action2     bool
	Action1Text string
	Action2Text string

	Rules []Rule // switch
	Code  string // python

	Sleep Sleep // sleep

	Flow          *Graph   // subflow: the embedded flow (config.flowobject)
	SubflowInput  []Assign // subflow: OMFLOW's subflow_input, kept for the engine
	SubflowOutput []Assign // subflow: OMFLOW's subflow_output

	Raw json.RawMessage
}

// Node returns the node with the given id, or nil.
func (g *Graph) Node(id string) *Node { return g.byID[id] }

// Line returns the line with the given id, or nil.
func (g *Graph) Line(id string) *Line { return g.lines[id] }

// Next returns the targets of the lines leaving node id, in line order,
// without duplicates.
func (g *Graph) Next(id string) []string { return g.next[id] }

// Prev returns the sources of the lines entering node id, in line order,
// without duplicates. For a collection node these are the branches it waits
// for.
func (g *Graph) Prev(id string) []string { return g.prev[id] }

// Start returns the first start node, or nil.
func (g *Graph) Start() *Node {
	for _, n := range g.Nodes {
		if n.Type == NodeStart {
			return n
		}
	}
	return nil
}

// Path returns the id of n as errors name it: "FITEM_2", or inside a subflow
// "FITEM_5/FITEM_2".
func (g *Graph) Path(id string) string { return g.path + id }

// Joined reports whether a line goes from one node to the other.
func (g *Graph) Joined(from, to string) bool {
	for _, t := range g.next[from] {
		if t == to {
			return true
		}
	}
	return false
}

type rawGraph struct {
	Items      []json.RawMessage `json:"items"`
	FormObject json.RawMessage   `json:"form_object"`
}

type rawItem struct {
	ID     looseString     `json:"id"`
	Type   looseString     `json:"type"`
	Text   looseString     `json:"text"`
	Name   looseString     `json:"name"`
	Top    *looseFloat     `json:"top"`
	Left   *looseFloat     `json:"left"`
	Config json.RawMessage `json:"config"`
}

type rawLineConfig struct {
	Source looseString `json:"source_item"`
	Target looseString `json:"target_item"`
}

type rawAssign struct {
	Name    looseString `json:"name"`
	Value   looseString `json:"value"`
	Require looseBool   `json:"require"`
}

type rawRule struct {
	Value1 looseString `json:"value1"`
	Rule   looseString `json:"rule"`
	Value2 looseString `json:"value2"`
	Target looseString `json:"target"`
}

type rawNodeConfig struct {
	Top           *looseFloat     `json:"top"`
	Left          *looseFloat     `json:"left"`
	Input         json.RawMessage `json:"input"`
	Output        json.RawMessage `json:"output"`
	Input1        json.RawMessage `json:"input1"`
	Input2        json.RawMessage `json:"input2"`
	SubflowInput  json.RawMessage `json:"subflow_input"`
	SubflowOutput json.RawMessage `json:"subflow_output"`
	FormObject    json.RawMessage `json:"form_object"`
	Action1       looseBool       `json:"action1"`
	Action2       looseBool       `json:"action2"`
	Action1Text   looseString     `json:"action1_text"`
	Action2Text   looseString     `json:"action2_text"`
	Rules         json.RawMessage `json:"rules"`
	Code          looseString     `json:"code"`
	FlowObject    json.RawMessage `json:"flowobject"`
}

// ParseGraph reads a flowobject (a JSON object, or a JSON string holding
// one). Items that cannot be read are reported in a *ValidationError, with
// the graph of the readable items. It does not check the graph: see
// ValidateGraph.
func ParseGraph(data []byte) (*Graph, error) {
	g, errs := parseGraph(data, "")
	if len(errs) > 0 {
		return g, &ValidationError{Errors: errs}
	}
	return g, nil
}

func parseGraph(data []byte, path string) (*Graph, []NodeError) {
	obj, err := embedded(data)
	if err != nil {
		return nil, []NodeError{{Node: path + "flowobject", Message: err.Error()}}
	}
	g := &Graph{Raw: obj, path: path}
	g.index()
	if obj == nil {
		return g, nil
	}
	var rg rawGraph
	if err := decode(obj, &rg); err != nil {
		g.bad = []NodeError{{Node: path + "flowobject", Message: err.Error()}}
		g.unreadable = true
		return g, g.bad
	}
	var errs []NodeError
	if len(rg.FormObject) > 0 {
		form, ferrs := parseForm(rg.FormObject)
		if len(ferrs) == 0 && form != nil && len(form.Items) > 0 {
			g.Form = form
		}
	}
	for i, raw := range rg.Items {
		var ri rawItem
		if err := decode(raw, &ri); err != nil {
			errs = append(errs, NodeError{Node: fmt.Sprintf("%sflowobject item %d", path, i+1), Message: err.Error()})
			continue
		}
		id := string(ri.ID)
		if string(ri.Type) == "line" || strings.HasPrefix(id, "FLINE_") {
			l := &Line{ID: id, Raw: raw}
			cfg, err := embedded(ri.Config)
			if err == nil && cfg != nil {
				var lc rawLineConfig
				err = decode(cfg, &lc)
				l.Source, l.Target = string(lc.Source), string(lc.Target)
			}
			if err != nil {
				errs = append(errs, NodeError{Node: path + id, Message: fmt.Sprintf("line config: %v", err)})
				continue
			}
			g.Lines = append(g.Lines, l)
			continue
		}
		n := &Node{ID: id, Type: string(ri.Type), Name: string(ri.Text), Raw: raw}
		if n.Name == "" {
			n.Name = string(ri.Name)
		}
		if ri.Top != nil {
			n.Top = float64(*ri.Top)
		}
		if ri.Left != nil {
			n.Left = float64(*ri.Left)
		}
		own, nested := n.parseConfig(ri.Config, g.path)
		if len(own) > 0 {
			n.unreadable = true
		}
		errs = append(errs, own...)
		errs = append(errs, nested...)
		g.Nodes = append(g.Nodes, n)
	}
	g.index()
	g.bad = errs
	return g, errs
}

// index builds the lookup tables.
func (g *Graph) index() {
	g.byID = make(map[string]*Node, len(g.Nodes))
	for _, n := range g.Nodes {
		if _, dup := g.byID[n.ID]; !dup {
			g.byID[n.ID] = n
		}
	}
	g.lines = make(map[string]*Line, len(g.Lines))
	g.next = map[string][]string{}
	g.prev = map[string][]string{}
	for _, l := range g.Lines {
		if _, dup := g.lines[l.ID]; !dup {
			g.lines[l.ID] = l
		}
		if !contains(g.next[l.Source], l.Target) {
			g.next[l.Source] = append(g.next[l.Source], l.Target)
		}
		if !contains(g.prev[l.Target], l.Source) {
			g.prev[l.Target] = append(g.prev[l.Target], l.Source)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseConfig reads the node's config. It returns the problems of the node's
// own config and, separately, those inside an embedded subflow.
func (n *Node) parseConfig(raw json.RawMessage, path string) (own, nested []NodeError) {
	id := path + n.ID
	fail := func(format string, args ...any) []NodeError {
		return []NodeError{{Node: id, Name: n.Name, Message: fmt.Sprintf(format, args...)}}
	}
	cfg, err := embedded(raw)
	if err != nil {
		return fail("config: %v", err), nil
	}
	n.Config.Raw = cfg
	if cfg == nil {
		return nil, nil
	}
	var rc rawNodeConfig
	if err := decode(cfg, &rc); err != nil {
		return fail("config: %v", err), nil
	}
	if rc.Top != nil {
		n.Top = float64(*rc.Top)
	}
	if rc.Left != nil {
		n.Left = float64(*rc.Left)
	}
	c := &n.Config
	var errs []NodeError
	for _, a := range []struct {
		key string
		raw json.RawMessage
		dst *[]Assign
	}{
		{"input", rc.Input, &c.Input},
		{"output", rc.Output, &c.Output},
		{"input1", rc.Input1, &c.Input1},
		{"input2", rc.Input2, &c.Input2},
		{"subflow_input", rc.SubflowInput, &c.SubflowInput},
		{"subflow_output", rc.SubflowOutput, &c.SubflowOutput},
	} {
		list, err := parseAssigns(a.raw)
		if err != nil {
			errs = append(errs, fail("config.%s: %v", a.key, err)...)
		}
		*a.dst = list
	}
	c.Action1, c.Action2 = bool(rc.Action1), bool(rc.Action2)
	c.Action1Text, c.Action2Text = string(rc.Action1Text), string(rc.Action2Text)
	c.Code = string(rc.Code)

	switch n.Type {
	case NodeForm:
		if len(rc.FormObject) > 0 {
			form, ferrs := parseForm(rc.FormObject)
			for _, fe := range ferrs {
				errs = append(errs, fail("config.form_object: %s: %s", fe.Node, fe.Message)...)
			}
			if form != nil && form.Raw != nil {
				c.FormObject = form
			}
		}
	case NodeSwitch:
		rules, err := parseRules(rc.Rules)
		if err != nil {
			errs = append(errs, fail("config.rules: %v", err)...)
		}
		c.Rules = rules
	case NodeSleep:
		s, err := parseSleep(cfg)
		if err != nil {
			errs = append(errs, fail("%v", err)...)
		}
		c.Sleep = s
	case NodeSubflow:
		if len(rc.FlowObject) > 0 {
			sub, serrs := parseGraph(rc.FlowObject, id+"/")
			nested = serrs
			n.subflowBroken = sub == nil
			if sub != nil && sub.Raw != nil {
				c.Flow = sub
			}
		}
	}
	return errs, nested
}

func parseAssigns(raw json.RawMessage) ([]Assign, error) {
	arr, err := embeddedList(raw)
	if err != nil || arr == nil {
		return nil, err
	}
	var ras []rawAssign
	if err := decode(arr, &ras); err != nil {
		return nil, err
	}
	out := make([]Assign, len(ras))
	for i, r := range ras {
		out[i] = Assign{Name: string(r.Name), Value: string(r.Value), Require: bool(r.Require)}
	}
	return out, nil
}

func parseRules(raw json.RawMessage) ([]Rule, error) {
	arr, err := embeddedList(raw)
	if err != nil || arr == nil {
		return nil, err
	}
	var rrs []rawRule
	if err := decode(arr, &rrs); err != nil {
		return nil, err
	}
	out := make([]Rule, len(rrs))
	for i, r := range rrs {
		out[i] = Rule{Value1: string(r.Value1), Rule: string(r.Rule), Value2: string(r.Value2), Target: string(r.Target)}
	}
	return out, nil
}
