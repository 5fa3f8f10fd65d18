// Package console is ecache's web console: the clusters, replication groups (each node's role and
// endpoint), snapshots, users and events of a region, refreshed every few seconds, and the actions a
// person reaches for first (TestFailover, reboot a node, take a snapshot), all through the same service
// calls as the API. It answers only to a session opened with the API's own credentials.
package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/metrics"
)

// Prefix is where the console is served.
const Prefix = "/console/"

const (
	cookieName     = "ecache_console"
	sessionTTL     = 12 * time.Hour
	defaultRegion  = "us-east-1"
	refreshSeconds = 3
)

//go:embed templates/*.html
var templateFiles embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{"str": deref[string], "num": deref[int32], "float": deref[float64], "copied": copiedNodeGroups, "flag": deref[bool], "parameterGroups": parameterGroupRows}).
	ParseFS(templateFiles, "templates/*.html"))

// Console serves the web console.
type Console struct {
	// Service is what the pages read and the actions call: the API's own service.
	Service api.Service
	// AccessKeyID and SecretAccessKey are the API's credentials, the only ones that open a session.
	AccessKeyID, SecretAccessKey string
	// Region reports whether a region is served.
	Region func(string) bool
	Logger *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Metrics reads every node's metrics (nil: no charts).
	Metrics func() (map[metrics.NodeKey]map[string]float64, error)

	mu         sync.Mutex
	sessions   map[string]session
	history    map[metrics.NodeKey][]sample
	lastSample time.Time
}

// session is one signed-in browser: its cookie's token maps to it, and forms carry its csrf token.
type session struct {
	csrf    string
	expires time.Time
}

func (c *Console) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// ServeHTTP routes the console's pages and forms.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'")
	switch {
	case r.URL.Path == Prefix+"login" && r.Method == http.MethodGet:
		c.render(w, http.StatusOK, "login.html", loginPage{})
	case r.URL.Path == Prefix+"login" && r.Method == http.MethodPost:
		c.login(w, r)
	default:
		s, ok := c.session(r)
		if !ok {
			http.Redirect(w, r, Prefix+"login", http.StatusSeeOther)
			return
		}
		switch {
		case r.URL.Path == Prefix && r.Method == http.MethodGet:
			c.overview(w, r, s)
		case r.URL.Path == Prefix+"parameter-group" && r.Method == http.MethodGet:
			c.parameterGroup(w, r, s)
		case r.URL.Path == Prefix+"action" && r.Method == http.MethodPost:
			c.action(w, r, s)
		case r.URL.Path == Prefix+"logout" && r.Method == http.MethodPost:
			c.logout(w, r, s)
		default:
			http.NotFound(w, r)
		}
	}
}

// loginPage is what the login form shows.
type loginPage struct{ Error string }

// login opens a session for the API's credentials.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	id, secret := r.PostFormValue("access_key_id"), r.PostFormValue("secret_access_key")
	okID := subtle.ConstantTimeCompare([]byte(id), []byte(c.AccessKeyID)) == 1
	okSecret := subtle.ConstantTimeCompare([]byte(secret), []byte(c.SecretAccessKey)) == 1
	if !okID || !okSecret || c.AccessKeyID == "" {
		c.Logger.Warn("console: sign-in refused", "access_key_id", id, "remote", r.RemoteAddr)
		c.render(w, http.StatusForbidden, "login.html", loginPage{Error: "Those are not this server's credentials."})
		return
	}
	token := rand.Text()
	c.mu.Lock()
	if c.sessions == nil {
		c.sessions = map[string]session{}
	}
	for t, s := range c.sessions {
		if c.now().After(s.expires) {
			delete(c.sessions, t)
		}
	}
	c.sessions[token] = session{csrf: rand.Text(), expires: c.now().Add(sessionTTL)}
	c.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: token, Path: Prefix, HttpOnly: true, SameSite: http.SameSiteStrictMode,
		MaxAge: int(sessionTTL / time.Second)})
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

// session is the request's signed-in session, if it has one.
func (c *Console) session(r *http.Request) (session, bool) {
	ck, err := r.Cookie(cookieName)
	if err != nil {
		return session{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.sessions[ck.Value]
	if !ok || c.now().After(s.expires) {
		return session{}, false
	}
	return s, true
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, s session) {
	if r.PostFormValue("csrf") == s.csrf {
		ck, _ := r.Cookie(cookieName)
		c.mu.Lock()
		delete(c.sessions, ck.Value)
		c.mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: Prefix, MaxAge: -1})
	}
	http.Redirect(w, r, Prefix+"login", http.StatusSeeOther)
}

// region is the region a request names (?region=), or the default one; ok is false for one not served.
func (c *Console) region(r *http.Request) (string, bool) {
	rg := r.FormValue("region")
	if rg == "" {
		return defaultRegion, true
	}
	return rg, c.Region == nil || c.Region(rg)
}

// inRegion is ctx as a call of the console's signed-in user in region rg.
func (c *Console) inRegion(ctx context.Context, rg string) context.Context {
	return api.WithCaller(ctx, api.Caller{AccessKeyID: c.AccessKeyID, Region: rg, RequestID: "console-" + rand.Text()[:8]})
}

func (c *Console) render(w http.ResponseWriter, status int, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := templates.ExecuteTemplate(w, name, data); err != nil {
		c.Logger.Error("console: rendering a page", "page", name, "err", err)
	}
}

func deref[T any](p *T) T {
	var zero T
	if p != nil {
		return *p
	}
	return zero
}
