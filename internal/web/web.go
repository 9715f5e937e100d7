// Package web serves the dashboard: a single-page app built from web/ by
// Vite into dist/ and embedded in the binary (the built dist/ is committed,
// so `go build` needs no Node). Rebuild it with `cd web && npm ci && npm
// run build`; web/check-dist.sh fails when the committed build is stale.
//
// Routing rules (SPEC §6):
//   - a file that exists in dist/ is served as is; files under /assets/
//     carry a content hash in their name and are cached for a year
//     (immutable); index.html is always revalidated (no-cache);
//   - a missing /assets/... file (or any path naming a static file type)
//     is a real 404, never index.html;
//   - /api and /api/... never fall back: 404 {"error":"not found"};
//   - every other GET/HEAD answers index.html so client-side routes
//     (/agents/pc-1, /executions/<id>) survive a reload.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed all:dist
var distFS embed.FS

// CacheImmutable is the Cache-Control of hashed assets.
const CacheImmutable = "public, max-age=31536000, immutable"

// contentSecurityPolicy allows only this origin: no CDN, no external font,
// no inline script (the build emits none).
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; " +
	"frame-ancestors 'none'; form-action 'self'"

type file struct {
	name  string
	data  []byte
	gz    []byte // gzip-compressed copy when worth it
	etag  string
	ctype string
}

type site struct {
	files map[string]*file // key: path inside dist, no leading slash
	index *file
}

var (
	once   sync.Once
	shared *site
)

// FS returns the embedded build (rooted at dist/).
func FS() fs.FS {
	sub, err := fs.Sub(distFS, "dist")
	if err != nil {
		panic(err) // cannot happen: dist is embedded
	}
	return sub
}

// Handler serves the embedded dashboard. Mount it at "/" after the API
// routes; it answers /api/* itself with a JSON 404 as a safety net.
func Handler() http.Handler {
	once.Do(func() { shared = load(FS()) })
	return shared
}

// NewHandler serves the dashboard from any file system laid out like
// dist/ (index.html at its root); tests and development use it.
func NewHandler(fsys fs.FS) http.Handler { return load(fsys) }

func load(fsys fs.FS) *site {
	s := &site{files: map[string]*file{}}
	_ = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil
		}
		sum := sha256.Sum256(data)
		f := &file{
			name:  p,
			data:  data,
			etag:  `"` + hex.EncodeToString(sum[:12]) + `"`,
			ctype: contentType(p),
		}
		if compressible(f.ctype) && len(data) > 512 {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			_, _ = zw.Write(data)
			_ = zw.Close()
			if buf.Len() < len(data)*9/10 {
				f.gz = buf.Bytes()
			}
		}
		s.files[p] = f
		return nil
	})
	s.index = s.files["index.html"]
	return s
}

func contentType(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".json", ".map":
		return "application/json"
	case ".webmanifest":
		return "application/manifest+json"
	case ".txt":
		return "text/plain; charset=utf-8"
	case ".woff2":
		return "font/woff2"
	case ".png":
		return "image/png"
	case ".ico":
		return "image/x-icon"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.Contains(ctype, "javascript") ||
		strings.Contains(ctype, "json") || strings.Contains(ctype, "svg")
}

// staticExt names file types that are never client-side routes (ids in
// kanade may not contain '.', so a path ending in one of these is a file).
var staticExt = map[string]bool{
	".js": true, ".mjs": true, ".css": true, ".map": true, ".svg": true, ".png": true,
	".jpg": true, ".jpeg": true, ".gif": true, ".webp": true, ".ico": true, ".woff": true,
	".woff2": true, ".ttf": true, ".json": true, ".txt": true, ".xml": true, ".wasm": true,
	".webmanifest": true,
}

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p == "/api" || strings.HasPrefix(p, "/api/") {
		writeJSONError(w, http.StatusNotFound, "not found")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+p), "/")
	if name == "" || name == "index.html" {
		s.serveIndex(w, r)
		return
	}
	if f, ok := s.files[name]; ok {
		if strings.HasPrefix(name, "assets/") {
			w.Header().Set("Cache-Control", CacheImmutable)
		} else {
			w.Header().Set("Cache-Control", "public, max-age=3600")
		}
		serveFile(w, r, f)
		return
	}
	if name == "assets" || strings.HasPrefix(name, "assets/") || staticExt[strings.ToLower(path.Ext(name))] {
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	s.serveIndex(w, r)
}

func (s *site) serveIndex(w http.ResponseWriter, r *http.Request) {
	if s.index == nil {
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "dashboard not built: run `cd web && npm ci && npm run build`", http.StatusNotFound)
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	serveFile(w, r, s.index)
}

func serveFile(w http.ResponseWriter, r *http.Request, f *file) {
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("ETag", f.etag)
	data := f.data
	if f.gz != nil {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			h.Set("Content-Encoding", "gzip")
			data = f.gz
		}
	}
	// ServeContent handles HEAD, If-None-Match (304) and ranges.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		enc = strings.TrimSpace(enc)
		if !strings.EqualFold(enc, "gzip") && enc != "*" {
			continue
		}
		q := 1.0
		for _, prm := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(prm), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		return q > 0
	}
	return false
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
