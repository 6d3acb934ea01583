package gcloudfmt

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/text/width"
)

// printer receives the records of one Print call and writes them.
type printer interface {
	// add prints (or buffers) one record; inList is set for the records of
	// a list, clear for a single resource.
	add(record any, inList bool) error
	// finish writes what is buffered and closes open lists.
	finish() error
}

// printerBase is what every printer needs.
type printerBase struct {
	termWidth   int
	out         io.Writer
	spec        *projSpec
	proj        *projector
	wantsColumn bool // the format is useless without (columns)
}

// knownFormats are the printer names gcloud accepts, for its error message;
// config, diff, list, multi and object are not implemented here.
var knownFormats = []string{"config", "csv", "default", "diff", "disable", "flattened", "get", "json", "list",
	"multi", "none", "object", "table", "text", "value", "yaml"}

func newPrinter(spec *projSpec, out io.Writer) (printer, *printerBase, error) {
	base := &printerBase{out: out, spec: spec}
	var p printer
	switch spec.name {
	case "json":
		base.proj = newProjector(spec, false, true, false)
		p = &jsonPrinter{printerBase: base}
	case "yaml", "default":
		base.proj = newProjector(spec, false, true, false)
		p = &yamlPrinter{printerBase: base, null: attrString(spec, "null", "")}
	case "table":
		base.proj = newProjector(spec, true, false, false)
		base.wantsColumn = true
		p = &tablePrinter{printerBase: base}
	case "csv", "value", "get":
		base.proj = newProjector(spec, true, false, spec.name == "get")
		base.wantsColumn = true
		p = newCSVPrinter(base, spec.name != "csv")
	case "flattened", "text":
		base.proj = newProjector(spec, false, false, false)
		p = &flattenedPrinter{printerBase: base}
	case "none":
		base.proj = newProjector(spec, false, false, false)
		p = nonePrinter{}
	case "disable":
		base.proj = newProjector(spec, false, false, false)
		spec.attributes = map[string]any{"disable": int64(1)}
		p = nonePrinter{}
	default:
		if indexOf(knownFormats, spec.name) >= 0 {
			return nil, nil, fmt.Errorf("format [%s] is not supported by this command line; use one of csv, flattened, json, none, table, text, value, yaml", spec.name)
		}
		return nil, nil, fmt.Errorf("Format must be one of %s; received [%s].\n\nFor information on output formats:\n  $ gcloud topic formats\n",
			strings.Join(knownFormats, ", "), spec.name)
	}
	return p, base, nil
}

// attrString is a printer attribute as a string, def when unset.
func attrString(spec *projSpec, name, def string) string {
	if v, ok := spec.attributes[name]; ok && v != nil {
		return pyStr(v)
	}
	return def
}

// attrInt is an integer printer attribute, bounded; def when unset or not
// an integer.
func attrInt(spec *projSpec, name string, def int) int {
	if v, ok := spec.attributes[name].(int64); ok {
		return int(max(min(v, maxPad), -maxPad))
	}
	return def
}

type nonePrinter struct{}

func (nonePrinter) add(any, bool) error { return nil }
func (nonePrinter) finish() error       { return nil }

// jsonPrinter prints a list's records as one JSON array, a single resource
// as one JSON value, and "[]" when nothing was printed.
type jsonPrinter struct {
	*printerBase
	inArray bool // an array is open
	printed bool
}

func (p *jsonPrinter) add(record any, inList bool) error {
	v, err := p.proj.evaluate(record)
	if err != nil {
		return err
	}
	p.printed = true
	text := jsonDump(v)
	var b strings.Builder
	switch {
	case inList:
		if p.inArray {
			b.WriteString(",\n")
		} else {
			b.WriteString("[\n")
			p.inArray = true
		}
		b.WriteString("  " + strings.ReplaceAll(text, "\n", "\n  "))
	default:
		if p.inArray {
			b.WriteString("\n]\n")
			p.inArray = false
		}
		b.WriteString(text + "\n")
	}
	_, err = io.WriteString(p.out, b.String())
	return err
}

func (p *jsonPrinter) finish() error {
	var err error
	switch {
	case !p.printed:
		_, err = io.WriteString(p.out, "[]\n")
	case p.inArray:
		_, err = io.WriteString(p.out, "\n]\n")
		p.inArray = false
	}
	return err
}

// yamlPrinter prints each record as a YAML document, "---" before each
// record of a list.
type yamlPrinter struct {
	*printerBase
	null string
}

func (p *yamlPrinter) add(record any, inList bool) error {
	v, err := p.proj.evaluate(record)
	if err != nil {
		return err
	}
	_, err = io.WriteString(p.out, yamlDump(v, inList, p.null))
	return err
}

func (p *yamlPrinter) finish() error { return nil }

// flattenedPrinter prints one "key.path: value" line per leaf value, the
// values aligned.
type flattenedPrinter struct {
	*printerBase
}

type flatLine struct {
	path  string
	value any
}

func (p *flattenedPrinter) add(record any, inList bool) error {
	v, err := p.proj.evaluate(record)
	if err != nil {
		return err
	}
	// Projected keys print under their lower-cased labels.
	labels := map[string]string{}
	for _, c := range p.spec.columns {
		l := ""
		if c.attr.label != nil {
			l = *c.attr.label
		}
		labels[c.key.String()] = l
	}
	var lines []flatLine
	var leaves func(v any, path string)
	leaves = func(v any, path string) {
		switch t := v.(type) {
		case []any:
			if len(t) == 0 {
				break
			}
			for i, it := range t {
				leaves(it, path+"["+strconv.Itoa(i)+"]")
			}
			return
		case map[string]any:
			if len(t) == 0 {
				break
			}
			for _, k := range sortedKeys(t) {
				if path == "" {
					leaves(t[k], k)
				} else {
					leaves(t[k], path+"."+k)
				}
			}
			return
		case float64:
			v = transformFloat(t)
		}
		if l, ok := labels[path]; ok {
			path = strings.ToLower(l)
		}
		lines = append(lines, flatLine{path, v})
	}
	leaves(v, "")

	var b strings.Builder
	if inList {
		b.WriteString("---\n")
	}
	sep := attrString(p.spec, "separator", ": ")
	pad := !p.spec.hasAttr("no-pad")
	longest := 0
	for _, l := range lines {
		longest = max(longest, utf8Len(l.path))
	}
	for _, l := range lines {
		b.WriteString(l.path + sep)
		if pad {
			b.WriteString(strings.Repeat(" ", longest-utf8Len(l.path)))
		}
		b.WriteString(flatValue(pyStr(l.value)) + "\n")
	}
	_, err = io.WriteString(p.out, b.String())
	return err
}

func (p *flattenedPrinter) finish() error { return nil }

func utf8Len(s string) int { return len([]rune(s)) }

// flatValue quotes a value with a line break or outer white space.
func flatValue(s string) string {
	r := []rune(s)
	if !strings.Contains(s, "\n") && (len(r) == 0 || (!pyIsSpace(r[0]) && !pyIsSpace(r[len(r)-1]))) {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch c {
		case '\\', '"':
			b.WriteByte('\\')
			b.WriteRune(c)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// csvPrinter prints csv: a heading of lower-cased labels, fields quoted
// when needed. value (and get) is csv without heading and quoting, with
// tabs between fields.
type csvPrinter struct {
	*printerBase
	headed     bool // the heading is printed (or not wanted)
	delimiter  string
	quote      string
	separator  string
	terminator string
}

func newCSVPrinter(base *printerBase, value bool) *csvPrinter {
	s := base.spec
	p := &csvPrinter{printerBase: base, headed: value, quote: `"`, separator: ",",
		delimiter: attrString(s, "delimiter", ";"), terminator: attrString(s, "terminator", "\n")}
	if value {
		p.separator = "\t"
		if !truthy(s.attributes["quote"]) {
			p.quote = ""
		}
	} else if truthy(s.attributes["no-quote"]) {
		p.quote = ""
	}
	p.separator = attrString(s, "separator", p.separator)
	return p
}

// field quotes f when it contains a quote or separator character or has
// outer white space.
func (p *csvPrinter) field(f string) string {
	if f == "" || p.quote == "" {
		return f
	}
	r := []rune(f)
	special := pyIsSpace(r[0]) || pyIsSpace(r[len(r)-1])
	for _, s := range []string{p.delimiter, p.quote, p.separator, p.terminator} {
		special = special || strings.Contains(f, s)
	}
	if !special {
		return f
	}
	return p.quote + strings.ReplaceAll(f, p.quote, p.quote+p.quote) + p.quote
}

// cell renders one value: lists and dicts as delimiter-joined items and
// key=value pairs.
func (p *csvPrinter) cell(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case map[string]any:
		parts := make([]string, 0, len(t))
		for _, k := range sortedKeys(t) {
			parts = append(parts, p.field(k+"="+pyStr(t[k])))
		}
		return strings.Join(parts, p.delimiter)
	case []any:
		parts := make([]string, len(t))
		for i, x := range t {
			if truthy(x) {
				parts[i] = p.field(pyStr(x))
			}
		}
		return strings.Join(parts, p.delimiter)
	case float64:
		return p.field(transformFloat(t))
	}
	return p.field(pyStr(v))
}

func (p *csvPrinter) add(record any, _ bool) error {
	v, err := p.proj.evaluate(record)
	if err != nil {
		return err
	}
	row, _ := v.([]any)
	var b strings.Builder
	if !p.headed {
		p.headed = true
		if labels := p.spec.labels(); labels != nil && !p.spec.hasAttr("no-heading") {
			var heads []string
			for i, l := range labels {
				if !p.spec.columns[i].attr.hidden {
					heads = append(heads, p.field(strings.ToLower(l)))
				}
			}
			b.WriteString(strings.Join(heads, p.separator) + p.terminator)
		}
	}
	var fields []string
	for i, c := range p.spec.columns {
		if i < len(row) && !c.attr.hidden {
			fields = append(fields, p.cell(row[i]))
		}
	}
	b.WriteString(strings.Join(fields, p.separator) + p.terminator)
	_, err = io.WriteString(p.out, b.String())
	return err
}

func (p *csvPrinter) finish() error { return nil }

// tablePrinter buffers the rows and prints them as aligned columns.
type tablePrinter struct {
	*printerBase
	rows [][]any
}

func (p *tablePrinter) add(record any, _ bool) error {
	v, err := p.proj.evaluate(record)
	if err != nil {
		return err
	}
	row, _ := v.([]any)
	p.rows = append(p.rows, row)
	return nil
}

// cellText is how a table shows a value: None as nothing, floats as
// float() does, anything else as Python's str().
func cellText(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case float64:
		return transformFloat(t)
	}
	return pyStr(v)
}

// sortRows sorts rows by the columns in order (highest precedence first):
// numbers before everything else, in numeric order, then by the cell text.
// Rows that compare equal keep their order.
func sortRows(rows [][]any, order []orderKey) {
	number := func(v any) float64 {
		if f, ok := numVal(v); ok {
			return f
		}
		return math.Inf(1)
	}
	less := func(a, b any) bool {
		if na, nb := number(a), number(b); na != nb {
			return na < nb
		}
		return cellText(a) < cellText(b)
	}
	sort.SliceStable(rows, func(i, j int) bool {
		for _, o := range order {
			a, b := rows[i][o.index], rows[j][o.index]
			if o.reverse {
				a, b = b, a
			}
			if less(a, b) {
				return true
			}
			if less(b, a) {
				return false
			}
		}
		return false
	})
}

type boxChars struct{ dl, dr, h, hd, hu, ul, ur, v, vh, vl, vr string }

var unicodeBox = boxChars{dl: "┐", dr: "┌", h: "─", hd: "┬", hu: "┴", ul: "┘", ur: "└", v: "│", vh: "┼", vl: "┤", vr: "├"}

var asciiBox = boxChars{dl: "+", dr: "+", h: "-", hd: "+", hu: "+", ul: "+", ur: "+", v: "|", vh: "+", vl: "+", vr: "+"}

// tableLayout is a table ready to print: the shown columns' widths,
// alignments and heading, and the rows' cell texts.
type tableLayout struct {
	widths  []int
	aligns  []string
	heading []string // nil: no heading
	cells   [][]string
	wrap    map[int]int // wrapped column -> minimum width
	box     *boxChars   // nil: no box
	allBox  bool        // rules between rows too
	pad     int         // spaces between columns (or after a boxed cell)
}

func (p *tablePrinter) finish() error {
	if len(p.rows) == 0 {
		return nil
	}
	for _, c := range p.spec.columns {
		if c.attr.subformat != nil && *c.attr.subformat != "" {
			return fmt.Errorf("table column format= attributes are not supported")
		}
	}
	t := p.layout()
	if t == nil {
		return nil
	}
	var b strings.Builder
	if title, ok := p.spec.attributes["title"]; ok && title != nil {
		t.writeTitle(&b, pyStr(title))
		if pyStr(title) != "" {
			t.writeRules(&b, true)
		} else {
			t.writeRules(&b, false)
		}
	} else {
		t.writeRules(&b, false)
	}
	t.writeBody(&b)
	p.rows = nil
	_, err := io.WriteString(p.out, b.String())
	return err
}

// layout sorts the rows and measures the columns; nil when every shown
// column was optional and empty.
func (p *tablePrinter) layout() *tableLayout {
	s := p.spec
	t := &tableLayout{allBox: s.hasAttr("all-box"), pad: attrInt(s, "pad", 2)}
	if t.allBox || s.hasAttr("box") {
		t.box, t.pad = &unicodeBox, 1
		if s.hasAttr("ascii") {
			t.box = &asciiBox
		}
	}
	rows := append([][]any(nil), p.rows...)
	for i, r := range rows {
		if len(r) < len(s.columns) {
			// Every column is addressable while sorting.
			rows[i] = append(append([]any(nil), r...), make([]any, len(s.columns)-len(r))...)
		}
	}
	sortRows(rows, s.order())

	// The shown columns: not hidden, and not optional without any data.
	var shown []int
	for i, c := range s.columns {
		if !c.attr.hidden {
			shown = append(shown, i)
		}
	}
	texts := make([][]string, len(rows))
	for r, row := range rows {
		for _, i := range shown {
			texts[r] = append(texts[r], cellText(row[i]))
		}
	}
	widest := func(j int) int {
		w := 0
		for _, row := range texts {
			w = max(w, displayWidth(row[j]))
		}
		return w
	}
	var keep []int // indexes into shown
	for j, i := range shown {
		if opt := s.columns[i].attr.optional; opt == nil || !*opt || widest(j) > 0 {
			keep = append(keep, j)
		}
	}
	if len(keep) == 0 && len(shown) > 0 {
		return nil
	}
	labels := s.labels()
	if s.hasAttr("no-heading") {
		labels = nil
	}
	t.wrap = map[int]int{}
	t.cells = make([][]string, len(rows))
	for n, j := range keep {
		attr := s.columns[shown[j]].attr
		w := widest(j)
		if labels != nil {
			t.heading = append(t.heading, labels[shown[j]])
			w = max(w, displayWidth(labels[shown[j]]))
		}
		if attr.width != nil && w < *attr.width {
			w = min(*attr.width, maxPad)
		}
		t.widths = append(t.widths, w)
		t.aligns = append(t.aligns, attr.align)
		if attr.wrap != nil && *attr.wrap != 0 {
			t.wrap[n] = *attr.wrap
			if *attr.wrap < 0 {
				t.wrap[n] = 10
			}
		}
		for r := range rows {
			t.cells[r] = append(t.cells[r], texts[r][j])
		}
	}
	if len(t.wrap) > 0 {
		termWidth := p.termWidth
		if termWidth <= 0 {
			termWidth = 80
		}
		t.fitWrapped(attrInt(s, "width", termWidth) - attrInt(s, "margin", 0))
	}
	return t
}

// fitWrapped narrows the wrapped columns so that the table fits in
// tableWidth: they share what the other columns leave, each keeping at
// least its minimum (or its width, if smaller).
func (t *tableLayout) fitWrapped(tableWidth int) {
	n := len(t.widths)
	frame := (n - 1) * t.pad
	if t.box != nil {
		frame = n + 1 + n*t.pad*2
	}
	room := tableWidth - frame
	total, fixed := 0, 0
	for j, w := range t.widths {
		total += w
		if _, ok := t.wrap[j]; !ok {
			fixed += w
		}
	}
	if room >= total {
		return
	}
	share := int(math.Floor(float64(room-fixed) / float64(len(t.wrap))))
	for j, minWidth := range t.wrap {
		t.widths[j] = max(share, min(minWidth, t.widths[j]))
	}
}

// writeTitle writes the title centered over the table, widening the
// columns when the title is wider than the table (unless columns wrap).
func (t *tableLayout) writeTitle(b *strings.Builder, title string) {
	n := len(t.widths)
	inner := 0
	for _, w := range t.widths {
		inner += w
	}
	if tw := displayWidth(title); inner < tw && len(t.wrap) == 0 && n > 0 {
		extra := (tw + n - 1) / n
		for i := range t.widths {
			t.widths[i] += extra
		}
		inner += n * extra
	}
	if t.box == nil {
		b.WriteString(pyRStrip(justify("center", title, inner+t.pad*(n-1))) + "\n")
		return
	}
	span := inner + 3*n - 1
	b.WriteString(t.box.dr + strings.Repeat(t.box.h, span) + t.box.dl + "\n")
	b.WriteString(t.box.v + justify("center", title, span) + t.box.v + "\n")
}

// rule draws a horizontal box line with the given corner and junction
// characters.
func (t *tableLayout) rule(left, mid, right string) string {
	if len(t.widths) == 0 {
		return right + "\n"
	}
	parts := make([]string, len(t.widths))
	for i, w := range t.widths {
		parts[i] = strings.Repeat(t.box.h, w+2)
	}
	return left + strings.Join(parts, mid) + right + "\n"
}

// writeRules writes a boxed table's top line and heading; underTitle joins
// the top line to the title's box.
func (t *tableLayout) writeRules(b *strings.Builder, underTitle bool) {
	if t.box == nil {
		return
	}
	if underTitle {
		b.WriteString(t.rule(t.box.vr, t.box.hd, t.box.vl))
	} else {
		b.WriteString(t.rule(t.box.dr, t.box.hd, t.box.dl))
	}
	if t.heading != nil {
		for i, h := range t.heading {
			b.WriteString(t.box.v + " " + justify("center", h, t.widths[i]) + " ")
		}
		b.WriteString(t.box.v + "\n")
		b.WriteString(t.rule(t.box.vr, t.box.vh, t.box.vl))
	}
}

// writeBody writes the rows (and the heading of a table without box), each
// over as many lines as its wrapped or multi-line cells need.
func (t *tableLayout) writeBody(b *strings.Builder) {
	rows := t.cells
	if t.heading != nil && t.box == nil {
		rows = append([][]string{t.heading}, rows...)
	}
	for n, row := range rows {
		if n > 0 && t.allBox {
			b.WriteString(t.rule(t.box.vr, t.box.vh, t.box.vl))
		}
		rest := append([]string(nil), row...)
		for more := true; more; {
			more = false
			pending := 0 // spaces owed before the next non-blank cell
			for i, text := range rest {
				w := t.widths[i]
				var part string
				if displayWidth(text) > w || strings.Contains(text, "\n") {
					part, rest[i] = splitLine(text, w)
					more = more || rest[i] != ""
				} else {
					part, rest[i] = text, " "
				}
				cell := justify(t.aligns[i], part, w)
				switch {
				case t.box != nil:
					b.WriteString(t.box.v + " " + cell + strings.Repeat(" ", t.pad))
				case strings.TrimFunc(cell, pyIsSpace) == "":
					pending += t.pad + displayWidth(cell)
				default:
					// Trailing blanks are only written when more text follows.
					trimmed := pyRStrip(cell)
					b.WriteString(strings.Repeat(" ", pending) + trimmed)
					pending = t.pad + displayWidth(cell) - displayWidth(trimmed)
				}
			}
			if t.box != nil {
				b.WriteString(t.box.v)
			}
			b.WriteString("\n")
		}
	}
	if t.box != nil {
		b.WriteString(t.rule(t.box.ur, t.box.hu, t.box.ul))
	}
}

// justify pads s to w display columns: left, right or center (centering
// as Python's str.center does, odd padding going right or left by its
// parity rule).
func justify(align, s string, w int) string {
	n := w - displayWidth(s)
	if n <= 0 {
		return s
	}
	switch align {
	case "right":
		return strings.Repeat(" ", n) + s
	case "center":
		target := w - (displayWidth(s) - len([]rune(s)))
		left := n/2 + (n & target & 1)
		return strings.Repeat(" ", left) + s + strings.Repeat(" ", n-left)
	}
	return s + strings.Repeat(" ", n)
}

// splitLine takes the first line of s that fits in maxWidth columns: up to
// its first line break, else up to the last white space within the width
// (or, without one, exactly the width); the rest follows.
func splitLine(s string, maxWidth int) (string, string) {
	r := []rune(s)
	fit, used := 0, 0
	for fit < len(r) {
		if used += charWidth(r[fit]); used > maxWidth {
			break
		}
		fit++
	}
	// White space right after the fitting part goes with it.
	for fit < len(r) && pyIsSpace(r[fit]) {
		fit++
	}
	cut := fit
	if nl := indexRune(r, '\n'); nl >= 0 && nl+1 <= fit {
		cut = nl + 1
	} else if ws := lastSpaceRunEnd(r, fit); ws > 0 {
		cut = ws
	}
	return pyRStrip(string(r[:cut])), string(r[cut:])
}

func indexRune(r []rune, c rune) int {
	for i, x := range r {
		if x == c {
			return i
		}
	}
	return -1
}

// lastSpaceRunEnd is the end of the last run of white space that ends at
// or before limit; 0 when there is none.
func lastSpaceRunEnd(r []rune, limit int) int {
	end := 0
	for i := 0; i < len(r); {
		if !pyIsSpace(r[i]) {
			i++
			continue
		}
		j := i
		for j < len(r) && pyIsSpace(r[j]) {
			j++
		}
		if j > limit {
			break
		}
		end, i = j, j
	}
	return end
}

// charWidth is the number of terminal columns r takes: 2 for East Asian
// wide characters, 0 for combining marks and format characters.
func charWidth(r rune) int {
	if isCombining(r) || unicode.Is(unicode.Cf, r) {
		return 0
	}
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return 2
	}
	return 1
}

// displayWidth is the width of the widest line of s.
func displayWidth(s string) int {
	w, widest := 0, 0
	for _, r := range s {
		if r == '\n' {
			widest, w = max(widest, w), 0
			continue
		}
		w += charWidth(r)
	}
	return max(widest, w)
}
