package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// peerWork is what robfig/cron and gocron do per fire in peers: "noop", an
// in-process call that records its delay (the comparison), or
// "http", a POST to a lean sink in the same process through net/http's
// client, at most peerWorkers at once as oidcron's dispatchers, the delay
// taken at the sink as oidcron's is. The second shows what the peers cost
// doing the request oidcron does, without its token and durable writes.
var peerWork = "noop"

// peerWorkers matches the engine's default bound on attempts in flight.
const peerWorkers = 128

// peerTarget is one peer run's work per fire and its delays.
type peerTarget struct {
	rec    *delays
	fire   func(at time.Time) // the job's work for the slot at
	failed atomic.Int64       // requests that got no 200
	close  func()
}

func (p *peerTarget) label() string {
	if peerWork == "http" {
		return "HTTP POST, net/http client, no token, no store"
	}
	return "in-process no-op"
}

// checkPeerWork refuses a -peer-work this file does not know.
func checkPeerWork() error {
	if peerWork != "noop" && peerWork != "http" {
		return fmt.Errorf("-peer-work %q: want noop or http", peerWork)
	}
	return nil
}

func newPeerTarget(n int) (*peerTarget, error) {
	if err := checkPeerWork(); err != nil {
		return nil, err
	}
	p := &peerTarget{rec: newDelays(n), close: func() {}}
	if peerWork == "noop" {
		p.fire = func(at time.Time) { p.rec.add(time.Since(at)) }
		return p, nil
	}
	sink, err := newLeanSink(func(_, sched []byte) {
		if t, err := time.Parse(time.RFC3339Nano, string(sched)); err == nil {
			p.rec.add(time.Since(t))
		}
	})
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{MaxIdleConns: 2 * peerWorkers, MaxIdleConnsPerHost: 2 * peerWorkers}
	client := &http.Client{Transport: tr}
	url := sink.URL() + "/hook"
	slots := make(chan struct{}, peerWorkers)
	p.fire = func(at time.Time) {
		slots <- struct{}{}
		defer func() { <-slots }()
		req, err := http.NewRequest(http.MethodPost, url, strings.NewReader("{}"))
		if err != nil {
			p.failed.Add(1)
			return
		}
		req.Header.Set("X-CloudScheduler-ScheduleTime", at.UTC().Format(time.RFC3339Nano))
		resp, err := client.Do(req)
		if err != nil {
			p.failed.Add(1)
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			p.failed.Add(1)
		}
	}
	p.close = func() {
		tr.CloseIdleConnections()
		sink.Close()
	}
	return p, nil
}

// check fails a run in which some request got no 200.
func (p *peerTarget) check(st fireStats) (fireStats, error) {
	if n := p.failed.Load(); n > 0 {
		return st, fmt.Errorf("%s: %d requests failed", st.name, n)
	}
	return st, nil
}
