package booster

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/omflow/omflow/cluster"
)

// Metrics are the booster's Prometheus metrics, served on
// BOOSTER_HTTP_PORT /metrics.
type Metrics struct {
	active       prometheus.Gauge
	epoch        prometheus.Gauge
	sessions     prometheus.Gauge
	pending      prometheus.Gauge
	inflight     prometheus.Gauge
	dispatched   prometheus.Counter
	redispatched prometheus.Counter
	rejected     prometheus.Counter
	unclaimed    prometheus.Counter
	released     prometheus.Counter
	events       prometheus.Counter
	sweeps       prometheus.Counter
	latency      prometheus.Histogram
	renewals     *prometheus.CounterVec
	terms        prometheus.Counter
}

func newUnregisteredMetrics() *Metrics {
	return &Metrics{
		active: prometheus.NewGauge(prometheus.GaugeOpts{Name: "omflow_booster_active",
			Help: "1 while this booster is the active one (holds the lease), 0 while standby."}),
		epoch: prometheus.NewGauge(prometheus.GaugeOpts{Name: "omflow_booster_epoch",
			Help: "Lease epoch of this booster's current or last term."}),
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{Name: "omflow_booster_servers_connected",
			Help: "Servers with an open stream to this (active) booster."}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{Name: "omflow_booster_jobs_pending",
			Help: "Due jobs waiting for a server with room."}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "omflow_booster_jobs_in_flight",
			Help: "Jobs dispatched and not yet reported done."}),
		dispatched: prometheus.NewCounter(prometheus.CounterOpts{Name: "omflow_booster_jobs_dispatched_total",
			Help: "Job ids sent to servers."}),
		redispatched: prometheus.NewCounter(prometheus.CounterOpts{Name: "omflow_booster_jobs_redispatched_total",
			Help: "Jobs dispatched again because they stayed unclaimed for the redispatch time."}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{Name: "omflow_booster_jobs_rejected_total",
			Help: "Dispatched jobs a server did not take (queue full) and that went elsewhere."}),
		unclaimed: prometheus.NewCounter(prometheus.CounterOpts{Name: "omflow_booster_dispatch_unclaimed_total",
			Help: "Dispatches the server could not claim (the job was gone, not due or held elsewhere): duplicate or needless dispatches."}),
		released: prometheus.NewCounter(prometheus.CounterOpts{Name: "omflow_booster_jobs_released_total",
			Help: "Jobs leased by servers gossip reported dead, released for others (fenced by the lease)."}),
		events: prometheus.NewCounter(prometheus.CounterOpts{Name: "omflow_booster_events_total",
			Help: "Cluster events relayed or sent to the servers."}),
		sweeps: prometheus.NewCounter(prometheus.CounterOpts{Name: "omflow_booster_sweeps_total",
			Help: "Scans of the jobs table (safety net, timers, lease expiries)."}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "omflow_booster_dispatch_latency_seconds",
			Help:    "Time from the booster learning that a job is due to sending it to a server.",
			Buckets: []float64{.0001, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}),
		renewals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "omflow_booster_lease_renewals_total",
			Help: "Lease renewals by result (ok, failed: an error or refused)."}, []string{"result"}),
		terms: prometheus.NewCounter(prometheus.CounterOpts{Name: "omflow_booster_terms_total",
			Help: "Times this booster became active."}),
	}
}

// NewMetrics makes the booster's metrics on reg: the counters above, plus
// the role (omflow_node_info) and the gossip members by state and role as
// members sees them (nil: not reported).
func NewMetrics(reg prometheus.Registerer, role cluster.Role, order int, version string, members Membership) (*Metrics, error) {
	m := newUnregisteredMetrics()
	cs := []prometheus.Collector{m.active, m.epoch, m.sessions, m.pending, m.inflight, m.dispatched, m.redispatched,
		m.rejected, m.unclaimed, m.released, m.events, m.sweeps, m.latency, m.renewals, m.terms}
	info := prometheus.NewGauge(prometheus.GaugeOpts{Name: "omflow_node_info",
		Help:        "The node's role, booster order (1 BOOSTER, 2 SECOND_BOOSTER) and version; always 1.",
		ConstLabels: prometheus.Labels{"role": string(role), "booster_order": fmt.Sprint(order), "version": version}})
	info.Set(1)
	cs = append(cs, info)
	if members != nil {
		cs = append(cs, membersCollector{members})
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("booster metrics: %w", err)
		}
	}
	for _, r := range []string{"ok", "failed"} {
		m.renewals.WithLabelValues(r)
	}
	return m, nil
}

// Renewed counts a lease renewal.
func (m *Metrics) Renewed(ok bool) {
	if ok {
		m.renewals.WithLabelValues("ok").Inc()
	} else {
		m.renewals.WithLabelValues("failed").Inc()
	}
}

// BecameActive counts a new term.
func (m *Metrics) BecameActive() { m.terms.Inc() }

var membersDesc = prometheus.NewDesc("omflow_cluster_members",
	"Gossip members as this node sees them, by state (alive, suspect, dead, left) and role.", []string{"state", "role"}, nil)

type membersCollector struct{ m Membership }

func (c membersCollector) Describe(ch chan<- *prometheus.Desc) { ch <- membersDesc }

func (c membersCollector) Collect(ch chan<- prometheus.Metric) {
	counts := map[[2]string]int{}
	for _, st := range []cluster.MemberState{cluster.StateAlive, cluster.StateSuspect, cluster.StateDead, cluster.StateLeft} {
		for _, r := range []cluster.Role{cluster.RoleBooster, cluster.RoleServer, cluster.RoleSlave, cluster.RoleAgent} {
			counts[[2]string{string(st), string(r)}] = 0
		}
	}
	for _, mem := range c.m.Members() {
		counts[[2]string{string(mem.State), string(mem.Meta.Role)}]++
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(membersDesc, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
}
