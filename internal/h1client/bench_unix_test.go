//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package h1client

import (
	"bytes"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"
)

// BenchmarkRoundTripParallel is the dispatcher's case: many requests in
// flight on both cores. Wall time per request tells throughput; cpu-µs/op
// is the process's CPU (client and the in-process server) per request,
// which is what a burst of dispatches runs out of. (BenchmarkRoundTrip,
// one request at a time, measures latency, where the two are alike.)
func BenchmarkRoundTripParallel(b *testing.B) {
	ts := benchServer(b)
	for _, bc := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"h1client", &Transport{Fallback: plainTransport(), MaxIdleConnsPerHost: 256}},
		{"net-http", func() *http.Transport { t := plainTransport(); t.MaxIdleConnsPerHost = 256; return t }()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(16)
			cpu0 := processCPU()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest("POST", ts.URL, bytes.NewReader(benchPayload))
					resp, err := bc.rt.RoundTrip(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N)/1e3, "cpu-µs/op")
		})
		bc.rt.(interface{ CloseIdleConnections() }).CloseIdleConnections()
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
