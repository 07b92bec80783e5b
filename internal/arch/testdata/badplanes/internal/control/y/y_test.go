package y_test

import (
	"testing"

	"example.test/badplanes/internal/app/x" // planted: plane-test-imports
	"example.test/badplanes/internal/control/y"
	"example.test/badplanes/internal/local/w" // allowed: the test harness
)

func TestF(t *testing.T) { x.F(); y.F(); w.F() }
