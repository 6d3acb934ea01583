package main

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/oidcron/oidcron/internal/scheduler"
)

func TestCheckOnce(t *testing.T) {
	b := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	last := b.Add(59 * time.Second)
	done := []scheduler.ExecutionDone{
		{Job: "j1", ScheduleTime: b},
		{Job: "j2", ScheduleTime: last},
		{Job: "j1", ScheduleTime: b.Add(time.Minute)}, // the next slot: not a repeat
	}
	if err := checkOnce(done, make(chan scheduler.ExecutionDone), last); err != nil {
		t.Fatalf("no repeat: %v", err)
	}
	// A repeat that ended after the count was reached is found too.
	more := make(chan scheduler.ExecutionDone, 1)
	more <- scheduler.ExecutionDone{Job: "j2", ScheduleTime: last}
	err := checkOnce(done, more, last)
	if err == nil || !strings.Contains(err.Error(), "1 executions ended more than once") || !strings.Contains(err.Error(), "j2") {
		t.Fatalf("repeat of j2: %v", err)
	}
}

func TestPGSnapshotCPUSince(t *testing.T) {
	before := pgSnapshot{
		{pid: 10, start: 1}: {ticks: 100},
		{pid: 20, start: 1}: {ticks: 50, own: true},
		{pid: 30, start: 1}: {ticks: 70, own: true}, // ends before after
	}
	after := pgSnapshot{
		{pid: 10, start: 1}: {ticks: 130},            // +30 shared
		{pid: 20, start: 1}: {ticks: 90, own: true},  // +40 own
		{pid: 40, start: 9}: {ticks: 5, own: true},   // started since: +5 own
		{pid: 30, start: 9}: {ticks: 20, own: false}, // pid 30 reused: counted from 0
	}
	all, own, ok := after.cpuSince(before)
	if !ok || all != 95*clockTick || own != 45*clockTick {
		t.Fatalf("cpuSince = %v, %v, %v; want %v, %v, true", all, own, ok, 95*clockTick, 45*clockTick)
	}
	if _, _, ok := after.cpuSince(pgSnapshot{}); ok {
		t.Fatal("no process before: reported as measured")
	}
}

func TestBackend(t *testing.T) {
	for _, tc := range []struct {
		be    backend
		label string
		ok    bool
	}{
		{backend{replicas: 1}, "oidcron (HTTP + OIDC token + SQLite)", true},
		{backend{store: "postgres://x/y", replicas: 1}, "oidcron (HTTP + OIDC token + PostgreSQL, 1 replica)", true},
		{backend{store: "postgres://x/y", replicas: 2}, "oidcron (HTTP + OIDC token + PostgreSQL, 2 replicas)", true},
		{backend{replicas: 2}, "", false},
		{backend{store: "postgres://x/y", replicas: 0}, "", false},
	} {
		if err := tc.be.validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: validate = %v", tc.be, err)
		}
		if tc.ok && tc.be.label() != tc.label {
			t.Errorf("%+v: label %q, want %q", tc.be, tc.be.label(), tc.label)
		}
	}
}

func TestWarnLog(t *testing.T) {
	w := &warnLog{}
	log := slog.New(w).With("replica", "r1")
	log.Info("not kept")
	if w.note() != "" {
		t.Fatalf("info kept: %q", w.note())
	}
	for i := range warnLogKeep + 2 {
		log.Error("claiming due jobs", "try", i)
	}
	note := w.note()
	if !strings.HasPrefix(note, "5 warnings or errors logged") || !strings.Contains(note, "claiming due jobs try=0 replica=r1") ||
		strings.Contains(note, "try=3") {
		t.Fatalf("note = %q", note)
	}
}
