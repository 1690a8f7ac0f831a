package rest

import (
	_ "embed"
	"net/http"
)

// openAPI is the API's OpenAPI 3 description, served as is.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI 3 document describing the API.
func OpenAPI() []byte { return append([]byte(nil), openAPI...) }

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(openAPI)
	return nil
}
