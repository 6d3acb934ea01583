package gcloudfmt

import (
	"fmt"
	"io"
	"sort"
	"strconv"
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

// Display is Print that also reports whether any record reached the
// printer. A list command whose --format was not given follows gcloud by
// writing "Listed 0 items." to stderr when it is false.
func Display(w io.Writer, v any, isList bool, defaultFormat string, opts Options) (bool, error) {
	return display(w, v, isList, defaultFormat, opts)
}

// sortKey is one --sort-by key.
type sortKey struct {
	key     parsedKey
	reverse bool
}

func display(w io.Writer, v any, isList bool, defaultFormat string, opts Options) (bool, error) {
	format := opts.Format
	switch {
	case format == "":
		format = defaultFormat
	case defaultFormat != "":
		format = defaultFormat + " " + format
	}
	sortKeys, err := parseSortKeys(opts.SortBy)
	if err != nil {
		return false, err
	}
	if format != "" && len(sortKeys) > 0 {
		// Tables also order their rows by these keys.
		orders := make([]string, len(sortKeys))
		for i, sk := range sortKeys {
			orders[i] = fmt.Sprintf("%s:sort=%d", sk.key.String(), i+1)
			if sk.reverse {
				orders[i] += ":reverse"
			}
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
	var out printer
	var base *printerBase
	if spec.name != "" {
		if out, base, err = newPrinter(spec, w); err != nil {
			return false, err
		}
		base.termWidth = opts.TermWidth
	}
	flattenKeys, err := parseFlattenKeys(opts.Flatten)
	if err != nil {
		return false, err
	}
	var filter *compiledFilter
	if opts.Filter != "" {
		if filter, err = compileFilter(opts.Filter, spec); err != nil {
			return false, err
		}
	}
	if base != nil && base.wantsColumn && len(spec.columns) == 0 && !spec.hasAttr("disable") {
		return false, fmt.Errorf("Format [%s] requires a non-empty projection. Use key parameters to specify a projection like so `%s(foo, bar.baz)`", spec.name, spec.name)
	}

	val, err := normalize(v)
	if err != nil {
		return false, err
	}
	// A single resource becomes a one-record list when a list step applies.
	records, listed := []any(nil), false
	if l, ok := val.([]any); ok && isList {
		records, listed = l, true
	} else if isList && val == nil {
		listed = true
	}
	if !listed && (len(flattenKeys) > 0 || filter != nil || opts.Limit > 0) {
		records, listed = []any{val}, true
	}
	for _, key := range flattenKeys {
		if records, err = flattenRecords(records, key); err != nil {
			return false, err
		}
	}
	if filter != nil {
		if records, err = filterRecords(records, filter, opts.Warnings); err != nil {
			return false, err
		}
	}
	if listed && len(sortKeys) > 0 {
		sortRecords(records, sortKeys)
	}
	if opts.Limit > 0 && len(records) > opts.Limit {
		records = records[:opts.Limit]
	}

	switch {
	case out == nil:
		return false, nil
	case spec.hasAttr("disable"):
		return true, nil
	}
	printed := false
	if listed {
		for _, r := range records {
			printed = true
			if err := out.add(r, true); err != nil {
				return true, err
			}
		}
	} else if truthy(val) {
		printed = true
		if err := out.add(val, false); err != nil {
			return true, err
		}
	}
	return printed, out.finish()
}

// parseSortKeys reads --sort-by keys: "~" marks a descending key, and
// "[]" stands for the first item.
func parseSortKeys(names []string) ([]sortKey, error) {
	var keys []sortKey
	for _, name := range names {
		reverse := strings.HasPrefix(name, "~")
		name = strings.ReplaceAll(strings.TrimLeft(name, "~"), "[]", "[0]")
		k, err := newLexer(name, nil).key()
		if err != nil {
			return nil, err
		}
		keys = append(keys, sortKey{k, reverse})
	}
	return keys, nil
}

// parseFlattenKeys reads --flatten keys: each "[]" in a key flattens the
// list up to it, so a[].b[] flattens a, then a.b.
func parseFlattenKeys(names []string) ([]parsedKey, error) {
	var keys []parsedKey
	for _, name := range names {
		k, err := newLexer(name, nil).key()
		if err != nil {
			return nil, err
		}
		var prefix parsedKey
		endsInSlice := false
		for _, e := range k {
			endsInSlice = e.kind == keySlice
			if endsInSlice {
				keys = append(keys, append(parsedKey(nil), prefix...))
			} else {
				prefix = append(prefix, e)
			}
		}
		if !endsInSlice {
			keys = append(keys, append(parsedKey(nil), prefix...))
		}
	}
	return keys, nil
}

// filterRecords keeps the records the filter matches, and warns about
// filter keys that no record has.
func filterRecords(records []any, filter *compiledFilter, warnings io.Writer) ([]any, error) {
	var kept []any
	seen := make([]bool, len(filter.keys))
	for _, r := range records {
		plain, err := makeSerializable(r)
		if err != nil {
			return nil, err
		}
		for i, k := range filter.keys {
			seen[i] = seen[i] || getKey(plain, k) != nil
		}
		ok, err := filter.match(plain)
		if err != nil {
			return nil, err
		}
		if ok {
			kept = append(kept, r)
		}
	}
	warnMissingKeys(warnings, filter.keys, seen)
	return kept, nil
}

// sortRecords orders records by the str() of their sort keys' values,
// keeping the order of equal records.
func sortRecords(records []any, keys []sortKey) {
	type entry struct {
		record any
		texts  []string
	}
	entries := make([]entry, len(records))
	for i, r := range records {
		entries[i].record = r
		for _, k := range keys {
			entries[i].texts = append(entries[i].texts, pyStr(getKey(r, k.key)))
		}
	}
	sort.SliceStable(entries, func(a, b int) bool {
		for j, k := range keys {
			if c := strings.Compare(entries[a].texts[j], entries[b].texts[j]); c != 0 {
				return (c < 0) != k.reverse
			}
		}
		return false
	})
	for i, e := range entries {
		records[i] = e.record
	}
}

// warnMissingKeys writes gcloud's warning about filter keys that were in
// no record.
func warnMissingKeys(w io.Writer, keys []parsedKey, seen []bool) {
	if w == nil {
		return
	}
	missing := map[string]bool{}
	for i, k := range keys {
		if seen[i] {
			continue
		}
		parts := make([]string, len(k))
		for j, e := range k {
			switch e.kind {
			case keyIndex:
				parts[j] = strconv.Itoa(e.index)
			case keySlice:
				parts[j] = "None"
			default:
				parts[j] = e.name
			}
		}
		missing[strings.Join(parts, ".")] = true
	}
	if len(missing) == 0 {
		return
	}
	names := make([]string, 0, len(missing))
	for n := range missing {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "WARNING: The following filter keys were not present in any resource : %s\n", strings.Join(names, ", "))
}

// flattenRecords expands each record into one record per item of the list
// at key, the list replaced by the item. A record whose list is empty goes;
// one whose key holds something else is replaced by that value.
func flattenRecords(records []any, key parsedKey) ([]any, error) {
	var out []any
	for _, r := range records {
		rec, err := makeSerializable(r)
		if err != nil {
			return nil, err
		}
		items, ok := getKey(rec, key).([]any)
		if !ok {
			out = append(out, getKey(rec, key))
			continue
		}
		if len(key) == 0 {
			return nil, fmt.Errorf("cannot flatten the resource itself")
		}
		items = append([]any(nil), items...)
		last := key[len(key)-1]
		for _, item := range items {
			if err := replaceAt(rec, key, last, item); err != nil {
				return nil, err
			}
			copied, err := makeSerializable(rec)
			if err != nil {
				return nil, err
			}
			out = append(out, copied)
		}
	}
	return out, nil
}

// replaceAt sets the value at key (whose last element is last) to item.
func replaceAt(rec any, key parsedKey, last keyElem, item any) error {
	parent := rec
	if len(key) > 1 {
		parent = getKey(rec, key[:len(key)-1])
	}
	switch p := parent.(type) {
	case map[string]any:
		if last.kind != keyName {
			return fmt.Errorf("TypeError: flatten key [%s] does not name a dict item", key.String())
		}
		p[last.name] = item
	case []any:
		if last.kind != keyIndex {
			return fmt.Errorf("TypeError: list indices must be integers or slices, not str (flatten key [%s])", key.String())
		}
		i := last.index
		if i < 0 {
			i += len(p)
		}
		if i >= 0 && i < len(p) {
			p[i] = item
		}
	default:
		return fmt.Errorf("TypeError: flatten key [%s] has no parent to set", key.String())
	}
	return nil
}
