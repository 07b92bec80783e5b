package store

import (
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// FenceShardOf is fenceShard, for the emulator tests of package store_test.
func FenceShardOf(pk, sk string) int { return fenceShard(pk, sk) }

// TestFenceShardSpreadsWrites: the shard of a key is FNV-32a of pk, NUL,
// sk modulo FenceShards, and the ids of one partition spread evenly over
// every shard.
func TestFenceShardSpreadsWrites(t *testing.T) {
	counts := make([]int, FenceShards)
	const n = 8000
	for i := range n {
		pk, sk := "t-acme#ORDER", "01JCZ8W3T1K5Q7R9S2V4X"+strconv.Itoa(100000+i)
		shard := fenceShard(pk, sk)
		if want := fenceShardGolden(pk, sk); shard != want {
			t.Fatalf("fenceShard(%q, %q) = %d, want %d", pk, sk, shard, want)
		}
		counts[shard]++
	}
	for shard, c := range counts {
		if c < n/FenceShards*8/10 || c > n/FenceShards*12/10 {
			t.Fatalf("shard %d got %d of %d keys: %v", shard, c, n, counts)
		}
	}
}

// fenceShardGolden is FNV-32a written out (offset basis 2166136261, prime
// 16777619), independent of hash/fnv.
func fenceShardGolden(pk, sk string) int {
	h := uint32(2166136261)
	for _, b := range []byte(pk + "\x00" + sk) {
		h ^= uint32(b)
		h *= 16777619
	}
	return int(h % FenceShards)
}

// TestFenceCheckTargetsTheFirstItemsShard: the check of a transaction is
// on the shard of its first item's key, for every kind of item, and is a
// condition that the shard does not exist.
func TestFenceCheckTargetsTheFirstItemsShard(t *testing.T) {
	pk, sk := "t-acme#PRODUCT", "01JCZ8W3T1K5Q7R9S2V4X6Y8Z0"
	k := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}}
	item := map[string]types.AttributeValue{"pk": k["pk"], "sk": k["sk"], "name": &types.AttributeValueMemberS{Value: "Anvil"}}
	sc := scope{tenantID: "t-acme", table: "pooled", checksFence: true}
	for name, it := range map[string]types.TransactWriteItem{
		"put":             {Put: &types.Put{Item: item}},
		"delete":          {Delete: &types.Delete{Key: k}},
		"update":          {Update: &types.Update{Key: k}},
		"condition check": {ConditionCheck: &types.ConditionCheck{Key: k}},
	} {
		t.Run(name, func(t *testing.T) {
			check, shard, err := fenceCheck(sc, it)
			if err != nil {
				t.Fatal(err)
			}
			if shard != fenceShardGolden(pk, sk) {
				t.Fatalf("shard %d, want %d", shard, fenceShardGolden(pk, sk))
			}
			cc := check.ConditionCheck
			if cc == nil || aws.ToString(cc.TableName) != "pooled" ||
				cc.Key["pk"].(*types.AttributeValueMemberS).Value != "t-acme#FENCE" ||
				cc.Key["sk"].(*types.AttributeValueMemberS).Value != "FENCE#"+strconv.Itoa(shard) {
				t.Fatalf("check = %+v", cc)
			}
			if got := aws.ToString(cc.ConditionExpression); got != "attribute_not_exists (#0)" || cc.ExpressionAttributeNames["#0"] != "pk" {
				t.Fatalf("condition %q %v", got, cc.ExpressionAttributeNames)
			}
		})
	}
}
