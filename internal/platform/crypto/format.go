package crypto

import (
	"encoding/binary"
	"fmt"
	"math"
)

// The sealed formats. Both lay out version | len(edk) | edk | nonce |
// ciphertext | tag; they differ in what the associated data binds:
//   - version1 binds the physical table as well as the tenant, partition key,
//     sort key and attribute. A value restored into another table, or moved
//     by a tier migration, would not open. Still read.
//   - version2, which Seal writes, binds the logical location only: tenant,
//     partition key, sort key and attribute. The partition key begins with
//     the tenant id, so a value still opens only at its own item and
//     attribute of its own tenant, in whichever table holds it.
const (
	version1 byte = 1
	version2 byte = 2
)

const (
	headerFixed = 1 + 2 // version + length of the encrypted data key
	nonceSize   = 12    // AES-GCM standard nonce, random per value
	tagSize     = 16    // AES-GCM tag
	minBody     = nonceSize + tagSize
	maxEDK      = math.MaxUint16
	dataKeySize = 32 // AES-256
)

// sealed is a parsed value.
type sealed struct {
	version byte
	header  []byte // version | len(edk) | edk: authenticated as associated data
	edk     []byte // the data key as KMS encrypted it
	body    []byte // nonce | ciphertext | tag
}

// parse splits b without copying. Any malformed input is ErrIntegrity.
func parse(b []byte) (sealed, error) {
	if len(b) == 0 {
		return sealed{}, fmt.Errorf("empty value: %w", ErrIntegrity)
	}
	if b[0] != version1 && b[0] != version2 {
		return sealed{}, fmt.Errorf("version %d: %w", b[0], ErrUnsupportedVersion)
	}
	if len(b) < headerFixed {
		return sealed{}, fmt.Errorf("truncated header: %w", ErrIntegrity)
	}
	n := int(binary.BigEndian.Uint16(b[1:3]))
	if n == 0 {
		return sealed{}, fmt.Errorf("no encrypted data key: %w", ErrIntegrity)
	}
	end := headerFixed + n
	if len(b) < end+minBody {
		return sealed{}, fmt.Errorf("truncated value: %w", ErrIntegrity)
	}
	return sealed{version: b[0], header: b[:end], edk: b[headerFixed:end], body: b[end:]}, nil
}

// BindsTable reports whether sealed is in a format whose associated data
// binds the physical table (version1): moved to another table, it would not
// open there.
func BindsTable(sealed []byte) bool { return len(sealed) > 0 && sealed[0] == version1 }

// appendHeader appends the header of version v for edk (len(edk) <= maxEDK).
func appendHeader(dst []byte, v byte, edk []byte) []byte {
	dst = append(dst, v)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(edk)))
	return append(dst, edk...)
}

// associatedData binds a value to its header and its place: the header (its
// first byte is the version), then each component of f that the version
// binds, preceded by its length, so no two distinct fields produce the same
// bytes ("a"+"bc" differs from "ab"+"c").
func associatedData(header []byte, f Field) []byte {
	parts := [...]string{f.TenantID, f.Table, f.PK, f.SK, f.Attribute}
	bound := parts[:]
	if len(header) > 0 && header[0] == version2 {
		bound = []string{f.TenantID, f.PK, f.SK, f.Attribute}
	}
	n := len(header)
	for _, p := range bound {
		n += 4 + len(p)
	}
	ad := make([]byte, 0, n)
	ad = append(ad, header...)
	for _, p := range bound {
		ad = binary.BigEndian.AppendUint32(ad, uint32(len(p)))
		ad = append(ad, p...)
	}
	return ad
}
