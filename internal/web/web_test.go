package web

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func get(t *testing.T, h http.Handler, method, target string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// embeddedAsset returns the name of one real hashed JS asset of the build.
func embeddedAsset(t *testing.T) string {
	t.Helper()
	matches, err := fs.Glob(FS(), "assets/*.js")
	if err != nil || len(matches) == 0 {
		t.Fatalf("no embedded assets/*.js (build the dashboard: cd web && npm ci && npm run build): %v", err)
	}
	return matches[0]
}

func indexHTML(t *testing.T) []byte {
	t.Helper()
	b, err := fs.ReadFile(FS(), "index.html")
	if err != nil {
		t.Fatalf("embedded index.html: %v", err)
	}
	return b
}

func TestEmbeddedBuildIsComplete(t *testing.T) {
	idx := string(indexHTML(t))
	asset := embeddedAsset(t)
	if !strings.Contains(idx, "/"+asset) {
		t.Errorf("index.html does not reference %s", asset)
	}
	// No request may leave the backend's origin: no absolute URL in the page.
	for _, bad := range []string{"http://", "https://", "//cdn", "fonts.googleapis"} {
		if strings.Contains(idx, bad) {
			t.Errorf("index.html references an external host (%q)", bad)
		}
	}
	// Every asset index.html names must exist.
	for _, part := range strings.Split(idx, `"`) {
		if strings.HasPrefix(part, "/assets/") {
			if _, err := fs.Stat(FS(), strings.TrimPrefix(part, "/")); err != nil {
				t.Errorf("index.html references missing %s", part)
			}
		}
	}
}

func TestIndexAtRoot(t *testing.T) {
	h := Handler()
	rec := get(t, h, http.MethodGet, "/")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET / = %d", rec.Code)
	}
	if got := rec.Header().Get("Cache-Control"); got != "no-cache" {
		t.Errorf("Cache-Control of index = %q, want no-cache", got)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type = %q", ct)
	}
	if !bytes.Equal(rec.Body.Bytes(), indexHTML(t)) {
		t.Error("GET / did not serve index.html")
	}
	if rec.Header().Get("Content-Security-Policy") == "" {
		t.Error("index has no Content-Security-Policy")
	}
	// /index.html is the same document.
	if rec2 := get(t, h, http.MethodGet, "/index.html"); rec2.Code != 200 || rec2.Body.String() != rec.Body.String() {
		t.Errorf("GET /index.html = %d", rec2.Code)
	}
}

func TestSPAFallback(t *testing.T) {
	h := Handler()
	idx := indexHTML(t)
	for _, p := range []string{"/agents", "/agents/pc-001", "/executions/6f1c0f1e-8d4b-4bb0-9b64-3f1f8d3c0a11", "/jobs/new", "/schedules/nightly/", "/no/such/page", "/apix", "/api-docs"} {
		rec := get(t, h, http.MethodGet, p)
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", p, rec.Code)
			continue
		}
		if !bytes.Equal(rec.Body.Bytes(), idx) {
			t.Errorf("GET %s did not fall back to index.html", p)
		}
		if got := rec.Header().Get("Cache-Control"); got != "no-cache" {
			t.Errorf("GET %s Cache-Control = %q", p, got)
		}
	}
}

func TestAPINeverFallsBack(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/api", "/api/", "/api/nope", "/api/agents/x/unknown", "/api/v2/../../x"} {
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
			rec := get(t, h, m, p)
			if strings.Contains(p, "..") && rec.Code == http.StatusOK {
				continue // cleaned by the request parser to a non-API path; fine either way
			}
			if rec.Code != http.StatusNotFound {
				t.Errorf("%s %s = %d, want 404", m, p, rec.Code)
				continue
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("%s %s Content-Type = %q", m, p, ct)
			}
			var body map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["error"] != "not found" {
				t.Errorf("%s %s body = %q", m, p, rec.Body.String())
			}
		}
	}
}

func TestHashedAssetIsImmutable(t *testing.T) {
	h := Handler()
	asset := embeddedAsset(t)
	want, _ := fs.ReadFile(FS(), asset)
	rec := get(t, h, http.MethodGet, "/"+asset)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /%s = %d", asset, rec.Code)
	}
	if got := rec.Header().Get("Cache-Control"); got != CacheImmutable {
		t.Errorf("Cache-Control = %q, want %q", got, CacheImmutable)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.Contains(ct, "javascript") {
		t.Errorf("Content-Type = %q", ct)
	}
	if !bytes.Equal(rec.Body.Bytes(), want) {
		t.Error("asset body differs from the embedded file")
	}
	css, _ := fs.Glob(FS(), "assets/*.css")
	for _, c := range css {
		rec := get(t, h, http.MethodGet, "/"+c)
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/css") {
			t.Errorf("GET /%s = %d %q", c, rec.Code, rec.Header().Get("Content-Type"))
		}
	}
}

func TestMissingAssetIs404(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/assets/index-deadbeef.js", "/assets/", "/assets/x/y.css", "/assets/nothing", "/favicon.ico", "/robots.txt", "/agents/app.js.map"} {
		rec := get(t, h, http.MethodGet, p)
		if rec.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, rec.Code)
		}
		if strings.Contains(rec.Body.String(), "<html") || strings.Contains(rec.Body.String(), "<!doctype") {
			t.Errorf("GET %s served HTML", p)
		}
		if cc := rec.Header().Get("Cache-Control"); strings.Contains(cc, "immutable") {
			t.Errorf("GET %s 404 cached as %q", p, cc)
		}
	}
}

func TestHeadAndMethods(t *testing.T) {
	h := Handler()
	asset := embeddedAsset(t)
	rec := get(t, h, http.MethodHead, "/"+asset)
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("HEAD = %d, body %d bytes", rec.Code, rec.Body.Len())
	}
	rec = get(t, h, http.MethodPost, "/agents")
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") == "" {
		t.Errorf("POST /agents = %d (Allow %q)", rec.Code, rec.Header().Get("Allow"))
	}
}

func TestETagRevalidation(t *testing.T) {
	h := Handler()
	rec := get(t, h, http.MethodGet, "/")
	etag := rec.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag on index")
	}
	rec = get(t, h, http.MethodGet, "/", "If-None-Match", etag)
	if rec.Code != http.StatusNotModified {
		t.Errorf("revalidation = %d, want 304", rec.Code)
	}
}

func TestGzip(t *testing.T) {
	h := Handler()
	asset := embeddedAsset(t)
	want, _ := fs.ReadFile(FS(), asset)
	rec := get(t, h, http.MethodGet, "/"+asset, "Accept-Encoding", "br, gzip")
	if rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding = %q", rec.Header().Get("Content-Encoding"))
	}
	if !strings.Contains(rec.Header().Get("Vary"), "Accept-Encoding") {
		t.Error("no Vary: Accept-Encoding")
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(zr)
	if !bytes.Equal(got, want) {
		t.Error("gunzipped body differs")
	}
	rec = get(t, h, http.MethodGet, "/"+asset, "Accept-Encoding", "gzip;q=0")
	if rec.Header().Get("Content-Encoding") != "" || !bytes.Equal(rec.Body.Bytes(), want) {
		t.Error("gzip;q=0 still compressed")
	}
}

func TestNotBuilt(t *testing.T) {
	h := NewHandler(fstest.MapFS{})
	if rec := get(t, h, http.MethodGet, "/agents"); rec.Code != http.StatusNotFound {
		t.Errorf("unbuilt GET /agents = %d", rec.Code)
	}
	if rec := get(t, h, http.MethodGet, "/api/x"); rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "not found") {
		t.Errorf("unbuilt GET /api/x = %d %q", rec.Code, rec.Body.String())
	}
}

func TestNewHandlerWithCustomFS(t *testing.T) {
	h := NewHandler(fstest.MapFS{
		"index.html":         {Data: []byte("<!doctype html><p>hi</p>")},
		"assets/app-1234.js": {Data: []byte("console.log(1)")},
		"favicon.svg":        {Data: []byte("<svg/>")},
	})
	if rec := get(t, h, http.MethodGet, "/x/y"); rec.Code != 200 || !strings.Contains(rec.Body.String(), "hi") {
		t.Errorf("fallback = %d %q", rec.Code, rec.Body.String())
	}
	if rec := get(t, h, http.MethodGet, "/favicon.svg"); rec.Code != 200 || rec.Header().Get("Cache-Control") == CacheImmutable {
		t.Errorf("favicon = %d %q", rec.Code, rec.Header().Get("Cache-Control"))
	}
	if rec := get(t, h, http.MethodGet, "/assets/app-1234.js"); rec.Header().Get("Cache-Control") != CacheImmutable {
		t.Errorf("asset cache = %q", rec.Header().Get("Cache-Control"))
	}
}
