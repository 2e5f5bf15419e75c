package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/mailtls/mailtls/httpapi"
)

// schema checks responses against openapi.yaml, the description the package serves.
type schema struct {
	doc    *openapi3.T
	router routers.Router
}

func loadSchema(t testing.TB) *schema {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPI())
	if err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.yaml is not a valid OpenAPI description: %v", err)
	}
	doc.Servers = nil // the test servers listen on ports of their own
	r, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &schema{doc: doc, router: r}
}

// check fails the test unless the response to req (status, headers, body) is one the
// description documents for that operation and status; a response to a path outside the
// API must be a documented Error.
func (s *schema) check(t testing.TB, req *http.Request, resp *http.Response, body []byte) {
	t.Helper()
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("%s %s: %d body is not JSON: %v: %s", req.Method, req.URL, resp.StatusCode, err, body)
		}
		if err := s.doc.Components.Schemas["Error"].Value.VisitJSON(v); err != nil {
			t.Fatalf("%s %s: %d body is not an Error: %v", req.Method, req.URL, resp.StatusCode, err)
		}
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Fatalf("%s %s: the %d response does not match openapi.yaml: %v\n%s", req.Method, req.URL, resp.StatusCode, err, body)
	}
}
