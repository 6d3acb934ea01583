package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/oidcron/oidcron/internal/server"
	"github.com/oidcron/oidcron/internal/store/postgres"
)

// backend is where a scheduler run keeps its jobs: SQLite in the run's
// folder, run by one server, or a database of the run's own on the
// PostgreSQL server at store, shared by replicas servers of this process.
type backend struct {
	store    string // -store: "" for SQLite
	replicas int    // -replicas: 1 on SQLite
}

func (be backend) postgres() bool { return be.store != "" }

func (be backend) validate() error {
	switch {
	case be.replicas < 1:
		return fmt.Errorf("-replicas %d: want at least 1", be.replicas)
	case be.replicas > 1 && !be.postgres():
		return errors.New("-replicas > 1 needs -store: SQLite has one server")
	}
	return nil
}

// label is the run's row in the tables.
func (be backend) label() string {
	if !be.postgres() {
		return "oidcron (HTTP + OIDC token + SQLite)"
	}
	unit := "replicas"
	if be.replicas == 1 {
		unit = "replica"
	}
	return fmt.Sprintf("oidcron (HTTP + OIDC token + PostgreSQL, %d %s)", be.replicas, unit)
}

// pgCopyChunk bounds the jobs one transaction of the PostgreSQL fill
// writes: each is a round trip, and SERIALIZABLE keeps the predicate locks
// of the whole transaction until it commits.
const pgCopyChunk = 10_000

// copyJobsPG is copyJobs on the PostgreSQL database at url.
func copyJobsPG(ctx context.Context, url, name string, n int, b time.Time, spread time.Duration) error {
	db, err := postgres.Open(ctx, url)
	if err != nil {
		return err
	}
	defer db.Close()
	return copyJobsInto(ctx, db, name, n, b, spread, pgCopyChunk)
}

// startServers starts count servers on cfg, each on listeners of its own
// (cfg's addresses are ports 0). On an error it shuts down those it
// started.
func startServers(ctx context.Context, cfg server.Config, count int) ([]*server.Server, error) {
	var ss []*server.Server
	for i := 0; i < count; i++ {
		s, err := server.Start(ctx, cfg)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("server %d of %d: %w", i+1, count, err), shutdownAll(ctx, ss))
		}
		ss = append(ss, s)
	}
	return ss, nil
}

// shutdownAll shuts every server down, each after the one before: a
// replica stops claiming, ends its attempts in flight, writes them and
// retires.
func shutdownAll(ctx context.Context, ss []*server.Server) error {
	var errs []error
	for i, s := range ss {
		if err := s.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown of server %d: %w", i+1, err))
		}
	}
	return errors.Join(errs...)
}

// flushAll returns once every server's engine has written what it had
// pending: each replica group-commits its own outcomes.
func flushAll(ctx context.Context, ss []*server.Server) error {
	for _, s := range ss {
		if err := s.Engine.Flush(ctx); err != nil {
			return err
		}
	}
	return nil
}

// counter sums the series of one counter in a server's registry.
func counter(s *server.Server, name string) float64 {
	mfs, err := s.Registry.Gather()
	if err != nil {
		return 0
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// engineNote tells what the engines' counters show that the table does
// not: how the attempts fell to the replicas, and any write that failed or
// attempt that was dropped (nothing, when all went well on one server).
func engineNote(ss []*server.Server) string {
	var notes []string
	if len(ss) > 1 {
		per := make([]string, len(ss))
		for i, s := range ss {
			per[i] = fmt.Sprintf("%.0f", counter(s, "oidcron_scheduler_attempts_total"))
		}
		notes = append(notes, "attempts per replica at the end of the window: "+strings.Join(per, " / "))
	}
	for _, c := range []struct{ metric, what string }{
		{"oidcron_scheduler_store_write_errors_total", "failed store writes"},
		{"oidcron_scheduler_dropped_attempts_total", "dropped attempts"},
		{"oidcron_scheduler_skipped_slots_total", "skipped slots"},
		{"oidcron_scheduler_retries_total", "retries"},
	} {
		total := 0.0
		for _, s := range ss {
			total += counter(s, c.metric)
		}
		if total > 0 {
			notes = append(notes, fmt.Sprintf("%s: %.0f", c.what, total))
		}
	}
	return strings.Join(notes, "; ")
}
