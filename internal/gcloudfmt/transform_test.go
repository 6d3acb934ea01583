package gcloudfmt

import "testing"

// fnRecord is a Cloud Functions v2 function with fields for every
// transform to work on.
const fnRecord = `[{
  "name": "projects/demo-project/locations/europe-west1/functions/nightly%2Dreport",
  "url": "https://europe-west1-demo-project.cloudfunctions.net/nightly-report",
  "zone": "https://www.googleapis.com/compute/v1/projects/demo-project/zones/europe-west1-b",
  "updateTime": "2024-03-10T02:00:00.256789+01:00",
  "epoch": 1710032400,
  "ratio": 0.123456789,
  "memoryMb": 256,
  "runtime": "python312",
  "labels": {"team": "data", "env": "prod", "tier": ""},
  "triggers": [{"event": "pubsub", "topic": "projects/demo-project/topics/nightly"}, {"event": "http", "topic": null}],
  "regions": ["us-central1", "europe-west1", "asia-east1"],
  "nested": [["a", "b"], ["c"]],
  "paused": false,
  "empty": ""
}]`

func TestTransforms(t *testing.T) {
	value := func(name, format, want string) goldenCase {
		return goldenCase{name: name, in: fnRecord, list: true, opts: Options{Format: "value(" + format + ")"}, want: want}
	}
	runGolden(t, []goldenCase{
		value("basename", `name.basename(), regions.basename(), empty.basename(undefined=none)`, "nightly%2Dreport\tus-central1;europe-west1;asia-east1\tnone\n"),
		value("segment", `name.segment(1), name.segment(-1), name.segment(9, undefined=-), name.segment(index=3)`, "demo-project\tnightly-report\t-\teurope-west1\n"),
		value("scope", `zone.scope(), name.scope(locations), url.scope(), name.scope(locations).segment(0)`, "europe-west1-b\teurope-west1/functions/nightly-report\tnightly-report\teurope-west1\n"),
		value("date", `updateTime.date(), updateTime.date("%Y-%m-%d %H:%M:%S.%3f %Ez"), updateTime.date("%H:%M %Z", tz=UTC), epoch.date("%Y-%m-%dT%H:%M:%S%Oz", tz_default=UTC), runtime.date(undefined=never)`, "2024-03-10T02:00:00\t2024-03-10 02:00:00.257 +01:00\t01:00 UTC\t2024-03-10T01:00:00+00:00\tnever\n"),
		value("iso", `updateTime.iso(), runtime.iso()`, "2024-03-10T02:00:00.257+01:00\tT\n"),
		value("float", `ratio.float(), ratio.float(3), ratio.float(2, spec=f), memoryMb.float(), runtime.float(undefined=nan)`, "0.123457\t0.123\t0.12\t256.0\tnan\n"),
		// The keys of format() reuse the columns' transforms: runtime is
		// formatted by the second column's own format().
		value("format", `format("{0}MB on {1}", memoryMb, runtime), runtime.format("<{0:>12}>"), regions.format("{1}|{0}"), format("{0!r}", labels.team)`, "256MB on <   python312>\t<   python312>\teurope-west1|us-central1\t'data'\n"),
		value("yesno", `paused.yesno(), paused.yesno(yes=on, no=off), runtime.yesno(yes=set), runtime.yesno()`, "No\toff\tset\tpython312\n"),
		value("join-list-flatten", `regions.join(), regions.join(" + "), labels.join(), labels.list(), labels.list(show=values, separator=;), triggers.flatten(), nested.flatten(separator=/)`, "us-central1/europe-west1/asia-east1\tus-central1 + europe-west1 + asia-east1\tenv/team/tier\tenv=prod,team=data,tier=\tprod;data;\tevent=pubsub,topic=projects/demo-project/topics/nightly,event=http,topic=\ta/b/c\n"),
		value("len-lower-upper", `regions.len(), labels.len(), runtime.len(), memoryMb.len(), runtime.upper(), labels.team.upper().lower()`, "3\t3\t9\t0\tPYTHON312\tdata\n"),
		value("split-slice-sort", `url.split("/").slice(2), regions.slice(1:), regions.slice(::-1), regions.sort().join(), runtime.split(y)`, "europe-west1-demo-project.cloudfunctions.net\teurope-west1;asia-east1\tasia-east1;europe-west1;us-central1\tasia-east1/europe-west1/us-central1\tp;thon312\n"),
		value("firstof", `firstof(missing, runtime), firstof(missing, gone)`, "python312\t\n"),
		value("map", `regions.map().upper(), regions.*segment(0), nested.map(2).upper(), triggers.*firstof(topic)`, "US-CENTRAL1;EUROPE-WEST1;ASIA-EAST1\tus-central1;europe-west1;asia-east1\tA;B;C\tprojects/demo-project/topics/nightly;\n"),
		value("chained-on-key-items", `triggers.topic.basename(), triggers[0].topic.segment(1)`, "nightly;\tdemo-project\n"),
		{name: "custom", in: fnRecord, list: true, want: "args=['a', 'b'];kw={'k': 'v'};value=python312\targs=[];kw={};value=14\n", opts: Options{
			Format: "value(runtime.describe(a, b, k=v), describe())",
			Transforms: map[string]TransformFunc{"describe": func(v any, args []string, kw map[string]string) (any, error) {
				if m, ok := v.(map[string]any); ok {
					v = len(m)
				}
				return map[string]any{"value": v, "args": args, "kw": kw}, nil
			}},
		}},
	})
	runGolden(t, []goldenCase{
		{name: "unknown", in: fnRecord, list: true, opts: Options{Format: "value(name.size())"},
			wantErr: "Unknown transform function size [value(name.size( *HERE* ))]."},
		{name: "too-many-arguments", in: fnRecord, list: true, opts: Options{Format: "value(name.basename(a, b))"},
			wantErr: "basename() takes at most 1 arguments (2 given)"},
		{name: "unexpected-keyword", in: fnRecord, list: true, opts: Options{Format: "value(name.segment(position=1))"},
			wantErr: "segment() got an unexpected keyword argument 'position'"},
		{name: "keyword-repeats-positional", in: fnRecord, list: true, opts: Options{Format: "value(paused.yesno(y, yes=z))"},
			wantErr: "yesno() got multiple values for argument 'yes'"},
		{name: "bad-map-level", in: fnRecord, list: true, opts: Options{Format: "value(regions.map(x).upper())"},
			wantErr: "Integer map() level expected [value(regions.map( *HERE* x).upper())]."},
		{name: "bad-segment-index", in: fnRecord, list: true, opts: Options{Format: "value(name.segment(x))"},
			wantErr: "invalid literal for int() with base 10: 'x'"},
		{name: "arguments-checked-only-when-run", in: `[{"a": ""}]`, list: true, opts: Options{Format: "value(a.map().basename(1, 2))"},
			want: "\n"},
		{name: "transform-on-missing-key", in: `[{"a": 1}]`, list: true, opts: Options{Format: "value(b.basename(), b.segment(0, undefined=x), b.len())"},
			want: "\tx\t0\n"},
	})
}
