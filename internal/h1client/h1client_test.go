package h1client

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// safety bounds a wait that must end; it is a guard against hanging, never
// an expectation on timing.
const safety = 10 * time.Second

// fallbackUse sees every request that reaches Fallback: net/http asks a
// RoundTripper registered for the scheme first and carries on as usual when
// it declines. With answer set it replies itself instead, with status 299.
type fallbackUse struct {
	n      atomic.Int32
	answer bool
}

func (f *fallbackUse) RoundTrip(req *http.Request) (*http.Response, error) {
	f.n.Add(1)
	if f.answer {
		return &http.Response{StatusCode: 299, Header: http.Header{}, Body: http.NoBody, Request: req}, nil
	}
	return nil, http.ErrSkipAltProtocol
}

// plainTransport is what oidcron passes as Fallback, without proxies from
// the environment.
func plainTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	return tr
}

func newTransport(t testing.TB) (*Transport, *fallbackUse) {
	use := &fallbackUse{}
	fb := plainTransport()
	fb.RegisterProtocol("http", use)
	tr := &Transport{Fallback: fb}
	t.Cleanup(tr.CloseIdleConnections)
	return tr, use
}

func (t *Transport) idleCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.nidle
}

func listen(t *testing.T) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// serveRaw runs handle on every accepted connection (n counts from 1).
func serveRaw(t *testing.T, handle func(n int, c net.Conn, br *bufio.Reader)) string {
	ln := listen(t)
	var mu sync.Mutex
	var conns []net.Conn
	done := false
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		done = true
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for n := 1; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if done {
				c.Close()
			}
			conns = append(conns, c)
			mu.Unlock()
			go handle(n, c, bufio.NewReader(c))
		}
	}()
	return ln.Addr().String()
}

// readRequest reads one request with its body.
func readRequest(br *bufio.Reader) (*http.Request, error) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(io.Discard, req.Body)
	return req, err
}

func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	var conns atomic.Int32
	ts := httptest.NewUnstartedServer(h)
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	return ts, &conns
}

func get(t *testing.T, rt http.RoundTripper, u string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The target must not be able to tell this transport from net/http's.
// (Header values with a newline are refused, by net/http too: see
// TestInvalidHeaderGivesNetHTTPError.)
func TestWireBytesEqualNetHTTP(t *testing.T) {
	got := make(chan []byte, 1)
	addr := serveRaw(t, func(_ int, c net.Conn, _ *bufio.Reader) {
		var rec bytes.Buffer
		br := bufio.NewReader(io.TeeReader(c, &rec))
		for {
			if _, err := readRequest(br); err != nil {
				return
			}
			got <- bytes.Clone(rec.Next(rec.Len() - br.Buffered()))
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}
	})
	base := "http://" + addr
	newReq := func(method, path, body string) *http.Request {
		var r io.Reader
		if body != "" {
			r = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, base+path, r)
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	cases := []struct {
		name          string
		noCompression bool
		req           func() *http.Request
	}{
		{name: "POST body and headers", req: func() *http.Request {
			r := newReq("POST", "/jobs/run", `{"job":"a"}`)
			r.Header.Set("Content-Type", "application/json")
			r.Header["x-ODD-case"] = []string{"kept as written"}
			r.Header.Set("X-Padded", " \tspaced value\t ")
			r.Header.Add("X-Multi", "1")
			r.Header.Add("X-Multi", "2")
			r.Header.Set("Authorization", "Bearer t0k3n")
			return r
		}},
		{name: "GET", req: func() *http.Request { return newReq("GET", "/", "") }},
		{name: "POST nil body", req: func() *http.Request { return newReq("POST", "/", "") }},
		{name: "POST NoBody", req: func() *http.Request {
			r, _ := http.NewRequest("POST", base+"/", strings.NewReader(""))
			return r
		}},
		{name: "PUT body", req: func() *http.Request { return newReq("PUT", "/x", "payload") }},
		{name: "custom User-Agent", req: func() *http.Request {
			r := newReq("GET", "/", "")
			r.Header.Set("User-Agent", "Google-Cloud-Scheduler")
			return r
		}},
		{name: "empty User-Agent", req: func() *http.Request {
			r := newReq("GET", "/", "")
			r.Header["User-Agent"] = []string{""}
			return r
		}},
		{name: "Host override", req: func() *http.Request {
			r := newReq("POST", "/", "x")
			r.Host = "europe-west1-p.cloudfunctions.net"
			return r
		}},
		{name: "query string", req: func() *http.Request { return newReq("GET", "/a/b?x=1&y=%20z&x=2", "") }},
		{name: "explicit Accept-Encoding", req: func() *http.Request {
			r := newReq("GET", "/", "")
			r.Header.Set("Accept-Encoding", "br")
			return r
		}},
		{name: "Range", req: func() *http.Request {
			r := newReq("GET", "/", "")
			r.Header.Set("Range", "bytes=0-1")
			return r
		}},
		{name: "HEAD", req: func() *http.Request { return newReq("HEAD", "/", "") }},
		{name: "DELETE", req: func() *http.Request { return newReq("DELETE", "/thing", "") }},
		{name: "compression disabled", noCompression: true, req: func() *http.Request { return newReq("GET", "/", "") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr, use := newTransport(t)
			ref := plainTransport()
			defer ref.CloseIdleConnections()
			tr.Fallback.DisableCompression = tc.noCompression
			ref.DisableCompression = tc.noCompression

			var wire [2][]byte
			for i, rt := range []http.RoundTripper{tr, ref} {
				resp, err := rt.RoundTrip(tc.req())
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				wire[i] = <-got
			}
			if use.n.Load() != 0 || tr.idleCount() != 1 {
				t.Fatalf("request did not take the fast path (fallback used %d times)", use.n.Load())
			}
			if !bytes.Equal(wire[0], wire[1]) {
				t.Errorf("wire bytes differ\n got: %q\nwant: %q", wire[0], wire[1])
			}
		})
	}
}

func gzipped(s string) string {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	io.WriteString(zw, s)
	zw.Close()
	return b.String()
}

// result is what a caller can observe of a response.
type result struct {
	Err                     string
	Status, Proto           string
	StatusCode              int
	Header, Trailer         http.Header
	ContentLength           int64
	TransferEncoding        []string
	Close, Uncompressed     bool
	Body, BodyErr, CloseErr string
}

func observe(rt http.RoundTripper, req *http.Request) result {
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return result{Err: err.Error()}
	}
	b, err := io.ReadAll(resp.Body)
	r := result{
		Status: resp.Status, Proto: resp.Proto, StatusCode: resp.StatusCode,
		Header: resp.Header, Trailer: resp.Trailer, ContentLength: resp.ContentLength,
		TransferEncoding: resp.TransferEncoding, Close: resp.Close, Uncompressed: resp.Uncompressed,
		Body: string(b),
	}
	if err != nil {
		r.BodyErr = err.Error()
	}
	if err := resp.Body.Close(); err != nil {
		r.CloseErr = err.Error()
	}
	return r
}

// Responses must reach the caller as net/http would hand them over.
func TestResponsesEqualNetHTTP(t *testing.T) {
	gz := gzipped("hello, decompressed")
	canned := map[string]struct {
		resp  string
		close bool
	}{
		"/length":    {resp: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Thing: a\r\n\r\nhello"},
		"/chunked":   {resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n5\r\nhello\r\n0\r\nX-T: done\r\n\r\n"},
		"/close":     {resp: "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello, until EOF", close: true},
		"/http10":    {resp: "HTTP/1.0 200 OK\r\n\r\nold", close: true},
		"/204":       {resp: "HTTP/1.1 204 No Content\r\nX-A: b\r\n\r\n"},
		"/head":      {resp: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"},
		"/1xx":       {resp: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"},
		"/gzip":      {resp: "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: " + strconv.Itoa(len(gz)) + "\r\n\r\n" + gz},
		"/teapot":    {resp: "HTTP/1.1 418 I'm a teapot\r\nX-Reason: short and stout\r\nContent-Length: 0\r\n\r\n"},
		"/bighead":   {resp: "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 5000) + "\r\nContent-Length: 0\r\n\r\n"},
		"/truncated": {resp: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", close: true},
		"/malformed": {resp: "HTTP/1.1 abc OK\r\n\r\n", close: true},
	}
	addr := serveRaw(t, func(_ int, c net.Conn, br *bufio.Reader) {
		for {
			req, err := readRequest(br)
			if err != nil {
				return
			}
			cr := canned[req.URL.Path]
			io.WriteString(c, cr.resp)
			if cr.close {
				c.Close()
				return
			}
		}
	})
	checks := map[string]func(r result) bool{
		"/length":  func(r result) bool { return r.Body == "hello" && r.Header.Get("X-Thing") == "a" },
		"/chunked": func(r result) bool { return r.Body == "hello" && r.Trailer.Get("X-T") == "done" },
		"/close":   func(r result) bool { return r.Body == "hello, until EOF" && r.Close },
		"/1xx":     func(r result) bool { return r.StatusCode == 201 && r.Body == "ok" },
		"/gzip": func(r result) bool {
			return r.Body == "hello, decompressed" && r.Uncompressed && r.ContentLength == -1 &&
				r.Header.Get("Content-Encoding") == "" && r.Header.Get("Content-Length") == ""
		},
		"/teapot":    func(r result) bool { return r.StatusCode == 418 && r.Header.Get("X-Reason") == "short and stout" },
		"/bighead":   func(r result) bool { return strings.Contains(r.Err, "exceeded 4096 bytes") },
		"/truncated": func(r result) bool { return r.BodyErr == io.ErrUnexpectedEOF.Error() },
	}
	for path := range canned {
		t.Run(path, func(t *testing.T) {
			tr, use := newTransport(t)
			ref := plainTransport()
			defer ref.CloseIdleConnections()
			tr.Fallback.MaxResponseHeaderBytes = 4096
			ref.MaxResponseHeaderBytes = 4096
			method := "GET"
			if path == "/head" {
				method = "HEAD"
			}
			var res [2]result
			for i, rt := range []http.RoundTripper{tr, ref} {
				req, _ := http.NewRequest(method, "http://"+addr+path, nil)
				res[i] = observe(rt, req)
			}
			if use.n.Load() != 0 {
				t.Fatal("request went to Fallback")
			}
			if !reflect.DeepEqual(res[0], res[1]) {
				t.Errorf("responses differ\n got: %+v\nwant: %+v", res[0], res[1])
			}
			if check := checks[path]; check != nil && !check(res[0]) {
				t.Errorf("unexpected response %+v", res[0])
			}
		})
	}
}

// A caller's own Accept-Encoding means the caller decodes.
func TestGzipNotDecodedWhenCallerAsked(t *testing.T) {
	gz := gzipped("raw")
	ts, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		io.WriteString(w, gz)
	})
	tr, _ := newTransport(t)
	req, _ := http.NewRequest("GET", ts.URL, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	r := observe(tr, req)
	if r.Body != gz || r.Uncompressed || r.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("got %+v", r)
	}
}

func TestReuseOneConnection(t *testing.T) {
	ts, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.URL.Query().Get("i"))
	})
	tr, use := newTransport(t)
	for i := range 50 {
		if got := get(t, tr, ts.URL+"/?i="+strconv.Itoa(i)); got != strconv.Itoa(i) {
			t.Fatalf("request %d: body %q", i, got)
		}
	}
	if n := conns.Load(); n != 1 || use.n.Load() != 0 {
		t.Fatalf("50 requests used %d connections (%d via Fallback), want 1", n, use.n.Load())
	}
}

// A body closed early still has bytes on the wire: the connection cannot
// carry another request, even when nothing of the rest has arrived yet. The
// body must also refuse reads after Close.
func TestNoReuseAfterEarlyClose(t *testing.T) {
	addr, got := hangingServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
	tr, _ := newTransport(t)
	open := func(read int) *http.Response {
		req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		<-got
		if _, err := io.ReadFull(resp.Body, make([]byte, read)); err != nil {
			t.Fatal(err)
		}
		if err := resp.Body.Close(); err != nil {
			t.Fatal(err)
		}
		return resp
	}
	open(5) // all that has arrived: nothing is left buffered
	if n := tr.idleCount(); n != 0 {
		t.Fatalf("%d idle connections after an early close", n)
	}
	resp := open(2) // three bytes still buffered
	if err := resp.Body.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if n, err := resp.Body.Read(make([]byte, 1)); err == nil || err.Error() != "http: read on closed response body" {
		t.Fatalf("Read after Close: %d, %v; want net/http's error", n, err)
	}
}

// Once the context's AfterFunc has run, the connection may carry a past
// deadline: it must not be reused even if the body is complete.
func TestNoReuseAfterCancel(t *testing.T) {
	ts, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	tr, _ := newTransport(t)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	cancel() // the body is already buffered: reading it needs no I/O
	if b, err := io.ReadAll(resp.Body); err != nil || string(b) != "hello" {
		t.Fatalf("body %q, %v", b, err)
	}
	resp.Body.Close()
	if n := tr.idleCount(); n != 0 {
		t.Fatalf("%d idle connections after a cancelled request", n)
	}
}

func TestNoReuseAfterConnectionClose(t *testing.T) {
	ts, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye")
	})
	tr, _ := newTransport(t)
	for range 2 {
		get(t, tr, ts.URL)
		if n := tr.idleCount(); n != 0 {
			t.Fatalf("%d idle connections after Connection: close", n)
		}
	}
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2", n)
	}
}

func TestMaxIdleConnsPerHost(t *testing.T) {
	ts, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "x") })
	tr, _ := newTransport(t)
	tr.MaxIdleConnsPerHost = 2
	hold := func() []*http.Response {
		var held []*http.Response
		for range 4 {
			req, _ := http.NewRequest("GET", ts.URL, nil)
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, resp)
		}
		return held
	}
	release := func(held []*http.Response) {
		for _, resp := range held {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	release(hold())
	if n := tr.idleCount(); n != 2 {
		t.Fatalf("%d idle connections, want 2", n)
	}
	release(hold()) // two reused, two new
	if n := conns.Load(); n != 6 {
		t.Fatalf("%d connections, want 6", n)
	}
}

func TestIdleConnTimeout(t *testing.T) {
	ts, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "x") })
	tr, _ := newTransport(t)
	tr.IdleConnTimeout = time.Nanosecond
	get(t, tr, ts.URL)
	get(t, tr, ts.URL)
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2: an expired idle connection was reused", n)
	}
}

// A server may close a kept-alive connection after reading the next request
// without answering. Like net/http, only a request that is safe to send
// twice is retried on a new connection.
func TestRetryOnReusedConnection(t *testing.T) {
	cases := []struct {
		method, key string
		retried     bool
	}{
		{"GET", "", true},
		{"HEAD", "", true},
		{"POST", "", false},
		{"POST", "Idempotency-Key", true},
		{"DELETE", "X-Idempotency-Key", true},
		{"PUT", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.method+tc.key, func(t *testing.T) {
			addr := serveRaw(t, func(n int, c net.Conn, br *bufio.Reader) {
				for i := 0; ; i++ {
					if _, err := readRequest(br); err != nil {
						return
					}
					if n == 1 && i == 1 {
						c.Close()
						return
					}
					io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Conn: "+strconv.Itoa(n)+"\r\nContent-Length: 0\r\n\r\n")
				}
			})
			tr, _ := newTransport(t)
			do := func() (*http.Response, error) {
				req, _ := http.NewRequest(tc.method, "http://"+addr+"/", strings.NewReader("data"))
				if tc.method == "GET" || tc.method == "HEAD" {
					req, _ = http.NewRequest(tc.method, "http://"+addr+"/", nil)
				}
				if tc.key != "" {
					req.Header.Set(tc.key, "k1")
				}
				return tr.RoundTrip(req)
			}
			resp, err := do()
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			resp, err = do()
			if !tc.retried {
				if err == nil {
					t.Fatalf("request was sent again (answered on connection %s)", resp.Header.Get("X-Conn"))
				}
				if !errors.Is(err, io.EOF) {
					t.Fatalf("error %v, want io.EOF as net/http returns", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("not retried: %v", err)
			}
			if c := resp.Header.Get("X-Conn"); c != "2" {
				t.Fatalf("answered on connection %s, want 2", c)
			}
		})
	}
}

// hangingServer answers each request with prefix and then nothing more;
// got receives a value once prefix is written.
func hangingServer(t *testing.T, prefix string) (addr string, got <-chan struct{}) {
	ch := make(chan struct{}, 1)
	addr = serveRaw(t, func(_ int, c net.Conn, br *bufio.Reader) {
		if _, err := readRequest(br); err != nil {
			return
		}
		io.WriteString(c, prefix)
		ch <- struct{}{}
		io.Copy(io.Discard, br) // until the client goes
	})
	return addr, ch
}

func roundTripAsync(rt http.RoundTripper, req *http.Request) <-chan error {
	done := make(chan error, 1)
	go func() {
		resp, err := rt.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	return done
}

// expectError waits for what returns on done after a cancellation and
// wants it to be (or wrap) want.
func expectError(t *testing.T, done <-chan error, want error, what string) {
	t.Helper()
	select {
	case err := <-done:
		if !errors.Is(err, want) {
			t.Fatalf("%s: error %v, want %v", what, err, want)
		}
	case <-time.After(safety):
		t.Fatalf("%s did not return after cancel", what)
	}
}

func TestCancelWhileWaitingForResponse(t *testing.T) {
	addr, got := hangingServer(t, "")
	tr, _ := newTransport(t)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+addr+"/", strings.NewReader("x"))
	done := roundTripAsync(tr, req)
	<-got
	cancel()
	expectError(t, done, context.Canceled, "RoundTrip")
}

func TestCancelWhileReadingBody(t *testing.T) {
	addr, got := hangingServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello")
	tr, _ := newTransport(t)
	cause := errors.New("job deadline")
	ctx, cancel := context.WithCancelCause(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	<-got
	if _, err := io.ReadFull(resp.Body, make([]byte, 5)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := resp.Body.Read(make([]byte, 10))
		done <- err
	}()
	cancel(cause)
	expectError(t, done, cause, "Read")
	resp.Body.Close()
	if n := tr.idleCount(); n != 0 {
		t.Fatalf("%d idle connections after a cancelled body", n)
	}
}

func TestCancelWhileDialing(t *testing.T) {
	tr, _ := newTransport(t)
	dialing := make(chan struct{})
	tr.Fallback.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
		close(dialing)
		<-ctx.Done()
		return nil, errors.New("dial gave up") // hides the context error
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://203.0.113.1/", nil)
	done := roundTripAsync(tr, req)
	<-dialing
	cancel()
	expectError(t, done, context.Canceled, "RoundTrip")
}

func TestHTTPSGoesToFallback(t *testing.T) {
	tr, _ := newTransport(t)
	errTLS := errors.New("tls dial recorded")
	tr.Fallback.DialTLSContext = func(context.Context, string, string) (net.Conn, error) { return nil, errTLS }
	req, _ := http.NewRequest("GET", "https://example.test/", nil)
	if _, err := tr.RoundTrip(req); !errors.Is(err, errTLS) {
		t.Fatalf("error %v, want Fallback's TLS dialer to be used", err)
	}
}

func TestProxyGoesToFallback(t *testing.T) {
	tr, _ := newTransport(t)
	proxy, _ := url.Parse("http://proxy.test:3128")
	tr.Fallback.Proxy = func(r *http.Request) (*url.URL, error) {
		if r.URL.Hostname() == "direct.test" {
			return nil, nil
		}
		return proxy, nil
	}
	var mu sync.Mutex
	var dialed []string
	tr.Fallback.DialContext = func(_ context.Context, _, addr string) (net.Conn, error) {
		mu.Lock()
		dialed = append(dialed, addr)
		mu.Unlock()
		return nil, errors.New("no network in this test")
	}
	for _, u := range []string{"http://target.test/", "http://direct.test/"} {
		req, _ := http.NewRequest("GET", u, nil)
		if _, err := tr.RoundTrip(req); err == nil {
			t.Fatal("request succeeded without a network")
		}
	}
	if want := []string{"proxy.test:3128", "direct.test:80"}; !reflect.DeepEqual(dialed, want) {
		t.Fatalf("dialed %q, want %q", dialed, want)
	}
}

func TestInvalidHeaderGivesNetHTTPError(t *testing.T) {
	for _, h := range []struct{ k, v string }{
		{"X-Bad", "line\nbreak"},
		{"X-Bad", "carriage\r\nreturn"},
		{"User-Agent", "agent\nsmuggled: yes"},
		{"Bad Name", "v"},
	} {
		tr, _ := newTransport(t)
		var errs [2]error
		for i, rt := range []http.RoundTripper{tr, plainTransport()} {
			req, _ := http.NewRequest("GET", "http://127.0.0.1:1/", nil)
			req.Header[h.k] = []string{h.v}
			_, errs[i] = rt.RoundTrip(req)
		}
		if errs[0] == nil || errs[1] == nil || errs[0].Error() != errs[1].Error() {
			t.Errorf("header %q: %q: error %v, want net/http's %v", h.k, h.v, errs[0], errs[1])
		}
	}
}

// Requests whose handling here would differ from net/http's go to Fallback
// unchanged.
func TestFallbackCases(t *testing.T) {
	ts, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {})
	type chunky struct{ io.Reader }
	cases := map[string]func(*http.Request) *http.Request{
		"unknown body length": func(r *http.Request) *http.Request {
			r.Body, r.ContentLength = io.NopCloser(chunky{strings.NewReader("x")}), -1
			return r
		},
		"body without GetBody": func(r *http.Request) *http.Request { r.GetBody = nil; return r },
		"Expect":               func(r *http.Request) *http.Request { r.Header.Set("Expect", "100-continue"); return r },
		"Upgrade":              func(r *http.Request) *http.Request { r.Header.Set("Upgrade", "websocket"); return r },
		"Request.Close":        func(r *http.Request) *http.Request { r.Close = true; return r },
		"TransferEncoding":     func(r *http.Request) *http.Request { r.TransferEncoding = []string{"chunked"}; return r },
		"Trailer":              func(r *http.Request) *http.Request { r.Trailer = http.Header{"X-T": nil}; return r },
		"CONNECT":              func(r *http.Request) *http.Request { r.Method = "CONNECT"; return r },
		"non-ASCII Host":       func(r *http.Request) *http.Request { r.Host = "bücher.test"; return r },
		"ClientTrace": func(r *http.Request) *http.Request {
			return r.WithContext(httptrace.WithClientTrace(r.Context(), &httptrace.ClientTrace{}))
		},
	}
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			tr, use := newTransport(t)
			use.answer = true
			req, _ := http.NewRequest("POST", ts.URL, strings.NewReader("body"))
			resp, err := tr.RoundTrip(mod(req))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 299 || use.n.Load() != 1 {
				t.Fatalf("status %d, %d requests via Fallback: want Fallback", resp.StatusCode, use.n.Load())
			}
		})
	}
	t.Run("transport settings", func(t *testing.T) {
		for name, set := range map[string]func(*http.Transport){
			"DisableKeepAlives":     func(f *http.Transport) { f.DisableKeepAlives = true },
			"ResponseHeaderTimeout": func(f *http.Transport) { f.ResponseHeaderTimeout = time.Hour },
			"MaxConnsPerHost":       func(f *http.Transport) { f.MaxConnsPerHost = 1 },
		} {
			tr, use := newTransport(t)
			use.answer = true
			set(tr.Fallback)
			req, _ := http.NewRequest("GET", ts.URL, nil)
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 299 {
				t.Errorf("%s: request did not go to Fallback", name)
			}
		}
	})
}

// A body net/http's writer refuses (shorter than ContentLength) fails with
// net/http's own error.
func TestBodyErrorGivesNetHTTPError(t *testing.T) {
	ts, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {})
	var errs [2]error
	tr, _ := newTransport(t)
	for i, rt := range []http.RoundTripper{tr, plainTransport()} {
		req, _ := http.NewRequest("POST", ts.URL, strings.NewReader("short"))
		req.ContentLength = 10
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("short")), nil }
		_, errs[i] = rt.RoundTrip(req)
	}
	if errs[0] == nil || errs[1] == nil || errs[0].Error() != errs[1].Error() {
		t.Fatalf("error %v, want net/http's %v", errs[0], errs[1])
	}
}

func TestConcurrentRequests(t *testing.T) {
	ts, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s:%s", r.URL.Query().Get("i"), b)
	})
	tr, use := newTransport(t)
	tr.MaxIdleConnsPerHost = 8
	client := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				id := fmt.Sprintf("%d-%d", g, i)
				resp, err := client.Post(ts.URL+"/?i="+id, "text/plain", strings.NewReader("b"+id))
				if err != nil {
					errs <- err
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if want := id + ":b" + id; err != nil || string(b) != want {
					errs <- fmt.Errorf("got %q (%v), want %q", b, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Each goroutine gives its connection back before its next request.
	if n := conns.Load(); n > 8 || use.n.Load() != 0 {
		t.Fatalf("%d connections (%d requests via Fallback), want at most 8", n, use.n.Load())
	}
}

// The most recently used connection is the one reused: the others can then
// expire, and it is the least likely to have been closed by the server.
func TestReuseIsLIFO(t *testing.T) {
	ts, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.RemoteAddr) })
	tr, _ := newTransport(t)
	var held []*http.Response
	for range 2 {
		req, _ := http.NewRequest("GET", ts.URL, nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, resp)
	}
	var last string
	for _, resp := range held {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		last = string(b)
	}
	if got := get(t, tr, ts.URL); got != last {
		t.Fatalf("reused %s, want the last released %s", got, last)
	}
}

// Bytes after a response are not an answer to anything: a connection that
// carries them cannot take the next request.
func TestNoReuseWithUnsolicitedBytes(t *testing.T) {
	addr := serveRaw(t, func(n int, c net.Conn, br *bufio.Reader) {
		for {
			if _, err := readRequest(br); err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n"+strconv.Itoa(n)+"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nX")
		}
	})
	tr, _ := newTransport(t)
	for i := range 2 {
		if got := get(t, tr, "http://"+addr+"/"); got != strconv.Itoa(i+1) {
			t.Fatalf("answer from connection %s, want %d", got, i+1)
		}
	}
}

// Idle connections nobody asks for again are closed once they expire, not
// kept open for as long as the process lives.
func TestIdleConnectionsSwept(t *testing.T) {
	closed := make(chan struct{}, 1)
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed <- struct{}{}
		}
	}
	ts.Start()
	defer ts.Close()
	tr, _ := newTransport(t)
	tr.IdleConnTimeout = time.Millisecond
	get(t, tr, ts.URL)
	waitClosedNoneIdle(t, tr, closed, "the expired idle connection was not closed")
}

// waitClosedNoneIdle waits for the server to see a connection closed
// (failing with notClosed after safety) and checks that none is idle.
func waitClosedNoneIdle(t *testing.T, tr *Transport, closed <-chan struct{}, notClosed string) {
	t.Helper()
	select {
	case <-closed:
	case <-time.After(safety):
		t.Fatal(notClosed)
	}
	if n := tr.idleCount(); n != 0 {
		t.Fatalf("%d idle connections, want 0", n)
	}
}

// benchServer is the target of the benchmarks: it reads the body and
// answers a short one.
func benchServer(b *testing.B) *httptest.Server {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))
	b.Cleanup(ts.Close)
	return ts
}

// benchPayload is a small job body.
var benchPayload = []byte(`{"job":"projects/p/locations/l/jobs/j","attempt":1}`)

func BenchmarkRoundTrip(b *testing.B) {
	ts := benchServer(b)
	for _, bc := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"h1client", &Transport{Fallback: plainTransport()}},
		{"net-http", plainTransport()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req, _ := http.NewRequest("POST", ts.URL, bytes.NewReader(benchPayload))
				resp, err := bc.rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
		bc.rt.(interface{ CloseIdleConnections() }).CloseIdleConnections()
	}
}
