package gcloudfmt

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/text/width"
)

// resourcePrinter is one of gcloud's ResourcePrinter classes.
type resourcePrinter interface {
	addRecord(record any, delimit bool) error
	finish() error
}

type printerBase struct {
	termWidth int
	out       io.Writer
	spec      *projSpec
	proj      *projector
	needsCols bool
}

// supportedFormats is resource_printer.SupportedFormats().
var supportedFormats = []string{"config", "csv", "default", "diff", "disable", "flattened", "get", "json", "list",
	"multi", "none", "object", "table", "text", "value", "yaml"}

func newPrinter(spec *projSpec, out io.Writer) (resourcePrinter, *printerBase, error) {
	base := &printerBase{out: out, spec: spec}
	var p resourcePrinter
	switch spec.name {
	case "json":
		base.proj = newProjector(spec, false, true, false)
		p = &jsonPrinter{printerBase: base, delimiter: "[\n", empty: true}
	case "yaml", "default":
		base.proj = newProjector(spec, false, true, false)
		null := ""
		if v, ok := spec.attributes["null"]; ok && v != nil {
			null = pyStr(v)
		}
		p = &yamlPrinter{printerBase: base, null: null}
	case "table":
		base.proj = newProjector(spec, true, false, false)
		base.needsCols = true
		p = &tablePrinter{printerBase: base}
	case "csv":
		base.proj = newProjector(spec, true, false, false)
		base.needsCols = true
		p = newCSVPrinter(base, false)
	case "value", "get":
		base.proj = newProjector(spec, true, false, spec.name == "get")
		base.needsCols = true
		p = newCSVPrinter(base, true)
	case "flattened", "text":
		base.proj = newProjector(spec, false, false, false)
		p = &flattenedPrinter{printerBase: base}
	case "none":
		base.proj = newProjector(spec, false, false, false)
		p = &nonePrinter{}
	case "disable":
		base.proj = newProjector(spec, false, false, false)
		spec.attributes = map[string]any{"disable": int64(1)}
		p = &nonePrinter{}
	default:
		for _, f := range supportedFormats {
			if f == spec.name {
				return nil, nil, fmt.Errorf("format [%s] is not supported by this command line; use one of csv, flattened, json, none, table, text, value, yaml", spec.name)
			}
		}
		return nil, nil, fmt.Errorf("Format must be one of %s; received [%s].\n\nFor information on output formats:\n  $ gcloud topic formats\n",
			strings.Join(supportedFormats, ", "), spec.name)
	}
	return p, base, nil
}

type nonePrinter struct{}

func (nonePrinter) addRecord(any, bool) error { return nil }
func (nonePrinter) finish() error             { return nil }

// jsonPrinter prints records as a JSON list, a single resource by itself.
type jsonPrinter struct {
	*printerBase
	delimiter string
	empty     bool
}

func (p *jsonPrinter) addRecord(record any, delimit bool) error {
	rec, err := p.proj.evaluate(record)
	if err != nil {
		return err
	}
	p.empty = false
	output := jsonDump(rec)
	var b strings.Builder
	if delimit {
		delim := p.delimiter + "  "
		p.delimiter = ",\n"
		for _, line := range strings.Split(output, "\n") {
			b.WriteString(delim + line)
			delim = "\n  "
		}
	} else {
		if p.delimiter != "[\n" {
			b.WriteString("\n]\n")
			p.delimiter = "[\n"
		}
		b.WriteString(output + "\n")
	}
	_, err = io.WriteString(p.out, b.String())
	return err
}

func (p *jsonPrinter) finish() error {
	var err error
	if p.empty {
		_, err = io.WriteString(p.out, "[]\n")
	} else if p.delimiter != "[\n" {
		_, err = io.WriteString(p.out, "\n]\n")
		p.delimiter = "[\n"
	}
	return err
}

// yamlPrinter prints each record as a YAML document, "---" before each
// record of a list.
type yamlPrinter struct {
	*printerBase
	null string
}

func (p *yamlPrinter) addRecord(record any, delimit bool) error {
	rec, err := p.proj.evaluate(record)
	if err != nil {
		return err
	}
	_, err = io.WriteString(p.out, yamlDump(rec, delimit, p.null))
	return err
}

func (p *yamlPrinter) finish() error { return nil }

// flattenedPrinter prints one "key.path: value" line per leaf.
type flattenedPrinter struct {
	*printerBase
}

func (p *flattenedPrinter) addRecord(record any, delimit bool) error {
	rec, err := p.proj.evaluate(record)
	if err != nil {
		return err
	}
	var b strings.Builder
	if delimit {
		b.WriteString("---\n")
	}
	labels := map[string]string{}
	for _, c := range p.spec.columns {
		l := ""
		if c.attr.label != nil {
			l = *c.attr.label
		}
		labels[c.key.String()] = l
	}
	type kv struct {
		k string
		v any
	}
	var res []kv
	add := func(name string, v any) {
		if l, ok := labels[name]; ok && len(labels) > 0 {
			name = strings.ToLower(l)
		}
		res = append(res, kv{name, v})
	}
	var flat func(obj any, name string)
	flat = func(obj any, name string) {
		switch t := obj.(type) {
		case []any:
			if len(t) == 0 {
				add(name, t)
			}
			for i, it := range t {
				flat(it, name+"["+strconv.Itoa(i)+"]")
			}
		case map[string]any:
			if len(t) == 0 {
				add(name, t)
			}
			for _, k := range sortedKeys(t) {
				sep := ""
				if name != "" {
					sep = "."
				}
				flat(t[k], name+sep+k)
			}
		case float64:
			add(name, transformFloat(t))
		default:
			add(name, obj)
		}
	}
	flat(rec, "")
	if len(res) > 0 {
		pad := !p.spec.hasAttr("no-pad")
		sep := ": "
		if v, ok := p.spec.attributes["separator"]; ok && v != nil {
			sep = pyStr(v)
		}
		maxLen := 0
		for _, e := range res {
			maxLen = max(maxLen, len([]rune(e.k)))
		}
		for _, e := range res {
			b.WriteString(e.k)
			b.WriteString(sep)
			if pad {
				b.WriteString(strings.Repeat(" ", maxLen-len([]rune(e.k))))
			}
			val := pyStr(e.v)
			r := []rune(val)
			if strings.Contains(val, "\n") || (len(r) > 0 && (pyIsSpace(r[0]) || pyIsSpace(r[len(r)-1]))) {
				val = stringQuote(val)
			}
			b.WriteString(val + "\n")
		}
	}
	_, err = io.WriteString(p.out, b.String())
	return err
}

func (p *flattenedPrinter) finish() error { return nil }

func stringQuote(s string) string {
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

// csvPrinter is the csv printer; value is csv with no heading, tab
// separators and no quoting.
type csvPrinter struct {
	*printerBase
	headingPrinted bool
	delimiter      string
	quote          string
	separator      string
	terminator     string
}

func attrString(spec *projSpec, name, def string) string {
	if v, ok := spec.attributes[name]; ok && v != nil {
		return pyStr(v)
	}
	return def
}

func newCSVPrinter(base *printerBase, value bool) *csvPrinter {
	p := &csvPrinter{printerBase: base}
	p.delimiter = attrString(base.spec, "delimiter", ";")
	if value {
		p.headingPrinted = true
		if truthy(base.spec.attributes["quote"]) {
			p.quote = `"`
		}
		p.separator = attrString(base.spec, "separator", "\t")
	} else {
		if !truthy(base.spec.attributes["no-quote"]) {
			p.quote = `"`
		}
		p.separator = attrString(base.spec, "separator", ",")
	}
	p.terminator = attrString(base.spec, "terminator", "\n")
	return p
}

func (p *csvPrinter) quoteField(f string) string {
	if f == "" || p.quote == "" {
		return f
	}
	r := []rune(f)
	if !(strings.Contains(f, p.delimiter) || strings.Contains(f, p.quote) || strings.Contains(f, p.separator) ||
		strings.Contains(f, p.terminator) || pyIsSpace(r[0]) || pyIsSpace(r[len(r)-1])) {
		return f
	}
	return p.quote + strings.ReplaceAll(f, p.quote, p.quote+p.quote) + p.quote
}

func (p *printerBase) visibleCols(row []any) []any {
	var out []any
	for i, c := range p.spec.columns {
		if i < len(row) && !c.attr.hidden {
			out = append(out, row[i])
		}
	}
	return out
}

func (p *csvPrinter) addRecord(record any, _ bool) error {
	rec, err := p.proj.evaluate(record)
	if err != nil {
		return err
	}
	row, _ := rec.([]any)
	var b strings.Builder
	if !p.headingPrinted {
		p.headingPrinted = true
		if !p.spec.hasAttr("no-heading") {
			if labels := p.spec.labels(); labels != nil {
				var ls []string
				for i, l := range labels {
					if !p.spec.columns[i].attr.hidden {
						ls = append(ls, p.quoteField(strings.ToLower(l)))
					}
				}
				b.WriteString(strings.Join(ls, p.separator) + p.terminator)
			}
		}
	}
	var line []string
	for _, col := range p.visibleCols(row) {
		var val string
		switch t := col.(type) {
		case nil:
		case map[string]any:
			var parts []string
			for _, k := range sortedKeys(t) {
				parts = append(parts, p.quoteField(k+"="+pyStr(t[k])))
			}
			val = strings.Join(parts, p.delimiter)
		case []any:
			parts := make([]string, len(t))
			for i, x := range t {
				if truthy(x) {
					parts[i] = p.quoteField(pyStr(x))
				}
			}
			val = strings.Join(parts, p.delimiter)
		case float64:
			val = p.quoteField(transformFloat(t))
		default:
			val = p.quoteField(pyStr(t))
		}
		line = append(line, val)
	}
	b.WriteString(strings.Join(line, p.separator) + p.terminator)
	_, err = io.WriteString(p.out, b.String())
	return err
}

func (p *csvPrinter) finish() error { return nil }

// tablePrinter buffers rows and prints aligned columns.
type tablePrinter struct {
	*printerBase
	rows [][]any
}

func (p *tablePrinter) addRecord(record any, _ bool) error {
	rec, err := p.proj.evaluate(record)
	if err != nil {
		return err
	}
	row, _ := rec.([]any)
	p.rows = append(p.rows, row)
	return nil
}

// tableStringify is table_printer._Stringify.
func tableStringify(v any) string {
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

// numify is table_printer._Numify.
func numify(v any) float64 {
	if f, ok := numVal(v); ok {
		return f
	}
	return float64Inf
}

var float64Inf = func() float64 { f, _ := strconv.ParseFloat("+Inf", 64); return f }()

type boxChars struct{ dl, dr, h, hd, hu, ul, ur, v, vh, vl, vr string }

var unicodeBox = boxChars{dl: "┐", dr: "┌", h: "─", hd: "┬", hu: "┴", ul: "┘", ur: "└", v: "│", vh: "┼", vl: "┤", vr: "├"}

var asciiBox = boxChars{dl: "+", dr: "+", h: "-", hd: "+", hu: "+", ul: "+", ur: "+", v: "|", vh: "+", vl: "+", vr: "+"}

func intAttr(spec *projSpec, name string, def int) int {
	if v, ok := spec.attributes[name].(int64); ok {
		return int(max(min(v, maxPad), -maxPad))
	}
	return def
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func (p *tablePrinter) finish() error {
	if len(p.rows) == 0 {
		return nil
	}
	cols := p.spec.columns
	for _, c := range cols {
		if c.attr.subformat != nil && *c.attr.subformat != "" {
			return fmt.Errorf("table column format= attributes are not supported")
		}
	}
	allBox := p.spec.hasAttr("all-box")
	var box *boxChars
	pad := 2
	if allBox || p.spec.hasAttr("box") {
		box = &unicodeBox
		if p.spec.hasAttr("ascii") {
			box = &asciiBox
		}
		pad = 1
	} else {
		pad = intAttr(p.spec, "pad", 2)
	}

	// Sort by the columns' sort attributes.
	rows := append([][]any(nil), p.rows...)
	type group struct {
		keys    []int
		reverse bool
	}
	var groups []group
	var keys []int
	reverse := false
	for _, o := range p.spec.order() {
		if len(keys) == 0 {
			reverse = o.reverse
		}
		if reverse != o.reverse {
			groups = append([]group{{keys, reverse}}, groups...)
			keys = nil
			reverse = o.reverse
		}
		keys = append(keys, o.index)
	}
	if len(keys) > 0 {
		groups = append([]group{{keys, reverse}}, groups...)
	}
	for _, g := range groups {
		if g.reverse {
			reverseRows(rows)
		}
		for i := len(g.keys) - 1; i >= 0; i-- {
			k := g.keys[i]
			sort.SliceStable(rows, func(a, b int) bool {
				na, nb := numify(rows[a][k]), numify(rows[b][k])
				if na != nb {
					return na < nb
				}
				return tableStringify(rows[a][k]) < tableStringify(rows[b][k])
			})
		}
		if g.reverse {
			reverseRows(rows)
		}
	}

	// Visible columns (hidden ones only sort).
	var visible []int
	for i, c := range cols {
		if !c.attr.hidden {
			visible = append(visible, i)
		}
	}
	cells := make([][]string, len(rows))
	for r, row := range rows {
		for _, i := range visible {
			var v any
			if i < len(row) {
				v = row[i]
			}
			cells[r] = append(cells[r], tableStringify(v))
		}
	}
	aligns := make([]string, len(visible))
	for j, i := range visible {
		aligns[j] = cols[i].attr.align
	}
	var heading []string
	if !p.spec.hasAttr("no-heading") {
		if labels := p.spec.labels(); labels != nil {
			for _, i := range visible {
				heading = append(heading, labels[i])
			}
		}
	}
	ncols := len(visible)
	widths := make([]int, ncols)
	for _, row := range cells {
		for i, c := range row {
			widths[i] = max(widths[i], displayWidth(c))
		}
	}
	// Optional columns with no data are dropped.
	optional := false
	var keep []int
	for j, i := range visible {
		if cols[i].attr.optional != nil && *cols[i].attr.optional && widths[j] == 0 {
			optional = true
			continue
		}
		keep = append(keep, j)
	}
	if optional {
		if len(keep) == 0 {
			return nil
		}
		pick := func(s []string) []string {
			var out []string
			for _, j := range keep {
				if j < len(s) {
					out = append(out, s[j])
				}
			}
			return out
		}
		for r := range cells {
			cells[r] = pick(cells[r])
		}
		aligns = pick(aligns)
		if heading != nil {
			heading = pick(heading)
		}
		var nw []int
		var nv []int
		for _, j := range keep {
			nw = append(nw, widths[j])
			nv = append(nv, visible[j])
		}
		widths, visible = nw, nv
		ncols = len(visible)
	}
	for i, h := range heading {
		if i < ncols {
			widths[i] = max(widths[i], displayWidth(h))
		}
	}
	for j, i := range visible {
		if w := cols[i].attr.width; w != nil && widths[j] < *w {
			widths[j] = min(*w, maxPad)
		}
	}

	// Wrappable columns share what the terminal width leaves.
	wrap := map[int]int{}
	for j, i := range visible {
		if w := cols[i].attr.wrap; w != nil && *w != 0 {
			if *w < 0 {
				wrap[j] = 10
			} else {
				wrap[j] = *w
			}
		}
	}
	if len(wrap) > 0 {
		n := len(visible)
		tablePadding := (n - 1) * pad
		if box != nil {
			tablePadding = n + 1 + n*pad*2
		}
		tablePadding += intAttr(p.spec, "margin", 0)
		termWidth := p.termWidth
		if termWidth <= 0 {
			termWidth = 80
		}
		total := intAttr(p.spec, "width", termWidth) - tablePadding
		sum := 0
		for _, w := range widths {
			sum += w
		}
		if total < sum {
			nonWrap := 0
			for j, w := range widths {
				if _, ok := wrap[j]; !ok {
					nonWrap += w
				}
			}
			avail := total - nonWrap
			for j := range widths {
				if wmin, ok := wrap[j]; ok {
					widths[j] = max(floorDiv(avail, len(wrap)), min(wmin, widths[j]))
				}
			}
		}
	}

	var b strings.Builder
	title, hasTitle := "", false
	if t, ok := p.spec.attributes["title"]; ok && t != nil {
		title, hasTitle = pyStr(t), true
	}
	if hasTitle {
		n := len(widths)
		line := ""
		if box != nil {
			line = box.dr
		}
		w, sep := 0, 2
		for _, cw := range widths {
			w += cw
			if box != nil {
				line += strings.Repeat(box.h, cw+sep)
			}
			sep = 3
		}
		if w < displayWidth(title) && len(wrap) == 0 {
			extra := (displayWidth(title) + n - 1) / n
			w += n * extra
			if box != nil {
				line += strings.Repeat(box.h, n*extra)
			}
			for i := range widths {
				widths[i] += extra
			}
		}
		if box != nil {
			w += 3*n - 1
			b.WriteString(line + box.dl + "\n")
			line = box.v + justify("center", title, w) + box.v
		} else {
			w += pad * (n - 1)
			line = pyRStrip(justify("center", title, w))
		}
		b.WriteString(line + "\n")
	}
	var tRule, mRule, bRule string
	if box != nil {
		tSep, mSep, bSep := box.dr, box.vr, box.ur
		if title != "" {
			tSep = box.vr
		}
		for _, cw := range widths {
			cell := strings.Repeat(box.h, cw+2)
			tRule += tSep + cell
			tSep = box.hd
			mRule += mSep + cell
			mSep = box.vh
			bRule += bSep + cell
			bSep = box.hu
		}
		if title != "" {
			tRule += box.vl
		} else {
			tRule += box.dl
		}
		mRule += box.vl
		bRule += box.ul
		b.WriteString(tRule + "\n")
		if heading != nil {
			var parts []string
			for i, h := range heading {
				parts = append(parts, box.v, justify("center", h, widths[i]))
			}
			parts = append(parts, box.v)
			b.WriteString(strings.Join(parts, " ") + "\n")
			b.WriteString(mRule + "\n")
			heading = nil
		}
	}
	all := cells
	if heading != nil {
		all = append([][]string{heading}, cells...)
	}
	for n, row := range all {
		if n > 0 && allBox {
			b.WriteString(mRule + "\n")
		}
		row = append([]string(nil), row...)
		for finished := false; !finished; {
			finished = true
			padding := 0
			for i := range row {
				w := widths[i]
				if box != nil {
					b.WriteString(box.v + " ")
				}
				s := row[i]
				var cell string
				if displayWidth(s) > w || strings.Contains(s, "\n") {
					var rest string
					cell, rest = nextLineAndRemainder(s, w)
					row[i] = rest
					if rest != "" {
						finished = false
					}
				} else {
					cell = s
					row[i] = " "
				}
				value := justify(aligns[i], cell, w)
				switch {
				case box != nil:
					b.WriteString(value + strings.Repeat(" ", pad))
				case strings.TrimFunc(value, pyIsSpace) != "":
					if padding > 0 {
						b.WriteString(strings.Repeat(" ", padding))
						padding = 0
					}
					stripped := pyRStrip(value)
					b.WriteString(stripped)
					padding = pad + displayWidth(value) - displayWidth(stripped)
				default:
					padding += pad + displayWidth(value)
				}
			}
			if box != nil {
				b.WriteString(box.v)
			}
			b.WriteString("\n")
		}
	}
	if box != nil {
		b.WriteString(bRule + "\n")
	}
	p.rows = nil
	_, err := io.WriteString(p.out, b.String())
	return err
}

func reverseRows(rows [][]any) {
	for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
		rows[i], rows[j] = rows[j], rows[i]
	}
}

// justify is str.ljust / rjust / center by display width.
func justify(align, s string, w int) string {
	n := w - displayWidth(s)
	if n <= 0 {
		return s
	}
	switch align {
	case "right":
		return strings.Repeat(" ", n) + s
	case "center":
		// CPython: left = marg/2 + (marg & width & 1), width being the
		// target length in characters.
		target := w - (displayWidth(s) - len([]rune(s)))
		left := n/2 + (n & target & 1)
		return strings.Repeat(" ", left) + s + strings.Repeat(" ", n-left)
	}
	return s + strings.Repeat(" ", n)
}

// nextLineAndRemainder is TablePrinter._GetNextLineAndRemainder.
func nextLineAndRemainder(s string, maxWidth int) (string, string) {
	r := []rune(s)
	cur, split := 0, 0
	for split < len(r) {
		cur += charWidth(r[split])
		if cur > maxWidth {
			break
		}
		split++
	}
	rest := r[split:]
	lead := 0
	for lead < len(rest) && pyIsSpace(rest[lead]) {
		lead++
	}
	split += lead
	nl := -1
	for i, c := range r {
		if c == '\n' {
			nl = i + 1
			break
		}
	}
	if nl >= 0 && nl <= split {
		split = nl
	} else {
		maxWS := 0
		for i := 0; i < len(r); {
			if !pyIsSpace(r[i]) {
				i++
				continue
			}
			j := i
			for j < len(r) && pyIsSpace(r[j]) {
				j++
			}
			if j > split {
				break
			}
			maxWS = j
			i = j
		}
		if maxWS > 0 {
			split = maxWS
		}
	}
	return pyRStrip(string(r[:split])), string(r[split:])
}

// charWidth is console_attr.GetCharacterDisplayWidth.
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

// displayWidth is console_attr.DisplayWidth: the widest line.
func displayWidth(s string) int {
	w, m := 0, 0
	for _, r := range s {
		if r == '\n' {
			m = max(m, w)
			w = 0
			continue
		}
		w += charWidth(r)
	}
	return max(m, w)
}
