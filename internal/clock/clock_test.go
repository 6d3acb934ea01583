package clock

import (
	"testing"
	"time"
)

func TestFakeRunsTimersInOrderAsTimeAdvances(t *testing.T) {
	start := time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC)
	f := NewFake(start)
	var got []string
	var at []time.Time
	f.AfterFunc(2*time.Second, func() { got = append(got, "b"); at = append(at, f.Now()) })
	f.AfterFunc(time.Second, func() { got = append(got, "a"); at = append(at, f.Now()) })
	stopped := f.AfterFunc(1500*time.Millisecond, func() { got = append(got, "never") })
	f.AfterFunc(2*time.Second, func() {
		got = append(got, "c") // same instant as b: registration order
		f.AfterFunc(0, func() { got = append(got, "d") })
	})
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop should report true once, then false")
	}
	f.Advance(500 * time.Millisecond)
	if len(got) != 0 || f.Pending() != 3 {
		t.Fatalf("early: %v pending %d", got, f.Pending())
	}
	f.Advance(10 * time.Second)
	if want := "a b c d"; join(got) != want {
		t.Fatalf("order %q, want %q", join(got), want)
	}
	if !at[0].Equal(start.Add(time.Second)) || !at[1].Equal(start.Add(2*time.Second)) {
		t.Fatalf("timers saw %v", at)
	}
	if !f.Now().Equal(start.Add(10500 * time.Millisecond)) {
		t.Fatalf("now %v", f.Now())
	}
	f.Set(start) // never backwards
	if !f.Now().Equal(start.Add(10500 * time.Millisecond)) {
		t.Fatal("clock went backwards")
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}
