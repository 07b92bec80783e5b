// Package wire composes the planes, and imports the local stack (planted:
// plane-imports).
package wire

import (
	"example.test/badplanes/internal/app/x"
	"example.test/badplanes/internal/control/y"
	"example.test/badplanes/internal/local/w"
)

func Build() { x.F(); y.F(); w.F() }
