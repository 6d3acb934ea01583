package h1client

import (
	"fmt"
	"io"
	"net/http"
	"testing"
)

// take leaves a host's list in the map when it empties it (so that put can
// reuse its array); eviction past MaxIdleConns must skip such empty lists
// rather than index their head.
func TestEvictionSkipsEmptiedHostList(t *testing.T) {
	handler := func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "x") }
	a, _ := countingServer(t, handler)
	b, _ := countingServer(t, handler)
	c, _ := countingServer(t, handler)
	tr, _ := newTransport(t)
	tr.Fallback.MaxIdleConns = 1
	tr.MaxIdleConnsPerHost = 10
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
	if n := tr.idleCount(); n != 1 {
		t.Fatalf("%d idle connections, want 1", n)
	}
}
