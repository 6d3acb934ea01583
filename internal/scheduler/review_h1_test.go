package scheduler

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"

	"github.com/oidcron/oidcron/internal/clock"
	"github.com/oidcron/oidcron/internal/h1client"
)

// answered tells when a response head has reached the Dispatcher.
type answered struct {
	next http.RoundTripper
	ch   chan struct{}
}

func (a answered) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := a.next.RoundTrip(r)
	if err == nil {
		a.ch <- struct{}{}
	}
	return resp, err
}

// Send counts on the attempt's context to end its read of the body. For a
// 101 that switches protocols net/http hands over the connection itself as
// the body, no longer tied to the request's context: a target that answers
// so and then stays silent holds the worker past attempt_deadline, and past
// the engine's shutdown, for as long as it keeps the connection open. With
// the server's transport this is the https path (h1client's Fallback).
func TestSendEndsAtDeadlineAfterProtocolSwitch(t *testing.T) {
	var mu sync.Mutex
	var hijacked []net.Conn
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		mu.Lock()
		hijacked = append(hijacked, c)
		mu.Unlock()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		io.Copy(io.Discard, c) // silent until the client goes
	}))
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range hijacked {
			c.Close() // lets a stuck Send end once the test is over
		}
		ts.Close()
	})
	fallback := ts.Client().Transport.(*http.Transport).Clone()
	got := make(chan struct{}, 1)
	clk := clock.NewFake(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	d := &Dispatcher{
		Client: &http.Client{Transport: answered{next: &h1client.Transport{Fallback: fallback}, ch: got}},
		Clock:  clk,
	}
	job := target("projects/p/locations/l/jobs/upgrade", ts.URL+"/", schedulerpb.HttpMethod_POST, nil, "")
	done := make(chan Outcome, 1)
	go func() { done <- d.Send(context.Background(), job, clk.Now()) }()
	select {
	case <-got:
	case <-time.After(guard):
		t.Fatal("no response reached the dispatcher")
	}
	clk.Advance(DefaultAttemptDeadline)
	select {
	case out := <-done:
		t.Logf("outcome: %+v", out)
	case <-time.After(guard): // a guard against hanging, not a timing expectation
		t.Fatal("Send still reading the 101's body after attempt_deadline")
	}
}
