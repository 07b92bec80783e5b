// Package z is in the platform and imports the app plane (planted:
// plane-imports).
package z

import "example.test/badplanes/internal/app/x"

func F() { x.F() }
