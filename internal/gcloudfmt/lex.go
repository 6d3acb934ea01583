package gcloudfmt

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Formats, projections and filters share one scanner. Tokens end at white
// space or at characters the caller names; ' and " quote (quotes may start
// and stop anywhere in a token), and a backslash makes the next quote or
// backslash literal. Keys are dotted names with [index] parts: a.b[0].c[].

// keyOperators are the characters that may not appear unquoted in a key.
const keyOperators = ":=!<>~()"

// keyEnders end a key name: the key operators and the other punctuation
// reserved for expressions.
const keyEnders = keyOperators + "[].{},+*/%&|^#;?"

// SyntaxError is a projection, format or filter expression error. Its
// message is gcloud's, with the position marked *HERE*.
type SyntaxError struct{ Msg string }

func (e *SyntaxError) Error() string { return e.Msg }

func syntaxErrorf(format string, args ...any) error {
	return &SyntaxError{Msg: fmt.Sprintf(format, args...)}
}

// keyKind is the kind of one parsed key element.
type keyKind int

const (
	keyName  keyKind = iota // a dict key (written name or ["name"])
	keyIndex                // [N]
	keySlice                // []
	keyOther                // [1.5] and the like: never matches anything
)

// keyElem is one element of a parsed key; comparable, so usable as a map key
// in projection trees.
type keyElem struct {
	kind  keyKind
	name  string
	index int
}

func nameElem(s string) keyElem { return keyElem{kind: keyName, name: s} }

type parsedKey []keyElem

func (k parsedKey) equal(o parsedKey) bool {
	if len(k) != len(o) {
		return false
	}
	for i := range k {
		if k[i] != o[i] {
			return false
		}
	}
	return true
}

// needsQuotes matches names that must be quoted to read back as one name.
var needsQuotes = regexp.MustCompile(`[^-@\w]`)

// String is the key as an expression would write it, names quoted where
// needed: a.b[0]."x.y".
func (k parsedKey) String() string { return k.render(true) }

// rawName is the key written without quoting (for bare-word filters).
func (k parsedKey) rawName() string { return k.render(false) }

func (k parsedKey) render(quote bool) string {
	var parts []string
	for _, e := range k {
		var suffix string
		switch e.kind {
		case keyName:
			name := e.name
			if quote && needsQuotes.MatchString(name) {
				name = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(name) + `"`
			}
			parts = append(parts, name)
			continue
		case keySlice:
			suffix = "[]"
		case keyIndex:
			suffix = "[" + strconv.Itoa(e.index) + "]"
		default:
			suffix = "[" + e.name + "]"
		}
		if n := len(parts); n > 0 {
			parts[n-1] += suffix
		} else {
			parts = append(parts, suffix)
		}
	}
	if len(parts) == 0 {
		return "."
	}
	return strings.Join(parts, ".")
}

// lexer scans an expression. spec supplies aliases and custom transforms
// and may be nil.
type lexer struct {
	src  []rune
	pos  int
	spec *projSpec
}

func newLexer(expr string, spec *projSpec) *lexer {
	return &lexer{src: []rune(expr), spec: spec}
}

func (l *lexer) atEnd() bool { return l.pos >= len(l.src) }

// annotate returns the expression with *HERE* marking position at (the
// current position when at is negative), set off by spaces from the
// characters around it.
func (l *lexer) annotate(at int) string {
	if at < 0 {
		at = l.pos
	}
	at = min(at, len(l.src))
	mark := "*HERE*"
	if at > 0 && !pyIsSpace(l.src[at-1]) {
		mark = " " + mark
	}
	if at < len(l.src) && !pyIsSpace(l.src[at]) {
		mark += " "
	}
	return string(l.src[:at]) + mark + string(l.src[at:])
}

// skipSpaceExcept skips white space other than the characters in keep, and
// reports whether any input remains.
func (l *lexer) skipSpaceExcept(keep string) bool {
	for ; !l.atEnd(); l.pos++ {
		if c := l.src[l.pos]; !pyIsSpace(c) || strings.ContainsRune(keep, c) {
			return true
		}
	}
	return false
}

// more skips white space and reports whether any input remains.
func (l *lexer) more() bool { return l.skipSpaceExcept("") }

// need skips white space and fails with "WHAT expected" at the end of the
// input.
func (l *lexer) need(what string) error {
	if !l.more() {
		return syntaxErrorf("%s expected [%s].", what, l.annotate(-1))
	}
	return nil
}

// is consumes the next character if it is one of chars.
func (l *lexer) is(chars string) bool {
	if l.peekIs(chars) {
		l.pos++
		return true
	}
	return false
}

// peekIs reports whether the next character is one of chars.
func (l *lexer) peekIs(chars string) bool {
	return !l.atEnd() && strings.ContainsRune(chars, l.src[l.pos])
}

// expectOneOf is is() for a place where the input may not end: at the end it
// fails with "More tokens expected". It returns the character consumed, or 0.
func (l *lexer) expectOneOf(chars string) (rune, error) {
	if l.atEnd() {
		return 0, syntaxErrorf("More tokens expected [%s].", l.annotate(-1))
	}
	c := l.src[l.pos]
	if !strings.ContainsRune(chars, c) {
		return 0, nil
	}
	l.pos++
	return c, nil
}

// isWord skips white space and reports whether the next word is word (ended
// by white space, '(' or the end of the input), consuming it unless peek.
func (l *lexer) isWord(word string, peek bool) bool {
	if !l.more() {
		return false
	}
	w := []rune(word)
	end := l.pos + len(w)
	if end > len(l.src) || string(l.src[l.pos:end]) != word {
		return false
	}
	if end < len(l.src) && !pyIsSpace(l.src[end]) && l.src[end] != '(' {
		return false
	}
	if !peek {
		l.pos = end
	}
	return true
}

// token is one scanned token: ok is false when there was none; quoted when
// any part of it was quoted.
type token struct {
	s      string
	ok     bool
	quoted bool
}

// converted is the token's value: a number for an unquoted numeric token,
// the string otherwise (nil for no token).
func (t token) converted() any {
	if !t.ok {
		return nil
	}
	if t.quoted || t.s == "" {
		return t.s
	}
	return convertToken(t.s)
}

// token scans one token, ended by white space or an unquoted character of
// stops (not consumed). Leading white space is skipped. With nested, (...)
// groups are kept whole and white space after the first character belongs
// to the token; with skipAfter, white space after the token is skipped
// (except stop characters).
func (l *lexer) token(stops string, nested, skipAfter bool) (token, error) {
	var (
		t     token
		text  []rune
		quote rune // the open quote, 0 outside quotes
		depth int  // open ( of a nested token
		i     = l.pos
	)
	add := func(c rune) {
		t.ok = true
		text = append(text, c)
	}
scan:
	for ; i < len(l.src); i++ {
		c := l.src[i]
		if c == '\\' && i+1 < len(l.src) {
			// An escaped backslash or quote stands for itself; elsewhere the
			// backslash stays (it may be a regular expression's).
			i++
			next := l.src[i]
			if next != '\\' && next != quote && (quote != 0 || (next != '\'' && next != '"')) {
				text = append(text, '\\')
			}
			add(next)
			continue
		}
		if quote != 0 {
			if c == quote {
				quote = 0
			} else {
				add(c)
			}
			continue
		}
		switch {
		case c == '\'' || c == '"':
			quote = c
			t.ok, t.quoted = true, true
		case pyIsSpace(c) && !t.ok:
			// leading white space
		case nested && c == '(':
			depth++
			add(c)
		case nested && c == ')':
			if depth == 0 && strings.ContainsRune(stops, c) {
				break scan
			}
			depth--
			add(c)
		case depth == 0 && strings.ContainsRune(stops, c):
			break scan
		case !pyIsSpace(c) || nested:
			add(c)
		default:
			break scan
		}
	}
	if quote != 0 {
		return token{}, syntaxErrorf("Unterminated [%c] quote [%s].", quote, l.annotate(-1))
	}
	l.pos = i
	if skipAfter {
		l.skipSpaceExcept(stops)
	}
	t.s = string(text)
	return t, nil
}

// args scans a call's argument list up to and including its ')' (the '('
// has been consumed). Arguments are separated by one of seps; an empty
// argument is an error except where white space separates.
func (l *lexer) args(seps string) ([]token, error) {
	var out []token
	mustFollow := false // the previous separator was not white space
	for {
		start := l.pos
		arg, err := l.token(seps+")", true, true)
		if err != nil {
			return nil, err
		}
		closed := l.is(")")
		sep := ')'
		if !closed {
			if sep = l.nextOf(seps); sep == 0 {
				return nil, syntaxErrorf("Closing ) expected in argument list [%s].", l.annotate(-1))
			}
		}
		switch {
		case arg.ok:
			if arg.s != "" || !pyIsSpace(sep) {
				out = append(out, arg)
			}
		case mustFollow || !closed:
			return nil, syntaxErrorf("Argument expected [%s].", l.annotate(start))
		}
		if closed {
			return out, nil
		}
		mustFollow = !pyIsSpace(sep)
	}
}

// nextOf consumes and returns the next character if it is one of chars.
func (l *lexer) nextOf(chars string) rune {
	if !l.peekIs(chars) {
		return 0
	}
	l.pos++
	return l.src[l.pos-1]
}

// expandStars rewrites a run of N '*' before a key part as "map(N).", the
// shorthand for mapping the next transform over list items (a[].*basename()).
func (l *lexer) expandStars() {
	start := l.pos
	for l.is("*") {
	}
	if n := l.pos - start; n > 0 {
		expanded := []rune(fmt.Sprintf("map(%d).", n))
		l.src = append(append(append([]rune(nil), l.src[:start]...), expanded...), l.src[l.pos:]...)
		l.pos = start
	}
}

// keyWithAttribute scans a key. When the key starts with an alias (a label
// or :alias= of the projection) the alias's key is used and its attribute
// returned.
func (l *lexer) keyWithAttribute() (parsedKey, *attribute, error) {
	key := parsedKey{}
	var aliasAttr *attribute
	for !l.atEnd() {
		l.expandStars()
		start := l.pos
		name, err := l.token(keyEnders, false, false)
		if err != nil {
			return nil, nil, err
		}
		switch {
		case name.ok && name.s != "":
			if a, ok := l.alias(name.s, len(key) == 0); ok {
				key = append(key, a.key...)
				aliasAttr = a.attr
			} else {
				key = append(key, nameElem(name.s))
			}
		case l.peekIs("["):
			// an index with no name before it: [0].a
		case len(key) == 0 && l.is(".") && !l.peekIs(".") && (l.atEnd() || l.peekIs(keyEnders)):
			// "." alone is the whole resource
			return key, aliasAttr, nil
		default:
			return nil, nil, syntaxErrorf("Non-empty key name expected [%s].", l.annotate(start))
		}
		if l.atEnd() {
			break
		}
		if l.is("]") {
			return nil, nil, syntaxErrorf("Unmatched ] in key [%s].", l.annotate(start))
		}
		for l.is("[") {
			idx, err := l.token("]", false, true)
			if err != nil {
				return nil, nil, err
			}
			if _, err := l.expectOneOf("]"); err != nil {
				return nil, nil, err
			}
			key = append(key, indexElem(idx))
		}
		if !l.is(".") {
			break
		}
		if l.atEnd() {
			return nil, nil, syntaxErrorf("Non-empty key name expected [%s].", l.annotate(-1))
		}
	}
	return key, aliasAttr, nil
}

// alias returns the alias called name, for the first name of a key that is
// not a transform call.
func (l *lexer) alias(name string, first bool) (aliasDef, bool) {
	if !first || l.spec == nil || l.peekIs("(") {
		return aliasDef{}, false
	}
	a, ok := l.spec.aliases[name]
	return a, ok
}

// indexElem converts the text of a [...] key part.
func indexElem(t token) keyElem {
	if !t.ok || (t.s == "" && !t.quoted) {
		return keyElem{kind: keySlice}
	}
	switch v := t.converted().(type) {
	case int64:
		return keyElem{kind: keyIndex, index: int(v)}
	case float64:
		return keyElem{kind: keyOther, name: t.s}
	}
	return nameElem(t.s)
}

func (l *lexer) key() (parsedKey, error) {
	k, _, err := l.keyWithAttribute()
	return k, err
}

// parseKey parses a whole string as one key.
func parseKey(s string) (parsedKey, error) {
	l := newLexer(s, nil)
	k, err := l.key()
	if err != nil {
		return nil, err
	}
	if !l.atEnd() {
		return nil, syntaxErrorf("Unexpected tokens [%s] in key.", l.annotate(-1))
	}
	return k, nil
}
