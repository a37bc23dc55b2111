package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/openpdm/pdm/workorders"
)

// SessionCookie is the name of the console's session cookie.
const SessionCookie = "pdm_session"

// csrfHeader must accompany every cookie-authenticated request that changes
// something. Browsers cannot add a custom header to a cross-site request
// without a CORS preflight this server never grants, so a forged form or
// fetch from another site is refused even where SameSite is not honoured.
const csrfHeader = "X-PDM-Client"

// SessionStore keeps console sessions (workorders/postgres satisfies it).
type SessionStore interface {
	// CreateSession stores a session until expires; ErrNotFound for an unknown user.
	CreateSession(ctx context.Context, userID string, hash []byte, expires time.Time) error
	// SessionUser returns a live session's user, or ErrNotFound.
	SessionUser(ctx context.Context, hash []byte, now time.Time) (workorders.User, error)
	// DeleteSession ends a session.
	DeleteSession(ctx context.Context, hash []byte) error
}

type sessionIn struct {
	Token string `json:"token"`
}

// Session is what sign-in answers: who signed in and until when.
type Session struct {
	User      workorders.User `json:"user"`
	ExpiresAt time.Time       `json:"expires_at"`
}

func (s *Server) sessionRoutes() {
	if s.cfg.Sessions == nil {
		return
	}
	s.handle(Route{Method: "POST", Path: "/session", Tag: "session",
		Summary: "Sign in: exchange a user's token for an HttpOnly session cookie", Body: "SessionInput",
		Response: "Session", Status: http.StatusCreated}, func(c *gin.Context) {
		var in sessionIn
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		tok := strings.TrimSpace(in.Token)
		if tok == "" {
			s.fail(c, workorders.Invalid("token", "is required"))
			return
		}
		u, err := s.svc.Authenticate(c.Request.Context(), tok)
		if err != nil {
			if errors.Is(err, workorders.ErrUnauthenticated) {
				writeError(c, http.StatusUnauthorized, "unauthorized", "unknown or revoked token")
				return
			}
			s.fail(c, err)
			return
		}
		secret, err := workorders.NewToken()
		if err != nil {
			s.fail(c, err)
			return
		}
		exp := time.Now().Add(s.cfg.SessionTTL).UTC().Truncate(time.Second)
		if err := s.cfg.Sessions.CreateSession(c.Request.Context(), u.ID, workorders.HashToken(secret), exp); err != nil {
			s.fail(c, err)
			return
		}
		http.SetCookie(c.Writer, &http.Cookie{Name: SessionCookie, Value: secret, Path: "/", Expires: exp,
			MaxAge: int(s.cfg.SessionTTL / time.Second), HttpOnly: true, SameSite: http.SameSiteStrictMode,
			Secure: secureRequest(c.Request)})
		c.JSON(http.StatusCreated, Session{User: u, ExpiresAt: exp})
	})
	s.handle(Route{Method: "DELETE", Path: "/session", Tag: "session",
		Summary: "Sign out: end the session and clear its cookie", Status: http.StatusNoContent}, func(c *gin.Context) {
		if ck, err := c.Request.Cookie(SessionCookie); err == nil && ck.Value != "" {
			if err := s.cfg.Sessions.DeleteSession(c.Request.Context(), workorders.HashToken(ck.Value)); err != nil {
				s.fail(c, err)
				return
			}
			s.auth.clear()
		}
		http.SetCookie(c.Writer, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
			SameSite: http.SameSiteStrictMode, Secure: secureRequest(c.Request)})
		c.Status(http.StatusNoContent)
	})
}

func secureRequest(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// credential finds the caller's credential: a bearer token, else the
// session cookie. cookie reports which one it was.
func credential(c *gin.Context) (secret string, cookie bool, err error) {
	if h := c.GetHeader("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || strings.TrimSpace(tok) == "" {
			return "", false, errors.New("malformed Authorization header; want Bearer <token>")
		}
		return strings.TrimSpace(tok), false, nil
	}
	if ck, err := c.Request.Cookie(SessionCookie); err == nil && ck.Value != "" {
		return ck.Value, true, nil
	}
	return "", false, errors.New("missing bearer token or session")
}

// userOfCredential authenticates a bearer token or a session secret.
func (s *Server) userOfCredential(ctx context.Context, secret string, cookie bool) (workorders.User, error) {
	if !cookie {
		return s.svc.Authenticate(ctx, secret)
	}
	if s.cfg.Sessions == nil {
		return workorders.User{}, workorders.ErrUnauthenticated
	}
	u, err := s.cfg.Sessions.SessionUser(ctx, workorders.HashToken(secret), time.Now())
	if errors.Is(err, workorders.ErrNotFound) {
		return workorders.User{}, workorders.ErrUnauthenticated
	}
	return u, err
}
