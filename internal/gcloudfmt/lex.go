package gcloudfmt

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The lexer follows gcloud's core/resource/resource_lex.py: isspace()
// separated tokens with caller-chosen terminators, " and ' quotes with \
// escapes, parsed keys (a.b[0].c[].d) and transform calls.

// operatorChars may not appear unquoted in keys (resource_lex.OPERATOR_CHARS).
const operatorChars = ":=!<>~()"

// reservedOperatorChars terminate key names.
const reservedOperatorChars = operatorChars + "[].{},+*/%&|^#;?"

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
	keyName  keyKind = iota // a dict key / attribute name (also ["name"])
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

var keyQuoteRE = regexp.MustCompile(`[^-@\w]`)

// keyName is resource_lex.GetKeyName: the string form of a parsed key.
func (k parsedKey) String() string {
	var parts []string
	for _, e := range k {
		var part string
		switch e.kind {
		case keySlice:
			part = "[]"
		case keyIndex:
			part = "[" + strconv.Itoa(e.index) + "]"
		case keyOther:
			part = "[" + e.name + "]"
		default:
			part = e.name
			if keyQuoteRE.MatchString(part) {
				part = strings.ReplaceAll(part, `\`, `\\`)
				part = strings.ReplaceAll(part, `"`, `\"`)
				part = `"` + part + `"`
			}
			parts = append(parts, part)
			continue
		}
		if len(parts) > 0 {
			parts[len(parts)-1] += part
			continue
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		return "."
	}
	return strings.Join(parts, ".")
}

// lexer is resource_lex.Lexer over runes.
type lexer struct {
	expr []rune
	pos  int
	spec *projSpec // aliases and transform symbols; may be nil
}

func newLexer(expr string, spec *projSpec) *lexer {
	return &lexer{expr: []rune(expr), spec: spec}
}

func (l *lexer) eoi(pos int) bool { return pos >= len(l.expr) }

func (l *lexer) atEnd() bool { return l.eoi(l.pos) }

// annotate returns the expression with *HERE* at position here.
func (l *lexer) annotate(here int) string {
	if here < 0 {
		here = l.pos
	}
	if here > len(l.expr) {
		here = len(l.expr)
	}
	cursor := "*HERE*"
	if here > 0 && !pyIsSpace(l.expr[here-1]) {
		cursor = " " + cursor
	}
	if here < len(l.expr) && !pyIsSpace(l.expr[here]) {
		cursor += " "
	}
	return string(l.expr[:here]) + cursor + string(l.expr[here:])
}

// skipSpace skips spaces (not those in terminators). It returns false at
// end of input, or an error there when token names what was expected.
func (l *lexer) skipSpace(token, terminators string) (bool, error) {
	for !l.atEnd() {
		c := l.expr[l.pos]
		if !pyIsSpace(c) || strings.ContainsRune(terminators, c) {
			return true, nil
		}
		l.pos++
	}
	if token != "" {
		return false, syntaxErrorf("%s expected [%s].", token, l.annotate(-1))
	}
	return false, nil
}

func (l *lexer) more() bool {
	ok, _ := l.skipSpace("", "")
	return ok
}

// isChar checks whether the next character is in chars and consumes it
// unless peek. At end of input it fails unless peek or eoiOK.
func (l *lexer) isChar(chars string, peek, eoiOK bool) (rune, error) {
	if l.atEnd() {
		if peek || eoiOK {
			return 0, nil
		}
		return 0, syntaxErrorf("More tokens expected [%s].", l.annotate(-1))
	}
	c := l.expr[l.pos]
	if !strings.ContainsRune(chars, c) {
		return 0, nil
	}
	if !peek {
		l.pos++
	}
	return c, nil
}

// is is isChar for callers that accept end of input.
func (l *lexer) is(chars string) bool {
	c, _ := l.isChar(chars, false, true)
	return c != 0
}

func (l *lexer) peekIs(chars string) bool {
	c, _ := l.isChar(chars, true, true)
	return c != 0
}

// isString skips space and checks whether the next token is name, ended by
// space, '(' or end of input; it consumes it unless peek.
func (l *lexer) isString(name string, peek bool) bool {
	if !l.more() {
		return false
	}
	n := []rune(name)
	i := l.pos
	if len(l.expr)-i < len(n) || string(l.expr[i:i+len(n)]) != name {
		return false
	}
	i += len(n)
	if l.eoi(i) || pyIsSpace(l.expr[i]) || l.expr[i] == '(' {
		if !peek {
			l.pos = i
		}
		return true
	}
	return false
}

// token is one lexed token: ok is false when there was none; quoted when any
// part of it was quoted.
type token struct {
	s      string
	ok     bool
	quoted bool
}

// converted is the token with gcloud's convert=True applied.
func (t token) converted() any {
	if !t.ok {
		return nil
	}
	if t.quoted || t.s == "" {
		return t.s
	}
	return convertToken(t.s)
}

// token parses a possibly quoted token ended by a space or an unquoted
// terminator (not consumed).
func (l *lexer) token(terminators string, balanceParens, space bool) (token, error) {
	var quote rune
	var t token
	var buf []rune
	parens := 0
	i := l.pos
	for !l.eoi(i) {
		c := l.expr[i]
		switch {
		case c == '\\' && !l.eoi(i+1):
			c = l.expr[i+1]
			t.ok = true
			if c != '\\' && c != quote && (quote != 0 || !strings.ContainsRune(`'"`, c)) {
				buf = append(buf, '\\')
			}
			buf = append(buf, c)
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '\'' || c == '"'):
			quote = c
			t.quoted = true
			t.ok = true
		case quote == 0 && pyIsSpace(c) && !t.ok:
		case quote == 0 && balanceParens && (c == '(' || c == ')'):
			if c == '(' {
				parens++
			} else {
				if strings.ContainsRune(terminators, c) && parens == 0 {
					goto done
				}
				parens--
			}
			t.ok = true
			buf = append(buf, c)
		case quote == 0 && parens == 0 && strings.ContainsRune(terminators, c):
			goto done
		case quote != 0 || !pyIsSpace(c) || (t.ok && balanceParens):
			t.ok = true
			buf = append(buf, c)
		case t.ok:
			goto done
		}
		i++
	}
done:
	if quote != 0 {
		return token{}, syntaxErrorf("Unterminated [%c] quote [%s].", quote, l.annotate(-1))
	}
	l.pos = i
	if space {
		if _, err := l.skipSpace("", terminators); err != nil {
			return token{}, err
		}
	}
	t.s = string(buf)
	return t, nil
}

// args parses a separators-separated, ')'-terminated argument list; the
// opening '(' has been consumed.
func (l *lexer) args(separators string) ([]token, error) {
	required := false
	var out []token
	terminators := separators + ")"
	for {
		here := l.pos
		arg, err := l.token(terminators, true, true)
		if err != nil {
			return nil, err
		}
		var sep rune
		end := l.is(")")
		if end {
			sep = ')'
		} else {
			c, err := l.isChar(separators, false, true)
			if err != nil {
				return nil, err
			}
			if c == 0 {
				return nil, syntaxErrorf("Closing ) expected in argument list [%s].", l.annotate(-1))
			}
			sep = c
		}
		if arg.ok {
			if arg.s != "" || !pyIsSpace(sep) {
				out = append(out, arg)
			}
		} else if required || !end {
			return nil, syntaxErrorf("Argument expected [%s].", l.annotate(here))
		}
		if end {
			break
		}
		required = !pyIsSpace(sep)
	}
	return out, nil
}

// checkMapShorthand rewrites N '*' characters into map(N). (gcloud's
// shorthand, e.g. "abc[].*basename()").
func (l *lexer) checkMapShorthand() {
	n := 0
	for l.is("*") {
		n++
	}
	if n == 0 {
		return
	}
	start := l.pos - n
	rest := string(l.expr[l.pos:])
	l.expr = []rune(string(l.expr[:start]) + fmt.Sprintf("map(%d).", n) + rest)
	l.pos = start
}

// keyWithAttribute parses a resource key; attr is the alias attribute when
// the key's first name was an alias.
func (l *lexer) keyWithAttribute() (parsedKey, *attribute, error) {
	key := parsedKey{}
	var attr *attribute
	for !l.atEnd() {
		l.checkMapShorthand()
		here := l.pos
		name, err := l.token(reservedOperatorChars, false, false)
		if err != nil {
			return nil, nil, err
		}
		if name.ok && name.s != "" {
			isFunction := l.peekIs("(")
			if len(key) == 0 && !isFunction && l.spec != nil {
				if a, ok := l.spec.aliases[name.s]; ok {
					key = append(key, a.key...)
					attr = a.attr
					goto indices
				}
			}
			key = append(key, nameElem(name.s))
		} else if !l.peekIs("[") {
			if len(key) == 0 && l.is(".") && !l.peekIs(".") &&
				(l.atEnd() || l.peekIs(reservedOperatorChars)) {
				break
			}
			return nil, nil, syntaxErrorf("Non-empty key name expected [%s].", l.annotate(here))
		}
	indices:
		if l.atEnd() {
			break
		}
		if l.is("]") {
			return nil, nil, syntaxErrorf("Unmatched ] in key [%s].", l.annotate(here))
		}
		for l.is("[") {
			idx, err := l.token("]", false, true)
			if err != nil {
				return nil, nil, err
			}
			if _, err := l.isChar("]", false, false); err != nil {
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
	return key, attr, nil
}

// indexElem converts a [...] token to a key element.
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

// parseKey parses a whole string as one key (resource_lex.ParseKey).
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
