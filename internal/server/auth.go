package server

import (
	"errors"
	"net/http"

	"github.com/ecache/ecache/internal/awsquery"
	"github.com/ecache/ecache/internal/sigv4"
)

// SigV4 authenticates requests with AWS Signature Version 4 against a verifier.
type SigV4 struct {
	Verifier *sigv4.Verifier
}

// Authenticate verifies r and returns the caller's access key id and the region of its credential scope.
func (a SigV4) Authenticate(r *http.Request, body []byte) (string, string, error) {
	res, err := a.Verifier.Verify(r, body)
	if err != nil {
		var se *sigv4.Error
		if errors.As(err, &se) {
			return "", "", &awsquery.Error{Code: se.Code, Status: se.Status, Message: se.Message, Sender: true}
		}
		return "", "", err
	}
	if res.UnsignedPayload && len(body) > 0 {
		return "", "", &awsquery.Error{Code: "IncompleteSignature", Status: http.StatusBadRequest, Sender: true,
			Message: "The request body must be covered by the signature; UNSIGNED-PAYLOAD is not accepted with a form body."}
	}
	return res.AccessKeyID, res.Region, nil
}
