package changefeed

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

func TestTenantOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys map[string]events.DynamoDBAttributeValue
		want string
		ok   bool
	}{
		{"tenant item", map[string]events.DynamoDBAttributeValue{"pk": events.NewStringAttribute("t-abc123#ORDER")}, "t-abc123", true},
		{"no separator", map[string]events.DynamoDBAttributeValue{"pk": events.NewStringAttribute("t-abc123")}, "", false},
		{"not a tenant id", map[string]events.DynamoDBAttributeValue{"pk": events.NewStringAttribute("USAGE#2026-12")}, "", false},
		{"binary pk", map[string]events.DynamoDBAttributeValue{"pk": events.NewBinaryAttribute([]byte("t-abc123#X"))}, "", false},
		{"no pk", map[string]events.DynamoDBAttributeValue{"sk": events.NewStringAttribute("x")}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := TenantOf(tc.keys)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("TenantOf = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestTableOf(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:dynamodb:us-east-1:123456789012:table/tessera-pooled/stream/2026-12-02T00:00:00.000": "tessera-pooled",
		"arn:aws:dynamodb:eu-west-1:123456789012:table/tessera-dev-tenant-t-x/stream/label":           "tessera-dev-tenant-t-x",
		"not an arn": "unknown",
	} {
		if got := TableOf(arn); got != want {
			t.Errorf("TableOf(%q) = %q, want %q", arn, got, want)
		}
	}
}

func rec(pk, seq string, at time.Time) events.DynamoDBEventRecord {
	return events.DynamoDBEventRecord{EventName: "INSERT", EventSourceArn: "arn:aws:dynamodb:us-east-1:1:table/tessera-pooled/stream/x",
		Change: events.DynamoDBStreamRecord{SequenceNumber: seq, ApproximateCreationDateTime: events.SecondsEpochTime{Time: at},
			Keys: map[string]events.DynamoDBAttributeValue{"pk": events.NewStringAttribute(pk), "sk": events.NewStringAttribute(seq)}}}
}

func TestRouteGroupsByTenantInBatchOrder(t *testing.T) {
	at := time.Date(2026, 12, 2, 3, 4, 5, 0, time.UTC)
	groups, skipped := route([]events.DynamoDBEventRecord{
		rec("t-aaaa#ORDER", "100", at), rec("t-bbbb#ORDER", "101", at), rec("GLOBAL#X", "102", at), rec("t-aaaa#PRODUCT", "103", at),
	})
	if skipped != 1 || len(groups) != 2 {
		t.Fatalf("groups %d skipped %d, want 2 and 1", len(groups), skipped)
	}
	a, b := groups[0], groups[1]
	if a.tenantID != "t-aaaa" || a.first != 0 || len(a.changes) != 2 || a.changes[0].Seq != "100" || a.changes[1].Seq != "103" {
		t.Fatalf("group a = %+v", a)
	}
	if b.tenantID != "t-bbbb" || b.first != 1 || len(b.changes) != 1 {
		t.Fatalf("group b = %+v", b)
	}
}

func TestObjectKeyIsAFunctionOfTheRecordsAndSortsBySequence(t *testing.T) {
	at := time.Date(2026, 12, 2, 3, 4, 5, 0, time.UTC)
	c := func(seq string) Change { return Change{Seq: seq, Time: at} }
	k1 := ObjectKey("t-aaaa", "tessera-pooled", []Change{c("9"), c("12")})
	if k1 != ObjectKey("t-aaaa", "tessera-pooled", []Change{c("9"), c("12")}) {
		t.Fatal("the same records got two keys")
	}
	if !strings.HasPrefix(k1, "t-aaaa/changes/2026-12-02T03/tessera-pooled-") || !strings.HasSuffix(k1, ".jsonl") {
		t.Fatalf("key %q", k1)
	}
	k2 := ObjectKey("t-aaaa", "tessera-pooled", []Change{c("10"), c("11")})
	if !(k1 < k2) { // 9 < 10 once padded
		t.Fatalf("keys do not sort by sequence: %q, %q", k1, k2)
	}
}

func TestEncodeDecodeAndDedupe(t *testing.T) {
	at := time.Date(2026, 12, 2, 3, 4, 5, 0, time.UTC)
	in := []Change{
		{Seq: "10", Table: "p", Time: at, Event: "INSERT", Keys: map[string]events.DynamoDBAttributeValue{"pk": events.NewStringAttribute("t-aaaa#X")},
			New: map[string]events.DynamoDBAttributeValue{"sealed": events.NewBinaryAttribute([]byte{1, 2, 3}), "n": events.NewNumberAttribute("2")}},
		{Seq: "9", Table: "p", Time: at, Event: "REMOVE", Keys: map[string]events.DynamoDBAttributeValue{"pk": events.NewStringAttribute("t-aaaa#Y")}},
	}
	b, err := Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Decode(strings.NewReader(string(b) + string(b))) // the same records logged twice
	if err != nil {
		t.Fatal(err)
	}
	out = Dedupe(out)
	if len(out) != 2 || out[0].Seq != "9" || out[1].Seq != "10" {
		t.Fatalf("dedupe = %+v", out)
	}
	if got := out[1].New["sealed"].Binary(); string(got) != "\x01\x02\x03" || out[1].New["n"].Number() != "2" || !out[1].Time.Equal(at) {
		t.Fatalf("round trip lost data: %+v", out[1])
	}
}
