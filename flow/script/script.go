package script

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"go.starlark.net/lib/json"
	"go.starlark.net/lib/math"
	startime "go.starlark.net/lib/time"
	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// Defaults for Limits fields left zero.
const (
	DefaultMaxSteps uint64 = 1_000_000
	DefaultTimeout         = 2 * time.Second
	// MaxLogLines caps the captured print output of one run.
	MaxLogLines = 1000
)

// Limits bound one run of a script.
type Limits struct {
	MaxSteps uint64        // Starlark computation steps; 0 means DefaultMaxSteps
	Timeout  time.Duration // wall time; 0 means DefaultTimeout
}

func (l Limits) withDefaults() Limits {
	if l.MaxSteps == 0 {
		l.MaxSteps = DefaultMaxSteps
	}
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	return l
}

// ErrStepLimit and ErrTimeout are wrapped by the *Error of a run stopped by
// its Limits; ErrCanceled by one stopped because its context ended.
var (
	ErrStepLimit = errors.New("step budget exhausted")
	ErrTimeout   = errors.New("time limit exceeded")
	ErrCanceled  = errors.New("canceled")
)

// Error is a compile or run error of a script, with the script line when
// known. Its message reads "line 3: division by zero".
type Error struct {
	Script string // the name given to Compile, e.g. the node id
	Line   int    // 1-based; 0 when unknown
	Col    int
	Msg    string
	cause  error
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// Unwrap returns ErrStepLimit, ErrTimeout or ErrCanceled for a stopped run.
// The line of a stopped run is where the interpreter noticed the stop and can
// be approximate (a loop's back jump may report the first line).
func (e *Error) Unwrap() error { return e.cause }

// Program is a compiled script. It is safe for concurrent use: every Run has
// its own thread and globals.
type Program struct {
	name string
	src  string   // the source after the import rewrite
	free []string // names the script uses without defining them
}

// predeclared are the modules every script sees.
func predeclared() starlark.StringDict {
	return starlark.StringDict{
		"json": json.Module,
		"math": math.Module,
		"time": startime.Module,
	}
}

func fileOptions() *syntax.FileOptions {
	return &syntax.FileOptions{While: true, TopLevelControl: true, GlobalReassign: true, Set: true}
}

// inputDict is the hidden predeclared name through which Run passes globals.
const inputDict = "__omflow_input__"

var importLine = regexp.MustCompile(`^([ \t]*)import[ \t]+(json|math|time)([ \t]*,[ \t]*(json|math|time))*[ \t]*(#.*)?$`)

// rewriteImports turns "import json" style lines into "pass" so scripts
// written for Python keep working; line numbers are unchanged.
func rewriteImports(code string) string {
	lines := strings.Split(code, "\n")
	for i, l := range lines {
		if m := importLine.FindStringSubmatch(strings.TrimRight(l, "\r")); m != nil {
			lines[i] = m[1] + "pass"
		}
	}
	return strings.Join(lines, "\n")
}

// Compile checks a script: syntax, no load(), correct use of names. Names the
// script reads without defining are allowed here (they are expected to come in
// as globals) and listed by FreeNames; CheckGlobals verifies them against a
// set of global names.
func Compile(name, code string) (*Program, error) {
	p := &Program{name: name, src: rewriteImports(code)}
	f, err := p.parse()
	if err != nil {
		return nil, err
	}
	pre := predeclared()
	free := map[string]bool{}
	if _, err := starlark.FileProgram(f, func(n string) bool {
		if !pre.Has(n) && !starlark.Universe.Has(n) {
			free[n] = true
		}
		return true
	}); err != nil {
		return nil, p.wrap(err)
	}
	for n := range free {
		p.free = append(p.free, n)
	}
	sort.Strings(p.free)
	return p, nil
}

// Name returns the name given to Compile.
func (p *Program) Name() string { return p.name }

// FreeNames lists, sorted, the names the script uses without defining them and
// that are not builtins: each must be supplied as a global when it runs.
func (p *Program) FreeNames() []string { return append([]string(nil), p.free...) }

// CheckGlobals reports, as an *Error with the line of the first use, a name
// the script uses that is neither defined by it, a builtin, nor in globals.
func (p *Program) CheckGlobals(globals []string) error {
	set := map[string]any{}
	for _, g := range globals {
		set[g] = ""
	}
	_, err := p.build(set)
	return err
}

// parse parses the source and rejects load statements.
func (p *Program) parse() (*syntax.File, error) {
	f, err := fileOptions().Parse(p.name, p.src, 0)
	if err != nil {
		return nil, p.wrap(err)
	}
	for _, s := range f.Stmts {
		if l, ok := s.(*syntax.LoadStmt); ok {
			start, _ := l.Span()
			return nil, &Error{Script: p.name, Line: int(start.Line), Col: int(start.Col), Msg: "load() is not allowed"}
		}
	}
	return f, nil
}

// build compiles the program with one top-level assignment per global
// prepended, so globals behave like ordinary module variables (a script may
// read and reassign them).
func (p *Program) build(globals map[string]any) (*starlark.Program, error) {
	f, err := p.parse()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(globals))
	for n := range globals {
		if !isIdent(n) {
			return nil, &Error{Script: p.name, Msg: fmt.Sprintf("global %q is not a valid identifier", n)}
		}
		names = append(names, n)
	}
	sort.Strings(names)
	pos := syntax.MakePosition(&p.name, 1, 1)
	prelude := make([]syntax.Stmt, 0, len(names)+len(f.Stmts))
	for _, n := range names {
		prelude = append(prelude, &syntax.AssignStmt{
			OpPos: pos,
			Op:    syntax.EQ,
			LHS:   &syntax.Ident{NamePos: pos, Name: n},
			RHS: &syntax.IndexExpr{
				X:      &syntax.Ident{NamePos: pos, Name: inputDict},
				Lbrack: pos,
				Y:      &syntax.Literal{Token: syntax.STRING, TokenPos: pos, Raw: strconv.Quote(n), Value: n},
				Rbrack: pos,
			},
		})
	}
	f.Stmts = append(prelude, f.Stmts...)
	pre := predeclared()
	prog, err := starlark.FileProgram(f, func(n string) bool { return n == inputDict || pre.Has(n) })
	if err != nil {
		return nil, p.wrap(err)
	}
	return prog, nil
}

// Result is the outcome of a run.
type Result struct {
	// Globals holds every data global after the run (inputs included),
	// converted with FromStarlark. Functions, modules and values that cannot
	// be converted are left out.
	Globals map[string]any
	Log     []string // print output, one entry per call, at most MaxLogLines
	Steps   uint64   // Starlark computation steps used
}

// Run executes the script with the given globals and returns its globals
// afterwards. See Exec.
func (p *Program) Run(ctx context.Context, globals map[string]any, lim Limits) (map[string]any, error) {
	res, err := p.Exec(ctx, globals, lim)
	if err != nil {
		return nil, err
	}
	return res.Globals, nil
}

// Exec executes the script. Each key of globals becomes a script global
// (converted with ToStarlark; keys must be identifiers). The run stops with an
// *Error wrapping ErrStepLimit, ErrTimeout or ErrCanceled when it exceeds
// lim or ctx ends. On error the Result still carries the log and step count.
func (p *Program) Exec(ctx context.Context, globals map[string]any, lim Limits) (*Result, error) {
	lim = lim.withDefaults()
	res := &Result{}
	in := starlark.NewDict(len(globals))
	for k, v := range globals {
		sv, err := ToStarlark(v)
		if err != nil {
			return res, &Error{Script: p.name, Msg: fmt.Sprintf("global %q: %v", k, err)}
		}
		if err := in.SetKey(starlark.String(k), sv); err != nil {
			return res, &Error{Script: p.name, Msg: fmt.Sprintf("global %q: %v", k, err)}
		}
	}
	prog, err := p.build(globals)
	if err != nil {
		return res, err
	}

	thread := &starlark.Thread{
		Name: p.name,
		Print: func(_ *starlark.Thread, msg string) {
			if len(res.Log) < MaxLogLines {
				res.Log = append(res.Log, msg)
			}
		},
		Load: func(*starlark.Thread, string) (starlark.StringDict, error) {
			return nil, errors.New("load() is not allowed")
		},
	}
	thread.SetMaxExecutionSteps(lim.MaxSteps)
	var stopped atomic.Pointer[error]
	stop := func(cause error) {
		stopped.CompareAndSwap(nil, &cause)
		thread.Cancel(cause.Error())
	}
	thread.OnMaxSteps = func(*starlark.Thread) { stop(ErrStepLimit) }
	timer := time.AfterFunc(lim.Timeout, func() { stop(ErrTimeout) })
	defer timer.Stop()
	if ctx != nil {
		unreg := context.AfterFunc(ctx, func() { stop(ErrCanceled) })
		defer unreg()
	}

	pre := predeclared()
	pre[inputDict] = in
	out, runErr := prog.Init(thread, pre)
	res.Steps = thread.ExecutionSteps()
	if runErr != nil {
		e := p.wrap(runErr)
		if c := stopped.Load(); c != nil {
			e.cause = *c
			e.Msg = stopMessage(*c, lim)
		}
		return res, e
	}
	res.Globals = make(map[string]any, len(out))
	for k, v := range out {
		gv, err := FromStarlark(v)
		if err != nil {
			continue
		}
		res.Globals[k] = gv
	}
	return res, nil
}

func stopMessage(cause error, lim Limits) string {
	switch cause {
	case ErrStepLimit:
		return fmt.Sprintf("script stopped: %v (limit %d steps)", cause, lim.MaxSteps)
	case ErrTimeout:
		return fmt.Sprintf("script stopped: %v (limit %s)", cause, lim.Timeout)
	}
	return fmt.Sprintf("script stopped: %v", cause)
}

// wrap turns a starlark/syntax/resolve error into an *Error with the line of
// the script where it happened.
func (p *Program) wrap(err error) *Error {
	var se syntax.Error
	if errors.As(err, &se) {
		return &Error{Script: p.name, Line: int(se.Pos.Line), Col: int(se.Pos.Col), Msg: se.Msg}
	}
	var rl resolve.ErrorList
	if errors.As(err, &rl) && len(rl) > 0 {
		return &Error{Script: p.name, Line: int(rl[0].Pos.Line), Col: int(rl[0].Pos.Col), Msg: rl[0].Msg}
	}
	var ee *starlark.EvalError
	if errors.As(err, &ee) {
		e := &Error{Script: p.name, Msg: ee.Msg}
		// Innermost frame in this script with a position.
		for i := len(ee.CallStack) - 1; i >= 0; i-- {
			fr := ee.CallStack[i]
			if fr.Pos.Line > 0 && fr.Pos.Filename() == p.name {
				e.Line, e.Col = int(fr.Pos.Line), int(fr.Pos.Col)
				break
			}
		}
		return e
	}
	return &Error{Script: p.name, Msg: err.Error()}
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || unicode.IsLetter(r) || i > 0 && unicode.IsDigit(r) {
			continue
		}
		return false
	}
	if syntaxKeyword(s) {
		return false
	}
	return true
}

func syntaxKeyword(s string) bool {
	switch s {
	case "and", "break", "continue", "def", "elif", "else", "for", "if", "in", "lambda",
		"load", "not", "or", "pass", "return", "while",
		"as", "assert", "async", "await", "class", "del", "except", "finally", "from",
		"global", "import", "is", "nonlocal", "raise", "try", "with", "yield":
		return true
	}
	return false
}
