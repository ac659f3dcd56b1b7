// Package flow runs OMFLOW flows. It imports app exports (through flow/def),
// files tickets, executes flow steps as jobs from the store's outbox, and
// completes human tasks, enforcing flow permissions and per-step form views.
//
// Execution model. Filing a ticket stores the ticket and its first job in one
// transaction. A job moves one token of the ticket: it reads the ticket,
// computes the steps that follow in memory (start, switch, python, setform,
// async, collection, subflow and end run one after another; form and sleep
// stop the token), then commits in one transaction the ticket (conditional
// on the revision it read), the audit events, new tasks, the next jobs, and
// the deletion of its own job (conditional on still holding the job's
// lease). If the ticket changed meanwhile the job computes again; if the
// lease was lost nothing is written. So no step takes effect twice and none
// is lost. Who runs a job is decided elsewhere: the local poller claims due
// jobs from the database, and the cluster layer may Submit job ids instead.
package flow
