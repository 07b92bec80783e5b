// Package x is in the app plane and imports the control plane (planted:
// plane-imports).
package x

import "example.test/badplanes/internal/control/y"

func F() { y.F() }
