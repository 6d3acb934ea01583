//go:build linux

package h1client

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"
)

// A target with a small receive window (an embedded stack, a server that
// sets SO_RCVBUF) that answers early (401, 413) without reading the body:
// the caller gets that answer, as from net/http, which reads while it
// writes. The fast path writes first, so it takes only requests that fit
// in the send buffer (maxWire); larger ones go to Fallback.
func TestEarlyAnswerSmallWindow(t *testing.T) {
	const answer = "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return nil
	}}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	accepted := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
			go func() {
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				io.WriteString(c, answer) // and never reads the body
			}()
		}
	}()
	// The client's send buffer as a WAN link's autotuning leaves it
	// (tcp_sndbuf_expand: 2 x 10 segments x 2368 bytes for a 1460-byte MSS = 47360,
	// which SO_SNDBUF 23680 gives after the kernel doubles it), not loopback's multi-megabyte one.
	dialer := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, 23680) })
		return nil
	}}
	// A body the fast path takes whole, and one that makes the request too
	// large for it (maxWire).
	for _, size := range []int{maxWire - 1024, 64 << 10} {
		body := bytes.Repeat([]byte("x"), size)
		tr, use := newTransport(t)
		tr.Fallback.DialContext = dialer.DialContext
		ref := reference(t)
		ref.DialContext = dialer.DialContext
		for _, rt := range []struct {
			name string
			rt   http.RoundTripper
		}{{"net/http", ref}, {"h1client", tr}} {
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+ln.Addr().String()+"/", bytes.NewReader(body))
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
			case c := <-accepted:
				conns = append(conns, c)
			case <-time.After(safety):
				t.Fatal("no connection")
			}
			select {
			case r := <-done:
				if r.err != nil || r.resp.StatusCode != 401 {
					t.Fatalf("%s: %v %v, want the target's 401", rt.name, r.resp, r.err)
				}
			case <-time.After(safety): // a guard against hanging, not a timing expectation
				t.Fatalf("%s: blocked writing a %d-byte body the target never reads; its 401 was never read (fast path used: %v)", rt.name, len(body), use.n.Load() == 0)
			}
		}
		if fast := use.n.Load() == 0; fast != (size < maxWire) {
			t.Errorf("%d-byte body: fast path used %v, want %v", size, fast, size < maxWire)
		}
	}
}
