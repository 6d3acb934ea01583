package main

import (
	"testing"
	"time"
)

// With -peer-work http a fire is a POST that reaches the lean sink, whose
// arrival records the delay from the slot; noop records it in process.
func TestPeerTargetRecordsEachFire(t *testing.T) {
	defer func(w string) { peerWork = w }(peerWork)
	for _, work := range []string{"noop", "http"} {
		peerWork = work
		p, err := newPeerTarget(3)
		if err != nil {
			t.Fatal(err)
		}
		at := time.Now().Add(-time.Second)
		for range 3 {
			p.fire(at)
		}
		p.close()
		if n := p.rec.count(); n != 3 {
			t.Fatalf("%s: %d delays recorded, want 3", work, n)
		}
		for _, d := range p.rec.d {
			if d < time.Second {
				t.Fatalf("%s: delay %v, want at least the second since the slot", work, d)
			}
		}
		if _, err := p.check(fireStats{name: work}); err != nil {
			t.Fatal(err)
		}
	}
	peerWork = "bogus"
	if _, err := newPeerTarget(1); err == nil {
		t.Fatal("-peer-work bogus accepted")
	}
}
