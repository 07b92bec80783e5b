// Package w is in the local stack; it may import the platform.
package w

import "example.test/badplanes/internal/platform/clean"

func F() { clean.F() }
