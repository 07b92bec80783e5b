package backup

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tessera-saas/tessera/internal/platform/recovery"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// Items is a set of one tenant's items by primary key: a snapshot read back,
// the target of a restore, or a tenant's items as they are. It is the unit
// the copy, replay and verify steps share.
type Items map[itemKey]store.Item

type itemKey struct{ pk, sk string }

func keyOf(it store.Item) (itemKey, bool) {
	pk, ok1 := it["pk"].(*types.AttributeValueMemberS)
	sk, ok2 := it["sk"].(*types.AttributeValueMemberS)
	if !ok1 || !ok2 {
		return itemKey{}, false
	}
	return itemKey{pk.Value, sk.Value}, true
}

// Put adds or replaces it; items without a string pk and sk are refused.
func (s Items) Put(it store.Item) error {
	k, ok := keyOf(it)
	if !ok {
		return fmt.Errorf("item without a string pk and sk: %w", store.ErrForeignItem)
	}
	s[k] = it
	return nil
}

// keepOnly drops the items that are not in one of tenantID's partitions
// in keep.
func (s Items) keepOnly(tenantID string, keep []string) {
	for k, it := range s {
		if entity, ok := store.PartitionOf(tenantID, it); !ok || !slices.Contains(keep, entity) {
			delete(s, k)
		}
	}
}

// Summary is the count and checksum of a set of items, in all and per
// partition.
type Summary struct {
	Items      int64
	Checksum   string
	Partitions map[string]recovery.Partition
}

// Summarize counts and checksums the items of tenantID in s. The checksum
// of a set is SHA-256 over its items' keys and digests in key order, so two
// sets with the same items have the same checksum whatever order they were
// read in.
func (s Items) Summarize(tenantID string) Summary { return s.digests().summarize(tenantID) }

// digests are the digests of a set of items by key: what a summary is made
// of, and what a migration's verification keeps between its reads.
type digests map[itemKey][32]byte

func (s Items) digests() digests {
	out := make(digests, len(s))
	for k, it := range s {
		out[k] = Digest(it)
	}
	return out
}

// summarize is Items.Summarize of the items these are the digests of.
func (ds digests) summarize(tenantID string) Summary {
	keys := make([]itemKey, 0, len(ds))
	for k := range ds {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b itemKey) int {
		if c := strings.Compare(a.pk, b.pk); c != 0 {
			return c
		}
		return strings.Compare(a.sk, b.sk)
	})
	all := sha256.New()
	parts := map[string]*partSum{}
	for _, k := range keys {
		d := ds[k]
		entity, _ := store.PartitionOf(tenantID, store.Item{"pk": &types.AttributeValueMemberS{Value: k.pk}})
		p := parts[entity]
		if p == nil {
			p = &partSum{h: sha256.New()}
			parts[entity] = p
		}
		for _, h := range []hash.Hash{all, p.h} {
			writeString(h, k.pk)
			writeString(h, k.sk)
			_, _ = h.Write(d[:])
		}
		p.n++
	}
	out := Summary{Items: int64(len(keys)), Checksum: hex.EncodeToString(all.Sum(nil)), Partitions: map[string]recovery.Partition{}}
	for entity, p := range parts {
		out.Partitions[entity] = recovery.Partition{Items: p.n, Checksum: hex.EncodeToString(p.h.Sum(nil))}
	}
	return out
}

type partSum struct {
	h hash.Hash
	n int64
}

func writeString(h hash.Hash, s string) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(s)))
	_, _ = h.Write(n[:])
	_, _ = h.Write([]byte(s))
}

// Digest is the SHA-256 of an item's canonical encoding: attributes in name
// order, set members sorted, every value typed and length-prefixed. Equal
// items have equal digests however they were read.
func Digest(it store.Item) [32]byte {
	var b bytes.Buffer
	canonMap(&b, it)
	return sha256.Sum256(b.Bytes())
}

func canonMap(b *bytes.Buffer, m map[string]types.AttributeValue) {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	b.WriteByte('M')
	writeLen(b, len(names))
	for _, n := range names {
		writeBytes(b, []byte(n))
		canon(b, m[n])
	}
}

func canon(b *bytes.Buffer, v types.AttributeValue) {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		b.WriteByte('S')
		writeBytes(b, []byte(v.Value))
	case *types.AttributeValueMemberN:
		b.WriteByte('N')
		writeBytes(b, []byte(v.Value))
	case *types.AttributeValueMemberB:
		b.WriteByte('B')
		writeBytes(b, v.Value)
	case *types.AttributeValueMemberBOOL:
		b.WriteByte('T')
		if v.Value {
			b.WriteByte(1)
		} else {
			b.WriteByte(0)
		}
	case *types.AttributeValueMemberNULL:
		b.WriteByte('0')
	case *types.AttributeValueMemberL:
		b.WriteByte('L')
		writeLen(b, len(v.Value))
		for _, e := range v.Value {
			canon(b, e)
		}
	case *types.AttributeValueMemberM:
		canonMap(b, v.Value)
	case *types.AttributeValueMemberSS:
		canonSet(b, 's', strs(v.Value))
	case *types.AttributeValueMemberNS:
		canonSet(b, 'n', strs(v.Value))
	case *types.AttributeValueMemberBS:
		canonSet(b, 'b', v.Value)
	default:
		b.WriteByte('?')
	}
}

func strs(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

func canonSet(b *bytes.Buffer, tag byte, members [][]byte) {
	sorted := slices.Clone(members)
	slices.SortFunc(sorted, bytes.Compare)
	b.WriteByte(tag)
	writeLen(b, len(sorted))
	for _, m := range sorted {
		writeBytes(b, m)
	}
}

func writeLen(b *bytes.Buffer, n int) { _ = binary.Write(b, binary.BigEndian, uint32(n)) }

func writeBytes(b *bytes.Buffer, p []byte) {
	writeLen(b, len(p))
	b.Write(p)
}

// FromStream converts an item image of the change log (DynamoDB JSON as
// streams carry it) into an item.
func FromStream(m map[string]events.DynamoDBAttributeValue) (store.Item, error) {
	out := make(store.Item, len(m))
	for n, v := range m {
		av, err := fromStream(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", n, err)
		}
		out[n] = av
	}
	return out, nil
}

func fromStream(v events.DynamoDBAttributeValue) (types.AttributeValue, error) {
	switch v.DataType() {
	case events.DataTypeString:
		return &types.AttributeValueMemberS{Value: v.String()}, nil
	case events.DataTypeNumber:
		return &types.AttributeValueMemberN{Value: v.Number()}, nil
	case events.DataTypeBinary:
		return &types.AttributeValueMemberB{Value: v.Binary()}, nil
	case events.DataTypeBoolean:
		return &types.AttributeValueMemberBOOL{Value: v.Boolean()}, nil
	case events.DataTypeNull:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case events.DataTypeStringSet:
		return &types.AttributeValueMemberSS{Value: v.StringSet()}, nil
	case events.DataTypeNumberSet:
		return &types.AttributeValueMemberNS{Value: v.NumberSet()}, nil
	case events.DataTypeBinarySet:
		return &types.AttributeValueMemberBS{Value: v.BinarySet()}, nil
	case events.DataTypeList:
		l := v.List()
		out := make([]types.AttributeValue, len(l))
		for i, e := range l {
			av, err := fromStream(e)
			if err != nil {
				return nil, err
			}
			out[i] = av
		}
		return &types.AttributeValueMemberL{Value: out}, nil
	case events.DataTypeMap:
		m, err := FromStream(v.Map())
		if err != nil {
			return nil, err
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	}
	return nil, fmt.Errorf("unknown attribute type %d", v.DataType())
}

// ToStream converts an item into DynamoDB JSON as the change log writes it
// (the snapshot lines use the same form).
func ToStream(it store.Item) (map[string]events.DynamoDBAttributeValue, error) {
	out := make(map[string]events.DynamoDBAttributeValue, len(it))
	for n, v := range it {
		ev, err := toStream(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", n, err)
		}
		out[n] = ev
	}
	return out, nil
}

func toStream(v types.AttributeValue) (events.DynamoDBAttributeValue, error) {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(v.Value), nil
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(v.Value), nil
	case *types.AttributeValueMemberB:
		return events.NewBinaryAttribute(v.Value), nil
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(v.Value), nil
	case *types.AttributeValueMemberNULL:
		return events.NewNullAttribute(), nil
	case *types.AttributeValueMemberSS:
		return events.NewStringSetAttribute(v.Value), nil
	case *types.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(v.Value), nil
	case *types.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(v.Value), nil
	case *types.AttributeValueMemberL:
		out := make([]events.DynamoDBAttributeValue, len(v.Value))
		for i, e := range v.Value {
			ev, err := toStream(e)
			if err != nil {
				return events.DynamoDBAttributeValue{}, err
			}
			out[i] = ev
		}
		return events.NewListAttribute(out), nil
	case *types.AttributeValueMemberM:
		m, err := ToStream(v.Value)
		if err != nil {
			return events.DynamoDBAttributeValue{}, err
		}
		return events.NewMapAttribute(m), nil
	}
	return events.DynamoDBAttributeValue{}, fmt.Errorf("unknown attribute type %T", v)
}
