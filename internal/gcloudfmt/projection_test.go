package gcloudfmt

import (
	"io"
	"testing"
)

func TestProjectionSyntaxErrors(t *testing.T) {
	for _, c := range []struct{ format, want string }{
		{`table(email`, `More tokens expected [table(email *HERE*].`},
		{`table[box(email)`, `Expected ] in attribute list [table[box(email *HERE* )].`},
		{`table(email disabled)`, `Expected ) in projection expression [table(email *HERE* disabled)].`},
		{`9table(email)`, `Name expected [*HERE* 9table(email)].`},
		{`table(email:label)`, `value expected [table(email:label *HERE* )].`},
		{`table(email:optional=yes)`, `value not expected [table(email:optional *HERE* =yes)].`},
		{`table(email:colour=red)`, `Unknown key attribute [table(email:colour *HERE* =red)].`},
		{`table(email:align=middle)`, `Unknown alignment [table(email:align *HERE* =middle)].`},
		{`table(email:sort=first)`, `Integer sort order expected [table(email:sort *HERE* =first)].`},
		{`table(email:alias=)`, `Cannot unset alias [table(email:alias *HERE* =)].`},
		{`table(email:width=wide)`, `Integer width expected [table(email:width *HERE* =wide)].`},
		{`table(email:wrap=maybe)`, `Integer wrap width expected [table(email:wrap *HERE* =maybe)].`},
		{`table(keys..name)`, `Non-empty key name expected [table(keys. *HERE* .name)].`},
		{`table(keys])`, `Unmatched ] in key [table( *HERE* keys])].`},
		{`table(email.segment(1)`, `More tokens expected [table(email.segment(1) *HERE*].`},
		{`table(email.segment(1,,2))`, `Argument expected [table(email.segment(1, *HERE* ,2))].`},
		{`table(email.segment(1).upper)`, `Transform function expected [table(email.segment(1).upper *HERE* )].`},
		{`table(email.segment(1).a.b())`, `Unknown transform function a.b [table(email.segment(1).a.b *HERE* ())].`},
		{`table([0]())`, `Unknown transform function [table([0]( *HERE* ))].`},
		{`table("email)`, `Unterminated ["] quote [table( *HERE* "email)].`},
	} {
		err := Print(io.Discard, decodeJSON(t, accountsJSON), true, "", Options{Format: c.format})
		if err == nil || err.Error() != c.want {
			t.Errorf("%q: error %v, want %q", c.format, err, c.want)
		}
	}
}
