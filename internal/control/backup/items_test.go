package backup_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tessera-saas/tessera/internal/control/backup"
	"github.com/tessera-saas/tessera/internal/control/changefeed"
	"github.com/tessera-saas/tessera/internal/platform/recovery"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

const tid = "t-01hzzzzzzzzzzzzzzzzzzzzzzz"

func item(pk, sk string, attrs ...any) store.Item {
	it := store.Item{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}}
	for i := 0; i+1 < len(attrs); i += 2 {
		it[attrs[i].(string)] = attrs[i+1].(types.AttributeValue)
	}
	return it
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func TestDigestIsCanonical(t *testing.T) {
	a := item(tid+"#PRODUCT", "1", "tags", &types.AttributeValueMemberSS{Value: []string{"x", "y"}},
		"m", &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"a": s("1"), "b": s("2")}})
	b := item(tid+"#PRODUCT", "1", "m", &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"b": s("2"), "a": s("1")}},
		"tags", &types.AttributeValueMemberSS{Value: []string{"y", "x"}})
	if backup.Digest(a) != backup.Digest(b) {
		t.Error("the same item in another order digests differently")
	}
	for name, other := range map[string]store.Item{
		"value":      item(tid+"#PRODUCT", "1", "tags", &types.AttributeValueMemberSS{Value: []string{"x", "z"}}),
		"type":       item(tid+"#PRODUCT", "1", "n", &types.AttributeValueMemberN{Value: "1"}),
		"type twin":  item(tid+"#PRODUCT", "1", "n", s("1")),
		"split name": item(tid+"#PRODUCT", "1", "ab", s("c")),
		"split val":  item(tid+"#PRODUCT", "1", "a", s("bc")),
	} {
		if backup.Digest(other) == backup.Digest(a) {
			t.Errorf("%s: a different item digests the same", name)
		}
	}
	if backup.Digest(item(tid+"#PRODUCT", "1", "ab", s("c"))) == backup.Digest(item(tid+"#PRODUCT", "1", "a", s("bc"))) {
		t.Error("length prefixes missing: ab=c and a=bc digest the same")
	}
}

func TestSummarizeCountsAndChecksumsPerPartition(t *testing.T) {
	one, two := backup.Items{}, backup.Items{}
	items := []store.Item{item(tid+"#PRODUCT", "1"), item(tid+"#PRODUCT", "2"), item(tid+"#ORDER", "1", "q", s("3"))}
	for i := range items {
		if err := one.Put(items[i]); err != nil {
			t.Fatal(err)
		}
		if err := two.Put(items[len(items)-1-i]); err != nil {
			t.Fatal(err)
		}
	}
	a, b := one.Summarize(tid), two.Summarize(tid)
	if a.Checksum != b.Checksum || a.Items != 3 || a.Partitions["PRODUCT"].Items != 2 || a.Partitions["ORDER"].Items != 1 {
		t.Fatalf("summaries %+v / %+v", a, b)
	}
	if err := two.Put(item(tid+"#ORDER", "1", "q", s("4"))); err != nil {
		t.Fatal(err)
	}
	c := two.Summarize(tid)
	if c.Checksum == a.Checksum || c.Partitions["ORDER"].Checksum == a.Partitions["ORDER"].Checksum || c.Partitions["PRODUCT"] != a.Partitions["PRODUCT"] {
		t.Fatalf("a changed order: %+v vs %+v", c, a)
	}
	if err := one.Put(store.Item{"pk": s("x")}); err == nil {
		t.Error("an item without sk was accepted")
	}
}

func streamImage(t *testing.T, it store.Item) map[string]events.DynamoDBAttributeValue {
	t.Helper()
	m, err := backup.ToStream(it)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestReplay(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	p1 := item(tid+"#PRODUCT", "1", "name", s("v1"))
	p1b := item(tid+"#PRODUCT", "1", "name", s("v2"))
	user := item(tid+"#USER", "u")
	foreign := item("t-01hyyyyyyyyyyyyyyyyyyyyyyy#PRODUCT", "9")
	marker := item(tid+"#FEEDMARK", "j")
	change := func(seq, ev string, it store.Item, withNew bool) changefeed.Change {
		c := changefeed.Change{Seq: seq, Table: "pool", Time: at, Event: ev, Keys: streamImage(t, store.KeyOf(it))}
		if withNew {
			c.New = streamImage(t, it)
		}
		return c
	}
	for _, tc := range []struct {
		name    string
		start   []store.Item
		changes []changefeed.Change
		want    map[string]string // sk -> name ("" = present without name)
		applied int
	}{
		{"insert then modify", nil, []changefeed.Change{change("1", "INSERT", p1, true), change("2", "MODIFY", p1b, true)}, map[string]string{"1": "v2"}, 2},
		{"remove", []store.Item{p1}, []changefeed.Change{change("3", "REMOVE", p1, false)}, map[string]string{}, 1},
		{"remove then insert", []store.Item{p1}, []changefeed.Change{change("3", "REMOVE", p1, false), change("4", "INSERT", p1b, true)}, map[string]string{"1": "v2"}, 2},
		{"other partitions, tenants and markers ignored", nil,
			[]changefeed.Change{change("5", "INSERT", user, true), change("6", "INSERT", foreign, true), change("7", "INSERT", marker, true)}, map[string]string{}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			items := backup.Items{}
			for _, it := range tc.start {
				if err := items.Put(it); err != nil {
					t.Fatal(err)
				}
			}
			n, err := backup.Replay(items, tid, []string{"PRODUCT", "ORDER"}, tc.changes)
			if err != nil || n != tc.applied {
				t.Fatalf("Replay = %d, %v; want %d", n, err, tc.applied)
			}
			if len(items) != len(tc.want) {
				t.Fatalf("%d items, want %d", len(items), len(tc.want))
			}
			for _, it := range items {
				sk := it["sk"].(*types.AttributeValueMemberS).Value
				if name, ok := tc.want[sk]; !ok || it["name"].(*types.AttributeValueMemberS).Value != name {
					t.Errorf("item %s = %v", sk, it)
				}
			}
		})
	}
	if _, err := backup.Replay(backup.Items{}, tid, []string{"PRODUCT"}, []changefeed.Change{change("8", "MODIFY", p1, false)}); err == nil {
		t.Error("a MODIFY without a new image was replayed")
	}
}

func TestStreamFormRoundTrips(t *testing.T) {
	it := item(tid+"#ORDER", "1", "b", &types.AttributeValueMemberB{Value: []byte{0, 1, 2}}, "n", &types.AttributeValueMemberN{Value: "12.5"},
		"l", &types.AttributeValueMemberL{Value: []types.AttributeValue{s("x"), &types.AttributeValueMemberBOOL{Value: true}, &types.AttributeValueMemberNULL{Value: true}}},
		"ns", &types.AttributeValueMemberNS{Value: []string{"1", "2"}}, "bs", &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2}}})
	back, err := backup.FromStream(streamImage(t, it))
	if err != nil {
		t.Fatal(err)
	}
	if backup.Digest(back) != backup.Digest(it) {
		t.Fatalf("round trip changed the item: %v -> %v", it, back)
	}
}

// TestRestoreReplaysOnlyTheTablesThatHeldTheTenant: of a tenant that moved
// from the pool to a table of its own and back, a restore replays each
// table's changes only while the table held the tenant (with a second's
// slack for rounded stream times): not the copy written before a cutover,
// not the deletion of an old copy, not a failed migration's writes.
func TestRestoreReplaysOnlyTheTablesThatHeldTheTenant(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	at := func(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }
	jobs := []recovery.Job{
		{ID: "j-3", Kind: recovery.KindMigration, State: recovery.StateSucceeded, FromTable: "own", ToTable: "pool", FencedAt: at(100)},
		{ID: "j-1", Kind: recovery.KindMigration, State: recovery.StateSucceeded, FromTable: "pool", ToTable: "own", FencedAt: at(10)},
		{ID: "j-2", Kind: recovery.KindMigration, State: recovery.StateRolledBack, FromTable: "own", ToTable: "other", FencedAt: at(60)},
		{ID: "j-0", Kind: recovery.KindBackup, State: recovery.StateSucceeded},
	}
	stays := backup.Stays(jobs, "pool")
	if len(stays) != 3 || stays[0].Table != "pool" || !stays[0].Until.Equal(at(10)) || stays[1].Table != "own" || stays[2].Table != "pool" || !stays[2].Until.IsZero() {
		t.Fatalf("stays = %+v", stays)
	}
	tests := []struct {
		table string
		sec   float64
		keep  bool
		why   string
	}{
		{"pool", 5, true, "a write before the first move"},
		{"pool", 10.5, true, "a write just before the fence, its time rounded up"},
		{"own", 3, false, "the copy written before the cutover"},
		{"own", 9.5, true, "the last changes, applied after the fence (time rounded down)"},
		{"own", 30, true, "a write after the cutover"},
		{"pool", 50, false, "the old pooled copy deleted after the grace period"},
		{"other", 60, false, "a failed migration's copy"},
		{"pool", 120, true, "a write after moving back"},
		{"own", 150, false, "the old dedicated copy deleted"},
	}
	var in []changefeed.Change
	for i, tc := range tests {
		in = append(in, changefeed.Change{Seq: fmt.Sprint(i), Table: tc.table, Time: at(tc.sec)})
	}
	kept := map[string]bool{}
	for _, c := range backup.OfPlacement(in, stays) {
		kept[c.Seq] = true
	}
	for i, tc := range tests {
		if kept[fmt.Sprint(i)] != tc.keep {
			t.Errorf("%s at +%vs (%s): kept %v, want %v", tc.table, tc.sec, tc.why, !tc.keep, tc.keep)
		}
	}
}
