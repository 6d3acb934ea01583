// Package gcloudfmt prints resources the way gcloud does, so that
// oidcron's gcloud-shaped commands write byte for byte what the real gcloud
// writes for the same data and flags: the yaml, json, table, csv, value,
// get, flattened and none formats, projections with transforms, --flatten,
// --filter, --limit and --sort-by.
//
// # Entry points
//
// Print(w, v, isList, defaultFormat, opts) prints a JSON-shaped value;
// Display does the same and reports whether any record was printed (for
// "Listed 0 items."); ToValue turns API structs into a JSON-shaped value.
// Options carry the global flags --format, --flatten, --filter, --limit and
// --sort-by, plus Transforms for command-specific transforms, TermWidth for
// :wrap columns and Warnings for the warnings gcloud writes to stderr.
//
// # Steps
//
//   - The format is the command's default format, or "DEFAULT EXPLICIT"
//     when --format is given. The explicit printer name, attributes and
//     columns win; keys already in the default keep their labels and
//     transforms, so --format='table(name)' on a list whose default shows
//     name.basename() still shows the base name, while --format=json prints
//     the resource as it is.
//   - --sort-by adds :(key:sort=N[:reverse]) attributes to the format.
//   - Then, in order: flatten, filter, sort, limit. A single resource is
//     treated as a list of one when --flatten, --filter or --limit is given,
//     so its YAML starts with "---" and its JSON is an array.
//   - Flatten (bindings[].members) makes one record per list item, the list
//     replaced by the item; a record with an empty list is dropped, one
//     where the key is not a list is replaced by the key's value. Records
//     are copies without null-valued keys.
//   - Sort compares the text (Python str()) of each key's value, keeps the
//     order of equal records, "~" sorting descending and "[]" meaning
//     "[0]". Tables also order their rows by columns that are sort keys
//     (numbers first, then by the cell text).
//
// # Formats
//
//   - yaml (and default): block style, keys sorted, list items at their
//     key's indentation, "---" before each record of a list, {} and [] for
//     empty collections, null, true/false, integers, floats with 6
//     significant digits. Strings are plain unless they would read back as
//     another type under YAML 1.2 (true, 123, 1.5, 2019-05-01T12:00:00Z,
//     = and the empty string are single-quoted; yes, no, on and off stay
//     plain) or start or end with indicators or spaces; strings with a
//     single quote or characters needing escapes are double-quoted;
//     multi-line strings are literal blocks (|, |-, |+, |2-); long lines
//     fold at a space past column 80; keys of 128 or more characters use
//     "? key". A scalar record is written indented on its own line.
//     Attribute null=TEXT prints nulls as TEXT.
//   - json: two-space indentation, keys sorted, non-ASCII characters as
//     they are; a list prints as one array ("[]" when empty), a single
//     resource as one value.
//   - table: upper snake case labels from the key's last name, with more
//     names prepended to tell columns apart (name, last.name -> NAME,
//     LAST_NAME); columns as wide as their widest cell, two spaces apart,
//     no trailing spaces, multi-line cells over several lines. Attributes
//     no-heading, pad=N, title=T, box and all-box (Unicode lines, +-| with
//     ascii), margin=N, width=N; column attributes label=, sort=, reverse,
//     align=, width=, optional and wrap (to Options.TermWidth, 80 when
//     unset, as gcloud does when it cannot ask the terminal).
//   - csv: a heading of lower-cased labels, "," between fields, "..."
//     quoting where needed; value: no heading, tabs, no quoting; get: value
//     without the default format's transforms. Lists are joined with ";",
//     dicts written as k=v;k=v. Attributes delimiter=, separator=,
//     terminator=, no-heading, quote, no-quote.
//   - flattened, text: one "key.path: value" line per leaf, aligned.
//   - none, disable: nothing.
//
// Table and flattened cells show values as Python's str() does:
// ['a', 'b'], {'k': 'v'}, True, False, None.
//
// # Projections
//
// Keys: a.b.c, a[N], a[-1], a[] (every item), a["quoted.name"], camelCase
// or snake_case spellings, bindings.role on a list of bindings (every
// item's role), metadata lists (metadata.items.KEY), "." for the whole
// resource, labels used as aliases. Key attributes :label=, :sort=,
// :reverse, :align=, :width=, :optional, :wrap, :alias=, and :(...) parts
// that only add attributes.
//
// Transforms: basename, date (strftime, with %Nf for N fraction digits and
// %Ez / %Oz for RFC 3339 offsets), firstof, flatten, float, format
// ("{0} ({1})", a, b or key.format("{0}")), iso, join, len, list, lower,
// upper, scope, segment, slice, sort, split, yesno, always, map and its *
// shorthand (a[].*basename()), and the command's own Options.Transforms.
// gcloud's other built-in transforms (collection, color, count, decode,
// duration, encode, enum, error, extract, fatal, filter, group, if,
// notnull, regex, resolution, size, sub, synthesize, trailoff, uri) are
// not provided: oidcron's formats do not use them, and naming one is an
// "Unknown transform function" error.
//
// # Filters
//
// key:value (case-insensitive substring; value* prefix, *value suffix,
// a*b both, * any non-empty value), key=value and key!=value
// (case-insensitive whole value), <, <=, >, >= (numbers as numbers, RFC
// 3339 timestamps as times, anything else as text), ~ and !~ (regular
// expressions, not anchored), key:(a b c) lists, NOT, -term, AND, OR (one
// of them per parenthesis level), adjacent terms ANDed, (...) grouping,
// transforms on keys, bare words (some value contains the word), and the
// numeric and true/false operand rules gcloud applies today.
//
// # Known gaps
//
// Dicts are Go maps, so where gcloud keeps API field order (str() of a dict
// in a table cell, a[] over a dict) keys come sorted instead; printed YAML
// and JSON mappings are sorted in gcloud too. Integral JSON numbers print
// as integers unless the JSON text had a fraction (json.Number "1.0"),
// since a float64 cannot tell 1 from 1.0 (API int64 fields are strings
// anyway). Regular expressions use Go RE2 syntax. Not implemented: the
// config, diff, list, multi and object printers, table column formats
// (:format=), YAML version= directives, colors, pagers and --page-size.
// Dates are read in the RFC 3339 / ISO 8601 forms only. Where gcloud
// itself would crash (NOT (), a format() recursing through an alias, absurd
// widths) an error or a bounded value is returned instead.
package gcloudfmt
