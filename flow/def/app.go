package def

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// App is an OMFLOW app export: an app and its flows.
type App struct {
	Name  string
	Flows []*Flow
	Raw   json.RawMessage // the export as given
}

// Flow is one flow of an app.
type Flow struct {
	Name        string // flow_name
	APIPath     string // api_path
	Form        *Form  // formobject (never nil after parsing; may have no items)
	Graph       *Graph // flowobject
	Permissions []Permission
	Raw         json.RawMessage // the flow object as given, unknown keys included

	formErrs    []NodeError // problems reading formobject
	graphErrs   []NodeError // problems reading flowobject when it could not be read at all
	graphBroken bool
}

// Permission grants a role rights on a flow's tickets.
type Permission struct {
	RoleName string
	View     bool
	Add      bool
	Modify   bool
	Delete   bool
}

// ParseApp reads an app export and checks every flow in it (ValidateFlow),
// plus that flow names and api paths are unique in the app. Malformed JSON is
// an ordinary error. Any other problem is reported in a *ValidationError
// listing all of them; the parsed app is returned alongside it so callers can
// show what was read.
func ParseApp(data []byte) (*App, error) {
	t := bytes.TrimSpace(data)
	if len(t) == 0 || t[0] != '{' {
		return nil, errors.New("parse app export: want a JSON object")
	}
	var top struct {
		App     json.RawMessage `json:"app"`
		Name    looseString     `json:"name"`
		AppName looseString     `json:"app_name"`
		Flows   json.RawMessage `json:"flows"`
	}
	if err := decode(t, &top); err != nil {
		return nil, fmt.Errorf("parse app export: %w", err)
	}
	app := &App{Raw: append(json.RawMessage(nil), t...)}
	app.Name = appName(top.App)
	if app.Name == "" {
		app.Name = string(top.AppName)
	}
	if app.Name == "" {
		app.Name = string(top.Name)
	}

	var errs []NodeError
	list, err := embeddedList(top.Flows)
	var raws []json.RawMessage
	if err == nil && list != nil {
		err = decode(list, &raws)
	}
	if err != nil {
		errs = append(errs, NodeError{Node: "flows", Message: err.Error()})
	} else if len(raws) == 0 {
		errs = append(errs, NodeError{Node: "flows", Message: "app export has no flows"})
	}
	names := map[string]int{}
	paths := map[string]int{}
	for i, raw := range raws {
		f, err := parseFlow(raw)
		if err != nil {
			errs = append(errs, NodeError{Node: fmt.Sprintf("flows[%d]", i+1), Message: err.Error()})
			continue
		}
		app.Flows = append(app.Flows, f)
		errs = append(errs, ValidateFlow(f)...)
		if f.Name != "" {
			if j, dup := names[f.Name]; dup {
				errs = append(errs, NodeError{Flow: f.Name, Node: "flow_name", Message: fmt.Sprintf("flow name is used twice in the app (flows %d and %d)", j, i+1)})
			} else {
				names[f.Name] = i + 1
			}
		}
		if f.APIPath != "" {
			if j, dup := paths[f.APIPath]; dup {
				errs = append(errs, NodeError{Flow: f.Name, Node: "api_path", Message: fmt.Sprintf("api_path %q is used twice in the app (flows %d and %d)", f.APIPath, j, i+1)})
			} else {
				paths[f.APIPath] = i + 1
			}
		}
	}
	if len(errs) > 0 {
		return app, &ValidationError{Errors: errs}
	}
	return app, nil
}

func appName(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return ""
	}
	if t[0] == '{' {
		var a struct {
			Name    looseString `json:"name"`
			AppName looseString `json:"app_name"`
		}
		if decode(t, &a) == nil {
			if a.Name != "" {
				return string(a.Name)
			}
			return string(a.AppName)
		}
		return ""
	}
	var s looseString
	if s.UnmarshalJSON(t) == nil {
		return string(s)
	}
	return ""
}

// ParseFlow reads one flow object (as stored from an export) and checks it
// with ValidateFlow. Malformed JSON is an ordinary error; other problems come
// as a *ValidationError, with the flow.
func ParseFlow(data []byte) (*Flow, error) {
	f, err := parseFlow(data)
	if err != nil {
		return nil, err
	}
	if errs := ValidateFlow(f); len(errs) > 0 {
		return f, &ValidationError{Errors: errs}
	}
	return f, nil
}

type rawFlow struct {
	FlowName    looseString     `json:"flow_name"`
	Name        looseString     `json:"name"`
	APIPath     looseString     `json:"api_path"`
	FormObject  json.RawMessage `json:"formobject"`
	FlowObject  json.RawMessage `json:"flowobject"`
	Permission  json.RawMessage `json:"permission"`
	Permissions json.RawMessage `json:"permissions"`
}

// parseFlow reads a flow. Only a flow that is not a JSON object is an error;
// problems inside are kept for ValidateFlow.
func parseFlow(raw json.RawMessage) (*Flow, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '{' {
		return nil, errors.New("flow is not a JSON object")
	}
	var rf rawFlow
	if err := decode(t, &rf); err != nil {
		return nil, fmt.Errorf("parse flow: %w", err)
	}
	f := &Flow{Raw: append(json.RawMessage(nil), t...), Name: string(rf.FlowName), APIPath: string(rf.APIPath)}
	if f.Name == "" {
		f.Name = string(rf.Name)
	}

	form, ferrs := parseForm(rf.FormObject)
	f.formErrs = ferrs
	if form == nil {
		form = &Form{}
	}
	f.Form = form

	g, gerrs := parseGraph(rf.FlowObject, "")
	if g == nil {
		f.graphBroken = true
		f.graphErrs = gerrs
	} else if g.Raw != nil {
		f.Graph = g
		if len(f.Form.Items) == 0 && f.Form.Raw == nil && g.Form != nil {
			f.Form = g.Form // no formobject: the flowobject's own copy
		}
		g.Form = f.Form
	}

	permRaw := rf.Permission
	if len(bytes.TrimSpace(permRaw)) == 0 {
		permRaw = rf.Permissions
	}
	perms, err := parsePermissions(permRaw)
	if err != nil {
		f.formErrs = append(f.formErrs, NodeError{Node: "permission", Message: err.Error()})
	}
	f.Permissions = perms
	return f, nil
}

type rawPermFlags struct {
	View   looseBool `json:"view"`
	Add    looseBool `json:"add"`
	Modify looseBool `json:"modify"`
	Delete looseBool `json:"delete"`
}

type rawPerm struct {
	RoleName looseString     `json:"role_name"`
	Role     looseString     `json:"role"`
	Value    json.RawMessage `json:"value"`
	rawPermFlags
}

func parsePermissions(raw json.RawMessage) ([]Permission, error) {
	arr, err := embeddedList(raw)
	if err != nil || arr == nil {
		return nil, err
	}
	var rps []rawPerm
	if err := decode(arr, &rps); err != nil {
		return nil, err
	}
	out := make([]Permission, 0, len(rps))
	for i, rp := range rps {
		flags := rp.rawPermFlags
		v, err := embedded(rp.Value)
		if err != nil {
			return nil, fmt.Errorf("[%d].value: %v", i+1, err)
		}
		if v != nil {
			if err := decode(v, &flags); err != nil {
				return nil, fmt.Errorf("[%d].value: %v", i+1, err)
			}
		}
		name := string(rp.RoleName)
		if name == "" {
			name = string(rp.Role)
		}
		out = append(out, Permission{RoleName: name, View: bool(flags.View), Add: bool(flags.Add), Modify: bool(flags.Modify), Delete: bool(flags.Delete)})
	}
	return out, nil
}
