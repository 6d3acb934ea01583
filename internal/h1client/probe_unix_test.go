//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package h1client

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// waitReadable blocks until the kernel has something for nc to read (data
// or EOF), without consuming it: the client side has then observed what
// the server did.
func waitReadable(t *testing.T, nc net.Conn) {
	t.Helper()
	rc, err := nc.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(safety)) // a guard, not an expectation
	defer nc.SetReadDeadline(time.Time{})
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		return err != unix.EAGAIN
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAliveProbe(t *testing.T) {
	ln := listen(t)
	dial := func() (client, server net.Conn) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(); s.Close() })
		return c, s
	}
	c, s := dial()
	if !alive(c) {
		t.Fatal("quiet connection reported dead")
	}
	s.Write([]byte("H"))
	waitReadable(t, c)
	if alive(c) {
		t.Fatal("connection with unsolicited bytes reported alive")
	}
	if b := make([]byte, 1); func() error { _, err := io.ReadFull(c, b); return err }() != nil || b[0] != 'H' {
		t.Fatal("the probe consumed the byte")
	}
	c, s = dial()
	s.Close()
	waitReadable(t, c)
	if alive(c) {
		t.Fatal("connection closed by the server reported alive")
	}
}

// A server that closes a kept-alive connection (Node's keep-alive timeout)
// must not fail the next request, even one that is never retried: the
// probe finds the close before the request is written.
func TestDeadIdleConnectionNotUsed(t *testing.T) {
	closed := make(chan struct{})
	idle := make(chan struct{})
	addr := serveRaw(t, func(n int, c net.Conn, br *bufio.Reader) {
		for {
			if _, err := readRequest(br); err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n"+strconv.Itoa(n))
			if n == 1 {
				<-idle
				c.Close()
				close(closed)
				return
			}
		}
	})
	tr, _ := newTransport(t)
	post := func() string {
		req, _ := http.NewRequest("POST", "http://"+addr+"/", strings.NewReader("job"))
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := post(); got != "1" {
		t.Fatalf("first answer from connection %s", got)
	}
	tr.mu.Lock()
	nc := tr.idle[addr][0].nc
	tr.mu.Unlock()
	close(idle)
	<-closed
	waitReadable(t, nc)
	if got := post(); got != "2" {
		t.Fatalf("second answer from connection %s, want a new one", got)
	}
}
