// Package y is in the control plane; its package code is clean.
package y

import "example.test/badplanes/internal/platform/clean"

func F() { clean.F() }
