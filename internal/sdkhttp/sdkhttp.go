// Package sdkhttp is the HTTP client ecache's own aws-sdk-go-v2 clients use (tests, benches): the SDK's
// default client with request bodies that net/http cannot copy with WriteTo.
//
// Why: smithy-go closes a request's body as soon as the response headers arrive, and its closed body
// answers WriteTo with io.EOF. net/http's write loop, which may not have finished with the body yet (it
// reads once more after Content-Length bytes), takes that io.EOF for a failed write and closes the
// connection under the response being read: "deserialization failed, failed to decode response body, read
// tcp ...: use of closed network connection" (aws/aws-sdk-go-v2 issues 1825, 2737). A fast server on
// loopback with a large answer makes it likely, and the SDK then retries a request the server has already
// carried out (a create answered AlreadyExists). Without WriteTo, net/http reads the body with Read, and a
// closed body's io.EOF is then the end of the body, not an error.
package sdkhttp

import (
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// Client returns the SDK's default HTTP client with request bodies wrapped as described above.
func Client() aws.HTTPClient { return Wrap(awshttp.NewBuildableClient()) }

// Wrap returns next with each request's body wrapped so that it offers only Read and Close.
func Wrap(next aws.HTTPClient) aws.HTTPClient { return readOnlyBodies{next} }

type readOnlyBodies struct{ next aws.HTTPClient }

func (c readOnlyBodies) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = readCloser{r.Body}
	}
	return c.next.Do(r)
}

// readCloser hides every method of its body but Read and Close.
type readCloser struct{ body io.ReadCloser }

func (b readCloser) Read(p []byte) (int, error) { return b.body.Read(p) }
func (b readCloser) Close() error               { return b.body.Close() }
