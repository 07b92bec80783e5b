package store

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tessera-saas/tessera/internal/platform/metering"
)

// Every tenant data call asks DynamoDB for the capacity it consumed, and
// adds it to the request's meter (internal/platform/metering), if the context has
// one. Locally moto answers with constant figures, so tests check the
// plumbing there and the arithmetic on recorded AWS responses.
const returnCapacity = types.ReturnConsumedCapacityTotal

type capacityKind int

const (
	readCapacity capacityKind = iota
	writeCapacity
)

// consumed adds what DynamoDB reported to the request's meter.
func consumed(ctx context.Context, kind capacityKind, ccs ...types.ConsumedCapacity) {
	m, ok := metering.FromContext(ctx)
	if !ok {
		return
	}
	read, write := sumCapacity(kind, ccs...)
	m.AddCapacity(read, write)
}

// sumCapacity splits consumed capacity into read and write units. With
// ReturnConsumedCapacity TOTAL DynamoDB reports CapacityUnits, and for
// operations that both read and write (transactions with condition checks)
// ReadCapacityUnits and WriteCapacityUnits; where only the total is given,
// the operation's kind decides.
func sumCapacity(kind capacityKind, ccs ...types.ConsumedCapacity) (read, write float64) {
	for _, cc := range ccs {
		r, w := aws.ToFloat64(cc.ReadCapacityUnits), aws.ToFloat64(cc.WriteCapacityUnits)
		if r == 0 && w == 0 {
			if kind == readCapacity {
				r = aws.ToFloat64(cc.CapacityUnits)
			} else {
				w = aws.ToFloat64(cc.CapacityUnits)
			}
		}
		read += r
		write += w
	}
	return read, write
}

func one(cc *types.ConsumedCapacity) []types.ConsumedCapacity {
	if cc == nil {
		return nil
	}
	return []types.ConsumedCapacity{*cc}
}
