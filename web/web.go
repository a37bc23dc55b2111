// Package web embeds the built front end (the planners' console at /, the
// engineers' app at /app/ and the public pages at /r/ and /s/) and serves
// it. The bundle is made by `make web` into dist/ui; a binary built without
// it still serves a page that says how to build it.
package web

import (
	"bytes"
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed all:dist
var dist embed.FS

// entries maps a path prefix to the page that serves every route under it,
// most specific first; "/" is the console.
func entries() []struct{ prefix, page string } {
	return []struct{ prefix, page string }{
		{"/app/", "app/index.html"},
		{"/r/", "pages/index.html"},
		{"/s/", "pages/index.html"},
		{"/", "index.html"},
	}
}

// Built reports whether the bundle is present in this binary.
func Built() bool {
	_, err := fs.Stat(dist, "dist/ui/index.html")
	return err == nil
}

// Handler serves the embedded bundle. Files are served as they are, hashed
// assets with a one-year immutable cache; any other path under an entry's
// prefix gets that entry's page so client-side routes survive a reload.
func Handler() http.Handler {
	if !Built() {
		return http.HandlerFunc(notBuilt)
	}
	ui, err := fs.Sub(dist, "dist/ui")
	if err != nil {
		return http.HandlerFunc(notBuilt)
	}
	return newHandler(ui)
}

func newHandler(ui fs.FS) *handler { return &handler{fs: ui, mod: time.Now()} }

type handler struct {
	fs  fs.FS
	mod time.Time
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	securityHeaders(w.Header())
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name != "" && !strings.HasSuffix(r.URL.Path, "/") {
		if b, err := fs.ReadFile(h.fs, name); err == nil {
			if strings.HasPrefix(name, "assets/") {
				w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
			} else {
				w.Header().Set("Cache-Control", "no-cache")
			}
			http.ServeContent(w, r, name, h.mod, bytes.NewReader(b))
			return
		}
		// A missing asset is a 404, not the page: a stale tab must not
		// receive HTML for a script. The console's own /assets/{id} pages
		// (a name without an extension) are the page.
		if (strings.HasPrefix(name, "assets/") && strings.Contains(path.Base(name), ".")) ||
			strings.HasSuffix(name, ".js") || strings.HasSuffix(name, ".css") {
			http.NotFound(w, r)
			return
		}
	}
	p := r.URL.Path
	for _, e := range entries() {
		if strings.HasPrefix(p+"/", e.prefix) || strings.HasPrefix(p, e.prefix) {
			b, err := fs.ReadFile(h.fs, e.page)
			if err != nil {
				continue
			}
			w.Header().Set("Cache-Control", "no-cache")
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			http.ServeContent(w, r, e.page, h.mod, bytes.NewReader(b))
			return
		}
	}
	http.NotFound(w, r)
}

// securityHeaders keeps the pages from being framed or sniffed and limits
// scripts to the bundle's own.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob: https:; "+
		"style-src 'self' 'unsafe-inline'; connect-src 'self'; worker-src 'self'; "+
		"manifest-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
}

const notBuiltPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pdm: console not built</title>
<meta name="viewport" content="width=device-width,initial-scale=1"></head>
<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;line-height:1.5">
<h1>The console is not built into this binary</h1>
<p>The API works at <a href="/api/v1/openapi.json">/api/v1</a>. To add the web console,
the engineers' app and the public pages, build the front end and then the binary:</p>
<pre>make web        # or: cd web &amp;&amp; npm ci &amp;&amp; npm run build
go build -o bin/ ./cmd/...</pre>
<p>It needs Node.js 18 or newer (Debian 12: <code>apt-get install nodejs npm</code>).</p>
<hr><p lang="zh-CN">此程序未包含网页控制台。请先运行 <code>make web</code>，再重新编译 <code>pdm</code>。</p>
</body></html>`

func notBuilt(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/assets/") && strings.Contains(path.Base(r.URL.Path), ".") {
		http.NotFound(w, r)
		return
	}
	securityHeaders(w.Header())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(notBuiltPage))
}
