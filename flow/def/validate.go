package def

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/omflow/omflow/flow/expr"
	"github.com/omflow/omflow/flow/script"
)

// ValidateGraph checks a whole graph and returns every problem, each naming
// the node or line (nodes inside a subflow as "FITEM_5/FITEM_2"). Items that
// ParseGraph could not read are reported too. The rules:
//
//   - every node and line has an id, and ids are unique;
//   - every line joins two existing nodes (config.source_item and
//     config.target_item);
//   - every node type is one of NodeTypes;
//   - exactly one start node, with no line leading into it; at least one end
//     node, with no line leaving it;
//   - every node is reachable from the start node (an unreachable node is an
//     error, not a warning: it is either a mistake or dead weight that would
//     confuse whoever maintains the flow);
//   - every node but end has an outgoing line (a path never just stops); only
//     switch and async nodes have more than one;
//   - switch: at least one rule; each rule's operator is known (expr
//     operators), its operands are well-formed references or literals, and
//     its target is a node joined to the switch by a line;
//   - assignments: targets of form, setform, python output and end output are
//     $(var), #(FIELD_ID), #G1(FIELD_ID) or #G2(FIELD_ID) references (end
//     outputs and start/python inputs may also be bare names); sources are
//     literals or well-formed references; referenced fields exist in the
//     form, and #G1/#G2 name an h_group field;
//   - form: fields of config.form_object exist in the flow's form;
//   - python: config.code compiles (flow/script) and uses no name that is not
//     a builtin, defined by the script, or set by config.input;
//   - sleep: a wait is configured (see Sleep);
//   - subflow: config.flowobject holds an embedded flow, checked by the same
//     rules.
//
// Field checks need g.Form; without it they are skipped.
func ValidateGraph(g *Graph) []NodeError {
	if g == nil {
		return []NodeError{{Node: "flowobject", Message: "flow has no flowobject"}}
	}
	c := &graphChecker{g: g}
	c.errs = append(c.errs, g.bad...)
	if !g.unreadable {
		c.check()
	}
	return c.errs
}

type graphChecker struct {
	g    *Graph
	errs []NodeError
}

func (c *graphChecker) nodeErr(n *Node, format string, args ...any) {
	c.errs = append(c.errs, NodeError{Node: c.g.Path(n.ID), Name: n.Name, Message: fmt.Sprintf(format, args...)})
}

func (c *graphChecker) itemErr(id string, format string, args ...any) {
	c.errs = append(c.errs, NodeError{Node: c.g.Path(id), Message: fmt.Sprintf(format, args...)})
}

func (c *graphChecker) flowErr(format string, args ...any) {
	node := strings.TrimSuffix(c.g.path, "/")
	c.errs = append(c.errs, NodeError{Node: node, Message: fmt.Sprintf(format, args...)})
}

func (c *graphChecker) check() {
	g := c.g
	seen := map[string]bool{}
	for i, n := range g.Nodes {
		switch {
		case n.ID == "":
			c.itemErr(fmt.Sprintf("flowobject item %d", i+1), "node (type %q, text %q) has no id", n.Type, n.Name)
		case seen[n.ID]:
			c.nodeErr(n, "duplicate id %s", n.ID)
		}
		seen[n.ID] = true
	}
	for i, l := range g.Lines {
		switch {
		case l.ID == "":
			c.itemErr(fmt.Sprintf("flowobject item (line %d)", i+1), "line from %q to %q has no id", l.Source, l.Target)
		case seen[l.ID]:
			c.itemErr(l.ID, "duplicate id %s", l.ID)
		}
		seen[l.ID] = true
		name := l.ID
		if name == "" {
			name = fmt.Sprintf("line %d", i+1)
		}
		for _, end := range []struct{ key, id string }{{"source_item", l.Source}, {"target_item", l.Target}} {
			switch {
			case end.id == "":
				c.itemErr(name, "line has no config.%s", end.key)
			case g.Node(end.id) == nil:
				c.itemErr(name, "line %s %s is not a node of this flow", strings.TrimSuffix(end.key, "_item"), end.id)
			}
		}
	}

	var starts, ends []*Node
	for _, n := range g.Nodes {
		switch n.Type {
		case NodeStart:
			starts = append(starts, n)
		case NodeEnd:
			ends = append(ends, n)
		}
	}
	switch len(starts) {
	case 0:
		c.flowErr("flow has no start node")
	case 1:
	default:
		for _, s := range starts[1:] {
			c.nodeErr(s, "more than one start node (the first is %s)", starts[0].ID)
		}
	}
	if len(ends) == 0 {
		c.flowErr("flow has no end node")
	}

	reach := map[string]bool{}
	if len(starts) > 0 {
		queue := []string{starts[0].ID}
		reach[starts[0].ID] = true
		for len(queue) > 0 {
			id := queue[0]
			queue = queue[1:]
			for _, t := range g.Next(id) {
				if !reach[t] && g.Node(t) != nil {
					reach[t] = true
					queue = append(queue, t)
				}
			}
		}
	}

	for _, n := range g.Nodes {
		if n.ID == "" {
			continue
		}
		if !slices.Contains(NodeTypes, n.Type) {
			c.nodeErr(n, "unknown node type %q (supported: %s)", n.Type, strings.Join(NodeTypes, ", "))
			continue
		}
		if len(starts) > 0 && !reach[n.ID] {
			if n.Type == NodeEnd {
				c.nodeErr(n, "end node is not reachable from the start node %s", starts[0].ID)
			} else {
				c.nodeErr(n, "node is not reachable from the start node %s", starts[0].ID)
			}
		}
		out := g.Next(n.ID)
		switch {
		case n.Type == NodeEnd:
			if len(out) > 0 {
				c.nodeErr(n, "end node has outgoing lines (to %s)", strings.Join(out, ", "))
			}
		case len(out) == 0:
			c.nodeErr(n, "node has no outgoing line: only end nodes may finish a path")
		case len(out) > 1 && n.Type != NodeSwitch && n.Type != NodeAsync:
			c.nodeErr(n, "node has %d outgoing lines (to %s): only switch and async nodes may branch", len(out), strings.Join(out, ", "))
		}
		if n.Type == NodeStart {
			if in := g.Prev(n.ID); len(in) > 0 {
				c.nodeErr(n, "lines lead into the start node (from %s)", strings.Join(in, ", "))
			}
		}
		if n.unreadable {
			continue
		}
		c.checkNode(n)
	}
}

func (c *graphChecker) checkNode(n *Node) {
	cfg := &n.Config
	switch n.Type {
	case NodeStart:
		c.checkVarInputs(n, "input", cfg.Input)
	case NodeForm:
		c.checkAssigns(n, "input", cfg.Input)
		c.checkAssigns(n, "input1", cfg.Input1)
		c.checkAssigns(n, "input2", cfg.Input2)
		c.checkAssigns(n, "output", cfg.Output)
		if cfg.FormObject != nil && c.g.Form != nil {
			for _, it := range cfg.FormObject.Fields() {
				if c.g.Form.Field(it.ID) == nil {
					c.nodeErr(n, "config.form_object shows field %s, which is not in the flow's form", it.ID)
				}
			}
		}
	case NodeSetform:
		c.checkAssigns(n, "input", cfg.Input)
		c.checkAssigns(n, "output", cfg.Output)
	case NodeSwitch:
		c.checkSwitch(n)
	case NodePython:
		c.checkPython(n)
	case NodeEnd:
		for i, a := range cfg.Output {
			where := fmt.Sprintf("config.output[%d]", i+1)
			if r, err := expr.ParseStrict(a.Name); err != nil {
				c.nodeErr(n, "%s: %v", where, err)
			} else if r.Kind != expr.Var && !(r.Kind == expr.Literal && plainName(a.Name)) {
				c.nodeErr(n, "%s: output name %q must be $(name) or a plain name", where, a.Name)
			}
			c.checkSource(n, where+".value", a.Value)
		}
	case NodeSleep:
		if cfg.Sleep.IsZero() {
			c.nodeErr(n, "sleep has no wait: set config.msec, seconds, minutes, hours, days, duration, value or until")
		}
	case NodeSubflow:
		if cfg.Flow == nil {
			if !n.subflowBroken {
				c.nodeErr(n, "subflow has no embedded flow in config.flowobject")
			}
			return
		}
		if c.g.Form != nil {
			cfg.Flow.Form = c.g.Form
		}
		sub := &graphChecker{g: cfg.Flow}
		if !cfg.Flow.unreadable {
			sub.check()
		}
		c.errs = append(c.errs, sub.errs...)
	}
}

// checkVarInputs checks start inputs: variable names (bare or $(name)).
func (c *graphChecker) checkVarInputs(n *Node, key string, list []Assign) {
	for i, a := range list {
		where := fmt.Sprintf("config.%s[%d]", key, i+1)
		r, err := expr.ParseStrict(a.Name)
		switch {
		case err != nil:
			c.nodeErr(n, "%s: %v", where, err)
		case r.Kind == expr.Var:
		case r.Kind == expr.Literal && plainName(a.Name):
		default:
			c.nodeErr(n, "%s: %q must name a flow variable: a plain name or $(name)", where, a.Name)
		}
		c.checkSource(n, where+".value", a.Value)
	}
}

// checkAssigns checks assignments whose targets must be references.
func (c *graphChecker) checkAssigns(n *Node, key string, list []Assign) {
	for i, a := range list {
		where := fmt.Sprintf("config.%s[%d]", key, i+1)
		c.checkTarget(n, where, a.Name)
		c.checkSource(n, where+".value", a.Value)
	}
}

func (c *graphChecker) checkTarget(n *Node, where, target string) {
	r, err := expr.ParseStrict(target)
	if err != nil {
		c.nodeErr(n, "%s: target: %v", where, err)
		return
	}
	if r.Kind == expr.Literal {
		hint := ""
		if c.g.Form != nil && c.g.Form.Field(strings.TrimSpace(target)) != nil {
			hint = fmt.Sprintf(" (write #(%s) for the field)", strings.TrimSpace(target))
		}
		c.nodeErr(n, "%s: target %q must be $(var), #(FIELD_ID), #G1(FIELD_ID) or #G2(FIELD_ID)%s", where, target, hint)
		return
	}
	c.checkFieldRef(n, where, r)
}

func (c *graphChecker) checkSource(n *Node, where, source string) {
	r, err := expr.ParseStrict(source)
	if err != nil {
		c.nodeErr(n, "%s: %v", where, err)
		return
	}
	c.checkFieldRef(n, where, r)
}

func (c *graphChecker) checkFieldRef(n *Node, where string, r expr.Ref) {
	if c.g.Form == nil || r.Kind == expr.Literal || r.Kind == expr.Var {
		return
	}
	it := c.g.Form.Field(r.Name)
	if it == nil {
		c.nodeErr(n, "%s: %s refers to field %s, which is not in the form", where, r, r.Name)
		return
	}
	if (r.Kind == expr.Group || r.Kind == expr.User) && it.Type != TypeHGroup {
		c.nodeErr(n, "%s: %s needs an h_group field, but %s is %s", where, r, it.ID, it.Type)
	}
}

func (c *graphChecker) checkSwitch(n *Node) {
	rules := n.Config.Rules
	if len(rules) == 0 {
		c.nodeErr(n, "switch has no rules (config.rules)")
		return
	}
	for i, r := range rules {
		where := fmt.Sprintf("rule %d", i+1)
		op, ok := expr.NormalizeOp(r.Rule)
		if !ok {
			c.nodeErr(n, "%s: unknown operator %q (want one of %s)", where, r.Rule, strings.Join(expr.Operators, ", "))
		}
		c.checkSource(n, where+" value1", r.Value1)
		if ok && !expr.UnaryOp(op) {
			c.checkSource(n, where+" value2", r.Value2)
		}
		switch {
		case r.Target == "":
			c.nodeErr(n, "%s has no target", where)
		case c.g.Node(r.Target) == nil:
			c.nodeErr(n, "%s: target %s is not a node of this flow", where, r.Target)
		case !c.g.Joined(n.ID, r.Target):
			c.nodeErr(n, "%s: target %s is not joined to this switch by a line", where, r.Target)
		}
	}
}

func (c *graphChecker) checkPython(n *Node) {
	cfg := &n.Config
	var globals []string
	for i, a := range cfg.Input {
		where := fmt.Sprintf("config.input[%d]", i+1)
		name := a.VarName()
		if !identifier(name) {
			c.nodeErr(n, "%s: script global %q is not a valid identifier", where, a.Name)
		} else {
			globals = append(globals, name)
		}
		c.checkSource(n, where+".value", a.Value)
	}
	for i, a := range cfg.Output {
		where := fmt.Sprintf("config.output[%d]", i+1)
		c.checkTarget(n, where, a.Name)
		if v := (Assign{Name: a.Value}).VarName(); !identifier(v) {
			c.nodeErr(n, "%s: value %q must name a script global, as $(name)", where, a.Value)
		}
	}
	p, err := script.Compile(c.g.Path(n.ID), cfg.Code)
	if err != nil {
		c.nodeErr(n, "python code: %v", err)
		return
	}
	if err := p.CheckGlobals(globals); err != nil {
		c.nodeErr(n, "python code: %v (names a script reads must be set by config.input)", err)
	}
}

// plainName reports whether s is a bare variable name: non-empty, no space
// at the ends, no reference syntax.
func plainName(s string) bool {
	return s != "" && strings.TrimSpace(s) == s && !strings.ContainsAny(s, "()$#")
}

func identifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || unicode.IsLetter(r) || i > 0 && unicode.IsDigit(r) {
			continue
		}
		return false
	}
	return true
}

// ValidateForm checks a form: item ids present and unique, regexes compile
// (Go RE2 syntax), defaults valid for their field, at most one field of each
// header type.
func ValidateForm(f *Form) []NodeError {
	if f == nil {
		return nil
	}
	var errs []NodeError
	add := func(node, format string, args ...any) {
		errs = append(errs, NodeError{Node: node, Message: fmt.Sprintf(format, args...)})
	}
	seen := map[string]bool{}
	header := map[string]string{}
	for i := range f.Items {
		it := &f.Items[i]
		if it.ID == "" {
			add(fmt.Sprintf("formobject item %d", i+1), "form item (type %q) has no id", it.Type)
			continue
		}
		if seen[it.ID] {
			add(it.ID, "duplicate form item id %s", it.ID)
		}
		seen[it.ID] = true
		if it.IsBox() {
			continue
		}
		if it.Config.Regex != "" {
			if _, err := compileRegex(it.Config.Regex); err != nil {
				add(it.ID, "config.regex %q does not compile: %v (patterns use RE2 syntax: no lookaround, no backreferences)", it.Config.Regex, err)
			}
		}
		if it.Config.Value != "" {
			if _, ferr := it.check(it.Config.Value); ferr != nil {
				add(it.ID, "default value: %s", ferr.Message)
			}
		}
		switch it.Type {
		case TypeHTitle, TypeHStatus, TypeHLevel, TypeHGroup:
			if first, dup := header[it.Type]; dup {
				add(it.ID, "second %s field (the first is %s): a form has one field per header column", it.Type, first)
			} else {
				header[it.Type] = it.ID
			}
		}
	}
	return errs
}

var apiPathRe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// ValidateFlow checks a flow: its name and api_path, permissions, form and
// graph. Every error carries the flow's name.
func ValidateFlow(f *Flow) []NodeError {
	var errs []NodeError
	if f.Name == "" {
		errs = append(errs, NodeError{Node: "flow_name", Message: "flow has no flow_name"})
	}
	if f.APIPath != "" && !apiPathRe.MatchString(f.APIPath) {
		errs = append(errs, NodeError{Node: "api_path", Message: fmt.Sprintf("api_path %q may hold only letters, digits, '-' and '_'", f.APIPath)})
	}
	for i, p := range f.Permissions {
		if strings.TrimSpace(p.RoleName) == "" {
			errs = append(errs, NodeError{Node: fmt.Sprintf("permission[%d]", i+1), Message: "permission has no role_name"})
		}
	}
	errs = append(errs, f.formErrs...)
	errs = append(errs, ValidateForm(f.Form)...)
	if f.Graph == nil {
		if !f.graphBroken {
			errs = append(errs, NodeError{Node: "flowobject", Message: "flow has no flowobject"})
		}
		errs = append(errs, f.graphErrs...)
	} else {
		errs = append(errs, ValidateGraph(f.Graph)...)
	}
	for i := range errs {
		errs[i].Flow = f.Name
	}
	return errs
}
