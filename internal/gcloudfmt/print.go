package gcloudfmt

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Options come from gcloud's global list/format flags.
type Options struct {
	// Format is --format: "", "json", "yaml", "none", "value(...)",
	// "table(...)", "csv(...)", "flattened", with gcloud projection syntax.
	Format string
	// Flatten is --flatten, e.g. "bindings[].members".
	Flatten []string
	// Filter is --filter.
	Filter string
	// Limit is --limit (0 = none).
	Limit int
	// SortBy is --sort-by, "~field" descending.
	SortBy []string

	// Transforms adds command-specific projection transforms (gcloud's
	// per-collection transforms, such as the functions commands' state(),
	// trigger() and generation()); they take precedence over the built-in
	// ones of the same name.
	Transforms map[string]TransformFunc
	// TermWidth is the terminal width used to wrap :wrap table columns
	// (gcloud asks the terminal); 0 means 80, gcloud's fallback.
	TermWidth int
	// Warnings, when set, receives gcloud's warning lines (for example
	// "WARNING: The following filter keys were not present in any
	// resource : ..."), which gcloud writes to stderr.
	Warnings io.Writer
}

// Print writes v as gcloud would. v is JSON-shaped: the result of
// json.Unmarshal into any (map[string]any, []any, string, float64 or
// json.Number, bool, nil); use ToValue to convert API structs.
//
// isList says v is a list of resources (one record each). --flatten,
// --filter and --limit apply to lists and, as gcloud does, also to a single
// resource such as a policy, which then prints as a one-element list.
// defaultFormat is the command's own format, used when opts.Format is ""
// and otherwise composed with it as gcloud does ("DEFAULT EXPLICIT": the
// explicit format's name, attributes and columns win, the default's column
// labels and transforms stay available to keys of the same name).
func Print(w io.Writer, v any, isList bool, defaultFormat string, opts Options) error {
	_, err := Display(w, v, isList, defaultFormat, opts)
	return err
}

// Display is Print that also reports whether any record reached the printer
// (gcloud's ResourcesWerePrinted). A list command whose --format was not
// given follows gcloud by writing "Listed 0 items." to stderr when it is
// false.
func Display(w io.Writer, v any, isList bool, defaultFormat string, opts Options) (bool, error) {
	printed, err := display(w, v, isList, defaultFormat, opts)
	return printed, err
}

func display(w io.Writer, v any, isList bool, defaultFormat string, opts Options) (bool, error) {
	format := opts.Format
	if format == "" {
		format = defaultFormat
	} else if defaultFormat != "" {
		format = defaultFormat + " " + format
	}

	// --sort-by keys, and their :(key:sort=N) attributes for the format.
	type sortKey struct {
		key     parsedKey
		reverse bool
	}
	var sortKeys []sortKey
	for _, name := range opts.SortBy {
		reverse := strings.HasPrefix(name, "~")
		name = strings.TrimLeft(name, "~")
		name = strings.ReplaceAll(name, "[]", "[0]")
		k, err := newLexer(name, nil).key()
		if err != nil {
			return false, err
		}
		sortKeys = append(sortKeys, sortKey{k, reverse})
	}
	if format != "" && len(sortKeys) > 0 {
		var orders []string
		for i, sk := range sortKeys {
			attr := ""
			if sk.reverse {
				attr = ":reverse"
			}
			orders = append(orders, fmt.Sprintf("%s:sort=%d%s", sk.key.String(), i+1, attr))
		}
		format += ":(" + strings.Join(orders, ",") + ")"
	}

	symbols := map[string]*transformDef{}
	for name, f := range opts.Transforms {
		symbols[name] = customTransform(name, f)
	}
	spec, err := parseProjection(format, symbols)
	if err != nil {
		return false, err
	}
	var printer resourcePrinter
	var base *printerBase
	if spec.name != "" {
		printer, base, err = newPrinter(spec, w)
		if err != nil {
			return false, err
		}
		base.termWidth = opts.TermWidth
	}

	// The display taps: flatten, filter, sort, limit.
	var flatten []parsedKey
	for _, f := range opts.Flatten {
		k, err := newLexer(f, nil).key()
		if err != nil {
			return false, err
		}
		var cur parsedKey
		sliced := false
		for _, e := range k {
			if e.kind == keySlice {
				sliced = true
				flatten = append(flatten, append(parsedKey(nil), cur...))
				continue
			}
			sliced = false
			cur = append(cur, e)
		}
		if !sliced {
			flatten = append(flatten, append(parsedKey(nil), cur...))
		}
	}
	var filter *compiledFilter
	if opts.Filter != "" {
		filter, err = compileFilter(opts.Filter, spec)
		if err != nil {
			return false, err
		}
	}
	if base != nil && !spec.hasAttr("disable") && base.needsCols && len(spec.columns) == 0 {
		return false, fmt.Errorf("Format [%s] requires a non-empty projection. Use key parameters to specify a projection like so `%s(foo, bar.baz)`", spec.name, spec.name)
	}

	val, err := normalize(v)
	if err != nil {
		return false, err
	}
	var records []any
	listLike := false
	if l, ok := val.([]any); ok && isList {
		records, listLike = l, true
	} else if isList && val == nil {
		listLike = true
	}
	taps := len(flatten) > 0 || filter != nil || opts.Limit > 0
	if taps && !listLike {
		records, listLike = []any{val}, true
	}
	for _, key := range flatten {
		if records, err = flattenRecords(records, key); err != nil {
			return false, err
		}
	}
	if filter != nil {
		var kept []any
		missing := make([]bool, len(filter.keys))
		for i := range missing {
			missing[i] = true
		}
		for _, r := range records {
			ser, err := makeSerializable(r)
			if err != nil {
				return false, err
			}
			for i, k := range filter.keys {
				if missing[i] && getKey(ser, k) != nil {
					missing[i] = false
				}
			}
			ok, err := filter.match(ser)
			if err != nil {
				return false, err
			}
			if ok {
				kept = append(kept, r)
			}
		}
		records = kept
		warnMissingKeys(opts.Warnings, filter.keys, missing)
	}
	if listLike && len(sortKeys) > 0 {
		// Keys are grouped by direction; groups apply lowest precedence first.
		type group struct {
			keys    []parsedKey
			reverse bool
		}
		var groups []group
		var cur []parsedKey
		curRev := false
		for _, sk := range sortKeys {
			if len(cur) == 0 {
				curRev = sk.reverse
			} else if curRev != sk.reverse {
				groups = append([]group{{cur, curRev}}, groups...)
				cur = nil
				curRev = sk.reverse
			}
			cur = append(cur, sk.key)
		}
		if len(cur) > 0 {
			groups = append([]group{{cur, curRev}}, groups...)
		}
		for _, g := range groups {
			vals := make([][]string, len(records))
			for i, r := range records {
				for _, k := range g.keys {
					vals[i] = append(vals[i], pyStr(getKey(r, k)))
				}
			}
			idx := make([]int, len(records))
			for i := range idx {
				idx[i] = i
			}
			sort.SliceStable(idx, func(a, b int) bool {
				c := compareStrings(vals[idx[a]], vals[idx[b]])
				if g.reverse {
					return c > 0
				}
				return c < 0
			})
			sorted := make([]any, len(records))
			for i, j := range idx {
				sorted[i] = records[j]
			}
			records = sorted
		}
	}
	if opts.Limit > 0 && len(records) > opts.Limit {
		records = records[:opts.Limit]
	}

	if printer == nil {
		return false, nil
	}
	if spec.hasAttr("disable") {
		return true, nil
	}
	printed := false
	if listLike {
		for _, r := range records {
			printed = true
			if err := printer.addRecord(r, true); err != nil {
				return true, err
			}
		}
	} else if truthy(val) {
		printed = true
		if err := printer.addRecord(val, false); err != nil {
			return true, err
		}
	}
	return printed, printer.finish()
}

func compareStrings(a, b []string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := strings.Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}

func warnMissingKeys(w io.Writer, keys []parsedKey, missing []bool) {
	if w == nil {
		return
	}
	set := map[string]bool{}
	for i, k := range keys {
		if missing[i] {
			var parts []string
			for _, e := range k {
				switch e.kind {
				case keyName, keyOther:
					parts = append(parts, e.name)
				case keyIndex:
					parts = append(parts, itoa(e.index))
				case keySlice:
					parts = append(parts, "None")
				}
			}
			set[strings.Join(parts, ".")] = true
		}
	}
	if len(set) == 0 {
		return
	}
	var names []string
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "WARNING: The following filter keys were not present in any resource : %s\n", strings.Join(names, ", "))
}

// flattenRecords is display_taps.Flattener for one slice key: each record
// becomes one record per item of the list at key, with the list replaced by
// the item; an empty list drops the record, a non-list value replaces it.
func flattenRecords(records []any, key parsedKey) ([]any, error) {
	var out []any
	for _, r := range records {
		ser, err := makeSerializable(r)
		if err != nil {
			return nil, err
		}
		items, ok := getKey(ser, key).([]any)
		if !ok {
			out = append(out, getKey(ser, key))
			continue
		}
		items = append([]any(nil), items...)
		if len(key) == 0 {
			return nil, fmt.Errorf("cannot flatten the resource itself")
		}
		child := key[len(key)-1]
		for _, item := range items {
			var parent any = ser
			if len(key) > 1 {
				parent = getKey(ser, key[:len(key)-1])
			}
			switch p := parent.(type) {
			case map[string]any:
				if child.kind != keyName {
					return nil, fmt.Errorf("TypeError: flatten key [%s] does not name a dict item", key.String())
				}
				p[child.name] = item
			case []any:
				if child.kind != keyIndex {
					return nil, fmt.Errorf("TypeError: list indices must be integers or slices, not str (flatten key [%s])", key.String())
				}
				i := child.index
				if i < 0 {
					i += len(p)
				}
				if i >= 0 && i < len(p) {
					p[i] = item
				}
			default:
				return nil, fmt.Errorf("TypeError: flatten key [%s] has no parent to set", key.String())
			}
			rec, err := makeSerializable(ser)
			if err != nil {
				return nil, err
			}
			out = append(out, rec)
		}
	}
	return out, nil
}
