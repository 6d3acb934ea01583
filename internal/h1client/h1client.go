// Package h1client is an http.RoundTripper for plain-http HTTP/1.1 that does
// the whole exchange on the caller's goroutine.
//
// net/http.Transport runs a read and a write goroutine per connection and
// hands every request and response between them over channels; with a
// burst of small job dispatches that machinery costs more than the
// syscalls. Here RoundTrip writes the request, reads the response head and
// returns; the body is read by the caller and the connection goes back to
// an idle list when the body ends. Whatever this package cannot do exactly
// as net/http would goes to a fallback *http.Transport, so targets and
// callers see net/http's behaviour, wire bytes and error texts.
package h1client

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
)

// Transport: plain http:// requests are exchanged on the calling goroutine;
// anything else goes to Fallback.
//
// Fallback's settings apply to both paths (Proxy, DialContext,
// DisableCompression, DisableKeepAlives, MaxIdleConns, MaxResponseHeaderBytes,
// ReadBufferSize). Settings this package does not implement
// (ResponseHeaderTimeout, MaxConnsPerHost, a Dial without DialContext,
// unencrypted HTTP/2) send every request to Fallback; so do requests with a
// ClientTrace in their context or a Request.Cancel channel. Protocols
// registered on Fallback with RegisterProtocol("http", ...) are not seen.
// The two paths keep separate idle pools.
type Transport struct {
	Fallback            *http.Transport // required: https, proxied URLs, and requests this package does not handle
	MaxIdleConnsPerHost int             // 0: use Fallback.MaxIdleConnsPerHost, or 2 (net/http's default) if that is 0
	IdleConnTimeout     time.Duration   // 0: use Fallback.IdleConnTimeout; an idle connection older than this is closed, not reused

	mu       sync.Mutex
	idle     map[string][]*conn // by dial address; oldest first, reused from the end
	nidle    int
	sweeper  *time.Timer // closes expired idle connections nobody asks for
	sweeping bool
}

type conn struct {
	nc     net.Conn
	br     *bufio.Reader // reads through conn.Read, which enforces the header limit
	addr   string
	idleAt time.Time
	reused bool  // it carried an exchange before: a failure may be the server's keep-alive close
	limit  int64 // bytes the response head may still take
	sawEOF bool
}

var errHeaderLimit = errors.New("h1client: response header limit reached")

// Read limits how much the response head may take, as net/http does,
// so that a target cannot make us buffer headers without end.
func (c *conn) Read(p []byte) (int, error) {
	if c.limit <= 0 {
		return 0, errHeaderLimit
	}
	if int64(len(p)) > c.limit {
		p = p[:c.limit]
	}
	n, err := c.nc.Read(p)
	c.limit -= int64(n)
	if err == io.EOF {
		c.sawEOF = true
	}
	return n, err
}

// stage tells how far a failed exchange got; it decides, with net/http's
// rules, whether the request may be sent again on a new connection.
type stage int

const (
	nothingWritten stage = iota // the connection took none of the request
	noResponse                  // the request went out, not a byte came back
	tooLate                     // anything else
)

var (
	bufPool       = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	defaultDialer = &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	aLongTimeAgo  = time.Unix(1, 0)
	noStop        = func() bool { return true }

	errReadOnClosed = errors.New("http: read on closed response body") // net/http's text
)

const acceptGzip = "Accept-Encoding: gzip\r\n"

// maxWire is the largest request (head and body) sent here: it fits in a
// new or idle connection's send buffer (Linux starts one at 16 KiB,
// tcp_wmem's default, its bookkeeping included), so writing it never waits
// for the target to read, whatever the target's window. A target may
// answer before reading the body (a 401, a 413) and stop reading; net/http
// reads that answer while it writes, this package writes first, so a
// larger request goes to Fallback.
const maxWire = 8 << 10

func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !t.handles(req) {
		return t.Fallback.RoundTrip(req)
	}
	ctx := req.Context()
	if ctx.Err() != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, context.Cause(ctx)
	}
	buf := bufPool.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 64<<10 { // a pooled buffer lives on: do not keep a big body's
			buf.Reset()
			bufPool.Put(buf)
		}
	}()
	gz, err := t.encode(buf, req)
	if err != nil {
		// net/http fails such a request (body shorter or longer than
		// ContentLength, body read error, control byte in the URL) with the
		// same error, though only after dialing.
		return nil, err
	}
	if buf.Len() > maxWire { // large headers: see maxWire
		return t.fallback(req)
	}
	port := req.URL.Port()
	if port == "" {
		port = "80"
	}
	addr := net.JoinHostPort(req.URL.Hostname(), port)
	c := t.take(addr)
	if c == nil {
		if c, err = t.dial(ctx, addr); err != nil {
			return nil, err
		}
	}
	resp, st, err := t.exchange(ctx, c, req, buf.Bytes(), gz)
	if err != nil && c.reused && retryable(req, st) {
		// The buffer holds the request with its body, so it is sent again
		// as it is: the same bytes GetBody (required in handles) would give.
		if c, err = t.dial(ctx, addr); err != nil {
			return nil, err
		}
		resp, _, err = t.exchange(ctx, c, req, buf.Bytes(), gz)
	}
	return resp, err
}

// fallback sends req, whose body encode has consumed, through Fallback
// with its body afresh (handles requires GetBody for a body).
func (t *Transport) fallback(req *http.Request) (*http.Response, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return t.Fallback.RoundTrip(req)
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Body = body
	return t.Fallback.RoundTrip(r)
}

// handles reports whether req can be sent here exactly as net/http would
// send it. Everything else, including requests net/http rejects, goes to
// Fallback so that the outcome and the error text are net/http's own.
func (t *Transport) handles(req *http.Request) bool {
	f, u := t.Fallback, req.URL
	if u == nil || u.Scheme != "http" || u.Host == "" || req.Header == nil || req.Cancel != nil ||
		req.Close || f.DisableKeepAlives || req.Method == "CONNECT" ||
		(req.Method != "" && !httpguts.ValidHeaderFieldName(req.Method)) ||
		len(req.TransferEncoding) > 0 || len(req.Trailer) > 0 || !isASCII(u.Host) || !isASCII(req.Host) {
		return false
	}
	// The body must have a known length (net/http would otherwise probe it or
	// send it chunked) and be replayable (net/http's retry rules need GetBody).
	// A large one goes to Fallback too (maxWire).
	if req.Body != nil && req.Body != http.NoBody && (req.ContentLength <= 0 || req.ContentLength > maxWire || req.GetBody == nil) {
		return false
	}
	if f.ResponseHeaderTimeout != 0 || f.MaxConnsPerHost > 0 || (f.Dial != nil && f.DialContext == nil) {
		return false
	}
	if p := f.Protocols; p != nil && (p.UnencryptedHTTP2() || !p.HTTP1()) {
		return false
	}
	// Expect: 100-continue waits for the server mid-request; Upgrade may get
	// a 101 whose body must be writable.
	if _, ok := req.Header["Expect"]; ok {
		return false
	}
	if _, ok := req.Header["Upgrade"]; ok {
		return false
	}
	for k, vv := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return false
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return false
			}
		}
	}
	if f.Proxy != nil {
		if pu, err := f.Proxy(req); err != nil || pu != nil {
			return false
		}
	}
	return httptrace.ContextClientTrace(req.Context()) == nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// encode writes req as net/http's Transport would: net/http's own writer,
// plus the header the Transport adds (persistConn.roundTrip, requestedGzip).
// The requests a dispatcher sends are written by writeRequest, which is
// Request.Write's output for them at a fraction of its cost.
func (t *Transport) encode(buf *bytes.Buffer, req *http.Request) (gzip bool, err error) {
	gzip = !t.Fallback.DisableCompression && req.Header.Get("Accept-Encoding") == "" &&
		req.Header.Get("Range") == "" && req.Method != "HEAD"
	if ok, err := writeRequest(buf, req, gzip); ok || err != nil {
		return gzip, err
	}
	return gzip, writeWithNetHTTP(buf, req, gzip)
}

// writeWithNetHTTP writes req with Request.Write, adding Accept-Encoding
// when gzip as the Transport does.
func writeWithNetHTTP(buf *bytes.Buffer, req *http.Request, gzip bool) error {
	w := req
	var rb *recordingBody
	if req.Body != nil && req.Body != http.NoBody {
		// Request.Write wraps a body's read error in a type of its own
		// without Unwrap; net/http's Transport hands the caller the body's
		// error itself, and so must this.
		rb = &recordingBody{ReadCloser: req.Body}
		copied := *req
		copied.Body = rb
		w = &copied
	}
	if err := w.Write(buf); err != nil {
		if rb != nil && rb.err != nil {
			return rb.err
		}
		return err
	}
	if !gzip {
		return nil
	}
	// net/http writes its extra headers after the caller's, before the blank
	// line. The writer replaces newlines in values and the method, URL and
	// Host were validated, so the first empty line ends the head.
	head := bytes.Index(buf.Bytes(), []byte("\r\n\r\n")) + 2
	n := buf.Len()
	buf.WriteString(acceptGzip)
	b := buf.Bytes()
	copy(b[head+len(acceptGzip):], b[head:n])
	copy(b[head:], acceptGzip)
	return nil
}

// reqWriteExclude are the header keys Request.Write does not copy from
// Header (reqWriteExcludeHeader): it writes Host, User-Agent and the body's
// framing itself.
var reqWriteExclude = map[string]bool{"Host": true, "User-Agent": true, "Content-Length": true, "Transfer-Encoding": true, "Trailer": true}

// writeRequest writes req into buf byte for byte as Request.Write (followed
// by the Transport's Accept-Encoding when gzip) would, for a request that
// handles accepted whose Host needs no rewriting and whose URL holds no
// control byte; for any other it writes nothing and returns false, and
// Request.Write does the work, errors included. Request.Write costs more
// than the exchange's system calls (fmt, a header sorter, a transfer
// writer), which a burst of small dispatches pays on every request.
func writeRequest(buf *bytes.Buffer, req *http.Request, gzip bool) (bool, error) {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	hasBody := req.Body != nil && req.Body != http.NoBody
	// A body's length must be known (handles); a request without one must
	// say 0, since Request.Write refuses or rewrites any other length.
	if !httpguts.ValidHostHeader(host) || strings.IndexByte(host, '%') >= 0 ||
		(hasBody && req.ContentLength <= 0) || (!hasBody && req.ContentLength != 0) {
		return false, nil
	}
	ruri := req.URL.RequestURI()
	for i := 0; i < len(ruri); i++ {
		if b := ruri[i]; b < ' ' || b == 0x7f {
			return false, nil
		}
	}
	method := req.Method
	if method == "" {
		method = "GET"
	}
	buf.Grow(256 + int(req.ContentLength))
	buf.WriteString(method)
	buf.WriteByte(' ')
	buf.WriteString(ruri)
	buf.WriteString(" HTTP/1.1\r\nHost: ")
	buf.WriteString(host)
	buf.WriteString("\r\n")
	ua := "Go-http-client/1.1"
	if vv, ok := req.Header["User-Agent"]; ok {
		ua = ""
		if len(vv) > 0 {
			ua = vv[0]
		}
	}
	if ua != "" { // trimmed after the check, as Request.Write does
		buf.WriteString("User-Agent: ")
		buf.WriteString(textproto.TrimString(ua))
		buf.WriteString("\r\n")
	}
	if req.ContentLength > 0 || method == "POST" || method == "PUT" || method == "PATCH" {
		buf.WriteString("Content-Length: ")
		buf.Write(strconv.AppendInt(buf.AvailableBuffer(), req.ContentLength, 10))
		buf.WriteString("\r\n")
	}
	var keysArr [16]string
	keys := keysArr[:0]
	for k := range req.Header {
		if !reqWriteExclude[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range req.Header[k] {
			buf.WriteString(k)
			buf.WriteString(": ")
			buf.WriteString(textproto.TrimString(v)) // handles refused CR and LF
			buf.WriteString("\r\n")
		}
	}
	if gzip {
		buf.WriteString(acceptGzip)
	}
	buf.WriteString("\r\n")
	if !hasBody {
		if req.Body != nil {
			return true, req.Body.Close()
		}
		return true, nil
	}
	// As the transfer writer: ContentLength bytes, then whatever is left
	// counted, the body closed, and a length that differs refused.
	body := req.Body
	n, err := io.Copy(buf, io.LimitReader(body, req.ContentLength))
	if err == nil {
		var extra int64
		extra, err = io.Copy(io.Discard, body)
		n += extra
	}
	cerr := body.Close()
	switch {
	case err != nil:
		return true, err
	case cerr != nil:
		return true, cerr
	case n != req.ContentLength:
		return true, fmt.Errorf("http: ContentLength=%d with Body length %d", req.ContentLength, n)
	}
	return true, nil
}

// recordingBody keeps the first error its body's Read returned.
type recordingBody struct {
	io.ReadCloser
	err error
}

func (r *recordingBody) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if err != nil && err != io.EOF && r.err == nil {
		r.err = err
	}
	return n, err
}

func (t *Transport) dial(ctx context.Context, addr string) (*conn, error) {
	dial := t.Fallback.DialContext
	if dial == nil {
		dial = defaultDialer.DialContext
	}
	nc, err := dial(ctx, "tcp", addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, err
	}
	if nc == nil {
		return nil, errors.New("net/http: Transport.DialContext hook returned (nil, nil)")
	}
	size := t.Fallback.ReadBufferSize
	if size <= 0 {
		size = 4 << 10
	}
	c := &conn{nc: nc, addr: addr}
	c.br = bufio.NewReaderSize(c, size)
	return c, nil
}

// exchange sends the encoded request on c and reads the response head. On
// failure c is closed and the stage reached is reported.
func (t *Transport) exchange(ctx context.Context, c *conn, req *http.Request, wire []byte, gz bool) (*http.Response, stage, error) {
	// Cancellation must interrupt blocking I/O without a goroutine per
	// request: a deadline in the past does that.
	stop := noStop
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { c.nc.SetDeadline(aLongTimeAgo) })
	}
	maxHead := t.maxHeaderBytes()
	c.limit = maxHead
	fail := func(st stage, err error) (*http.Response, stage, error) {
		stop()
		c.nc.Close()
		if ctx.Err() != nil {
			return nil, tooLate, context.Cause(ctx)
		}
		if c.limit <= 0 {
			st, err = tooLate, fmt.Errorf("net/http: server response headers exceeded %d bytes; aborted", maxHead)
		}
		if st == tooLate { // net/http's text once the connection is beyond use
			err = fmt.Errorf("net/http: HTTP/1.x transport connection broken: %w", err)
		}
		return nil, st, err
	}
	if n, err := c.nc.Write(wire); err != nil {
		if n == 0 {
			return fail(nothingWritten, err)
		}
		return fail(tooLate, err)
	}
	if _, err := c.br.Peek(1); err != nil {
		return fail(noResponse, err)
	}
	var resp *http.Response
	for {
		var err error
		if resp, err = http.ReadResponse(c.br, req); err != nil {
			return fail(tooLate, err)
		}
		// Interim 1xx responses are skipped, bounded only by the header limit
		// that counts all of them, as in net/http; 101 is final. Requests
		// that ask for an upgrade go to Fallback, so a 101 here switches to
		// a protocol nobody asked for (RFC 9110 forbids it): unlike
		// net/http, which would hand over the connection as the body, it
		// ends the exchange with no body and the connection is closed.
		if resp.StatusCode < 100 || resp.StatusCode > 199 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
	}
	c.limit = math.MaxInt64
	keep := !resp.Close && resp.StatusCode >= 200
	if resp.Body == http.NoBody {
		t.release(c, stop, keep)
		return resp, 0, nil
	}
	b := &body{t: t, c: c, rc: resp.Body, ctx: ctx, stop: stop, keep: keep}
	resp.Body = b
	// Decode only what this transport asked for, as net/http does.
	if gz && strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") {
		resp.Body = &gzipBody{b: b}
		resp.Header.Del("Content-Encoding")
		resp.Header.Del("Content-Length")
		resp.ContentLength = -1
		resp.Uncompressed = true
	}
	return resp, 0, nil
}

// retryable applies net/http's persistConn.shouldRetryRequest to a failure
// on a reused connection. Every body here has GetBody (see handles), which
// makes the body conditions of net/http's rules always true.
func retryable(req *http.Request, st stage) bool {
	switch st {
	case nothingWritten:
		return true
	case noResponse: // most likely the server's keep-alive timeout racing us
		switch req.Method {
		case "", "GET", "HEAD", "OPTIONS", "TRACE":
			return true
		}
		_, ok := req.Header["Idempotency-Key"]
		_, xok := req.Header["X-Idempotency-Key"]
		return ok || xok
	}
	return false
}

func (t *Transport) maxHeaderBytes() int64 {
	if n := t.Fallback.MaxResponseHeaderBytes; n != 0 {
		return n
	}
	return 10 << 20
}

func (t *Transport) maxIdlePerHost() int {
	if n := t.MaxIdleConnsPerHost; n != 0 {
		return n
	}
	if n := t.Fallback.MaxIdleConnsPerHost; n != 0 {
		return n
	}
	return http.DefaultMaxIdleConnsPerHost
}

func (t *Transport) idleTimeout() time.Duration {
	if t.IdleConnTimeout != 0 {
		return t.IdleConnTimeout
	}
	return t.Fallback.IdleConnTimeout
}

// release ends an exchange whose response is complete. If the context's
// AfterFunc has run, the connection may have a past deadline: close it.
func (t *Transport) release(c *conn, stop func() bool, keep bool) {
	if stop() && keep {
		t.put(c)
	} else {
		c.nc.Close()
	}
}

func (t *Transport) put(c *conn) {
	// Bytes beyond the response, or an EOF, mean the server is not waiting
	// for another request on this connection.
	if c.sawEOF || c.br.Buffered() > 0 {
		c.nc.Close()
		return
	}
	c.reused = true
	c.idleAt = time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	// As net/http: a host with its fill of idle connections keeps them and
	// the new one is closed; past MaxIdleConns in all, the oldest idle
	// connection, whatever its host, makes room for the new one.
	if len(t.idle[c.addr]) >= t.maxIdlePerHost() {
		c.nc.Close()
		return
	}
	if limit := t.Fallback.MaxIdleConns; limit > 0 && t.nidle >= limit {
		t.closeOldestLocked()
	}
	l := t.idle[c.addr]
	if t.idle == nil {
		t.idle = make(map[string][]*conn)
	}
	t.idle[c.addr] = append(l, c)
	t.nidle++
	if d := t.idleTimeout(); d > 0 && !t.sweeping {
		t.sweeping = true
		if t.sweeper == nil {
			t.sweeper = time.AfterFunc(d, t.sweep)
		} else {
			t.sweeper.Reset(d)
		}
	}
}

// take returns the newest idle connection to addr that the server has not
// closed, or nil. net/http learns of a server's close from the read it
// keeps pending on every idle connection; here the kernel is asked.
func (t *Transport) take(addr string) *conn {
	d := t.idleTimeout()
	for {
		t.mu.Lock()
		l := t.idle[addr]
		if len(l) == 0 {
			t.mu.Unlock()
			return nil
		}
		c := l[len(l)-1]
		l[len(l)-1] = nil
		t.idle[addr] = l[:len(l)-1]
		t.nidle--
		t.mu.Unlock()
		if (d > 0 && time.Since(c.idleAt) > d) || !alive(c.nc) {
			c.nc.Close()
			continue
		}
		return c
	}
}

// closeOldestLocked closes the idle connection that has been idle longest.
// Each host's list is oldest first, so it is the oldest of the lists' heads.
// take leaves a list it empties in the map, for put to reuse: skip those.
func (t *Transport) closeOldestLocked() {
	var oldest string
	for addr, l := range t.idle {
		if len(l) > 0 && (oldest == "" || l[0].idleAt.Before(t.idle[oldest][0].idleAt)) {
			oldest = addr
		}
	}
	if oldest == "" {
		return
	}
	l := t.idle[oldest]
	l[0].nc.Close()
	n := copy(l, l[1:])
	l[n] = nil
	if n == 0 {
		delete(t.idle, oldest)
	} else {
		t.idle[oldest] = l[:n]
	}
	t.nidle--
}

// sweep closes idle connections past the timeout, so that hosts no longer
// called do not hold sockets (which the servers have long closed) forever.
func (t *Transport) sweep() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if next := t.sweepLocked(time.Now(), t.idleTimeout()); next > 0 {
		t.sweeper.Reset(next)
	} else {
		t.sweeping = false
	}
}

// sweepLocked closes the connections idle for longer than d at now and
// returns when the oldest of the others expires (0: none is left), so that
// the timer, set for then, lets none outlive d by more than its own delay.
func (t *Transport) sweepLocked(now time.Time, d time.Duration) time.Duration {
	var oldest time.Time
	for addr, l := range t.idle {
		i := 0
		for i < len(l) && now.Sub(l[i].idleAt) > d {
			l[i].nc.Close()
			i++
		}
		n := copy(l, l[i:])
		clear(l[n:])
		t.idle[addr] = l[:n]
		t.nidle -= i
		if n == 0 {
			delete(t.idle, addr)
			continue
		}
		if oldest.IsZero() || l[0].idleAt.Before(oldest) {
			oldest = l[0].idleAt
		}
	}
	if t.nidle == 0 {
		return 0
	}
	return max(d-now.Sub(oldest), time.Nanosecond)
}

// CloseIdleConnections closes own idle connections and Fallback's.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	for _, l := range t.idle {
		for _, c := range l {
			c.nc.Close()
		}
	}
	t.idle, t.nidle = nil, 0
	t.mu.Unlock()
	t.Fallback.CloseIdleConnections()
}

// body is the response body. At io.EOF the connection goes back to the idle
// list at once, as with net/http, whether or not Close follows. A Close
// before EOF closes the connection rather than draining an unknown rest.
type body struct {
	t    *Transport
	rc   io.ReadCloser // net/http's framing reader
	ctx  context.Context
	stop func() bool
	keep bool

	mu     sync.Mutex // Close may come from another goroutine to abort a Read
	c      *conn      // nil once released
	closed bool
	rerr   error
}

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	closed, rerr := b.closed, b.rerr
	b.mu.Unlock()
	if closed {
		return 0, errReadOnClosed
	}
	if rerr != nil {
		return 0, rerr
	}
	n, err := b.rc.Read(p)
	if err != nil {
		b.mu.Lock()
		defer b.mu.Unlock()
		if err != io.EOF && b.ctx.Err() != nil {
			err = context.Cause(b.ctx)
		}
		if b.rerr == nil {
			b.rerr = err
		}
		b.release(err == io.EOF)
	}
	return n, err
}

func (b *body) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		b.release(false)
	}
	return nil
}

// release must be called with b.mu held.
func (b *body) release(eof bool) {
	if b.c != nil {
		b.t.release(b.c, b.stop, eof && b.keep)
		b.c = nil
	}
}

func (b *body) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// gzipBody decompresses lazily, so that a caller who only closes the body
// does not pay for reading the gzip header.
type gzipBody struct {
	b    *body
	zr   *gzip.Reader
	zerr error
}

func (g *gzipBody) Read(p []byte) (int, error) {
	if g.b.isClosed() {
		return 0, errReadOnClosed
	}
	if g.zr == nil && g.zerr == nil {
		g.zr, g.zerr = gzip.NewReader(g.b)
	}
	if g.zerr != nil {
		return 0, g.zerr
	}
	return g.zr.Read(p)
}

func (g *gzipBody) Close() error { return g.b.Close() }
