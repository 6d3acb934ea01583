package identity

import (
	"fmt"
	"testing"
	"time"
)

func TestTTLCache(t *testing.T) {
	c := newTTLCache[string, int](3)
	now := t0
	c.put("a", 1, now.Add(time.Minute), now)
	c.put("b", 2, now.Add(3*time.Minute), now)
	c.put("c", 3, now.Add(2*time.Minute), now)
	if v, ok := c.get("a", now); !ok || v != 1 {
		t.Fatal("a missing")
	}
	// Full: the entry due soonest (a) makes room.
	c.put("d", 4, now.Add(4*time.Minute), now)
	if _, ok := c.get("a", now); ok || c.len() != 3 {
		t.Fatalf("a not evicted (len %d)", c.len())
	}
	// Dropped at its drop time exactly.
	if _, ok := c.get("c", now.Add(2*time.Minute-time.Nanosecond)); !ok {
		t.Fatal("c dropped early")
	}
	if _, ok := c.get("c", now.Add(2*time.Minute)); ok {
		t.Fatal("c served at its drop time")
	}
	// Overwrite moves the drop time.
	c.put("b", 20, now.Add(10*time.Minute), now)
	if v, ok := c.get("b", now.Add(5*time.Minute)); !ok || v != 20 {
		t.Fatal("overwrite lost")
	}
	// Already-due entries are not stored; expired ones make room first.
	c.put("e", 5, now, now)
	if _, ok := c.get("e", now); ok {
		t.Fatal("stored an entry already due")
	}
	later := now.Add(9 * time.Minute)
	for i := range 5 {
		c.put(fmt.Sprint("x", i), i, later.Add(time.Hour), later)
	}
	if c.len() != 3 {
		t.Fatalf("len %d, want 3", c.len())
	}
	c.purge()
	if c.len() != 0 {
		t.Fatal("purge")
	}
	// A zero-size cache stores nothing.
	z := newTTLCache[string, int](0)
	z.put("a", 1, later.Add(time.Hour), later)
	if z.len() != 0 {
		t.Fatal("zero-size cache stored")
	}
}
