package scheduler

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	fires      *prometheus.CounterVec
	attempts   *prometheus.CounterVec
	fireDelay  prometheus.Histogram
	retries    prometheus.Counter
	skipped    prometheus.Counter
	queueDepth prometheus.Gauge
	writeErrs  prometheus.Counter
	// droppedAtts counts attempts never recorded: too many were pending
	// while the store's writes failed.
	droppedAtts prometheus.Counter
}

func newMetrics(r prometheus.Registerer) *metrics {
	m := &metrics{
		fires: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "oidcron", Subsystem: "scheduler", Name: "fires_total",
			Help: "Executions started, by kind (scheduled or manual).",
		}, []string{"kind"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "oidcron", Subsystem: "scheduler", Name: "attempts_total",
			Help: "Finished HTTP attempts, by google.rpc code of the outcome.",
		}, []string{"code"}),
		fireDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "oidcron", Subsystem: "scheduler", Name: "fire_delay_seconds",
			Help: "From an execution's schedule time to its first request leaving.",
			// 1 ms to ~65 s: the steady-state target is 20 ms p99; the top
			// buckets show executions delayed by the previous one.
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 17),
		}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "oidcron", Subsystem: "scheduler", Name: "retries_total",
			Help: "Attempts that were retries of a failed attempt.",
		}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "oidcron", Subsystem: "scheduler", Name: "skipped_slots_total",
			Help: "Schedule slots not fired because the server was down or an execution of the job (RunJob's too, on one process) ran past them.",
		}),
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "oidcron", Subsystem: "scheduler", Name: "queue_depth",
			Help: "One process: items in the due queue plus executions waiting for a dispatcher. A replica: its executions claimed and not yet written.",
		}),
		writeErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "oidcron", Subsystem: "scheduler", Name: "store_write_errors_total",
			Help: "Batched store writes that failed (their job states and attempts are written again, with backoff).",
		}),
		droppedAtts: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "oidcron", Subsystem: "scheduler", Name: "dropped_attempts_total",
			Help: "Attempts never recorded: the oldest pending ones, dropped when too many waited for a failing store, or (replicas) one the store refused on its own three times.",
		}),
	}
	if r != nil {
		r.MustRegister(m.fires, m.attempts, m.fireDelay, m.retries, m.skipped, m.queueDepth, m.writeErrs, m.droppedAtts)
	}
	return m
}
