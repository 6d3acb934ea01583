package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/api/cloudscheduler/v1"
	"google.golang.org/api/option"

	"github.com/oidcron/oidcron/internal/store/postgres/pgtest"
)

// Parameters of the replicas test.
const (
	replicaJobs = 150
	replicas    = 3
	// failoverTarget is the bound from a replica's death to
	// another's re-sending its attempt in flight (lease 3 s + poll 1 s).
	failoverTarget = 5 * time.Second
)

// replicaHit is one request a replica sent, as its own sink saw it.
type replicaHit struct {
	replica          int
	job, slot        string
	arrived, settled time.Time
	cut              bool // the connection died before the answer: in flight at a kill
}

// replicaSinks gives each replica slot its own sink, reached as the
// replica's HTTP proxy, so that every request is known by its sender. Each
// request is held 20-300 ms before its 200, so that a kill finds some in
// flight.
type replicaSinks struct {
	mu   sync.Mutex
	hits []replicaHit
	kick chan struct{}
	srvs []*http.Server
	urls []string
}

func newReplicaSinks(t *testing.T, n int) *replicaSinks {
	s := &replicaSinks{kick: make(chan struct{}, 1)}
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := replicaHit{replica: i, job: r.Header.Get("X-CloudScheduler-JobName"),
				slot: r.Header.Get("X-CloudScheduler-ScheduleTime"), arrived: time.Now()}
			select {
			case <-time.After(time.Duration(20+rand.IntN(280)) * time.Millisecond): // the target's work
				w.WriteHeader(http.StatusOK)
			case <-r.Context().Done():
				h.cut = true
			}
			h.settled = time.Now()
			s.mu.Lock()
			s.hits = append(s.hits, h)
			s.mu.Unlock()
			select {
			case s.kick <- struct{}{}:
			default:
			}
		})}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close() })
		s.srvs = append(s.srvs, srv)
		s.urls = append(s.urls, "http://"+ln.Addr().String())
	}
	return s
}

func (s *replicaSinks) snapshot() []replicaHit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]replicaHit(nil), s.hits...)
}

// waitFor waits, each settled request being the event that re-checks it,
// until cond holds.
func (s *replicaSinks) waitFor(t *testing.T, deadline time.Time, what string, cond func([]replicaHit) (bool, string)) {
	t.Helper()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		ok, progress := cond(s.snapshot())
		if ok {
			return
		}
		select {
		case <-s.kick:
		case <-timer.C:
			t.Fatalf("timed out waiting for %s: %s", what, progress)
		}
	}
}

type kill struct {
	replica int
	at      time.Time
}

// TestReplicasKill9 runs three replicas of the real binary on one
// PostgreSQL database, with jobs firing every minute, and kills a random
// replica with SIGKILL at a random point of each of two minute bursts
// (restarting it at once). Every (job, scheduled time) of both bursts must
// be answered; a (job, scheduled time) may reach a target twice only as the
// documented repeat of an attempt in flight at a kill: sent by the killed
// replica before its death, sent again after it, with the same
// X-CloudScheduler-ScheduleTime; and each request cut by a kill is sent
// again by another replica within the failover target.
func TestReplicasKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs three binaries and waits for two minute boundaries")
	}
	t.Parallel()
	url := pgtest.NewDatabase(t)
	bin := buildBinary(t)
	sinks := newReplicaSinks(t, replicas)
	dir := t.TempDir()
	start := func(i, gen int) *proc {
		// The same --issuer on every replica: the tokens of all are one
		// issuer's. NO_PROXY empty: the sink is the proxy of every request.
		return startServer(t, bin, filepath.Join(dir, fmt.Sprintf("r%d-%d", i, gen)), []string{
			"OIDCRON_STORE=" + url, "OIDCRON_ISSUER=http://oidcron.test", "HTTP_PROXY=" + sinks.urls[i], "NO_PROXY=", "no_proxy=",
		}, nil)
	}
	procs := make([]*proc, replicas)
	for i := range procs {
		procs[i] = start(i, 0)
	}

	ctx := context.Background()
	svc, err := cloudscheduler.NewService(ctx, option.WithEndpoint(procs[0].api+"/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	parent := "projects/replicas-test/locations/us-central1"
	create := func(id string) error {
		_, err := svc.Projects.Locations.Jobs.Create(parent, &cloudscheduler.Job{
			Name: parent + "/jobs/" + id, Schedule: "* * * * *", TimeZone: "UTC",
			HttpTarget:      &cloudscheduler.HttpTarget{Uri: "http://sink.test/hook/" + id, HttpMethod: "GET"},
			RetryConfig:     &cloudscheduler.RetryConfig{RetryCount: 2, MinBackoffDuration: "1s", MaxBackoffDuration: "2s", MaxDoublings: 1},
			AttemptDeadline: "15s",
		}).Do()
		return err
	}
	if err := create("r-000"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, replicaJobs)
	for w := range 4 {
		wg.Go(func() {
			for i := 1 + w; i < replicaJobs; i += 4 {
				if err := create(fmt.Sprintf("r-%03d", i)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Every job's first slot is at or before this boundary (creation may
	// have crossed one: that earlier slot is checked like the others).
	b1 := time.Now().UTC().Truncate(time.Minute).Add(time.Minute)
	slots := []time.Time{b1, b1.Add(time.Minute)}
	t.Logf("%d jobs created; bursts at %s and %s", replicaJobs, slots[0].Format(time.TimeOnly), slots[1].Format(time.TimeOnly))

	var kills []kill
	for gen, slot := range slots {
		hdr := slot.Format(time.RFC3339Nano)
		at := 1 + rand.IntN(replicaJobs-1) // kill after this many requests of the burst
		victim := rand.IntN(replicas)
		sinks.waitFor(t, slot.Add(90*time.Second), fmt.Sprintf("%d requests of %s", at, hdr), func(hs []replicaHit) (bool, string) {
			n := 0
			for _, h := range hs {
				if h.slot == hdr {
					n++
				}
			}
			return n >= at, fmt.Sprintf("%d", n)
		})
		if err := procs[victim].cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		kills = append(kills, kill{victim, time.Now()})
		<-procs[victim].exited
		procs[victim] = start(victim, gen+1)
		t.Logf("killed replica %d after %d requests of %s, %v after the slot", victim, at, hdr, kills[len(kills)-1].at.Sub(slot).Round(time.Millisecond))
	}

	// Every (job, slot) of both bursts answered.
	want := map[string]bool{}
	for i := range replicaJobs {
		for _, s := range slots {
			want[fmt.Sprintf("r-%03d@%s", i, s.Format(time.RFC3339Nano))] = true // the header carries the job ID
		}
	}
	sinks.waitFor(t, slots[1].Add(2*time.Minute), "every execution of both bursts answered", func(hs []replicaHit) (bool, string) {
		done := 0
		seen := map[string]bool{}
		for _, h := range hs {
			k := h.job + "@" + h.slot
			if want[k] && !h.cut && !seen[k] {
				seen[k] = true
				done++
			}
		}
		return done == len(want), fmt.Sprintf("%d of %d answered", done, len(want))
	})

	byKey := map[string][]replicaHit{}
	for _, h := range sinks.snapshot() {
		if k := h.job + "@" + h.slot; want[k] {
			byKey[k] = append(byKey[k], h)
		}
	}
	repeats, worst := 0, time.Duration(0)
	for k, hs := range byKey {
		sort.Slice(hs, func(a, b int) bool { return hs[a].arrived.Before(hs[b].arrived) })
		for i := 1; i < len(hs); i++ {
			// A repeat: the previous send was the killed replica's, before
			// a kill that came before this send.
			prev, ok := hs[i-1], false
			for _, kl := range kills {
				if prev.replica == kl.replica && prev.arrived.Before(kl.at) && hs[i].arrived.After(kl.at) {
					ok = true
					if prev.cut {
						if d := hs[i].arrived.Sub(kl.at); d > worst {
							worst = d
						}
					}
				}
			}
			if !ok {
				t.Errorf("%s sent twice, not as the repeat of a killed replica's attempt: %+v", k, hs)
			}
			repeats++
		}
	}
	t.Logf("%d executions, %d repeats of attempts in flight at a kill; slowest takeover of a cut request %v", len(want), repeats, worst.Round(time.Millisecond))
	if worst > failoverTarget {
		t.Errorf("a request cut by a kill was sent again %v after it, want within %v", worst, failoverTarget)
	}
	for i, p := range procs {
		if strings.Contains(p.logText(0), "panic") {
			t.Errorf("replica %d logged a panic:\n%s", i, p.logText(60))
		}
	}
}
