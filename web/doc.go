// Package web is OMFLOW's HTTP front: the REST API under /api/v1 (JSON,
// documented in docs/openapi.yaml), the health and readiness probes, the
// Prometheus metrics, and the middleware every response passes through
// (panic recovery, request logging and metrics, security headers, and the
// caller's identity from package web/auth). The browser pages (package
// web/ui) are mounted behind the same middleware.
//
// Handlers validate their input at the edge and answer bad input with
// {"error":{"code","message","field"}} and a 4xx status; the engine's
// *flow.InputError kinds map to 422, 403, 404 and 409. A 500 never carries
// details: they go to the log.
package web
