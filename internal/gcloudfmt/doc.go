// Package gcloudfmt prints resources exactly as gcloud's resource printers
// do, so that oidcron's gcloud-shaped commands produce byte-for-byte the
// output of the real gcloud for the same data and flags.
//
// It is a port of gcloud's core/resource package (resource_printer,
// yaml_printer, json_printer, table_printer, csv_printer,
// flattened_printer, resource_projector, resource_projection_parser,
// resource_lex, resource_filter, resource_expr, resource_property,
// resource_transform) and of the display taps of calliope/display.py, with
// the YAML emitter of the ruamel.yaml version gcloud vendors.
//
// # Entry points
//
// Print(w, v, isList, defaultFormat, opts) prints a JSON-shaped value;
// Display does the same and reports whether any record was printed (for
// gcloud's "Listed 0 items."); ToValue turns API structs into a JSON-shaped
// value. Options mirror the global flags --format, --flatten, --filter,
// --limit and --sort-by, plus Transforms for command-specific transforms,
// TermWidth for :wrap columns and Warnings for gcloud's stderr warnings.
//
// # Processing, as gcloud's Displayer does it
//
//   - The format is the command's default format, or "DEFAULT EXPLICIT"
//     when --format is given (gcloud's composition: the explicit name,
//     attributes and columns win; keys already in the default projection
//     keep their labels and transforms, so --format='table(name)' on a list
//     whose default shows name.basename() still shows the base name, while
//     --format=json prints the raw resource).
//   - --sort-by adds :(key:sort=N[:reverse]) attributes to the format.
//   - Taps, in order: flatten, filter, sort, limit. A single (non-list)
//     resource becomes a one-record list when any of flatten, filter or
//     limit is given, so its YAML gets "---" and its JSON brackets.
//   - Flatten (bindings[].members): one record per list item with the list
//     replaced by the item; an empty list drops the record; a key that is
//     not a list replaces the record by its value. Records are serialized
//     copies (None-valued keys dropped).
//   - Sort: by Python str() of each key's value, stable, "~" descending,
//     "[]" meaning "[0]". Tables additionally sort rows by any column whose
//     key is a sort key (numbers first, then by the cell text).
//
// # Formats
//
//   - yaml, default: ruamel.yaml safe dump as gcloud configures it: keys
//     sorted, block style, list items at the parent key's indentation,
//     "---" before each record of a list, {} and [] for empty collections,
//     null, true/false, integers, floats via gcloud's float() transform,
//     plain strings unless they would read back as another type (YAML 1.2
//     resolvers: true, 123, 1.5, 2019-05-01T12:00:00.123Z, = and the empty
//     string are single-quoted; yes, no, on and off stay plain) or start or
//     end with indicators or spaces; strings containing a single quote or
//     special characters are double-quoted with YAML escapes; strings with
//     newlines are literal blocks (|, |-, |+, |2-); lines fold at spaces
//     past column 80; keys of 128+ characters use the "? key" form; root
//     scalars print on their own indented line. Printer attribute
//     null=STRING.
//   - json: json.dumps(indent=2, sort_keys=True, ensure_ascii=False); a list
//     prints as a JSON array ([] when empty), a single resource by itself.
//   - table: upper-case ANGRY_SNAKE_CASE labels derived from the last key
//     name (disambiguated leftwards: name, last.name -> NAME, LAST_NAME),
//     columns padded to the widest cell and separated by two spaces, no
//     trailing spaces, multi-line cells split over lines; attributes
//     no-heading, pad=N, title=T, box and all-box (Unicode box characters,
//     or +-| with ascii), margin=N, width=N; column attributes label=,
//     sort=, reverse, align=, width=, optional and wrap (wrapped to
//     Options.TermWidth, 80 when unset, gcloud's fallback when it cannot ask
//     a terminal).
//   - csv: heading of lower-cased labels, "," separator, "..." quoting;
//     value: no heading, tab separator, no quoting; get: value without
//     default transforms. Lists join with ";", dicts as k=v;k=v. Attributes
//     delimiter=, separator=, terminator=, no-heading, quote, no-quote.
//   - flattened, text: one "key.path: value" line per leaf, aligned.
//   - none, disable: no output.
//
// Cells and values print as Python would: str() of lists and dicts in
// tables and flattened output (['a', 'b'], {'k': 'v'}), True/False/None.
//
// # Projections
//
// Keys: a.b.c, a[N], a[-1], a[] (slice), a["quoted.name"], camelCase /
// snake_case variants, implicit slices (bindings.role on a list of
// bindings), metadata lists (metadata.items.KEY), "." for the whole
// resource, label aliases. Key attributes :label=, :sort=, :reverse,
// :align=, :width=, :optional, :wrap, :alias=, and attribute-only groups
// ":(...)". Transforms: always, basename, collection, color (plain text),
// count, date (strftime with gcloud's %Nf, %Ez, %Oz), decode, duration
// (seconds, "3.5s" and ISO 8601 forms, calendar units up to days), encode,
// enum (no enum tables: undefined), error, extract, fatal, filter, firstof,
// flatten, float, format ("{0} ({1})", a, b or key.format("{0}")), group,
// iso, join, len, list, lower, map / * shorthand, notnull, regex,
// resolution, scope, segment, size, slice, sort, split, sub, trailoff,
// upper, uri, yesno, plus Options.Transforms.
//
// # Filters
//
// key:value (case-insensitive substring; value* prefix, *value suffix,
// a*b glob, * any non-empty), key=value and key!=value (case-insensitive
// whole value), <, <=, >, >= (numbers numerically, RFC 3339 timestamps as
// times, else strings), ~ and !~ (unanchored regular expressions), list
// operands key:(a b), NOT, -term, AND, OR (parentheses required when
// mixed), implicit AND, (...) grouping, transforms on keys, bare words
// (any value anywhere contains the word), numeric and true/false operand
// matching as gcloud does. Matching uses gcloud's current (not its
// announced future) semantics.
//
// # Known gaps
//
// Dicts are Go maps, so where gcloud keeps API field order (str() of a dict
// in a table cell, slices over dict keys) keys come sorted instead; every
// printed YAML/JSON mapping is sorted in gcloud too. Integral JSON numbers
// print as integers unless the JSON text had a fraction (json.Number "1.0"),
// since a float64 cannot tell 1 from 1.0 (API int64 fields are strings
// anyway). Regular expressions use Go RE2 syntax. Not implemented: the
// config, diff, list, multi and object printers, table subformats
// (:format=), the if() and synthesize() transforms, YAML version=
// directives, colors, pagers and --page-size. Date parsing accepts the RFC
// 3339 / ISO 8601 forms, not everything dateutil does (no "January 2016",
// no relative -P1M). Where gcloud itself would crash (NOT (), a format()
// recursing through an alias, absurd widths) an error or a bounded value is
// returned instead.
package gcloudfmt
