package rest

import (
	"errors"
	"fmt"
	"strings"
)

// This file implements the path template syntax of google.api.HttpRule:
//
//	Template = "/" Segments [ Verb ] ;
//	Segments = Segment { "/" Segment } ;
//	Segment  = "*" | "**" | LITERAL | Variable ;
//	Variable = "{" FieldPath [ "=" Segments ] "}" ;
//	FieldPath = IDENT { "." IDENT } ;
//	Verb     = ":" LITERAL ;
//
// and the matching of request paths against it, with the percent-decoding
// rules that http.proto gives for single- and multi-segment variables.

type segKind uint8

// The order is the specificity rank: when two templates match one path, the
// one with the more specific segment at the first position where they differ
// wins (a literal beats "*", which beats "**"), as Google's front end routes.
const (
	segDoubleStar segKind = iota
	segStar
	segLiteral
)

type segment struct {
	kind segKind
	lit  string
}

// variable binds the request segments [start, end) of the template to a
// field path of the request message.
type variable struct {
	fieldPath  []string
	start, end int
	// multi is true unless the variable covers exactly one "*" or literal
	// segment: multi-segment values keep "/" as separators and leave %2F
	// encoded, single-segment values are fully decoded.
	multi bool
}

type pathTemplate struct {
	raw   string
	segs  []segment
	vars  []variable
	verb  string
	dstar int // index of the "**" segment, -1 when there is none
}

// parseTemplate parses a google.api.HttpRule path. At most one "**" is
// allowed: http.proto requires it to be the last segment, this matcher only
// needs it to be unique, which keeps matching linear and unambiguous.
func parseTemplate(s string) (*pathTemplate, error) {
	if !strings.HasPrefix(s, "/") {
		return nil, fmt.Errorf("path template %q: must start with /", s)
	}
	p := &tmplParser{s: s, i: 1, t: &pathTemplate{raw: s, dstar: -1}}
	if err := p.segments(false); err != nil {
		return nil, fmt.Errorf("path template %q: %w", s, err)
	}
	if p.i < len(s) && s[p.i] == ':' {
		verb := s[p.i+1:]
		if verb == "" || strings.ContainsAny(verb, "/{}*=:") {
			return nil, fmt.Errorf("path template %q: invalid verb %q", s, verb)
		}
		p.t.verb = verb
		p.i = len(s)
	}
	if p.i != len(s) {
		return nil, fmt.Errorf("path template %q: unexpected %q at offset %d", s, s[p.i], p.i)
	}
	seen := map[string]bool{}
	for _, v := range p.t.vars {
		k := strings.Join(v.fieldPath, ".")
		if seen[k] {
			return nil, fmt.Errorf("path template %q: field %q bound twice", s, k)
		}
		seen[k] = true
	}
	return p.t, nil
}

type tmplParser struct {
	s string
	i int
	t *pathTemplate
}

func (p *tmplParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *tmplParser) segments(inVar bool) error {
	for {
		if err := p.segment(inVar); err != nil {
			return err
		}
		if p.peek() != '/' {
			return nil
		}
		p.i++
	}
}

func (p *tmplParser) segment(inVar bool) error {
	switch {
	case strings.HasPrefix(p.s[p.i:], "**"):
		if p.t.dstar >= 0 {
			return errors.New("more than one ** segment")
		}
		p.t.dstar = len(p.t.segs)
		p.t.segs = append(p.t.segs, segment{kind: segDoubleStar})
		p.i += 2
	case p.peek() == '*':
		p.t.segs = append(p.t.segs, segment{kind: segStar})
		p.i++
	case p.peek() == '{':
		if inVar {
			return errors.New("nested variable")
		}
		return p.variable()
	default:
		start := p.i
		for p.i < len(p.s) && !strings.ContainsRune("/{}*=:", rune(p.s[p.i])) {
			p.i++
		}
		if p.i == start {
			return fmt.Errorf("empty segment at offset %d", start)
		}
		p.t.segs = append(p.t.segs, segment{kind: segLiteral, lit: p.s[start:p.i]})
	}
	return nil
}

func (p *tmplParser) variable() error {
	p.i++ // '{'
	var path []string
	for {
		start := p.i
		for p.i < len(p.s) && isIdentByte(p.s[p.i], p.i == start) {
			p.i++
		}
		if p.i == start {
			return fmt.Errorf("invalid field path at offset %d", start)
		}
		path = append(path, p.s[start:p.i])
		if p.peek() != '.' {
			break
		}
		p.i++
	}
	v := variable{fieldPath: path, start: len(p.t.segs)}
	if p.peek() == '=' {
		p.i++
		if err := p.segments(true); err != nil {
			return err
		}
	} else {
		p.t.segs = append(p.t.segs, segment{kind: segStar})
	}
	if p.peek() != '}' {
		return fmt.Errorf("unterminated variable at offset %d", p.i)
	}
	p.i++
	v.end = len(p.t.segs)
	v.multi = v.end-v.start != 1 || p.t.segs[v.start].kind == segDoubleStar
	p.t.vars = append(p.t.vars, v)
	return nil
}

func isIdentByte(c byte, first bool) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (!first && c >= '0' && c <= '9')
}

// splitPath splits an escaped request path ("/v1/a/b:verb") into raw
// segments, and the verb when the last segment ends in ":<verb>" for a verb
// some template declares. Only registered verbs split, as in Google's
// transcoder (grpc-httpjson-transcoding): a colon that is not a known verb
// stays part of the segment, so a GET on ".../jobs/j:run" is not mistaken
// for a GetJob of "j:run" only when ":run" is a verb someone serves.
func splitPath(escaped string, isVerb func(string) bool) (segs []string, verb string, ok bool) {
	if !strings.HasPrefix(escaped, "/") {
		return nil, "", false
	}
	segs = strings.Split(escaped[1:], "/")
	last := segs[len(segs)-1]
	if i := strings.LastIndexByte(last, ':'); i >= 0 {
		if v, err := unescape(last[i+1:], false); err == nil && isVerb(v) {
			segs[len(segs)-1] = last[:i]
			verb = v
		}
	}
	return segs, verb, true
}

// match matches raw request segments (verb already removed) and returns the
// decoded value of each variable, in template order.
func (t *pathTemplate) match(segs []string) ([]string, bool) {
	n, k := len(segs), len(t.segs)
	if t.dstar < 0 && n != k || t.dstar >= 0 && n < k-1 {
		return nil, false
	}
	extra := n - k // segments the "**" absorbs beyond one (-1: it absorbs none)
	// reqStart and reqEnd map template segment i to the request segments
	// [reqStart(i), reqEnd(i)) it matched.
	reqStart := func(i int) int {
		if t.dstar >= 0 && i > t.dstar {
			return i + extra
		}
		return i
	}
	reqEnd := func(i int) int {
		if i == t.dstar {
			return i + extra + 1
		}
		return reqStart(i) + 1
	}
	for i, ts := range t.segs {
		switch ts.kind {
		case segLiteral:
			d, err := unescape(segs[reqStart(i)], false)
			if err != nil || d != ts.lit {
				return nil, false
			}
		case segStar:
			if segs[reqStart(i)] == "" {
				return nil, false
			}
		}
	}
	vals := make([]string, len(t.vars))
	for vi, v := range t.vars {
		from, to := reqStart(v.start), reqEnd(v.end-1)
		if !v.multi {
			d, err := unescape(segs[from], false)
			if err != nil {
				return nil, false
			}
			vals[vi] = d
			continue
		}
		parts := make([]string, 0, to-from)
		for _, s := range segs[from:to] {
			d, err := unescape(s, true)
			if err != nil {
				return nil, false
			}
			parts = append(parts, d)
		}
		vals[vi] = strings.Join(parts, "/")
	}
	return vals, true
}

// moreSpecific reports whether a should win over b when both match a path.
func (t *pathTemplate) moreSpecific(b *pathTemplate) (better, decided bool) {
	for i := 0; i < len(t.segs) && i < len(b.segs); i++ {
		if t.segs[i].kind != b.segs[i].kind {
			return t.segs[i].kind > b.segs[i].kind, true
		}
	}
	return false, false
}

// unescape percent-decodes s. keepSlash leaves %2F/%2f as they are, which
// http.proto prescribes for multi-segment variables ("/" there is a
// separator, an encoded one is data the server must not turn into one).
func unescape(s string, keepSlash bool) (string, error) {
	if strings.IndexByte(s, '%') < 0 {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return "", fmt.Errorf("invalid escape %q", s[i:min(i+3, len(s))])
		}
		d := unhex(s[i+1])<<4 | unhex(s[i+2])
		if keepSlash && d == '/' {
			b.WriteString(s[i : i+3])
		} else {
			b.WriteByte(d)
		}
		i += 2
	}
	return b.String(), nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
