package rowcodec

import (
	"bytes"
	"strings"
	"testing"

	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"google.golang.org/protobuf/proto"
)

func TestEncodeIsDeterministic(t *testing.T) {
	// Map entries are where a plain Marshal may differ from run to run.
	p := &resourcemanagerpb.Project{Name: "projects/1", ProjectId: "p", Labels: map[string]string{}}
	for i := range 50 {
		p.Labels[strings.Repeat("k", i+1)] = "v"
	}
	first, err := Encode("sqlite", "project", p)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		b, err := Encode("sqlite", "project", p)
		if err != nil || !bytes.Equal(b, first) {
			t.Fatalf("Encode again: %x, %v; want %x", b, err, first)
		}
	}
	got, err := Decode("sqlite", "project", first, &resourcemanagerpb.Project{})
	if err != nil || !proto.Equal(got, p) {
		t.Fatalf("Decode = %v, %v; want %v", got, err, p)
	}
}

func TestCodecErrorsNameBackendAndKind(t *testing.T) {
	// proto3 strings must be UTF-8: the one way a message fails to encode.
	bad := &resourcemanagerpb.Project{ProjectId: "p", DisplayName: "\xff"}
	if _, err := Encode("postgres", "project", bad); err == nil || !strings.HasPrefix(err.Error(), "postgres: encode project: ") {
		t.Errorf("Encode of invalid UTF-8: %v", err)
	}
	got, err := Decode("sqlite", "job", []byte{0xff, 0xff}, &resourcemanagerpb.Project{})
	if err == nil || !strings.HasPrefix(err.Error(), "sqlite: decode job: ") || got != nil {
		t.Errorf("Decode of garbage = %v, %v; want nil and an error naming sqlite and job", got, err)
	}
}

func TestNonNil(t *testing.T) {
	if b := NonNil(nil); b == nil || len(b) != 0 {
		t.Errorf("NonNil(nil) = %#v, want an empty non-nil slice", b)
	}
	in := []byte("x")
	if b := NonNil(in); &b[0] != &in[0] {
		t.Error("NonNil copied a non-nil slice")
	}
}
