package web

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/omflow/omflow/store"
)

// Metrics are the server's Prometheus metrics:
//
//	omflow_http_requests_total{route,code}         counter
//	omflow_http_request_duration_seconds{route}    histogram
//	omflow_tickets_filed_total                     counter
//	omflow_jobs{state}                             gauge, read from the database at scrape
//	omflow_step_duration_seconds{kind}             histogram, fed by ObserveStep / StepDone
//	omflow_step_errors_total{kind}                 counter, fed by StepDone
//
// route is the ServeMux pattern that matched ("POST /api/v1/flows/{ref}/tickets"),
// or "unmatched", so the label set stays small.
type Metrics struct {
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	ticketsFiled prometheus.Counter
	steps        *prometheus.HistogramVec
	stepErrors   *prometheus.CounterVec
}

// NewMetrics makes the metrics and registers them on reg. Make them before
// the engine to hand it ObserveStep, then pass them in Options.Metrics.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "omflow_http_requests_total", Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "omflow_http_request_duration_seconds", Help: "HTTP request duration by route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		ticketsFiled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "omflow_tickets_filed_total", Help: "Tickets filed through this server.",
		}),
		steps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "omflow_step_duration_seconds", Help: "Duration of flow steps (jobs) by kind, claim to commit.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"kind"}),
		stepErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "omflow_step_errors_total", Help: "Flow steps (jobs) that failed, by kind.",
		}, []string{"kind"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.ticketsFiled, m.steps, m.stepErrors} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

// ObserveStep records that a flow step of kind (the engine's job kind, e.g.
// "step", or a node type) took d. It is the engine's step observer: pass m.ObserveStep
// where the engine takes a func(kind string, d time.Duration). Safe for
// concurrent use.
func (m *Metrics) ObserveStep(kind string, d time.Duration) {
	m.steps.WithLabelValues(kind).Observe(d.Seconds())
}

// StepDone has the shape of flow.Hooks.StepDone: it observes the step's
// duration and counts it as failed when err is not nil.
func (m *Metrics) StepDone(kind string, d time.Duration, err error) {
	m.ObserveStep(kind, d)
	if err != nil {
		m.stepErrors.WithLabelValues(kind).Inc()
	}
}

// TicketFiled counts one filed ticket.
func (m *Metrics) TicketFiled() { m.ticketsFiled.Inc() }

func (m *Metrics) observeRequest(route string, code int, d time.Duration) {
	m.requests.WithLabelValues(route, statusLabel(code)).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
}

func statusLabel(code int) string {
	if code >= 100 && code < 600 {
		return fmt.Sprint(code)
	}
	return "other"
}

// jobsCollector reads the jobs table's counts by state at each scrape.
type jobsCollector struct {
	db   *store.DB
	log  *slog.Logger
	desc *prometheus.Desc
}

func (m *Metrics) watchJobs(reg prometheus.Registerer, db *store.DB, log *slog.Logger) error {
	c := &jobsCollector{db: db, log: log, desc: prometheus.NewDesc("omflow_jobs", "Jobs in the outbox by state (ready, leased, failed).", []string{"state"}, nil)}
	if err := reg.Register(c); err != nil {
		return fmt.Errorf("register jobs metric: %w", err)
	}
	return nil
}

func (c *jobsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *jobsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.db.JobCounts(ctx)
	if err != nil {
		c.log.Warn("metrics: count jobs", "err", err)
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for state, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), state)
	}
}
