package crypto

import (
	"bytes"
	"errors"
	"testing"
)

func TestAssociatedDataIsInjective(t *testing.T) {
	base := Field{TenantID: "t-1", Table: "pooled", PK: "t-1#PRODUCT", SK: "p-1", Attribute: "secret"}
	header := []byte{version1, 0, 1, 0xAA}
	tests := []struct {
		name string
		a, b Field
	}{
		{"tenant", base, Field{"t-2", base.Table, base.PK, base.SK, base.Attribute}},
		{"table", base, Field{base.TenantID, "other", base.PK, base.SK, base.Attribute}},
		{"pk", base, Field{base.TenantID, base.Table, "t-1#ORDER", base.SK, base.Attribute}},
		{"sk", base, Field{base.TenantID, base.Table, base.PK, "p-2", base.Attribute}},
		{"attribute", base, Field{base.TenantID, base.Table, base.PK, base.SK, "other"}},
		{"boundary shift", Field{"a", "bc", "x", "y", "z"}, Field{"ab", "c", "x", "y", "z"}},
		{"empty moves", Field{"t", "tbl", "pk", "", "sk"}, Field{"t", "tbl", "pk", "sk", ""}},
		{"field swap", Field{"t", "tbl", "a", "b", "c"}, Field{"t", "tbl", "b", "a", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if bytes.Equal(associatedData(header, tt.a), associatedData(header, tt.b)) {
				t.Fatalf("same associated data for %+v and %+v", tt.a, tt.b)
			}
		})
	}
	if bytes.Equal(associatedData(header, base), associatedData([]byte{version1, 0, 1, 0xAB}, base)) {
		t.Fatal("associated data ignores the encrypted data key")
	}
}

func TestParse(t *testing.T) {
	edk := bytes.Repeat([]byte{7}, 5)
	valid := append(appendHeader(nil, edk), make([]byte, minBody)...)
	tests := []struct {
		name    string
		in      []byte
		wantErr error
	}{
		{"valid", valid, nil},
		{"nil", nil, ErrIntegrity},
		{"version only", []byte{version1}, ErrIntegrity},
		{"unknown version", append([]byte{2}, valid[1:]...), ErrUnsupportedVersion},
		{"version zero", append([]byte{0}, valid[1:]...), ErrUnsupportedVersion},
		{"zero-length edk", append([]byte{version1, 0, 0}, make([]byte, minBody)...), ErrIntegrity},
		{"edk longer than value", append([]byte{version1, 0xFF, 0xFF}, make([]byte, 100)...), ErrIntegrity},
		{"body too short", valid[:len(valid)-1], ErrIntegrity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := parse(tt.in)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("parse = %v, want %v", err, tt.wantErr)
			}
			if err == nil && (!bytes.Equal(s.edk, edk) || len(s.body) != minBody || !bytes.Equal(s.header, valid[:headerFixed+len(edk)])) {
				t.Fatalf("parse split wrongly: %+v", s)
			}
		})
	}
	if !errors.Is(ErrUnsupportedVersion, ErrIntegrity) {
		t.Fatal("ErrUnsupportedVersion does not wrap ErrIntegrity")
	}
	for n := range valid {
		if _, err := parse(valid[:n]); err == nil {
			t.Errorf("parse of %d-byte prefix succeeded", n)
		}
	}
}
