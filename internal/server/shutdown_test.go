package server_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	scheduler "cloud.google.com/go/scheduler/apiv1"
	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/oidcron/oidcron/internal/server"
)

// An attempt still running when the shutdown deadline comes is cancelled
// (the next start sends it again) and the shutdown succeeds: the HTTP
// servers get their own drain rather than the deadline the engine used up.
func TestShutdownCancelsAttemptsAtItsDeadlineAndSucceeds(t *testing.T) {
	arrived := make(chan struct{}, 1)
	cancelled := make(chan struct{})
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
		close(cancelled)
	}))
	defer sink.Close()
	var logs syncBuffer
	s, err := server.Start(context.Background(), server.Config{
		Listen: "127.0.0.1:0", GatewayListen: "127.0.0.1:0", DataDir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: context.Background(), s: s, api: "http://" + s.Addrs.API}
	c, err := scheduler.NewCloudSchedulerClient(e.ctx, e.grpc("")...)
	if err != nil {
		t.Fatal(err)
	}
	j := httpJob("slow", sink.URL)
	j.AttemptDeadline = durationpb.New(30 * time.Minute)
	if _, err := c.CreateJob(e.ctx, &schedulerpb.CreateJobRequest{Parent: parent, Job: j}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RunJob(e.ctx, &schedulerpb.RunJobRequest{Name: j.GetName()}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	<-arrived

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the deadline has come
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	select { // the sink sees the dropped connection a moment after the client
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the attempt in flight was not cancelled")
	}
	if !strings.Contains(logs.String(), "attempts still running at the shutdown deadline are cancelled") {
		t.Fatalf("the cut is not logged:\n%s", logs.String())
	}
}
