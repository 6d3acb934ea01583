package main

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"strconv"
	"sync"
)

// leanSink is the burst's target when -sink lean: an HTTP/1.1 server that
// does no more than a target must (read each request's head and body, answer
// 200 with an empty body, keep the connection), so that the machine's two
// cores go to the scheduler rather than to net/http's server machinery. It
// understands what the dispatcher sends (Content-Length bodies, keep-alive)
// and closes the connection on anything else.
type leanSink struct {
	ln  net.Listener
	wg  sync.WaitGroup
	mu  sync.Mutex
	cs  map[net.Conn]struct{}
	hit func(auth, scheduleTime []byte) // called once per request, on its connection's goroutine
}

func newLeanSink(hit func(auth, scheduleTime []byte)) (*leanSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &leanSink{ln: ln, cs: map[net.Conn]struct{}{}, hit: hit}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

func (s *leanSink) URL() string { return "http://" + s.ln.Addr().String() }

func (s *leanSink) Close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.cs {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *leanSink) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.cs[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			_ = s.serve(c)
			s.mu.Lock()
			delete(s.cs, c)
			s.mu.Unlock()
			c.Close()
		}()
	}
}

var (
	okResponse  = []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	errSinkHead = errors.New("sink: a request the lean sink does not handle")
)

// serve answers the requests of one connection until it ends or sends what
// the sink does not handle.
func (s *leanSink) serve(c net.Conn) error {
	br := bufio.NewReaderSize(c, 64<<10) // a header line up to 64 KB (job headers are < 80 KB in all)
	var auth, sched []byte
	for {
		auth, sched = auth[:0], sched[:0]
		line, err := br.ReadSlice('\n') // the request line
		if err != nil {
			return err
		}
		if !bytes.HasSuffix(line, []byte(" HTTP/1.1\r\n")) {
			return errSinkHead
		}
		length, closing := int64(0), false
		for {
			if line, err = br.ReadSlice('\n'); err != nil {
				return err
			}
			if len(line) <= 2 {
				break
			}
			name, value, ok := bytes.Cut(line, []byte(":"))
			if !ok {
				return errSinkHead
			}
			value = bytes.TrimSpace(value)
			switch {
			case bytes.EqualFold(name, []byte("Content-Length")):
				if length, err = strconv.ParseInt(string(value), 10, 64); err != nil || length < 0 {
					return errSinkHead
				}
			case bytes.EqualFold(name, []byte("Transfer-Encoding")):
				return errSinkHead
			case bytes.EqualFold(name, []byte("Connection")):
				closing = bytes.EqualFold(value, []byte("close"))
			case bytes.EqualFold(name, []byte("Authorization")):
				auth = append(auth[:0], value...)
			case bytes.EqualFold(name, []byte("X-CloudScheduler-ScheduleTime")):
				sched = append(sched[:0], value...)
			}
		}
		if _, err := br.Discard(int(length)); err != nil {
			return err
		}
		s.hit(auth, sched)
		if _, err := c.Write(okResponse); err != nil || closing {
			return err
		}
	}
}
