// Package cluster holds the domain types shared by the cluster layer of
// OMFLOW (roles, member states, the status document, the cluster key and
// id) and documents how the Booster configuration fails over. The machinery
// lives in subpackages:
//
//	mux     one TCP port (LOCAL_PORT, 5169) shared by gossip and RPC
//	gossip  membership: memberlist, encrypted, labelled, strict metadata
//	rpc     the booster RPC: gRPC over TLS with a mutual cluster-key proof
//	rpcpb   its protobuf (generated; see below)
//	elect   the active-booster election on the database lease
//	booster the active booster's dispatch, sweeps and event relay; a
//	        booster process (Node)
//	client  a server's session with the booster and degraded mode; the
//	        cluster side of a server process (Node)
//
// The cluster layer moves jobs and events; it never interprets them, and
// it imports neither flow/, web/ nor roles/.
//
// # One port, two protocols
//
// Every node listens on TCP and UDP LOCAL_IP:LOCAL_PORT. UDP carries
// memberlist's packets (probes, gossip). Each TCP connection starts with one
// protocol byte: 0xF0 for a memberlist stream (push/pull, TCP fallback
// probes, joins), 0xF1 for the booster RPC. Any other first byte, or none
// within 5 s, closes the connection with a log line that says what it
// looked like (a TLS or HTTP client on the wrong port, a foreign memberlist).
//
// # Nothing joins without the cluster key
//
// CLUSTER_KEY (base64 of 32 bytes) encrypts all gossip (AES-256-GCM,
// memberlist keyring), and the memberlist label is the cluster id
// ("omflow-" + 8 hex digits of SHA-256 over the key), so a node of another
// cluster is dropped before decryption is even tried, and two clusters on
// one network never merge. The RPC runs over TLS 1.3 with throw-away
// self-signed certificates; each side then proves it holds the key with
// HMAC-SHA256(key, TLS exported keying material "omflow-cluster" || side)
// (client proof in request metadata, server proof in the response header).
// The proof is bound to this TLS session, so it cannot be relayed by a man
// in the middle. A wrong key gives codes.Unauthenticated "cluster key
// mismatch" and a log line on both ends, never a hang.
//
// # Failure detection (gossip)
//
// memberlist's LAN profile, made faster for a LAN or loopback:
//
//	ProbeInterval           200 ms  each node probes one peer per interval
//	ProbeTimeout            150 ms  direct ack wait, then 2 indirect probes
//	SuspicionMult             2     suspicion timeout 2 × 200 ms = 400 ms (< 10 nodes)
//	GossipInterval          100 ms  to 3 nodes, retransmit × 3
//	PushPullInterval         15 s   full state sync (anti-entropy)
//	AwarenessMaxMultiplier    4     an overloaded node slows its own probes
//
// A crashed node is probed by some peer within about one interval, is
// suspect after the failed probe round (≤ 200 ms) and dead 400 ms later,
// and the death is gossiped within a few 100 ms gossip rounds: about
// 0.6–1 s in all (0.8 s measured in the gossip tests), well under 2 s.
// "suspect" is this node's own failed probe; memberlist does not report
// refutations, so a suspect that is not declared dead within the maximum
// suspicion time is shown alive again. A clean stop announces itself in
// its metadata and leaves: the others show it "left", not "dead".
//
// # The active booster
//
// Exactly one booster is active: the one holding the lease row
// booster_leases(name="booster") in the shared database. A term is
// (holder, epoch); holder is the booster's cluster address, and the epoch
// grows by one with every term and never goes back. Expiry is computed and
// compared only by the database's clock.
//
//	elect   UPDATE … SET holder=me, epoch=epoch+1, expires_at=now+TTL
//	          WHERE name=… AND expires_at < now       (take over an expired term)
//	        or INSERT epoch 1 when there never was a row (the key breaks ties)
//	renew   UPDATE … SET expires_at=now+TTL
//	          WHERE holder=me AND epoch=mine AND expires_at >= now
//	        success only if RowsAffected = 1 (MySQL: re-checked by SELECT,
//	        as it counts changed rows, not matched ones)
//	resign  UPDATE … SET expires_at=now−1s WHERE holder=me AND epoch=mine
//
// Timing (elect.Default*):
//
//	TTL            1.5 s   lease length, by the database clock
//	renew every    300 ms  four tries before the trust window closes
//	safety margin  300 ms
//	trust window   attempt start + TTL − margin = 1.2 s after the start
//	               of the last successful elect/renew call
//	standby tries  every 250 ms, and at once when poked by a gossip event
//
// The trust window is anchored at the start of the call, so a slow
// database cannot stretch it, and it closes 300 ms before the lease can
// expire in the database: a booster that cannot renew stops its
// active-only work (the Lead function's context ends) before anyone else
// can win the lease. The window is a local precaution, not the guarantee:
// every database write an active booster makes must itself be conditional
// on holding the lease at its epoch (the fence), so a booster that was
// paused or cut off and wakes up can do no harm even before its loop
// notices.
//
//	         start
//	           │
//	           ▼
//	┌──────────────────────┐   elect ok: lease absent or    ┌──────────────────────┐
//	│       STANDBY        │   expired by the DB clock      │        ACTIVE        │
//	│ elect every 250 ms   │ ─────────────────────────────► │ renew every 300 ms   │
//	│ or at once on Poke   │                                │ Lead(ctx) runs       │
//	│ (no tries during a   │ ◄───────────────────────────── │ metadata active=true │
//	│  hand-back hold-off) │   renew refused │ trust window └──────────────────────┘
//	└──────────────────────┘   closed │ hand back │ Stop
//	                           (Lead stopped first; resign on
//	                            hand back and Stop only)
//
// What happens on each failure:
//
//   - Active killed (SIGKILL, host lost): its last renewal was at most
//     ~300 ms before; the lease expires at most 1.5 s after that by the
//     database clock; the standby, poked by gossip (dead after ~0.8 s) and
//     trying every 250 ms, wins within ~250 ms of expiry: about 1.2–1.8 s.
//   - Active stopped cleanly (SIGTERM): Lead ends (every server stream gets
//     a Redirect), the term is resigned, the stopping booster calls the
//     standby's Handover RPC (a connection kept warm for it) and leaves
//     gossip; the standby elects at once on the call (or on the leave
//     event if the call fails): a few ms to tens of ms after the resign
//     (measured 5–20 ms on SQLite, PostgreSQL and MariaDB in elect's
//     database test).
//   - Active paused (SIGSTOP) beyond the lease, then resumed: meanwhile the
//     standby took over with epoch+1. On resume the old active's trust
//     timer has fired: it stops Lead and its next renew is refused; any
//     write it attempts in between fails its fence.
//   - Active cut off from the database: renewals fail, it steps down at the
//     trust deadline (≤ 1.2 s), the standby wins after expiry.
//   - Active cut off from gossip only: it keeps the lease (the database is
//     the truth); the standby cannot win a live lease; servers that reach
//     it keep working, the others are redirected to it or use the database.
//   - Standby lost: nothing changes for the active; when it comes back it
//     is standby.
//   - Database down: no booster can renew or elect; the active steps down
//     at its trust deadline. When the database returns the first booster to
//     try wins.
//   - Both boosters down: servers claim due jobs from the database
//     themselves (slower, still correct); when a booster returns it is
//     elected and dispatch resumes with no operator action.
//
// # The preferred booster, without flapping
//
// BOOSTER (the first in the settings) is preferred, SECOND_BOOSTER is not.
// The rule:
//
//  1. The preferred booster never preempts: it wins only a lease that is
//     absent, expired or resigned, like any standby.
//  2. An active non-preferred booster hands the lease back (resigns) only
//     when the preferred one has been ready — alive in gossip, standby,
//     reaching the database — without a break for HandbackAfter (10 s).
//  3. After handing back it stays out of elections for the hold-off
//     (max(2 × TTL, 4 × 250 ms) = 3 s), so the preferred one, poked by
//     the metadata change, takes the lease.
//  4. If it becomes active again soon after a hand back (the preferred one
//     did not keep the lease), its next hand back waits twice as long, up
//     to 5 minutes; a hand back that holds resets the wait.
//
// So there is at most one planned handover per readiness period, each a
// clean one (a resign, not an expiry), and a preferred booster that keeps
// failing is handed the lease less and less often.
//
// Servers try BOOSTER, then SECOND_BOOSTER; a standby answers Connect with
// a Redirect naming the lease holder.
//
// # Dispatch (package booster)
//
// Only the active booster dispatches, from one goroutine that owns all
// dispatch state for its term; the term's end (Lead's context) ends every
// server stream with a Redirect. A server registers its capacity (WORKERS)
// and reports Load{running, received}: running counts its jobs, its own
// included (those it claimed in degraded mode), and received the job ids it
// had been sent when it counted, so the booster's view of a server is
// running + (ids sent since). Due jobs go one by one to the server with
// room and the smallest share of its capacity in use (ties: the one served
// longest ago), never beyond capacity, in one Dispatch per server per round;
// the rest wait in memory until a server reports room.
//
// The booster learns that jobs are due from
//
//	JobsReady     servers name the jobs each commit enqueued (the outbox):
//	              due ones are dispatched at once, future ones set a timer
//	timer         the earliest run_at / lease expiry (NextDueAt) of each scan
//	sweep         DefaultSweepEvery (1 s): the safety net; also after a
//	              server stream closes, a server registers, a release
//	gossip        a server reported dead: its jobs are released under the
//	              fence (one conditional UPDATE joining booster_leases on
//	              holder, epoch and expiry by the database clock) and
//	              dispatched; a deposed booster's release changes nothing
//
// Servers claim dispatched jobs with their own lease (ClaimJob), so a
// second dispatch of a job is harmless: one claim wins. A job dispatched
// and not claimed within DefaultRedispatchAfter (2 s) is dispatched again
// by the next sweep; a server whose queue is full rejects the job and it
// goes elsewhere at once. omflow_booster_dispatch_unclaimed_total counts
// dispatches that found nothing to claim (the measure of duplicates).
//
// Gossip can declare a busy node dead by mistake (its probes time out on an
// overloaded host). A server whose stream has carried something in the last
// 400 ms (it sends Load at least every 300 ms) keeps its jobs; it is looked
// at again every 200 ms while gossip keeps it dead. Likewise a server keeps
// a booster whose stream is live (heartbeat every 300 ms).
//
// Cluster events: a server sends "flows" (apps or flows changed) and
// "task" (a task was assigned, for live inboxes) to the booster, which
// relays them to every other server; the booster reads the change counters
// every 500 ms and sends "changed:<scope>" to all. With no booster, the
// servers' own version checks catch up.
//
// # A server's session and degraded mode (package client)
//
//	connect      every booster candidate at once (the gossip-announced
//	             active first, then BOOSTER, SECOND_BOOSTER); the first
//	             Welcome wins; Redirects are followed once; each attempt
//	             is bounded by DefaultConnectTimeout (1 s)
//	retry        25 ms doubling to 1 s, cut short by gossip news of an
//	             active booster with a newer epoch
//	silence      a stream quiet for DefaultSilence (1 s) is dropped (a
//	             paused booster); so is one gossip reports dead
//	degraded     no booster for DefaultDegradedAfter (1 s): the engine
//	             polls the database itself ("no booster reachable: claiming
//	             jobs from the database (degraded mode)"); a Welcome turns
//	             polling off ("booster X is active: dispatch resumed")
//
// Measured on loopback with PostgreSQL (2 shared cores, load ~15): clean
// handover (SIGTERM) 95-180 ms from the signal to the standby's election,
// 150-250 ms to its first dispatch; crash (SIGKILL) 1.44 s to the
// election, 1.50 s to the first dispatch; SIGSTOP of the active 1.34 s to
// the standby's election, the paused one steps down on SIGCONT; a crashed
// server's job dispatched again 1.1 s after the crash.
//
// # Regenerating the protobuf code
//
// The generated code in rpcpb is committed. After changing
// rpcpb/booster.proto run `make proto`, which installs the generators and
// runs
//
//	go generate ./cluster/rpcpb
//
// which runs protoc --go_out --go-grpc_out with paths=source_relative and
// needs protoc (apt-get install -y protobuf-compiler), protoc-gen-go and
// protoc-gen-go-grpc (go install google.golang.org/protobuf/cmd/protoc-gen-go@latest,
// go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@latest) on PATH.
package cluster
