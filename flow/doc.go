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
// is lost. A job whose token is no longer where the job expects it (stale
// after a takeover) does nothing. Who runs a job is decided elsewhere: the
// local poller claims due jobs from the database, and the cluster layer may
// Submit job ids instead. One job runs at most maxChain nodes; the rest
// continue in new jobs.
//
// Node semantics the format leaves open:
//   - start inputs, end outputs and subflow_input/subflow_output are
//     assignments whose plain-name targets are flow variables; the outputs
//     of an end node are the flow's variables after it ran. An assignment
//     marked require that yields an empty value halts the ticket.
//   - a collection node goes on when no other token of the ticket in the
//     same (sub)flow can still reach it; the tokens that waited there merge
//     into the one that goes on.
//   - the end of a subflow stops the subflow's other branches (their open
//     tasks are cancelled) and continues after the subflow node; the end of
//     the flow closes the ticket and cancels every open task.
//   - a halted ticket (script error, no switch rule holds, a required value
//     missing) keeps the message in its error column, gets no further jobs,
//     and its open tasks are cancelled.
//
// History: every node entered leaves exactly one event: "step", "task" (a
// form now waits for a person), "closed" (the end of the flow) or "error"
// (the ticket halted there, with the message). People add "filed" and
// "completed" events.
package flow
