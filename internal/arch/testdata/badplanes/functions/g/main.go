// Command g is a Lambda binary that bypasses internal/wire (planted:
// plane-imports).
package main

import "example.test/badplanes/internal/platform/clean"

func main() { clean.F() }
