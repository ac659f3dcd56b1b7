// Package def reads and checks OMFLOW flow definitions: app exports with
// their flows, each flow's form (formobject) and graph (flowobject). Exports
// from OMFLOW's designer import unchanged: unknown keys are kept (every flow
// keeps its raw JSON), formobject and flowobject may be JSON objects or JSON
// strings holding JSON, and OMFLOW's loose typing is tolerated (booleans as
// true, "true", "True", 1 or "1"; numbers as strings).
//
// Checking is complete rather than fail-fast: ParseApp returns every problem
// of every flow in one *ValidationError, each naming the flow, the node, line
// or form item, and the rule broken. See ValidateGraph for the rules.
//
// The package is pure: no database, no network. The engine uses Form.Validate
// for submitted form data and the Graph accessors to step through a flow.
package def
