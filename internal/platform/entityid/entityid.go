package entityid

import "github.com/oklog/ulid/v2"

// New returns a fresh id. It is safe for concurrent use.
func New() string { return ulid.Make().String() }

// Valid reports whether s has the shape of an id made by New.
func Valid(s string) bool {
	if len(s) != ulid.EncodedSize {
		return false
	}
	u, err := ulid.ParseStrict(s)
	return err == nil && u.String() == s // canonical upper case only

}
