package gcloudfmt

import (
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The YAML emitter reproduces what gcloud's yaml printer gets from
// ruamel.yaml (YAML(typ='safe'), default_flow_style=False, old_indent=2,
// allow_unicode=True, width 80, YAML 1.2 resolvers): block style, plain
// dict keys sorted, sequences in mappings not indented, empty collections
// as {} and [], scalars plain when they would read back as the same string
// and otherwise single-quoted ('' escapes) or double-quoted (when they
// contain ' or special characters), strings with newlines as literal |
// blocks, long scalars folded at spaces past column 80, and root scalars
// on their own indented line.

// yamlScalar is a representer's output for one scalar node.
type yamlScalar struct {
	value   string
	isStr   bool   // tag:yaml.org,2002:str
	literal bool   // style '|'
	tag     string // resolver tag name of non-str scalars
}

// 1.2 implicit resolvers of ruamel (VersionedResolver), keyed by the first
// character they are registered for.
var (
	reBool      = regexp.MustCompile(`^(?:true|True|TRUE|false|False|FALSE)$`)
	reFloat     = regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)|[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`)
	reInt       = regexp.MustCompile(`^(?:[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?[0-9_]+|[-+]?0x[0-9a-fA-F_]+)$`)
	reMerge     = regexp.MustCompile(`^(?:<<)$`)
	reNull      = regexp.MustCompile(`^(?:~|null|Null|NULL|)$`)
	reTimestamp = regexp.MustCompile(`^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$`)
	reValue     = regexp.MustCompile(`^(?:=)$`)
)

type resolver struct {
	tag   string
	re    *regexp.Regexp
	first string
}

var resolvers = []resolver{
	{"bool", reBool, "tTfF"},
	{"float", reFloat, "-+0123456789."},
	{"int", reInt, "-+0123456789"},
	{"merge", reMerge, "<"},
	{"null", reNull, "~nN"},
	{"timestamp", reTimestamp, "0123456789"},
	{"value", reValue, "="},
}

// resolve returns the tag a plain scalar with this text would load as.
func resolve(s string) string {
	if s == "" {
		return "null"
	}
	first, _ := utf8.DecodeRuneInString(s)
	for _, r := range resolvers {
		if strings.ContainsRune(r.first, first) && r.re.MatchString(s) {
			return r.tag
		}
	}
	return "str"
}

type indentEntry struct {
	val  int // -1: None
	none bool
	seq  bool
}

// yamlEmitter is one ruamel Emitter (one dump() call: one document).
type yamlEmitter struct {
	b               strings.Builder
	indent          int
	indentNone      bool
	indents         []indentEntry
	flowLevel       int
	rootContext     bool
	sequenceContext bool
	mappingContext  bool
	simpleKeyCtx    bool
	column          int
	whitespace      bool
	indention       bool
	openEnded       bool
	requestedIndent int
	bestIndent      int
	bestWidth       int
	nullText        string
}

const maxSimpleKeyLength = 128

// yamlDump dumps one value as a document; explicit starts it with "---".
func yamlDump(v any, explicit bool, nullText string) string {
	e := &yamlEmitter{
		indentNone:      true,
		whitespace:      true,
		indention:       true,
		requestedIndent: 2,
		bestIndent:      2,
		bestWidth:       80,
		nullText:        nullText,
	}
	if explicit {
		e.writeIndent()
		e.writeIndicator("---", true, false, false)
	}
	e.node(v, true, false, false, false)
	e.writeIndent()
	if e.openEnded {
		e.writeIndicator("...", true, false, false)
		e.writeIndent()
	}
	return e.b.String()
}

func (e *yamlEmitter) curIndent() int {
	if e.indentNone {
		return 0
	}
	return e.indent
}

func (e *yamlEmitter) increaseIndent(flow, seq, indentless bool) {
	e.indents = append(e.indents, indentEntry{val: e.indent, none: e.indentNone, seq: seq})
	if e.indentNone {
		e.indentNone = false
		if flow {
			e.indent = e.requestedIndent
		} else {
			e.indent = 0
		}
	} else if !indentless {
		e.indent += e.bestIndent
	}
}

func (e *yamlEmitter) popIndent() {
	last := e.indents[len(e.indents)-1]
	e.indents = e.indents[:len(e.indents)-1]
	e.indent, e.indentNone = last.val, last.none
}

func (e *yamlEmitter) seqFlowAlign(column int) int {
	n := len(e.indents)
	if n < 2 || !e.indents[n-1].seq {
		return 0
	}
	base := 0
	if !e.indents[n-1].none {
		base = e.indents[n-1].val
	}
	return base + e.bestIndent - column - 1
}

func (e *yamlEmitter) node(v any, root, sequence, mapping, simpleKey bool) {
	e.rootContext = root
	e.sequenceContext = sequence
	e.mappingContext = mapping
	e.simpleKeyCtx = simpleKey
	switch t := v.(type) {
	case map[string]any:
		if e.flowLevel > 0 || len(t) == 0 {
			e.emptyFlow("{", "}")
		} else {
			e.blockMapping(t)
		}
	case []any:
		if e.flowLevel > 0 || len(t) == 0 {
			e.emptyFlow("[", "]")
		} else {
			e.blockSequence(t)
		}
	default:
		e.scalar(e.represent(v))
	}
}

func (e *yamlEmitter) represent(v any) yamlScalar {
	switch t := v.(type) {
	case nil:
		if e.nullText != "" && e.nullText != "null" {
			return yamlScalar{value: e.nullText, isStr: true}
		}
		return yamlScalar{value: "null", tag: "null"}
	case bool:
		if t {
			return yamlScalar{value: "true", tag: "bool"}
		}
		return yamlScalar{value: "false", tag: "bool"}
	case int64:
		return yamlScalar{value: strconv.FormatInt(t, 10), tag: "int"}
	case float64:
		return yamlScalar{value: transformFloat(t), tag: "float"}
	case string:
		return yamlScalar{value: t, isStr: true, literal: strings.Contains(t, "\n")}
	}
	return yamlScalar{value: pyStr(v), isStr: true}
}

func (e *yamlEmitter) emptyFlow(open, close string) {
	ind := e.seqFlowAlign(e.column)
	e.writeIndicator(strings.Repeat(" ", max(ind, 0))+open, true, true, false)
	e.increaseIndent(true, open == "[", false)
	e.flowLevel++
	e.popIndent()
	e.flowLevel--
	e.writeIndicator(close, false, false, false)
	if e.flowLevel == 0 {
		e.writeLineBreak()
	}
}

func (e *yamlEmitter) blockSequence(l []any) {
	indentless := e.mappingContext && !e.indention
	e.increaseIndent(false, true, indentless)
	for _, item := range l {
		e.writeIndent()
		e.writeIndicator("-", true, false, true)
		e.node(item, false, true, false, false)
	}
	e.popIndent()
}

func (e *yamlEmitter) blockMapping(m map[string]any) {
	e.increaseIndent(false, false, false)
	for _, k := range sortedKeys(m) {
		e.writeIndent()
		key := yamlScalar{value: k, isStr: true}
		if e.checkSimpleKey(k) {
			e.node(k, false, false, true, true)
			e.writeIndicator(":", false, false, false)
			e.node(m[k], false, false, true, false)
		} else {
			e.writeIndicator("?", true, false, true)
			e.rootContext, e.sequenceContext, e.mappingContext, e.simpleKeyCtx = false, false, true, false
			e.scalar(key)
			e.writeIndent()
			e.writeIndicator(":", true, false, true)
			e.node(m[k], false, false, true, false)
		}
	}
	e.popIndent()
}

func (e *yamlEmitter) checkSimpleKey(k string) bool {
	a := analyzeScalar(k)
	return utf8.RuneCountInString(k) < maxSimpleKeyLength && !a.empty && !a.multiline
}

type scalarAnalysis struct {
	empty, multiline                   bool
	allowFlowPlain, allowBlockPlain    bool
	allowSingleQuoted, allowDoubleQuot bool
	allowBlock                         bool
}

func isBreakOrSpace0(r rune) bool {
	switch r {
	case 0, ' ', '\t', '\r', '\n', 0x85, 0x2028, 0x2029:
		return true
	}
	return false
}

func isBreak(r rune) bool {
	switch r {
	case '\n', 0x85, 0x2028, 0x2029:
		return true
	}
	return false
}

// analyzeScalar is Emitter.analyze_scalar (YAML 1.2, allow_unicode).
func analyzeScalar(s string) scalarAnalysis {
	if s == "" {
		return scalarAnalysis{empty: true, allowBlockPlain: true, allowSingleQuoted: true, allowDoubleQuot: true}
	}
	r := []rune(s)
	var blockInd, flowInd, lineBreaks, special bool
	var leadingSpace, leadingBreak, trailingSpace, trailingBreak, breakSpace, spaceBreak bool
	if strings.HasPrefix(s, "---") || strings.HasPrefix(s, "...") {
		blockInd, flowInd = true, true
	}
	preceded := true
	followed := len(r) == 1 || isBreakOrSpace0(r[1])
	prevSpace, prevBreak := false, false
	for i, ch := range r {
		if i == 0 {
			if strings.ContainsRune("#,[]{}&*!|>'\"%@`", ch) {
				flowInd, blockInd = true, true
			}
			if ch == '?' || ch == ':' {
				if len(r) == 1 {
					flowInd = true
				}
				if followed {
					blockInd = true
				}
			}
			if ch == '-' && followed {
				flowInd, blockInd = true, true
			}
		} else {
			if strings.ContainsRune(",[]{}", ch) {
				flowInd = true
			}
			if ch == ':' && followed {
				flowInd, blockInd = true, true
			}
			if ch == '#' && preceded {
				flowInd, blockInd = true, true
			}
		}
		if isBreak(ch) {
			lineBreaks = true
		}
		if !(ch == '\n' || (ch >= 0x20 && ch <= 0x7e)) {
			if (ch == 0x85 || (ch >= 0xa0 && ch <= 0xd7ff) || (ch >= 0xe000 && ch <= 0xfffd) ||
				(ch >= 0x10000 && ch <= 0x10ffff)) && ch != 0xfeff {
				// printable unicode, allowed
			} else {
				special = true
			}
		}
		switch {
		case ch == ' ':
			if i == 0 {
				leadingSpace = true
			}
			if i == len(r)-1 {
				trailingSpace = true
			}
			if prevBreak {
				breakSpace = true
			}
			prevSpace, prevBreak = true, false
		case isBreak(ch):
			if i == 0 {
				leadingBreak = true
			}
			if i == len(r)-1 {
				trailingBreak = true
			}
			if prevSpace {
				spaceBreak = true
			}
			prevSpace, prevBreak = false, true
		default:
			prevSpace, prevBreak = false, false
		}
		preceded = isBreakOrSpace0(ch)
		followed = i+2 >= len(r) || isBreakOrSpace0(r[i+2])
	}
	a := scalarAnalysis{multiline: lineBreaks, allowFlowPlain: true, allowBlockPlain: true,
		allowSingleQuoted: true, allowDoubleQuot: true, allowBlock: true}
	if leadingSpace || leadingBreak || trailingSpace || trailingBreak {
		a.allowFlowPlain, a.allowBlockPlain = false, false
	}
	if trailingSpace {
		a.allowBlock = false
	}
	if breakSpace {
		a.allowFlowPlain, a.allowBlockPlain, a.allowSingleQuoted = false, false, false
	}
	if special {
		a.allowFlowPlain, a.allowBlockPlain, a.allowSingleQuoted, a.allowBlock = false, false, false, false
	} else if spaceBreak {
		a.allowFlowPlain, a.allowBlockPlain, a.allowSingleQuoted = false, false, false
		a.allowBlock = false
	}
	if lineBreaks {
		a.allowFlowPlain, a.allowBlockPlain = false, false
	}
	if flowInd {
		a.allowFlowPlain = false
	}
	if blockInd {
		a.allowBlockPlain = false
	}
	return a
}

// chooseStyle is Emitter.choose_scalar_style: "" (plain), "'", "\"" or "|".
func (e *yamlEmitter) chooseStyle(s yamlScalar, a scalarAnalysis) string {
	implicitPlain := !s.isStr || resolve(s.value) == "str"
	if !s.literal && implicitPlain {
		if !(e.simpleKeyCtx && (a.empty || a.multiline)) &&
			((e.flowLevel > 0 && a.allowFlowPlain) || (e.flowLevel == 0 && a.allowBlockPlain)) {
			return ""
		}
	}
	if s.literal {
		if e.flowLevel == 0 && !e.simpleKeyCtx {
			return "|"
		}
		return "\""
	}
	if strings.ContainsAny(s.value, "'\n") {
		return "\""
	}
	if a.allowSingleQuoted && !(e.simpleKeyCtx && a.multiline) {
		return "'"
	}
	return "\""
}

func (e *yamlEmitter) scalar(s yamlScalar) {
	e.increaseIndent(true, false, false)
	a := analyzeScalar(s.value)
	style := e.chooseStyle(s, a)
	split := !e.simpleKeyCtx
	if e.sequenceContext && e.flowLevel == 0 {
		e.writeIndent()
	}
	switch style {
	case "\"":
		e.writeDoubleQuoted(s.value, split)
	case "'":
		e.writeSingleQuoted(s.value, split)
	case "|":
		e.writeLiteral(s.value)
	default:
		e.writePlain(s.value, split)
	}
	e.popIndent()
}

func (e *yamlEmitter) write(s string) {
	e.b.WriteString(s)
}

func (e *yamlEmitter) writeIndicator(ind string, needWhitespace, whitespace, indention bool) {
	data := ind
	if !e.whitespace && needWhitespace {
		data = " " + ind
	}
	e.whitespace = whitespace
	e.indention = e.indention && indention
	e.column += utf8.RuneCountInString(data)
	e.openEnded = false
	e.write(data)
}

func (e *yamlEmitter) writeIndent() {
	indent := e.curIndent()
	if !e.indention || e.column > indent || (e.column == indent && !e.whitespace) {
		e.writeLineBreak()
	}
	if e.column < indent {
		e.whitespace = true
		e.write(strings.Repeat(" ", indent-e.column))
		e.column = indent
	}
}

func (e *yamlEmitter) writeLineBreakData(data string) {
	e.whitespace = true
	e.indention = true
	e.column = 0
	e.write(data)
}

func (e *yamlEmitter) writeLineBreak() { e.writeLineBreakData("\n") }

func (e *yamlEmitter) rootPrefix() {
	if e.rootContext {
		e.writeLineBreak()
		if e.requestedIndent != 0 {
			e.writeIndent()
		}
	}
}

func (e *yamlEmitter) writeChunk(r []rune) {
	e.column += len(r)
	e.write(string(r))
}

func (e *yamlEmitter) writePlain(text string, split bool) {
	e.rootPrefix()
	if text == "" {
		return
	}
	if !e.whitespace {
		e.column++
		e.write(" ")
	}
	e.whitespace = false
	e.indention = false
	t := []rune(text)
	spaces, breaks := false, false
	start := 0
	for end := 0; end <= len(t); end++ {
		var ch rune = -1
		if end < len(t) {
			ch = t[end]
		}
		switch {
		case spaces:
			if ch != ' ' {
				if start+1 == end && e.column > e.bestWidth && split {
					e.writeIndent()
					e.whitespace = false
					e.indention = false
				} else {
					e.writeChunk(t[start:end])
				}
				start = end
			}
		case breaks:
			if !isBreak(ch) {
				if t[start] == '\n' {
					e.writeLineBreak()
				}
				for _, br := range t[start:end] {
					if br == '\n' {
						e.writeLineBreak()
					} else {
						e.writeLineBreakData(string(br))
					}
				}
				e.writeIndent()
				e.whitespace = false
				e.indention = false
				start = end
			}
		default:
			if ch == -1 || ch == ' ' || isBreak(ch) {
				e.writeChunk(t[start:end])
				start = end
			}
		}
		if ch != -1 {
			spaces = ch == ' '
			breaks = isBreak(ch)
		}
	}
}

func (e *yamlEmitter) writeSingleQuoted(text string, split bool) {
	e.rootPrefix()
	e.writeIndicator("'", true, false, false)
	t := []rune(text)
	spaces, breaks := false, false
	start := 0
	for end := 0; end <= len(t); end++ {
		var ch rune = -1
		if end < len(t) {
			ch = t[end]
		}
		switch {
		case spaces:
			if ch == -1 || ch != ' ' {
				if start+1 == end && e.column > e.bestWidth && split && start != 0 && end != len(t) {
					e.writeIndent()
				} else {
					e.writeChunk(t[start:end])
				}
				start = end
			}
		case breaks:
			if ch == -1 || !isBreak(ch) {
				if t[start] == '\n' {
					e.writeLineBreak()
				}
				for _, br := range t[start:end] {
					if br == '\n' {
						e.writeLineBreak()
					} else {
						e.writeLineBreakData(string(br))
					}
				}
				e.writeIndent()
				start = end
			}
		default:
			if ch == -1 || ch == ' ' || isBreak(ch) || ch == '\'' {
				if start < end {
					e.writeChunk(t[start:end])
					start = end
				}
			}
		}
		if ch == '\'' {
			e.column += 2
			e.write("''")
			start = end + 1
		}
		if ch != -1 {
			spaces = ch == ' '
			breaks = isBreak(ch)
		}
	}
	e.writeIndicator("'", false, false, false)
}

var yamlEscapes = map[rune]string{
	0: "0", 0x07: "a", 0x08: "b", 0x09: "t", 0x0a: "n", 0x0b: "v", 0x0c: "f", 0x0d: "r", 0x1b: "e",
	'"': "\"", '\\': "\\", 0x85: "N", 0xa0: "_", 0x2028: "L", 0x2029: "P",
}

func (e *yamlEmitter) writeDoubleQuoted(text string, split bool) {
	e.rootPrefix()
	e.writeIndicator("\"", true, false, false)
	t := []rune(text)
	start := 0
	for end := 0; end <= len(t); end++ {
		var ch rune = -1
		if end < len(t) {
			ch = t[end]
		}
		if ch == -1 || strings.ContainsRune("\"\\\u0085\u2028\u2029\uFEFF", ch) ||
			!((ch >= 0x20 && ch <= 0x7e) || (ch >= 0xa0 && ch <= 0xd7ff) || (ch >= 0xe000 && ch <= 0xfffd)) {
			if start < end {
				e.writeChunk(t[start:end])
				start = end
			}
			if ch != -1 {
				var data string
				if esc, ok := yamlEscapes[ch]; ok {
					data = "\\" + esc
				} else if ch <= 0xff {
					data = "\\x" + hexUpper(int(ch), 2)
				} else if ch <= 0xffff {
					data = "\\u" + hexUpper(int(ch), 4)
				} else {
					data = "\\U" + hexUpper(int(ch), 8)
				}
				e.column += len(data)
				e.write(data)
				start = end + 1
			}
		}
		if end > 0 && end < len(t)-1 && (ch == ' ' || start >= end) &&
			e.column+(end-start) > e.bestWidth && split {
			data := "\\"
			if start < end {
				data = string(t[start:end]) + data
				start = end
			}
			e.column += utf8.RuneCountInString(data)
			e.write(data)
			e.writeIndent()
			e.whitespace = false
			e.indention = false
			if t[start] == ' ' {
				e.column++
				e.write("\\")
			}
		}
	}
	e.writeIndicator("\"", false, false, false)
}

func hexUpper(v, width int) string {
	s := strings.ToUpper(strconv.FormatInt(int64(v), 16))
	for len(s) < width {
		s = "0" + s
	}
	return s
}

func (e *yamlEmitter) blockHints(t []rune) (string, int, string) {
	indent := 0
	indicator := ""
	hints := ""
	if len(t) > 0 {
		if t[0] == ' ' || isBreak(t[0]) {
			indent = e.bestIndent
			hints += strconv.Itoa(indent)
		} else if e.rootContext {
			text := string(t)
			pos := -1
			for _, end := range []string{"\n---", "\n..."} {
				pos = 0
				for {
					i := strings.Index(text[pos:], end)
					if i < 0 {
						pos = -1
						break
					}
					pos += i
					if pos+4 < len(text) && strings.ContainsRune(" \r\n", rune(text[pos+4])) {
						break
					}
					pos++
				}
				if pos > -1 {
					break
				}
			}
			if pos > 0 {
				indent = e.bestIndent
			}
		}
		if !isBreak(t[len(t)-1]) {
			indicator = "-"
		} else if len(t) == 1 || isBreak(t[len(t)-2]) {
			indicator = "+"
		}
	}
	return hints + indicator, indent, indicator
}

func (e *yamlEmitter) writeLiteral(text string) {
	t := []rune(text)
	hints, bIndent, indicator := e.blockHints(t)
	e.writeIndicator("|"+hints, true, false, false)
	if indicator == "+" {
		e.openEnded = true
	}
	e.writeLineBreak()
	breaks := true
	start := 0
	for end := 0; end <= len(t); end++ {
		var ch rune = -1
		if end < len(t) {
			ch = t[end]
		}
		if breaks {
			if ch == -1 || !isBreak(ch) {
				for _, br := range t[start:end] {
					if br == '\n' {
						e.writeLineBreak()
					} else {
						e.writeLineBreakData(string(br))
					}
				}
				if ch != -1 {
					if e.rootContext {
						e.write(strings.Repeat(" ", bIndent+e.curIndent()))
					} else {
						e.writeIndent()
					}
				}
				start = end
			}
		} else if ch == -1 || isBreak(ch) {
			e.write(string(t[start:end]))
			if ch == -1 {
				e.writeLineBreak()
			}
			start = end
		}
		if ch != -1 {
			breaks = isBreak(ch)
		}
	}
}
