package expr

import "fmt"

// Env gives access to a ticket's flow variables and fields.
//
// An h_group field is stored as a map {"group": "...", "user": "..."}; #G1 and
// #G2 read and write its parts through Field and SetField.
type Env interface {
	Var(name string) (any, bool)
	Field(id string) (any, bool)
	SetVar(name string, v any)
	SetField(id string, v any)
}

// MapEnv is an Env over two maps, for tests and simple callers. Nil maps are
// created on first write.
type MapEnv struct {
	Vars   map[string]any
	Fields map[string]any
}

var _ Env = (*MapEnv)(nil)

// Var implements Env.
func (e *MapEnv) Var(name string) (any, bool) { v, ok := e.Vars[name]; return v, ok }

// Field implements Env.
func (e *MapEnv) Field(id string) (any, bool) { v, ok := e.Fields[id]; return v, ok }

// SetVar implements Env.
func (e *MapEnv) SetVar(name string, v any) {
	if e.Vars == nil {
		e.Vars = map[string]any{}
	}
	e.Vars[name] = v
}

// SetField implements Env.
func (e *MapEnv) SetField(id string, v any) {
	if e.Fields == nil {
		e.Fields = map[string]any{}
	}
	e.Fields[id] = v
}

// Lookup evaluates ref and reports whether the variable or field it names is
// set. A literal is always found and evaluates to its own text.
func Lookup(ref string, env Env) (any, bool) {
	return LookupRef(Parse(ref), env)
}

// LookupRef is Lookup for a parsed reference.
func LookupRef(r Ref, env Env) (any, bool) {
	switch r.Kind {
	case Var:
		return env.Var(r.Name)
	case Field:
		return env.Field(r.Name)
	case Group, User:
		v, ok := env.Field(r.Name)
		if !ok {
			return "", false
		}
		g, u := GroupParts(v)
		if r.Kind == Group {
			return g, true
		}
		return u, true
	}
	return r.Name, true
}

// Eval evaluates ref: the value of the variable or field it names, "" when
// that is not set (as OMFLOW does), or the literal text itself.
func Eval(ref string, env Env) any {
	v, ok := Lookup(ref, env)
	if !ok || v == nil {
		return ""
	}
	return v
}

// Assign applies one assignment {"name": target, "value": source}: it
// evaluates source with Eval and stores the result in target, which must be
// a $(var), #(field), #G1(field) or #G2(field) reference.
func Assign(target, source string, env Env) error {
	return Set(target, Eval(source, env), env)
}

// Set stores an already evaluated value in target, which must be a $(var),
// #(field), #G1(field) or #G2(field) reference. Writing #G1 or #G2 keeps the
// other part of the h_group value.
func Set(target string, v any, env Env) error {
	r, err := ParseStrict(target)
	if err != nil {
		return fmt.Errorf("assignment target: %w", err)
	}
	switch r.Kind {
	case Var:
		env.SetVar(r.Name, v)
	case Field:
		env.SetField(r.Name, v)
	case Group, User:
		var g, u string
		if cur, ok := env.Field(r.Name); ok {
			g, u = GroupParts(cur)
		}
		if r.Kind == Group {
			g = Text(v)
		} else {
			u = Text(v)
		}
		env.SetField(r.Name, GroupValue(g, u))
	default:
		return fmt.Errorf("assignment target %q is a literal: want $(var), #(FIELD_ID), #G1(FIELD_ID) or #G2(FIELD_ID)", target)
	}
	return nil
}
