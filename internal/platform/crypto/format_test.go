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

// Version 2 binds the logical location: the same tenant, item and
// attribute give the same associated data in any table, and every other
// component still changes it. Version 1 binds the table too.
func TestVersion2BindsTheLogicalLocationNotTheTable(t *testing.T) {
	base := Field{TenantID: "t-1", Table: "tessera-prod-pooled", PK: "t-1#ORDER", SK: "o-1", Attribute: "customer"}
	moved := base
	moved.Table = "tessera-prod-tenant-t-1"
	v1, v2 := []byte{version1, 0, 1, 0xAA}, []byte{version2, 0, 1, 0xAA}
	if !bytes.Equal(associatedData(v2, base), associatedData(v2, moved)) {
		t.Error("version 2 binds the physical table")
	}
	if bytes.Equal(associatedData(v1, base), associatedData(v1, moved)) {
		t.Error("version 1 no longer binds the table (its values would open elsewhere)")
	}
	if bytes.Equal(associatedData(v1, base), associatedData(v2, base)) {
		t.Error("the versions share associated data")
	}
	for name, f := range map[string]Field{
		"tenant":         {"t-2", base.Table, base.PK, base.SK, base.Attribute},
		"pk":             {base.TenantID, base.Table, "t-1#PRODUCT", base.SK, base.Attribute},
		"sk":             {base.TenantID, base.Table, base.PK, "o-2", base.Attribute},
		"attribute":      {base.TenantID, base.Table, base.PK, base.SK, "status"},
		"boundary shift": {base.TenantID, base.Table, base.PK, "o-1c", "ustomer"},
	} {
		if bytes.Equal(associatedData(v2, base), associatedData(v2, f)) {
			t.Errorf("version 2 ignores the %s", name)
		}
	}
}

func TestParse(t *testing.T) {
	edk := bytes.Repeat([]byte{7}, 5)
	valid := append(appendHeader(nil, version2, edk), make([]byte, minBody)...)
	tests := []struct {
		name    string
		in      []byte
		wantErr error
	}{
		{"valid", valid, nil},
		{"nil", nil, ErrIntegrity},
		{"version only", []byte{version1}, ErrIntegrity},
		{"version 1", append([]byte{version1}, valid[1:]...), nil},
		{"unknown version", append([]byte{3}, valid[1:]...), ErrUnsupportedVersion},
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
			if err == nil && (!bytes.Equal(s.edk, edk) || len(s.body) != minBody || !bytes.Equal(s.header, tt.in[:headerFixed+len(edk)]) || s.version != tt.in[0]) {
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
