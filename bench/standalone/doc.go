// Package standalone benchmarks a standalone OMFLOW Server: it starts the
// real omflow binary on a fresh SQLite file or PostgreSQL schema, imports a
// one-step flow, files tickets through the REST API at several levels of
// concurrency and measures request latency, tickets filed and advanced to
// their first human step per second, errors, memory and CPU.
package standalone
