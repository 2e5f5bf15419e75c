package httpapi

// ReferenceBody is the reference encoding of a 200 answer (body_test.go), for the tests
// that compare the served bodies of real decisions with it.
var ReferenceBody = referenceBody
