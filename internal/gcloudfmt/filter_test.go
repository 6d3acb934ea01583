package gcloudfmt

import (
	"errors"
	"strings"
	"testing"
)

// reportJob is a Cloud Scheduler job as oidcron stores it, with a few extra
// fields so that every value type a filter meets is present: strings of
// each letter case, an integer, a float, booleans, null, a timestamp with
// an offset, lists and dicts of strings and of numbers, and quotes.
const reportJob = `{
  "name": "projects/demo-project/locations/europe-west1/jobs/nightly-report",
  "description": "Builds the nightly report",
  "schedule": "0 3 * * 1-5",
  "state": "ENABLED",
  "region": "europe-west1",
  "displayState": "ReTrying",
  "owner": "dataplatform",
  "target": "pubsub or http",
  "attempts": 4,
  "successRate": 0.75,
  "paused": false,
  "legacy": true,
  "lastError": null,
  "lastAttemptTime": "2024-03-10T02:00:00.250+01:00",
  "weekdays": ["mon", "Tue", "WED", "thuRSday"],
  "retryDelays": [5, 10, 2.5],
  "labels": {"team": "Data", "tier": "gold", "env": "PROD"},
  "backoff": {"5": "short", "10": "Medium", "2.5": "LONG"},
  "costs": {"cpu": 3, "ram": 12, "disk": 0.5},
  "motto": "say \"hi there\"",
  "remark": "it's done",
  "httpTarget": {"oidcToken": {"serviceAccountEmail": "invoker@demo-project.iam.gserviceaccount.com", "audience": "https://report"}}
}`

type filterCase struct {
	expr string
	want int // 1 match, 0 no match, -1 error (when compiling or matching)
}

// filterSpec is the projection the filters are compiled against: a few
// aliases and two custom transforms, words() (number of words in its
// argument, else in the value) and fail() (always an error).
func filterSpec(t testing.TB) *projSpec {
	t.Helper()
	symbols := map[string]*transformDef{
		"words": customTransform("words", func(v any, args []string, _ map[string]string) (any, error) {
			if len(args) > 0 {
				return int64(len(strings.Fields(args[0]))), nil
			}
			return int64(len(strings.Fields(pyStr(v)))), nil
		}),
		"fail": customTransform("fail", func(any, []string, map[string]string) (any, error) {
			return nil, errors.New("fail() always fails")
		}),
	}
	spec, err := parseProjection("(labels:alias=l, attempts:alias=n, successRate:alias=r, httpTarget.oidcToken:alias=tok)", symbols)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func matchFilter(t *testing.T, expr string, resource any) (bool, error) {
	t.Helper()
	f, err := compileFilter(expr, filterSpec(t))
	if err != nil {
		return false, err
	}
	return f.match(resource)
}

func runFilterCases(t *testing.T, resource string, cases []filterCase) {
	t.Helper()
	r, err := normalize(decodeJSON(t, resource))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		got, err := matchFilter(t, c.expr, r)
		switch {
		case c.want == -1:
			if err == nil {
				t.Errorf("%q: want an error, got %v", c.expr, got)
			}
		case err != nil:
			t.Errorf("%q: %v", c.expr, err)
		case got != (c.want == 1):
			t.Errorf("%q = %v, want %v", c.expr, got, c.want == 1)
		}
	}
}

func TestFilterEmptyMatchesEverything(t *testing.T) {
	runFilterCases(t, reportJob, []filterCase{{"", 1}, {"   ", 1}})
}

// Integers compare as numbers for every operator.
func TestFilterIntegers(t *testing.T) {
	runFilterCases(t, reportJob, []filterCase{
		{"attempts:4", 1}, {"attempts:5", 0}, {"attempts:-4", 0}, {"attempts:04", 1}, {"attempts:4.0", 1},
		{"-attempts:4", 0}, {"-attempts:5", 1}, {"NOT attempts:4", 0}, {"NOT attempts:5", 1},
		{"attempts=4", 1}, {"attempts=4.0", 1}, {"attempts=5", 0}, {"-attempts=4", 0}, {"NOT attempts=-4", 1},
		{"attempts!=4", 0}, {"attempts!=5", 1}, {"-attempts!=4", 1}, {"NOT attempts!=5", 0},
		{"attempts<5", 1}, {"attempts<4", 0}, {"attempts<-1", 0}, {"-attempts<4", 1},
		{"attempts<=5", 1}, {"attempts<=4", 1}, {"attempts<=3", 0},
		{"attempts>=5", 0}, {"attempts>=4", 1}, {"attempts>=-1", 1},
		{"attempts>5", 0}, {"attempts>4", 0}, {"attempts>3", 1}, {"NOT attempts>3", 0}, {"attempts>3.9", 1},
		// A float value against int and float operands.
		{"successRate>0.5", 1}, {"successRate<1", 1}, {"successRate=0.75", 1}, {"successRate:0.75", 1}, {"successRate>=0.8", 0},
	})
}

// A numeric operand against a string value compares the strings; an
// absent key compares as the empty string.
func TestFilterNumericOperandOnStrings(t *testing.T) {
	runFilterCases(t, reportJob, []filterCase{
		{"state>1", 1}, {"state<1", 0}, {"missing>1", 0}, {"missing<1", 1}, {"missing=1", 0}, {"missing<=a", 1},
	})
}

// true/false operands match booleans and 1/0; null matches only the text
// "null" and the empty operand.
func TestFilterBooleansAndNull(t *testing.T) {
	runFilterCases(t, reportJob, []filterCase{
		{"lastError:0", 0}, {"lastError:false", 0}, {"lastError:true", 0}, {"lastError:*", 0}, {"lastError=null", 1},
		{"paused:0", 1}, {"paused:false", 1}, {"paused:FALSE", 1}, {"paused:1", 0}, {"paused:true", 0},
		{"legacy:0", 0}, {"legacy:false", 0}, {"legacy:1", 1}, {"legacy:TRUE", 1}, {"legacy:true", 1},
		{"lastError=0", 0}, {"paused=0", 1}, {"paused=false", 1}, {"paused=1", 0},
		{"legacy=1", 1}, {"legacy=true", 1}, {"legacy=0", 0}, {"legacy!=false", 1},
	})
}

// '=' matches the whole value, ignoring case.
func TestFilterEquals(t *testing.T) {
	runFilterCases(t, reportJob, []filterCase{
		{"region=europe-west1", 1}, {"region=EUROPE-WEST1", 1}, {"region=europe", 0}, {"region=west1", 0},
		{"displayState=retrying", 1}, {"displayState=ReTrying", 1}, {"displayState=Retry", 0},
		{"state=enabled", 1}, {"state=ENABLED", 1}, {"state=ENABLE", 0},
		{"missing=enabled", 0}, {"missing=", -1},
	})
}

// ':' is a case-insensitive substring match.
func TestFilterHas(t *testing.T) {
	runFilterCases(t, reportJob, []filterCase{
		{"region:europe", 1}, {"region:WEST", 1}, {"region:pe-we", 1}, {"region:asia", 0},
		{"displayState:TRY", 1}, {"displayState:ing", 1}, {"state:abl", 1},
		{"missing:abl", 0}, {"missing:ENABLED", 0},
	})
}

// '*' anchors a ':' pattern: abc* prefix, *abc suffix, a*c both ends, and
// '*' alone matches any non-empty value.
func TestFilterHasGlobs(t *testing.T) {
	runFilterCases(t, reportJob, []filterCase{
		{"owner:data*", 1}, {"owner:*form", 1}, {"owner:d*m", 1}, {"owner:DATA*FORM", 1}, {"owner:plat", 1},
		{"owner:plat*", 0}, {"owner:*plat", 0}, {"owner:*data", 0}, {"owner:form*", 0}, {"owner:d*x", 0},
		{"owner:*", 1}, {"missing:*", 0}, {"region:e*1", 1}, {"region:*-west1", 1},
		{"owner:d*t*m", -1},
	})
}

// (a b c) operands match when any item does; AND/OR/NOT words inside the
// list are ignored and commas, spaces, tabs and newlines separate items.
func TestFilterListOperands(t *testing.T) {
	runFilterCases(t, reportJob, []filterCase{
		{"region:(europe, asia)", 1}, {"region:(ASIA, Europe)", 1}, {"region:(asia us)", 0},
		{"state:(paused enabled)", 1}, {"missing:(a b)", 0},
		{"region:(asia OR europe)", 1}, {"region:(asia OR us)", 0},
		{"target:(pubsub OR http)", 1}, {"target:(grpc OR tcp)", 0},
		{"owner:(d* OR x*)", 1}, {"owner:(x* OR *m)", 1}, {"owner:(x* OR y*)", 0},
		{"region:(  asia  europe  )", 1}, {"region:(asia\neurope)", 1}, {"region:(asia,\teu*)", 1},
		{"region=(asia europe-west1)", 1}, {"region=(europe)", 0}, {"state=(Paused,Enabled)", 1},
	})
}

// '~' and '!~' are case-sensitive unanchored regular expressions.
func TestFilterRegexp(t *testing.T) {
	runFilterCases(t, reportJob, []filterCase{
		{"region~^europe", 1}, {"region~west1$", 1}, {"region~^WEST", 0}, {"region~[0-9]", 1},
		{"region!~[0-9]", 0}, {"region!~^asia", 1}, {"state~^[A-Z]+$", 1}, {"state!~[a-z]", 1},
		{`successRate~^0\.7`, 1}, {"r~75$", 1},
		{"state~[", -1}, {"state~*", -1}, {"state~)", -1},
	})
}

// Quoted operands keep their spaces; '*' in them still globs for ':'.
func TestFilterQuotedOperands(t *testing.T) {
	runFilterCases(t, reportJob, []filterCase{
		{`description:"nightly report"`, 1}, {`description:"NIGHTLY REPORT"`, 1}, {`description:"b*t"`, 1},
		{`description:"n*t"`, 0}, {`description="builds the nightly report"`, 1}, {`description="builds the"`, 0},
		{`region:"WEST"`, 1}, {`missing:"x"`, 0}, {`state="Enabled"`, 1}, {`state='enabled'`, 1},
		// Escapes: \" and \' are the quote itself, inside or outside quotes.
		{`motto='say "hi there"'`, 1}, {`motto="say \"hi there\""`, 1}, {`motto=say\ \"hi`, 0},
		{`remark="it's done"`, 1}, {`remark=it\'s\ done`, 0}, {`remark:it\'s`, 1}, {`remark:"it's"`, 1},
		{`motto:'"hi'`, 1},
	})
}

// Lists match when any item does; dicts when any key or value does.
func TestFilterListsAndDicts(t *testing.T) {
	runFilterCases(t, reportJob, []filterCase{
		// Numbers in a list compare numerically and as text.
		{"retryDelays:5", 1}, {"retryDelays:2.5", 1}, {"retryDelays:10", 1}, {"retryDelays:7", 0},
		{"retryDelays:abc", 0}, {"retryDelays>9", 1}, {"retryDelays<2", 0},
		// A dict's keys (here numeric strings) and values are searched.
		{"backoff:5", 1}, {"backoff:2.5", 1}, {"backoff:7", 0}, {"backoff:medium", 1}, {"backoff:med*", 1},
		{"backoff:*ong", 1}, {"backoff:(x, long)", 1},
		// Strings in a list.
		{"weekdays:mon", 1}, {"weekdays:MON", 1}, {"weekdays:ue", 1}, {"weekdays:t*", 1}, {"weekdays:*sday", 1},
		{"weekdays:fri", 0}, {"weekdays:5", 0}, {"weekdays:(fri, wed)", 1}, {"weekdays:(fri sat)", 0},
		// A dict of strings.
		{"labels:data", 1}, {"labels:team", 1}, {"labels:gold", 1}, {"labels:tea*", 1}, {"labels:*old", 1},
		{"labels:silver", 0}, {"labels.team:data", 1}, {"labels.tier:data", 0},
		// A dict of numbers.
		{"costs:3", 1}, {"costs:12", 1}, {"costs:0.5", 1}, {"costs:7", 0}, {"costs:ram", 1},
		// '=' needs a whole item.
		{"weekdays=tue", 1}, {"weekdays=tu", 0}, {"labels=gold", 1}, {"labels=gol", 0},
		{"weekdays=(fri, wed)", 1}, {"weekdays=(fri sat)", 0}, {"retryDelays=(1 10)", 1}, {"retryDelays=(3)", 0},
		{"costs=(12)", 1}, {"costs=(  7  8 )", 0},
	})
}

// NOT binds to one term, AND and OR are left to right and may not be mixed
// without parentheses, and adjacent terms (an implicit AND) bind loosest.
func TestFilterLogic(t *testing.T) {
	runFilterCases(t, reportJob, []filterCase{
		{"attempts:1 attempts:1 OR attempts:4", 0}, {"(attempts:1 attempts:1) OR attempts:4", 1},
		{"attempts:4 attempts:1 OR attempts:4", 1}, {"attempts:1 OR attempts:4 attempts:4", 1},
		{"attempts:4 OR attempts:1 attempts:1", 0}, {"attempts:4 OR (attempts:1 attempts:1)", 1},
		{"(attempts:4 OR attempts:4) AND attempts:1", 0}, {"attempts:4 AND (attempts:1 OR attempts:4)", 1},
		{"state:enabled AND (paused:true OR legacy:true)", 1},
		{"NOT paused:true AND legacy:true", 1}, {"NOT (paused:false OR legacy:true) AND attempts:4", 0},
		{"NOT (paused:true OR lastError:*) AND attempts:4", 1},
		{"(attempts>0 AND successRate<0) OR attempts>0", 1}, {"(attempts>0 AND successRate<0) OR attempts<0", 0},
		{"NOT attempts<0 OR (attempts<0 AND successRate<0)", 1}, {"(NOT attempts<0 AND successRate>0) OR attempts<0", 1},
		{"attempts:4 AND attempts:4 AND attempts:1", 0}, {"attempts>1 AND attempts:4 AND attempts<5", 1},
		{"attempts:1 OR attempts:4 OR attempts:5", 1}, {"attempts<1 OR -attempts:4 OR attempts>5", 0},
		{"(state:paused OR state:enabled) AND (region:asia OR region:europe)", 1},
		{"(state:paused OR state:enabled) AND (region:asia OR region:us)", 0},
		{"attempts=4 successRate=0.75", 1}, {"attempts=4 ( successRate=0.75 )", 1}, {"( attempts=4 successRate=0.75 )", 1},
		{"attempts=4 OR successRate=0", 1}, {"(attempts:4 AND region:eu) OR state:x", 1},
		// Mixing AND and OR on one level is an error, even across adjacent terms.
		{"attempts>0 AND successRate>0 OR attempts>0", -1}, {"attempts>0 OR attempts>0 AND successRate>0", -1},
		{"NOT attempts>0 AND successRate>0 OR attempts>0", -1}, {"attempts:4 OR attempts:4 AND attempts:4", -1},
		{"attempts:4 AND region:eu attempts:1 OR state:x", -1},
	})
}

// Spaces around operators and after - and NOT are insignificant.
func TestFilterSpaces(t *testing.T) {
	runFilterCases(t, reportJob, []filterCase{
		{"attempts  :  4  ", 1}, {" attempts :  4", 1}, {"-  attempts:4", 0}, {"  -   attempts :  4", 0},
		{"NOT    attempts  :  4  ", 0}, {"  NOT   attempts :  4", 0}, {"state = enabled", 1}, {"region : west", 1},
	})
}

// Transforms apply to keys; a call with no key is a term of its own.
func TestFilterTransforms(t *testing.T) {
	runFilterCases(t, reportJob, []filterCase{
		{"region.len():12", 1}, {"region.len()=12", 1}, {"region.len()<12", 0}, {"weekdays.len()=4", 1},
		{"name.basename()=nightly-report", 1}, {"name.basename():night*", 1}, {"name.segment(3)=europe-west1", 1},
		{"description.words()=4", 1}, {"description.words()>4", 0}, {"attempts.fail()=0", -1},
		{"words(one two three)=3", 1}, {"words(junk)", 1}, {"words(junk)=1", 1},
		// A function name followed by a space is a word, not a call.
		{"words", 0}, {"words (nightly)", 0}, {"words OR (nightly)", 1}, {"words OR nightly", 1}, {"words OR (xyz)", 0},
		{"region.nosuch()=x", -1}, {"nosuch(x)", -1},
	})
}

// A bare word matches when any value anywhere in the resource contains it
// (keys are not searched).
func TestFilterBareWords(t *testing.T) {
	runFilterCases(t, reportJob, []filterCase{
		{"nightly", 1}, {"NIGHTLY", 1}, {"europe", 1}, {"gold", 1}, {"mon", 1}, {"0.75", 1}, {"true", 1},
		{"xyz", 0}, {"team", 0}, {"nightly xyz", 0}, {"nightly OR xyz", 1}, {"xyz zzz", 0},
		{"(nightly)", 1}, {"nightly (europe)", 1}, {"(nightly) (gold)", 1},
		// Malformed keys are bare words too.
		{".", 1}, {"..", 0}, {"...", 0}, {".foo", 0}, {"foo.", 0}, {"foo..bar", 0},
	})
}

// Aliases (from :alias= and labels of the projection) stand for keys.
func TestFilterAliases(t *testing.T) {
	runFilterCases(t, reportJob, []filterCase{
		{"n=4 OR r=0.75", 1}, {"n=4 r=0.75", 1}, {"( n=4 ) r=0.75", 1}, {"n=5", 0},
		{"l.team=data", 1}, {"l.tier:gol*", 1}, {`l.team="d*a"`, 0}, {`l.team:"d*a"`, 1},
		{"tok.audience:report", 1}, {"tok.serviceAccountEmail=invoker@demo-project.iam.gserviceaccount.com", 1},
	})
}

// Timestamps compare as times when the value looks like one.
func TestFilterTimestamps(t *testing.T) {
	runFilterCases(t, reportJob, []filterCase{
		{"lastAttemptTime.date(%Y)=2024", 1}, {"lastAttemptTime.date(%Y-%m)=2024-03", 1},
		{"lastAttemptTime<2024-04-01", 1}, {"lastAttemptTime>2024-04-01", 0},
		{"lastAttemptTime>=2024-03-10T01:00:00Z", 1}, {"lastAttemptTime<2024-03-10T01:00:00Z", 0},
		{"lastAttemptTime<2024-03-10T01:00:01Z", 1}, {"lastAttemptTime>2024-03-10T02:00:00.100+01:00", 1},
		{"lastAttemptTime:2024-03-10", 1}, {`lastAttemptTime.date("%H:%M %Ez")="02:00 +01:00"`, 1},
	})
}

func TestFilterSyntaxErrors(t *testing.T) {
	var cases []filterCase
	for _, expr := range []string{
		"AND", "NOT", "OR", "(", ")", ":", `"`, "'", "state:", ":x", ":.foo", "NOT >1", ">1",
		"name..len()", ".name.len()", "name.len(", "name.len)", "name..x.len()",
		"state> (", "state>x (", "state )", "state> )", "state>x )", `state:"x`, "state:'x", `state:\"x"`,
		"attempts<(1)", "attempts>(1, 2)", "state!x", "state!!x", "state!:x", "state!<x", "state!>x", "state:!x",
		"state::x", "state:=x", "state:<x", "state:>x", "state=!x", "state=:x", "state==x", "state=<x", "state=>x",
		"state<!x", "state<:x", "state<<x", "state<>x", "state>!x", "state>:x", "state><x", "state>>x",
		"state:x OR", "state:x AND", "state:x NOT", "state: OR region:eu", "state: AND region:eu", "state: NOT region:eu",
		"state:x (", "state:x )", "state:x ()", "NOT ()", "(NOT )", "state:x (NOT )", "state:OR", "state=AND",
	} {
		cases = append(cases, filterCase{expr, -1})
	}
	runFilterCases(t, reportJob, cases)
}

func TestFilterSyntaxErrorMessages(t *testing.T) {
	for _, c := range []struct{ expr, want string }{
		{"state:x AND region:y OR z", "Parenthesis grouping is required when AND and OR are are combined [state:x AND region:y OR *HERE* z]."},
		{"state:", "Term operand expected [state: *HERE*]."},
		{"(state:x", "More tokens expected [(state:x *HERE*]."},
		{`state:"x`, `Unterminated ["] quote [state: *HERE* "x].`},
		{"state==x", "Malformed operator [state *HERE* ==x]."},
		{"state:x )", "Unexpected tokens [state:x *HERE* )] in expression."},
		{"region.nosuch()=x", "Unknown transform function nosuch [region.nosuch( *HERE* )=x]."},
		{"owner:d*t*m", "At most one * expected in : patterns [d*t*m]."},
	} {
		_, err := compileFilter(c.expr, filterSpec(t))
		if err == nil || err.Error() != c.want {
			t.Errorf("%q: error %v, want %q", c.expr, err, c.want)
		}
	}
}

// "key = value" with spaces, on a service account as the IAM API returns it.
func TestFilterServiceAccount(t *testing.T) {
	runFilterCases(t, `{"name": "projects/demo-project/serviceAccounts/invoker@demo-project.iam.gserviceaccount.com",
	  "email": "invoker@demo-project.iam.gserviceaccount.com", "displayName": "Scheduler invoker", "disabled": false,
	  "uniqueId": "104729345671234567890", "oauth2ClientId": "104729345671234567890", "description": null,
	  "keys": [{"keyType": "USER_MANAGED", "validAfterTime": "2024-01-01T00:00:00Z"}, {"keyType": "SYSTEM_MANAGED"}]}`, []filterCase{
		{"email = invoker@demo-project.iam.gserviceaccount.com", 1}, {"disabled = false", 1}, {"disabled = true", 0},
		{"description = null", 1}, {"displayName : invoker", 1}, {"uniqueId > 1", 1}, {"uniqueId = 104729345671234567890", 1},
		{"keys.keyType = USER_MANAGED", 1}, {"keys.keyType:system", 1}, {"keys.validAfterTime < 2025-01-01", 1},
		{"keys.keyType = GOOGLE_MANAGED", 0}, {"email:*.iam.gserviceaccount.com", 1}, {"email:invoker@*", 1},
	})
}

// Lists of dicts: key.name applies to every item, [N] picks one.
func TestFilterRepeatedValues(t *testing.T) {
	policies := []string{
		`{"etag": "A", "bindings": [{"role": "roles/owner", "members": ["user:ana@example.com", "user:bo@example.com"]},
		   {"role": "roles/viewer", "members": ["group:ops@example.com"]}, {"role": "roles/run.invoker"}]}`,
		`{"etag": "B", "bindings": [{"role": "roles/owner", "members": ["user:ana@example.com"]}, {"role": "roles/editor"}]}`,
		`{"etag": "C", "bindings": [{"role": "roles/viewer", "members": ["serviceAccount:ci@demo-project.iam.gserviceaccount.com"]}]}`,
	}
	cases := []struct {
		expr string
		want [3]bool
	}{
		{"bindings.len() > 3", [3]bool{false, false, false}},
		{"bindings[3]:*", [3]bool{false, false, false}},
		{"bindings.len() > 2", [3]bool{true, false, false}},
		{"bindings[2]:*", [3]bool{true, false, false}},
		{"bindings.len() > 1", [3]bool{true, true, false}},
		{"bindings[1]:*", [3]bool{true, true, false}},
		{"bindings.len() > 0", [3]bool{true, true, true}},
		{"bindings[0]:*", [3]bool{true, true, true}},
		{"bindings.role:owner", [3]bool{true, true, false}},
		{"bindings.role=roles/viewer", [3]bool{true, false, true}},
		{"bindings[0].role=roles/owner", [3]bool{true, true, false}},
		{"bindings[-1].role:viewer", [3]bool{false, false, true}},
		{"bindings.members:ana", [3]bool{true, true, false}},
		{"bindings.members:serviceAccount", [3]bool{false, false, true}},
		{"bindings.members:*@example.com", [3]bool{true, true, false}},
		{"bindings.members:group* OR etag=C", [3]bool{true, false, true}},
		{"NOT bindings.role:editor", [3]bool{true, false, true}},
	}
	for _, c := range cases {
		for i, p := range policies {
			r, err := normalize(decodeJSON(t, p))
			if err != nil {
				t.Fatal(err)
			}
			got, err := matchFilter(t, c.expr, r)
			if err != nil {
				t.Fatalf("%q: %v", c.expr, err)
			}
			if got != c.want[i] {
				t.Errorf("%q on policy %d = %v, want %v", c.expr, i, got, c.want[i])
			}
		}
	}
}
