package gcloudfmt

import (
	"errors"
	"testing"
	"unicode/utf8"
)

// filterResource is the resource of gcloud's resource_filter_test.py.
const filterResource = `{
  "compound": {
    "number": {"array": [1, 2, 3.14], "dictionary": {"1": "abc", "2": "Def", "3.14": "ghI"}, "value": 1234},
    "string": {"array": ["abc", "Def", "ghI", "JKL"], "dictionary": {"abc": 1, "Def": 2, "ghI": 3.14}, "value": "Compound String"}
  },
  "t": 1, "false": false, "floating": 3.14, "integer": 2, "logical": "abc or xyz", "lower": "string",
  "mixed": "StrIng", "none": null, "subject": "abcpdqxyz", "timestamp": "2016-08-11T12:34:56.789-04:00",
  "true": true, "upper": "STRING", "double": "a\" \"z", "single": "a' 'z"
}`

type filterCase struct {
	expr string
	want int // 1 true, 0 false, -1 error
}

func filterSpec(t testing.TB) *projSpec {
	t.Helper()
	symbols := map[string]*transformDef{
		"len": customTransform("len", func(v any, args []string, _ map[string]string) (any, error) {
			if len(args) > 0 && args[0] != "" {
				return int64(utf8.RuneCountInString(args[0])), nil
			}
			switch x := v.(type) {
			case string:
				return int64(utf8.RuneCountInString(x)), nil
			case []any:
				return int64(len(x)), nil
			case map[string]any:
				return int64(len(x)), nil
			}
			return int64(0), nil
		}),
		"error": customTransform("error", func(any, []string, map[string]string) (any, error) {
			return nil, errors.New("Transform function value error.")
		}),
	}
	spec, err := parseProjection("(compound.string:alias=s, floating:alias=f, integer:alias=i, compound.string.value:alias=v)", symbols)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func runFilterCases(t *testing.T, resource string, cases []filterCase) {
	t.Helper()
	r, err := normalize(decodeJSON(t, resource))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		f, err := compileFilter(c.expr, filterSpec(t))
		var got bool
		if err == nil {
			got, err = f.match(r)
		}
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

// TestFilterGcloudCases replays gcloud's resource_filter_test.py
// expectations (the evaluation gcloud currently performs).
func TestFilterGcloudCases(t *testing.T) {
	runFilterCases(t, filterResource, []filterCase{
		{"", 1},
		// integer terms
		{"integer:3", 0}, {"integer:2", 1}, {"integer:1", 0}, {"integer:-1", 0},
		{"-integer:3", 1}, {"-integer:2", 0}, {"NOT integer:3", 1}, {"NOT integer:2", 0},
		{"integer=3", 0}, {"integer=2", 1}, {"-integer=2", 0}, {"NOT integer=-1", 1},
		{"integer<3", 1}, {"integer<2", 0}, {"integer<-1", 0}, {"-integer<2", 1},
		{"integer<=3", 1}, {"integer<=2", 1}, {"integer<=1", 0},
		{"integer>=3", 0}, {"integer>=2", 1}, {"integer>=-1", 1},
		{"integer>3", 0}, {"integer>2", 0}, {"integer>1", 1}, {"NOT integer>1", 0},
		{"integer!=3", 1}, {"integer!=2", 0}, {"-integer!=2", 1}, {"NOT integer!=2", 1},
		// numeric operand mismatches
		{"string > 1.23", 0}, {"integer > 1.23", 1},
		// Boolean terms
		{"none:0", 0}, {"none:False", 0}, {"none:true", 0},
		{"false:0", 1}, {"false:False", 1}, {"false:false", 1}, {"false:1", 0}, {"false:True", 0},
		{"true:0", 0}, {"true:false", 0}, {"true:1", 1}, {"true:True", 1}, {"true:true", 1},
		{"none=0", 0}, {"false=0", 1}, {"false=false", 1}, {"false=1", 0}, {"true=1", 1}, {"true=true", 1}, {"true=0", 0},
		// equality: whole value, case-insensitive
		{"lower=ing", 0}, {"lower=Str", 0}, {"lower=string", 1}, {"lower=String", 1}, {"lower=STRING", 1},
		{"mixed=ing", 0}, {"mixed=String", 1}, {"mixed=StrIng", 1},
		{"upper=Str", 0}, {"upper=string", 1},
		{"undefined=String", 0}, {"undefined=ing", 0},
		// : string match, case-insensitive substring
		{"lower:String", 1}, {"lower:Str", 1}, {"lower:ing", 1},
		{"mixed:STRING", 1}, {"mixed:Str", 1}, {"mixed:ing", 1},
		{"upper:string", 1}, {"upper:ing", 1},
		{"undefined:STRING", 0}, {"undefined:ing", 0},
		// list operands
		{"lower:(string, error)", 1}, {"lower:(String, Error)", 1}, {"lower:(no, match)", 0},
		{"mixed:(string error)", 1}, {"upper:(No Match)", 0}, {"undefined:(string error)", 0},
		{"lower:(string OR error)", 1}, {"lower:(no OR match)", 0},
		{"logical:(string OR error)", 0}, {"logical:(abc OR XYZ)", 1}, {"logical:(ABC OR xyz)", 1},
		{"logical:(a* OR *Z)", 1}, {"logical:(aaa OR X*)", 0}, {"logical:(aaa OR *Z)", 1},
		// anchored prefix/suffix
		{"lower:*", 1}, {"lower:*ing", 1}, {"lower:S*ing", 1}, {"lower:STR*ING", 1}, {"lower:s*g", 1}, {"lower:str*", 1},
		{"undefined:*", 0}, {"undefined:*ing", 0}, {"undefined:str*", 0},
		{"subject:abc*xyz", 1}, {"subject:abc*", 1}, {"subject:abc", 1}, {"subject:*abc", 0}, {"subject:pdq*", 0},
		{"subject:pdq", 1}, {"subject:*pdq", 0}, {"subject:*", 1}, {"none:*", 0}, {"subject:xyz*", 0},
		{"subject:xyz", 1}, {"subject:*xyz", 1},
		// ~ regular expressions
		{"lower~[a-z]", 1}, {"lower~[A-Z]", 0}, {"lower~ing$", 1}, {"lower~^s.*g$", 1}, {"lower~^STRING", 0}, {"f~3.14", 1},
		{"lower!~[a-z]", 0}, {"lower!~[A-Z]", 1}, {"lower!~^st.*ng$", 0}, {"lower!~STRING$", 1},
		// quoted operands
		{`lower:"STRING"`, 1}, {`lower:"Str"`, 1}, {`lower:"Str*"`, 1}, {`lower:"rI"`, 1}, {`lower:"*ing"`, 1},
		{`undefined:"string"`, 0},
		{`compound.string.value:"Compound String"`, 1}, {`compound.string.value:"compound string"`, 1},
		{`compound.string.value:"c*g"`, 1},
		{`lower="ing"`, 0}, {`lower="StrIng"`, 1}, {`mixed="Ing"`, 0}, {`mixed="STRING"`, 1},
		{`compound.string.value="compound string"`, 1},
		// (number, string) X (list, dict)
		{"compound.number.array:1", 1}, {"compound.number.array:3.14", 1}, {"compound.number.array:5", 0},
		{"compound.number.array:abc", 0},
		{"compound.number.dictionary:1", 1}, {"compound.number.dictionary:3.14", 1}, {"compound.number.dictionary:5", 0},
		{"compound.number.dictionary:Abc", 1},
		{"compound.string.array:1", 0}, {"compound.string.array:abc", 1}, {"compound.string.array:ab", 1},
		{"compound.string.array:b", 1}, {"compound.string.array:ab*", 1}, {"compound.string.array:*bC", 1},
		{"compound.string.dictionary:3.14", 1}, {"compound.string.dictionary:5", 0}, {"compound.string.dictionary:abc", 1},
		{"compound.string.dictionary:ab", 1}, {"compound.string.dictionary:ab*", 1},
		{"compound.string.array:(ab)", 1}, {"compound.string.dictionary:(b)", 1},
		{"compound.number.array:(aaa,1,zzz)", 1}, {"compound.number.array:(aaa 1 zzz)", 1},
		{"compound.number.array:(aaa\n1\nzzz)", 1}, {"compound.number.array:(  aaa  5  zzz )", 0},
		{"compound.number.array:(  aaa  zzz )", 0},
		{"compound.string.array:(  aaa  abc  zzz )", 1}, {"compound.string.dictionary:(aaa, abc, zzz)", 1},
		{"compound.string.array=ab", 0}, {"compound.string.dictionary=ab", 0},
		{"compound.string.array=(ab)", 0},
		{"compound.number.array=(aaa 1 zzz)", 1}, {"compound.number.array=(3)", 0}, {"compound.number.array=(aaa,3,zzz)", 0},
		{"compound.number.dictionary=(1)", 1}, {"compound.number.dictionary=(  aaa  3  zzz )", 0},
		{"compound.string.array=(aaa,abc,zzz)", 1}, {"compound.string.array=(aaa ab zzz)", 0},
		{"compound.string.dictionary=(abc)", 1}, {"compound.string.dictionary=(aaa\nab\nzzz)", 0},
		// implicit AND, OR and parentheses
		{"integer:0 integer:0 OR integer:2", 0}, {"(integer:0 integer:0) OR integer:2", 1},
		{"integer:2 integer:0 OR integer:2", 1}, {"integer:2 AND (integer:0 OR integer:2)", 1},
		{"integer:0 OR integer:2 integer:2", 1}, {"integer:2 OR integer:0 integer:0", 0},
		{"integer:2 OR (integer:0 integer:0)", 1}, {"(integer:2 OR integer:2) AND integer:0", 0},
		{"integer=2 OR floating=3.14", 1}, {"integer=2 floating=3.14", 1}, {"integer=2 ( floating=3.14 )", 1},
		{"( integer=2 floating=3.14 )", 1},
		{"t:1 AND ( t:0 OR t:1 )", 1}, {"t:0 AND ( t:1 OR t:1 )", 0}, {"( t:0 OR t:1 ) AND t:1", 1},
		{"NOT t:0 AND ( t:1 OR t:0 )", 1}, {"NOT ( t:0 OR t:0 ) AND t:1", 1}, {"NOT ( t:1 OR t:0 ) AND t:1", 0},
		{"(integer>0 AND floating<0) OR integer>0", 1}, {"(integer>0 AND floating<0) OR integer<0", 0},
		{"NOT integer<0 OR (integer<0 AND floating<0)", 1}, {"(NOT integer<0 AND floating>0) OR integer<0", 1},
		{"integer>0 AND floating>0 OR integer>0", -1}, {"integer>0 OR integer>0 AND floating>0", -1},
		{"NOT integer>0 AND floating>0 OR integer>0", -1}, {"integer:2 OR integer:2 AND integer:2", -1},
		{"integer:1 AND integer:2 AND integer:3", 0}, {"integer>1 AND integer:2 AND integer<3", 1},
		{"integer:1 OR integer:2 OR integer:3", 1}, {"integer<1 OR -integer:2 OR integer>3", 0},
		{"( t:0 OR t:1 ) AND ( t:1 OR t:0 )", 1}, {"( t:1 OR t:1 ) AND ( t:0 OR t:0 )", 0},
		// spaces
		{"integer  :  2  ", 1}, {" integer :  2", 1}, {"-  integer:2", 0}, {"  -   integer :  2", 0},
		{"NOT    integer  :  2  ", 0}, {"  NOT   integer :  2", 0},
		// key transforms and global functions
		{"lower.len():6", 1}, {"lower.len()=6", 1}, {"lower.len()<6", 0}, {"integer.error()=0", -1},
		{"len(junk)", 1}, {"len(junk)=4", 1}, {"len", 0}, {"len (junk)", 0}, {"len OR (junk)", 0},
		{"len (abc)", 0}, {"len OR (abc)", 1}, {"len OR abc", 1},
		// global restrictions
		{"abc", 1}, {"pdq", 1}, {"xyz", 1}, {"aaa pdq zzz", 0}, {"aaa OR pdq OR zzz", 1}, {"aaa zzz", 0},
		{"(abc)", 1}, {"abc (pdq)", 1}, {"(abc) (pdq)", 1},
		// quotes
		{`lower="string"`, 1}, {`double=a\"" "\"z`, 1}, {`double='a" "z'`, 1}, {`single=a\'' '\'z`, 1},
		{`single="a' 'z"`, 1},
		{`v~""`, 1}, {`v~" "`, 1}, {`v~"" OR i:1`, 1}, {`v~"" AND i:1`, 0}, {`v~"" NOT i:1`, 1},
		{`v~"" NOT i:2`, 0}, {`NOT i:1 v~""`, 1}, {`v~" " AND i:2`, 1},
		// aliases
		{"i=2 OR f=3.14", 1}, {"i=2 f=3.14", 1}, {"( i=2 ) f=3.14", 1},
		{`s.value="c*g"`, 0}, {`s.value:"c*g"`, 1}, {`s.value:"C*g"`, 1}, {`s.value="Compound String"`, 1},
		{`v="c*g"`, 0}, {`v:"C*g"`, 1}, {`v="compound string"`, 1}, {`v:"Compound String"`, 1},
		// datetimes
		{"timestamp.date(%Y)=2016", 1}, {"timestamp<2016-09-01", 1}, {"timestamp>2016-09-01", 0},
		{"timestamp>=2016-08-11T16:34:56Z", 1}, {"timestamp<2016-08-11T16:34:56Z", 0},
		// bad keys make global restrictions
		{".", 1}, {"..", 0}, {"...", 0}, {".foo", 0}, {"foo.", 0}, {"foo..bar", 0},
		// syntax errors
		{"AND", -1}, {"NOT", -1}, {"OR", -1}, {"..len()", -1}, {".foo.len()", -1}, {"foo..len()", -1},
		{"foo..bar.len()", -1}, {"foo.len(", -1}, {"foo.len)", -1}, {"(", -1}, {")", -1}, {":", -1}, {"foo:", -1},
		{":bar", -1}, {":.foo", -1}, {"foo> (", -1}, {"foo>bar (", -1}, {"foo )", -1}, {"foo> )", -1},
		{"foo>bar )", -1}, {`"`, -1}, {"'", -1}, {`foo:"bar`, -1}, {"foo<(bar)", -1}, {"foo>(bar, baz)", -1},
		{"a!b", -1}, {"a!!b", -1}, {"a!:b", -1}, {"a!<b", -1}, {"a!>b", -1}, {"a:!b", -1}, {"a::b", -1}, {"a:=b", -1},
		{"a:<b", -1}, {"a:>b", -1}, {"a=!b", -1}, {"a=:b", -1}, {"a==b", -1}, {"a=<b", -1}, {"a=>b", -1}, {"a<!b", -1},
		{"a<:b", -1}, {"a<<b", -1}, {"a<>b", -1}, {"a>!b", -1}, {"a>:b", -1}, {"a><b", -1}, {"a>>b", -1},
		{`a:"b`, -1}, {"a:'b", -1}, {`a:\"b"`, -1}, {">1", -1}, {"NOT >1", -1}, {"a.foo()", -1},
		{"a:b OR", -1}, {"a:b AND", -1}, {"a:b NOT", -1}, {"a: OR b:1", -1}, {"a: AND b:1", -1}, {"a: NOT b:1", -1},
		{"a:b (", -1}, {"a:b )", -1}, {"a:b ()", -1}, {`v:"c*d s*g"`, -1}, {"v~*", -1}, {"v~)", -1},
	})
}

func TestFilterOnePlatformExamples(t *testing.T) {
	runFilterCases(t, `{"foo": "bar", "obj": {"x": 10, "y": 20}, "ids": [2, 3, 4], "required": true, "ptr": null,
	  "members": [{"name": "Joe", "age": 40}, {"name": "Jane", "age": 50}]}`, []filterCase{
		{"foo = bar", 1}, {"obj.x = 10", 1}, {"required = true", 1}, {"ptr = null", 1},
		{"members.name = Jane", 1}, {"members.age > 40", 1}, {"members.age > 50", 0}, {"ids:3", 1}, {"ids:5", 0},
	})
}

func TestFilterRepeatedValues(t *testing.T) {
	resources := []string{
		`{"name": "instance-1", "networkInterfaces": [{"accessConfigs": [{"natIP": "23.251.133.75"}, {"natIP": "23.251.133.76"}, {"foo": "bar"}], "networkIP": "10.0.0.1"}, {"accessConfigs": [{"natIP": "23.251.133.74"}], "networkIP": "10.0.0.2"}, {"bar": "foo"}]}`,
		`{"name": "instance-2", "networkInterfaces": [{"accessConfigs": [{"natIP": "23.251.133.74"}], "networkIP": "10.0.0.2"}, {"foo": "bar"}]}`,
		`{"name": "instance-3", "networkInterfaces": [{"accessConfigs": [{"natIP": "23.251.133.76"}], "networkIP": "10.0.0.3"}]}`,
	}
	cases := []struct {
		expr string
		want [3]bool
	}{
		{"networkInterfaces.len() > 3", [3]bool{false, false, false}},
		{"networkInterfaces[3]:*", [3]bool{false, false, false}},
		{"networkInterfaces.len() > 2", [3]bool{true, false, false}},
		{"networkInterfaces[2]:*", [3]bool{true, false, false}},
		{"networkInterfaces.len() > 1", [3]bool{true, true, false}},
		{"networkInterfaces[1]:*", [3]bool{true, true, false}},
		{"networkInterfaces.len() > 0", [3]bool{true, true, true}},
		{"networkInterfaces[0]:*", [3]bool{true, true, true}},
		{"networkInterfaces.networkIP:10.0.0.2", [3]bool{true, true, false}},
	}
	for _, c := range cases {
		for i, rs := range resources {
			r, err := normalize(decodeJSON(t, rs))
			if err != nil {
				t.Fatal(err)
			}
			f, err := compileFilter(c.expr, filterSpec(t))
			if err != nil {
				t.Fatalf("%q: %v", c.expr, err)
			}
			got, err := f.match(r)
			if err != nil {
				t.Fatalf("%q: %v", c.expr, err)
			}
			if got != c.want[i] {
				t.Errorf("%q on resource %d = %v, want %v", c.expr, i, got, c.want[i])
			}
		}
	}
}
