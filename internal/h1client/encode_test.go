package h1client

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// writeRequest's bytes are Request.Write's (plus the Transport's
// Accept-Encoding) for every request handles accepts, and so are its
// errors; a request it declines is left untouched for Request.Write.
func FuzzWriteRequestIsRequestWrite(f *testing.F) {
	f.Add("POST", "/jobs/run?x=1", "", "Content-Type", "application/json", "x-ODD-case", " \tpadded\t ", `{"job":"a"}`, 0, true, uint8(0))
	f.Add("GET", "/", "example.com:8080", "User-Agent", "", "", "", "", 0, false, uint8(1))
	f.Add("get", "/a%20b", "", "X-Multi", "1", "X-Multi", "2", "", 0, true, uint8(2))
	f.Add("PATCH", "/", "", "Host", "h", "Content-Length", "9", "abc", 2, true, uint8(3))
	f.Add("DELETE", "/%zz", "[::1%25eth0]:80", "Trailer", "t", "Transfer-Encoding", "x", "", 0, true, uint8(4))
	// An unknown length (-1) without a body: Request.Write refuses it (nil
	// body) or sends 0 (NoBody).
	f.Add("POST", "/", "", "", "", "", "", "", -1, true, uint8(1))
	f.Add("POST", "/", "", "", "", "", "", "", -1, true, uint8(2))
	f.Fuzz(func(t *testing.T, method, path, host, k1, v1, k2, v2, body string, lengthDelta int, gzip bool, mode uint8) {
		build := func() *http.Request {
			req, err := http.NewRequest("GET", "http://127.0.0.1:9", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Method, req.Host = method, host
			req.URL.Path, req.URL.RawQuery = path, ""
			if p, q, ok := strings.Cut(path, "?"); ok {
				req.URL.Path, req.URL.RawQuery = p, q
			}
			if k1 != "" {
				req.Header[k1] = append(req.Header[k1], v1)
			}
			if k2 != "" {
				req.Header[k2] = append(req.Header[k2], v2)
			}
			switch mode % 4 {
			case 1: // no body, any length
				req.ContentLength = int64(lengthDelta % 3)
			case 2:
				req.Body, req.ContentLength = http.NoBody, int64(lengthDelta%3)
			default:
				if body != "" || mode%4 == 3 {
					req.Body = io.NopCloser(strings.NewReader(body))
					req.ContentLength = int64(len(body) + lengthDelta%3)
					req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }
				}
			}
			return req
		}
		tr := &Transport{Fallback: &http.Transport{}}
		if !tr.handles(build()) {
			return
		}
		var fast, want bytes.Buffer
		ok, ferr := writeRequest(&fast, build(), gzip)
		if !ok {
			if fast.Len() != 0 || ferr != nil {
				t.Fatalf("declined but wrote %q, %v", fast.String(), ferr)
			}
			return
		}
		werr := writeWithNetHTTP(&want, build(), gzip)
		if (ferr == nil) != (werr == nil) || (ferr != nil && ferr.Error() != werr.Error()) {
			t.Fatalf("error %v, Request.Write: %v", ferr, werr)
		}
		if werr == nil && !bytes.Equal(fast.Bytes(), want.Bytes()) {
			t.Fatalf("wire bytes differ\n got: %q\nwant: %q", fast.String(), want.String())
		}
	})
}

// The body's own read error comes back, as from net/http's Transport.
func TestWriteRequestBodyError(t *testing.T) {
	boom := errors.New("boom")
	req, _ := http.NewRequest("POST", "http://127.0.0.1:9/", io.NopCloser(io.MultiReader(strings.NewReader("ab"), errReader{boom})))
	req.ContentLength = 4
	var buf bytes.Buffer
	if ok, err := writeRequest(&buf, req, true); !ok || !errors.Is(err, boom) {
		t.Fatalf("writeRequest = %v, %v; want the body's error", ok, err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// A POST with NoBody and ContentLength -1 reaches the target as it does
// through net/http's own Transport ("Content-Length: 0", not -1).
func TestUnknownLengthWithoutBodyOnTheWireAsNetHTTP(t *testing.T) {
	wire := func(rt http.RoundTripper) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		got := make(chan string, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				got <- err.Error()
				return
			}
			defer c.Close()
			br := bufio.NewReader(c)
			var head strings.Builder
			for {
				line, err := br.ReadString('\n')
				head.WriteString(line)
				if err != nil || line == "\r\n" {
					break
				}
			}
			io.WriteString(c, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
			got <- head.String()
		}()
		req, _ := http.NewRequest("POST", "http://"+ln.Addr().String()+"/x", http.NoBody)
		req.Host = "target"
		req.ContentLength = -1
		if resp, err := rt.RoundTrip(req); err == nil {
			resp.Body.Close()
		}
		return <-got
	}
	std := wire(&http.Transport{})
	ours := wire(&Transport{Fallback: &http.Transport{}})
	if std != ours {
		t.Errorf("wire differs\nnet/http: %q\nh1client: %q", std, ours)
	}
}
