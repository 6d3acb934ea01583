package identity

import "testing"

// BenchmarkIDTokenCached: the scheduler's steady state, one (account,
// audience) called again and again.
func BenchmarkIDTokenCached(b *testing.B) {
	e := newEnv(b)
	e.idToken(saJobs, testAudience, true)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := e.minter.IDToken(e.ctx, saJobs, testAudience, true); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIDTokenUncached: every call signs (RSA-2048 PKCS#1 v1.5).
func BenchmarkIDTokenUncached(b *testing.B) {
	e := newEnv(b)
	b.ReportAllocs()
	for b.Loop() {
		e.minter.cache.purge()
		if _, _, err := e.minter.IDToken(e.ctx, saJobs, testAudience, true); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyIDToken: the gateway's cost per request, with the token's
// signature already verified (cached) and not (uncached). Both include the
// account lookup and the time checks.
func BenchmarkVerifyIDToken(b *testing.B) {
	e := newEnv(b)
	tok := e.idToken(saJobs, testAudience, true)
	auds := []string{testAudience}
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.verifier.VerifyIDToken(e.ctx, tok, auds); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("uncached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e.verifier.cache.purge()
			if _, err := e.verifier.VerifyIDToken(e.ctx, tok, auds); err != nil {
				b.Fatal(err)
			}
		}
	})
}
