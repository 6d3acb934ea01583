package gateway

import (
	"html"
	"net/http"
)

// The error pages Google's front end serves for Cloud Functions and Cloud
// Run. Clients and people compare these bytes, so they are reproduced
// exactly: the 403 page from a captured response, the 401 page from the same
// template with the texts Google's 401 pages carry.

func forbiddenPage(path string) string {
	return "\n<html><head>\n<meta http-equiv=\"content-type\" content=\"text/html;charset=utf-8\">\n<title>403 Forbidden</title>\n</head>\n<body text=#000000 bgcolor=#ffffff>\n<h1>Error: Forbidden</h1>\n<h2>Your client does not have permission to get URL <code>" + html.EscapeString(path) + "</code> from this server.</h2>\n<h2></h2>\n</body></html>\n"
}

func unauthorizedPage(path string) string {
	return "\n<html><head>\n<meta http-equiv=\"content-type\" content=\"text/html;charset=utf-8\">\n<title>401 Unauthorized</title>\n</head>\n<body text=#000000 bgcolor=#ffffff>\n<h1>Error: Unauthorized</h1>\n<h2>Your client does not have permission to the requested URL <code>" + html.EscapeString(path) + "</code>.</h2>\n<h2></h2>\n</body></html>\n"
}

func notFoundPage(path string) string {
	return "\n<html><head>\n<meta http-equiv=\"content-type\" content=\"text/html;charset=utf-8\">\n<title>404 Page not found</title>\n</head>\n<body text=#000000 bgcolor=#ffffff>\n<h1>Error: Page not found</h1>\n<h2>The requested URL <code>" + html.EscapeString(path) + "</code> was not found on this server.</h2>\n<h2></h2>\n</body></html>\n"
}

// wwwAuthenticate accompanies a 401: Bearer with invalid_token (RFC 6750),
// worded as Google's client libraries report a rejected token.
const wwwAuthenticate = `Bearer error="invalid_token" error_description="The access token could not be verified"`

func writePage(w http.ResponseWriter, code int, body string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=UTF-8")
	h.Set("X-Content-Type-Options", "nosniff")
	if code == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", wwwAuthenticate)
	}
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}
