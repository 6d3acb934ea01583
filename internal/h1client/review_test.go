package h1client

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// A target may answer before it has read the request body (413, 401 from an
// auth front, a Go server's handler that never reads the body) and then stop
// reading. net/http writes the body on one goroutine while another reads
// the response ("in case the server decides to reply before reading our full
// request body", persistConn.roundTrip), so the caller gets the answer.
// Here the body is written to the end before a byte is read: the exchange
// blocks in Write until the attempt deadline (or fails with a reset when
// the server closes), and the job's status is a timeout or "unreachable"
// instead of the target's 413. Job bodies may be megabytes (the API takes
// up to 10 MiB); a body larger than what the socket buffers hold is enough.
func TestEarlyAnswerWhileBodyIsWritten(t *testing.T) {
	const answer = "HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
	addr := serveRaw(t, func(_ int, c net.Conn, br *bufio.Reader) {
		if _, err := http.ReadRequest(br); err != nil { // the head only
			return
		}
		io.WriteString(c, answer)
		// Reads nothing more; the connection stays open until cleanup.
	})
	body := bytes.Repeat([]byte("x"), 16<<20) // more than loopback buffers hold while nobody reads
	// No check that the fast path took it: a fix may well send big bodies to
	// Fallback.
	tr, _ := newTransport(t)
	for _, rt := range []struct {
		name string
		rt   http.RoundTripper
	}{{"net/http", reference(t)}, {"h1client", tr}} {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel) // unblocks a stuck exchange once the test is over
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+addr+"/", bytes.NewReader(body))
		type result struct {
			resp *http.Response
			err  error
		}
		done := make(chan result, 1)
		go func() {
			resp, err := rt.rt.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
			}
			done <- result{resp, err}
		}()
		select {
		case r := <-done:
			if r.err != nil {
				t.Fatalf("%s: %v, want the target's 413", rt.name, r.err)
			}
			if r.resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("%s: status %d, want 413", rt.name, r.resp.StatusCode)
			}
		case <-time.After(safety): // a guard against hanging, not a timing expectation
			t.Fatalf("%s: no response: the target's early 413 was never read", rt.name)
		}
	}
}

// reference is the net/http Transport the outcome is compared with.
func reference(t *testing.T) *http.Transport {
	ref := plainTransport()
	t.Cleanup(ref.CloseIdleConnections)
	return ref
}

type failingBody struct{ err error }

func (b failingBody) Read([]byte) (int, error) { return 0, b.err }
func (failingBody) Close() error               { return nil }

// net/http hands the caller the error its Request.Body returned; Request.Write
// wraps it in an unexported type (requestBodyReadError, "should not escape
// the net/http package to users") that has no Unwrap, which h1client passes
// on as it is: errors.Is and errors.As no longer find the body's error.
func TestBodyReadErrorIsTheBodysError(t *testing.T) {
	ts, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {})
	errBody := errors.New("body source failed")
	tr, use := newTransport(t)
	for _, rt := range []struct {
		name string
		rt   http.RoundTripper
	}{{"net/http", reference(t)}, {"h1client", tr}} {
		req, _ := http.NewRequest("POST", ts.URL, failingBody{errBody})
		req.ContentLength = 10
		req.GetBody = func() (io.ReadCloser, error) { return failingBody{errBody}, nil }
		_, err := rt.rt.RoundTrip(req)
		if !errors.Is(err, errBody) {
			t.Errorf("%s: error %v (%T), want the body's own error", rt.name, err, err)
		}
	}
	if use.n.Load() != 0 {
		t.Fatal("the request went to Fallback")
	}
}

// A 101 to a request that asked for no upgrade (those with an Upgrade
// header go to Fallback) switches to a protocol nobody asked for. net/http
// would hand over the connection as the body; this package ends the
// exchange: status 101, no body, the connection closed rather than pooled
// (documented in exchange).
func TestUnaskedProtocolSwitchEndsTheExchange(t *testing.T) {
	closed := make(chan struct{})
	addr := serveRaw(t, func(_ int, c net.Conn, br *bufio.Reader) {
		if _, err := readRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\nConnection: Upgrade\r\n\r\nswitched")
		if _, err := br.ReadByte(); err == io.EOF {
			close(closed)
		}
	})
	tr, use := newTransport(t)
	req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols || len(b) != 0 {
		t.Fatalf("status %d, body %q; want 101 with no body", resp.StatusCode, b)
	}
	waitClosedNoneIdle(t, tr, closed, "the connection of the switched exchange was kept")
	if use.n.Load() != 0 {
		t.Fatal("the request went to Fallback")
	}
}

// Past MaxIdleConns in all, the connection idle longest makes room for the
// new one, whatever its host, as in net/http; a host at its own limit
// keeps its connections and the new one is closed.
func TestMaxIdleConnsEvictsTheOldest(t *testing.T) {
	tr, a, b, c := threeHosts(t, 2)
	aConns, bConns, cConns := a.conns, b.conns, c.conns
	get(t, tr, a.URL)
	get(t, tr, b.URL)
	get(t, tr, c.URL) // a's connection, the oldest, is closed for c's
	if n := tr.idleCount(); n != 2 {
		t.Fatalf("%d idle connections, want 2", n)
	}
	get(t, tr, b.URL)
	get(t, tr, c.URL)
	if nb, nc := bConns.Load(), cConns.Load(); nb != 1 || nc != 1 {
		t.Fatalf("b and c opened %d and %d connections, want 1 each: the newer idle ones were not kept", nb, nc)
	}
	get(t, tr, a.URL)
	if n := aConns.Load(); n != 2 {
		t.Fatalf("a opened %d connections, want 2: its idle one, the oldest, should have been closed", n)
	}
}

// host is a test server that counts the connections it accepts.
type host struct {
	URL   string
	conns *atomic.Int32
}

// threeHosts starts three servers answering "x" and a transport that keeps
// at most maxIdle idle connections in all (10 a host).
func threeHosts(t *testing.T, maxIdle int) (tr *Transport, a, b, c host) {
	handler := func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "x") }
	hs := make([]host, 3)
	for i := range hs {
		ts, conns := countingServer(t, handler)
		hs[i] = host{URL: ts.URL, conns: conns}
	}
	tr, _ = newTransport(t)
	tr.Fallback.MaxIdleConns = maxIdle
	tr.MaxIdleConnsPerHost = 10
	return tr, hs[0], hs[1], hs[2]
}

// take leaves a host's list in the map when it empties it (so that put can
// reuse its array); eviction past MaxIdleConns must skip such empty lists
// rather than index their head.
func TestEvictionSkipsEmptiedHostList(t *testing.T) {
	tr, a, b, c := threeHosts(t, 1)
	get(t, tr, b.URL) // b's connection idle
	// b's connection taken again and held (body unread): b's list is empty.
	req, _ := http.NewRequest("GET", b.URL, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	get(t, tr, a.URL) // a's connection idle: MaxIdleConns reached
	// c's connection, put back, evicts a's.
	if err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		get(t, tr, c.URL)
		return nil
	}(); err != nil {
		t.Fatal(err)
	}
}

// The sweep closes the connections past the timeout and sets its timer for
// the expiry of the oldest one left, not a whole timeout later: no idle
// connection outlives the timeout by more than the timer's delay.
func TestSweepWaitsForTheOldestLeft(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	tr, _ := newTransport(t)
	pipe := func(addr string, idle time.Duration) (*conn, net.Conn) {
		c1, c2 := net.Pipe()
		t.Cleanup(func() { c1.Close(); c2.Close() })
		return &conn{nc: c1, addr: addr, idleAt: now.Add(-idle)}, c2
	}
	expired, expiredPeer := pipe("a:80", 60*time.Millisecond)
	older, _ := pipe("a:80", 10*time.Millisecond)
	newer, _ := pipe("b:80", 5*time.Millisecond)
	tr.idle = map[string][]*conn{"a:80": {expired, older}, "b:80": {newer}}
	tr.nidle = 3
	tr.mu.Lock()
	next := tr.sweepLocked(now, 50*time.Millisecond)
	tr.mu.Unlock()
	if next != 40*time.Millisecond {
		t.Errorf("next sweep in %v, want 40ms (when the oldest left expires)", next)
	}
	if n := tr.idleCount(); n != 2 || len(tr.idle["a:80"]) != 1 || tr.idle["a:80"][0] != older {
		t.Fatalf("idle after the sweep: %d, a:80 %v; want the two unexpired", n, tr.idle["a:80"])
	}
	// A pipe's write waits for a reader: a past deadline makes it answer at
	// once, ErrClosedPipe if the sweep closed the other end.
	expiredPeer.SetWriteDeadline(time.Unix(1, 0))
	if _, err := expiredPeer.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("writing to the expired connection's peer: %v, want it closed", err)
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if next := tr.sweepLocked(now.Add(time.Second), 50*time.Millisecond); next != 0 || tr.nidle != 0 {
		t.Errorf("after every connection expired: next %v, %d idle; want 0 and 0", next, tr.nidle)
	}
}
