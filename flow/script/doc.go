// Package script runs the code of python flow nodes as Starlark (Python
// syntax) in a sandbox: no load(), no files, no network, a step budget and a
// time limit. Go values go in as script globals and come back out after the
// run.
//
// Accepted language: Starlark with while loops, sets, top-level if/for/while
// and reassignment of globals enabled, so typical OMFLOW scripts run as
// written. Recursion is not allowed (Starlark's rule). The lines
// "import json", "import math" and "import time" (alone or together, e.g.
// "import json, math") are accepted and do nothing: those modules are always
// present. Any other import is a syntax error, as is load().
//
// Predeclared: json (encode, decode, indent), math, time (go.starlark.net/lib)
// and print, whose output is captured in Result.Log.
package script
