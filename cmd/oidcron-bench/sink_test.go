package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// The lean sink answers net/http's requests on kept connections and hands
// each request's Authorization and ScheduleTime to its hook.
func TestLeanSink(t *testing.T) {
	type hit struct{ auth, sched string }
	var (
		mu   sync.Mutex
		hits []hit
	)
	s, err := newLeanSink(func(auth, sched []byte) {
		mu.Lock()
		hits = append(hits, hit{string(auth), string(sched)})
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var conns int
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		conns++
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	for i, body := range []string{"", "e30=", strings.Repeat("x", 100<<10)} {
		req, _ := http.NewRequest("POST", s.URL()+"/hook", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer eyJ")
		req.Header.Set("X-CloudScheduler-ScheduleTime", "2030-01-01T00:00:00Z")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(b) != 0 {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, b)
		}
	}
	if conns != 1 {
		t.Errorf("3 requests took %d connections, want 1 (kept alive)", conns)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(hits) != 3 || hits[2] != (hit{"Bearer eyJ", "2030-01-01T00:00:00Z"}) {
		t.Fatalf("hits %v", hits)
	}
}

// What the sink does not handle (a chunked body) ends the connection
// rather than being misread as the next request.
func TestLeanSinkRefusesChunked(t *testing.T) {
	s, err := newLeanSink(func(auth, sched []byte) { t.Error("a chunked request reached the hook") })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := net.Dial("tcp", strings.TrimPrefix(s.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\ne30=\r\n0\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(c).ReadString('\n'); err != io.EOF || line != "" {
		t.Fatalf("read %q, %v; want the connection closed without an answer", line, err)
	}
}
