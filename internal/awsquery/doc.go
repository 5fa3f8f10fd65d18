// Package awsquery implements the generic parts of the AWS Query protocol: decoding the flattened
// form parameters of a request, writing XML responses, and the ErrorResponse document.
//
// It knows nothing about ElastiCache; internal/api (generated) and internal/server import it.
package awsquery
