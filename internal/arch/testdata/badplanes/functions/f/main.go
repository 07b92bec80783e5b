// Command f is a Lambda binary that imports only internal/wire, as it should,
// but links the local stack through it (planted: no-local-in-lambdas).
package main

import "example.test/badplanes/internal/wire"

func main() { wire.Build() }
