package gcloudfmt

import (
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The YAML writer produces what gcloud's yaml printer prints (its YAML
// library in safe mode, block style, indent 2, width 80, Unicode allowed,
// YAML 1.2 type resolution):
//
//   - mappings in block style with sorted keys; sequences inside a mapping
//     are not indented further than their key; {} and [] for empty ones;
//   - strings plain when they read back as the same string, else
//     single-quoted, or double-quoted when they contain a quote or
//     characters that need escapes; strings with line breaks as literal
//     blocks (|, |-, |+, with an indentation hint when they start with a
//     space);
//   - long plain and quoted strings folded at a space past column 80;
//   - keys of 128 characters or more (or multi-line ones) as "? key" / ": ";
//   - a scalar document on its own line, indented by 2.

// plainResolvers are the patterns by which a plain scalar reads back as a
// value other than a string, tried in order for its first character.
var plainResolvers = []struct {
	tag   string
	first string
	re    *regexp.Regexp
}{
	{"bool", "tTfF", regexp.MustCompile(`^(?:true|True|TRUE|false|False|FALSE)$`)},
	{"float", "-+0123456789.", regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)|[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`)},
	{"int", "-+0123456789", regexp.MustCompile(`^(?:[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?[0-9_]+|[-+]?0x[0-9a-fA-F_]+)$`)},
	{"merge", "<", regexp.MustCompile(`^(?:<<)$`)},
	{"null", "~nN", regexp.MustCompile(`^(?:~|null|Null|NULL|)$`)},
	{"timestamp", "0123456789", regexp.MustCompile(`^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$`)},
	{"value", "=", regexp.MustCompile(`^(?:=)$`)},
}

// resolve returns the type a plain scalar with this text reads back as.
func resolve(s string) string {
	if s == "" {
		return "null"
	}
	first, _ := utf8.DecodeRuneInString(s)
	for _, r := range plainResolvers {
		if strings.ContainsRune(r.first, first) && r.re.MatchString(s) {
			return r.tag
		}
	}
	return "str"
}

// yamlScalar is a scalar to write: its text, whether it is a string (other
// scalars are null, booleans and numbers, always plain), and whether it is
// a multi-line string (a literal block).
type yamlScalar struct {
	text    string
	isStr   bool
	literal bool
}

func strScalar(s string) yamlScalar {
	return yamlScalar{text: s, isStr: true, literal: strings.Contains(s, "\n")}
}

// yamlWriter writes one document, tracking the output position.
type yamlWriter struct {
	b        strings.Builder
	col      int  // column of the next character (counted in characters)
	spaced   bool // the last character written was white space, or none yet
	lineHead bool // nothing but indentation and "-" / "?" written on this line
	keepEnd  bool // the document ends in a |+ block and needs "..."
	null     string
}

// yamlDump writes v as a YAML document; explicit starts it with "---".
// nullText replaces null values when set.
func yamlDump(v any, explicit bool, nullText string) string {
	w := &yamlWriter{spaced: true, lineHead: true, null: nullText}
	if explicit {
		w.mark("---", true, false, false)
	}
	w.node(v, 0, atRoot)
	w.startLine(0)
	if w.keepEnd {
		w.mark("...", true, false, false)
		w.startLine(0)
	}
	return w.b.String()
}

// put writes text on the current line.
func (w *yamlWriter) put(s string) {
	w.b.WriteString(s)
	w.col += utf8.RuneCountInString(s)
}

// mark writes an indicator: spaceBefore asks for a separating space,
// spacedAfter says the indicator counts as white space, keepHead that it
// keeps the line head (as "-" and "?" do).
func (w *yamlWriter) mark(s string, spaceBefore, spacedAfter, keepHead bool) {
	if spaceBefore && !w.spaced {
		s = " " + s
	}
	w.put(s)
	w.spaced = spacedAfter
	w.lineHead = w.lineHead && keepHead
	w.keepEnd = false
}

// newline ends the line with brk (a line break character).
func (w *yamlWriter) newline(brk string) {
	w.b.WriteString(brk)
	w.col, w.spaced, w.lineHead = 0, true, true
}

// startLine moves to column indent, starting a new line unless the current
// one holds only indentation (and indicators) short of it.
func (w *yamlWriter) startLine(indent int) {
	if !w.lineHead || w.col > indent || (w.col == indent && !w.spaced) {
		w.newline("\n")
	}
	if w.col < indent {
		w.put(strings.Repeat(" ", indent-w.col))
		w.spaced = true
	}
}

// yamlPos is where a node sits.
type yamlPos int

const (
	atRoot     yamlPos = iota
	inMapping          // the value of a mapping entry
	inSequence         // an item of a sequence
)

// node writes a value whose enclosing collection is at indent.
func (w *yamlWriter) node(v any, indent int, pos yamlPos) {
	inner := indent + 2
	if pos == atRoot {
		inner = 0
	}
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 0 {
			w.empty("{", "}")
		} else {
			w.mapping(t, inner)
		}
	case []any:
		if len(t) == 0 {
			w.empty("[", "]")
			return
		}
		if pos == inMapping && !w.lineHead {
			// A sequence under "key:" lines up with the key.
			inner = indent
		}
		w.sequence(t, inner)
	default:
		if pos == atRoot {
			// A scalar document is indented on a line of its own.
			inner = 2
		}
		w.scalar(w.represent(v), inner, pos, false)
	}
}

func (w *yamlWriter) represent(v any) yamlScalar {
	switch t := v.(type) {
	case nil:
		if w.null != "" && w.null != "null" {
			return yamlScalar{text: w.null, isStr: true}
		}
		return yamlScalar{text: "null"}
	case bool:
		return yamlScalar{text: strconv.FormatBool(t)}
	case int64:
		return yamlScalar{text: strconv.FormatInt(t, 10)}
	case float64:
		return yamlScalar{text: transformFloat(t)}
	case string:
		return strScalar(t)
	}
	return yamlScalar{text: pyStr(v), isStr: true}
}

// empty writes an empty collection in flow style and ends the line.
func (w *yamlWriter) empty(open, close string) {
	w.mark(open, true, true, false)
	w.mark(close, false, false, false)
	w.newline("\n")
}

func (w *yamlWriter) mapping(m map[string]any, indent int) {
	for _, k := range sortedKeys(m) {
		w.startLine(indent)
		// A key is never a literal block.
		key := yamlScalar{text: k, isStr: true}
		if t := scalarTraitsOf(k); utf8.RuneCountInString(k) < 128 && k != "" && !t.multiline {
			w.scalar(key, indent+2, inMapping, true)
			w.mark(":", false, false, false)
		} else {
			w.mark("?", true, false, true)
			w.scalar(key, indent+2, inMapping, false)
			w.startLine(indent)
			w.mark(":", true, false, true)
		}
		w.node(m[k], indent, inMapping)
	}
}

func (w *yamlWriter) sequence(items []any, indent int) {
	for _, it := range items {
		w.startLine(indent)
		w.mark("-", true, false, true)
		w.node(it, indent, inSequence)
	}
}

// scalarTraits are the properties of a text that decide its style.
type scalarTraits struct {
	multiline bool // has a line break
	plainOK   bool // may be written plain (if it reads back as a string)
	singleOK  bool // may be single-quoted
}

func isYAMLBreak(r rune) bool {
	return r == '\n' || r == 0x85 || r == 0x2028 || r == 0x2029
}

func isYAMLBlank(r rune) bool {
	return r == 0 || r == ' ' || r == '\t' || r == '\r' || isYAMLBreak(r)
}

// isYAMLPrintable: characters written as they are (others are escaped,
// and force double quotes).
func isYAMLPrintable(r rune) bool {
	switch {
	case r == '\n', r >= 0x20 && r <= 0x7e, r == 0x85:
		return true
	case r == 0xfeff:
		return false
	}
	return (r >= 0xa0 && r <= 0xd7ff) || (r >= 0xe000 && r <= 0xfffd) || (r >= 0x10000 && r <= 0x10ffff)
}

func scalarTraitsOf(s string) scalarTraits {
	if s == "" {
		return scalarTraits{plainOK: true, singleOK: true}
	}
	r := []rune(s)
	last := len(r) - 1
	blankAfter := func(i int) bool { return i >= last || isYAMLBlank(r[i+1]) }
	// indicator: the text would read as YAML syntax when plain.
	indicator := strings.HasPrefix(s, "---") || strings.HasPrefix(s, "...")
	var special, breaks, spaceThenBreak, breakThenSpace bool
	for i, c := range r {
		switch {
		case i == 0 && strings.ContainsRune("#,[]{}&*!|>'\"%@`", c),
			i == 0 && (c == '?' || c == ':' || c == '-') && blankAfter(i),
			i > 0 && c == ':' && blankAfter(i),
			i > 0 && c == '#' && isYAMLBlank(r[i-1]):
			indicator = true
		}
		special = special || !isYAMLPrintable(c)
		if isYAMLBreak(c) {
			breaks = true
			spaceThenBreak = spaceThenBreak || (i > 0 && r[i-1] == ' ')
		}
		if c == ' ' && i > 0 && isYAMLBreak(r[i-1]) {
			breakThenSpace = true
		}
	}
	outerSpace := r[0] == ' ' || r[last] == ' '
	return scalarTraits{
		multiline: breaks,
		plainOK:   !(outerSpace || special || breaks || indicator),
		singleOK:  !(special || spaceThenBreak || breakThenSpace),
	}
}

type yamlStyle int

const (
	stylePlain yamlStyle = iota
	styleSingle
	styleDouble
	styleLiteral
)

// styleFor picks how to write s; key is set for a simple mapping key.
func styleFor(s yamlScalar, key bool) yamlStyle {
	t := scalarTraitsOf(s.text)
	readsBack := !s.isStr || resolve(s.text) == "str"
	switch {
	case !s.literal && readsBack && t.plainOK && !(key && (s.text == "" || t.multiline)):
		return stylePlain
	case s.literal && key:
		return styleDouble
	case s.literal:
		return styleLiteral
	case strings.ContainsAny(s.text, "'\n"):
		return styleDouble
	case t.singleOK && !(key && t.multiline):
		return styleSingle
	}
	return styleDouble
}

// scalar writes a scalar; indent is where folded lines continue.
func (w *yamlWriter) scalar(s yamlScalar, indent int, pos yamlPos, key bool) {
	style := styleFor(s, key)
	if pos == inSequence {
		w.startLine(indent)
	}
	root := pos == atRoot
	if root && style != styleLiteral {
		w.newline("\n")
		w.startLine(indent)
	}
	fold := !key
	switch style {
	case stylePlain:
		w.plain(s.text, indent, fold)
	case styleSingle:
		w.singleQuoted(s.text, indent, fold)
	case styleDouble:
		w.doubleQuoted(s.text, indent, fold)
	default:
		w.literal(s.text, indent, root)
	}
}

const yamlWidth = 80

// runs splits text into runs of spaces, runs of line breaks, single
// quotes (when quotes is set) and runs of anything else.
func runs(text []rune, quotes bool) [][]rune {
	class := func(c rune) int {
		switch {
		case c == ' ':
			return 1
		case isYAMLBreak(c):
			return 2
		case quotes && c == '\'':
			return 3
		}
		return 0
	}
	var out [][]rune
	for i := 0; i < len(text); {
		j := i + 1
		if k := class(text[i]); k != 3 {
			for j < len(text) && class(text[j]) == k {
				j++
			}
		}
		out = append(out, text[i:j])
		i = j
	}
	return out
}

// foldAt ends the line instead of writing a single space, when the line is
// already past the width.
func (w *yamlWriter) foldAt(indent int) {
	w.startLine(indent)
	w.spaced, w.lineHead = false, false
}

// lineBreaks writes a run of line breaks inside a quoted or plain scalar:
// a leading '\n' stands for the folding space and is doubled.
func (w *yamlWriter) lineBreaks(run []rune, indent int) {
	if run[0] == '\n' {
		w.newline("\n")
	}
	for _, c := range run {
		w.newline(string(c))
	}
	w.startLine(indent)
}

func (w *yamlWriter) plain(text string, indent int, fold bool) {
	if text == "" {
		return
	}
	if !w.spaced {
		w.put(" ")
	}
	w.spaced, w.lineHead = false, false
	for _, run := range runs([]rune(text), false) {
		switch {
		case run[0] == ' ' && len(run) == 1 && fold && w.col > yamlWidth:
			w.foldAt(indent)
		case isYAMLBreak(run[0]):
			w.lineBreaks(run, indent)
			w.spaced, w.lineHead = false, false
		default:
			w.put(string(run))
		}
	}
}

func (w *yamlWriter) singleQuoted(text string, indent int, fold bool) {
	w.mark("'", true, false, false)
	all := runs([]rune(text), true)
	for i, run := range all {
		switch {
		case run[0] == '\'':
			w.put("''")
		case run[0] == ' ' && len(run) == 1 && fold && w.col > yamlWidth && i > 0 && i < len(all)-1:
			w.startLine(indent)
		case isYAMLBreak(run[0]):
			w.lineBreaks(run, indent)
		default:
			w.put(string(run))
		}
	}
	w.mark("'", false, false, false)
}

var yamlEscapes = map[rune]string{
	0: "0", 0x07: "a", 0x08: "b", 0x09: "t", 0x0a: "n", 0x0b: "v", 0x0c: "f", 0x0d: "r", 0x1b: "e",
	'"': "\"", '\\': "\\", 0x85: "N", 0xa0: "_", 0x2028: "L", 0x2029: "P",
}

// escaped is the double-quoted form of a character that cannot appear as
// it is.
func escaped(c rune) string {
	if e, ok := yamlEscapes[c]; ok {
		return `\` + e
	}
	switch {
	case c <= 0xff:
		return `\x` + hexUpper(int(c), 2)
	case c <= 0xffff:
		return `\u` + hexUpper(int(c), 4)
	}
	return `\U` + hexUpper(int(c), 8)
}

func needsEscape(c rune) bool {
	switch c {
	case '"', '\\', 0x85, 0x2028, 0x2029, 0xfeff:
		return true
	}
	return !((c >= 0x20 && c <= 0x7e) || (c >= 0xa0 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd))
}

// doubleQuoted writes "..." with escapes. A long line is broken with a
// trailing backslash at a space (or after an escape); a space that then
// starts the next line is escaped.
func (w *yamlWriter) doubleQuoted(text string, indent int, fold bool) {
	w.mark(`"`, true, false, false)
	t := []rune(text)
	pending := 0 // start of the characters not yet written
	for i := 0; i <= len(t); i++ {
		if i == len(t) || needsEscape(t[i]) {
			w.put(string(t[pending:i]))
			pending = i
			if i < len(t) {
				w.put(escaped(t[i]))
				pending = i + 1
			}
		}
		if !fold || i == 0 || i >= len(t)-1 {
			continue
		}
		if (t[i] == ' ' || pending >= i) && w.col+(i-pending) > yamlWidth {
			if pending < i {
				w.put(string(t[pending:i]))
				pending = i
			}
			w.put(`\`)
			w.startLine(indent)
			w.spaced, w.lineHead = false, false
			if t[pending] == ' ' {
				w.put(`\`)
			}
		}
	}
	w.mark(`"`, false, false, false)
}

func hexUpper(v, digits int) string {
	s := strings.ToUpper(strconv.FormatInt(int64(v), 16))
	return strings.Repeat("0", max(digits-len(s), 0)) + s
}

// literalHeader is the block header after '|': an indentation hint when
// the text starts with a space or break, and the chomping indicator ("-"
// without a final line break, "+" with more than one). extra is the
// indentation a root block needs when a line could read as a document
// marker.
func literalHeader(t []rune, root bool) (header string, extra int) {
	if len(t) == 0 {
		return "", 0
	}
	if t[0] == ' ' || isYAMLBreak(t[0]) {
		header, extra = "2", 2
	} else if root && hasDocumentMarkerLine(string(t)) {
		extra = 2
	}
	switch last := len(t) - 1; {
	case !isYAMLBreak(t[last]):
		header += "-"
	case last == 0 || isYAMLBreak(t[last-1]):
		header += "+"
	}
	return header, extra
}

// hasDocumentMarkerLine reports a line after the first that starts with
// "---" or "..." followed by a space or line end.
func hasDocumentMarkerLine(s string) bool {
	for _, marker := range []string{"\n---", "\n..."} {
		for i := 0; ; i++ {
			j := strings.Index(s[i:], marker)
			if j < 0 {
				break
			}
			i += j
			if i+4 < len(s) && strings.ContainsRune(" \r\n", rune(s[i+4])) {
				return i > 0
			}
		}
	}
	return false
}

func (w *yamlWriter) literal(text string, indent int, root bool) {
	t := []rune(text)
	header, extra := literalHeader(t, root)
	w.mark("|"+header, true, false, false)
	if strings.HasSuffix(header, "+") {
		w.keepEnd = true
	}
	w.newline("\n")
	for _, run := range runs(t, false) {
		if isYAMLBreak(run[0]) {
			for _, c := range run {
				w.newline(string(c))
			}
			continue
		}
		// A line of text (spaces included).
		if w.col == 0 && w.spaced {
			if root {
				w.put(strings.Repeat(" ", extra+indent))
			} else {
				w.startLine(indent)
			}
		}
		w.b.WriteString(string(run))
		w.col += len(run)
	}
	if len(t) > 0 && !isYAMLBreak(t[len(t)-1]) {
		w.newline("\n")
	}
}
