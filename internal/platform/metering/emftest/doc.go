// Package emftest is a test helper: it checks CloudWatch Embedded Metric
// Format lines against the specification and reads back the Tessera members
// of a line as a metering.Record. Only tests import it; production code
// writes EMF (metering.Emitter) and never parses it.
//
// EMF: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
package emftest
