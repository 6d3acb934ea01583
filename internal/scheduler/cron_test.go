package scheduler

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"

	"github.com/oidcron/oidcron/internal/clock"
)

// With the real grammar, a daily 02:30 job in Europe/Berlin fires across the
// spring-forward gap once, at the first instant after it (03:00 CEST),
// then at 02:30 CEST.
func TestEngineWithCronAcrossDST(t *testing.T) {
	st := newMemStore()
	name := addJob(t, st, "dst", "30 2 * * *", func(j *schedulerpb.Job) { j.TimeZone = "Europe/Berlin" })
	clk := clock.NewFake(time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC))
	snd := &fakeSender{clk: clk, calls: make(chan *call, 10)}
	sig := NewTestSignals(10)
	e := New(Config{Store: st, Clock: clk, Sender: snd, Signals: sig, Logger: slog.New(slog.DiscardHandler), Registerer: prometheus.NewRegistry()})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer e.Stop(context.Background())
	for _, want := range []time.Time{
		time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC),  // 03:00 CEST: 02:30 does not exist
		time.Date(2026, 3, 30, 0, 30, 0, 0, time.UTC), // 02:30 CEST
	} {
		clk.Set(want.Add(-time.Second))
		select {
		case f := <-sig.Fired:
			t.Fatalf("early fire %+v", f)
		default:
		}
		clk.Set(want)
		if f := recv(t, sig.Fired, "the fire"); f.Job != name || !f.ScheduleTime.Equal(want) {
			t.Fatalf("fire %+v, want %v", f, want)
		}
		recv(t, snd.calls, "the attempt").answer(codes.OK, 200)
		recv(t, sig.ExecutionDone, "the execution")
	}
}
