package httpapi_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openpdm/pdm/workorders"
	"github.com/openpdm/pdm/workorders/httpapi"
	"github.com/openpdm/pdm/workorders/postgres"
)

func callAs(srv *httpapi.Server, method, path, token, remote string) int {
	req := httptest.NewRequest(method, path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if remote != "" {
		req.RemoteAddr = remote
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	return rec.Code
}

func TestFailedAuthenticationIsRateLimitedPerClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *httpapi.Config) { c.AuthFailures = httpapi.RateLimit{Every: time.Hour, Burst: 3} })
	for i := range 3 {
		require.Equal(t, 401, callAs(e.srv, "GET", "/api/v1/me", "guess", "10.0.0.1:1000"), "attempt %d", i)
	}
	require.Equal(t, 429, callAs(e.srv, "GET", "/api/v1/me", "another guess", "10.0.0.1:1000"))
	// Another client is not affected; a cached good token still works.
	require.Equal(t, 401, callAs(e.srv, "GET", "/api/v1/me", "guess", "10.0.0.2:1000"))
	require.Equal(t, 200, callAs(e.srv, "GET", "/api/v1/me", e.tokens[workorders.RoleViewer], "10.0.0.2:1000"))
	// X-Forwarded-For from an untrusted peer does not reset the bucket.
	req := httptest.NewRequest("GET", "/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer guess")
	req.Header.Set("X-Forwarded-For", "192.0.2.9")
	req.RemoteAddr = "10.0.0.1:1000"
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	require.Equal(t, 429, rec.Code)
	require.NotEmpty(t, rec.Header().Get("Retry-After"))
}

func TestTokenLifeCycle(t *testing.T) {
	t.Parallel()
	store, _ := migratedStore(t)
	svc := workorders.NewService(store, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	// Two replicas on one database; the second learns of revocations by
	// LISTEN/NOTIFY, its cache would otherwise keep tokens 10 minutes.
	a, err := httpapi.New(httpapi.Config{Service: svc})
	require.NoError(t, err)
	b, err := httpapi.New(httpapi.Config{Service: svc, AuthCacheTTL: 10 * time.Minute})
	require.NoError(t, err)
	go func() { _ = store.ListenRevocations(ctx, b.ForgetTokens) }()

	admin, adminTok, err := svc.CreateUser(ctx, "root", workorders.RoleAdmin)
	require.NoError(t, err)
	_ = admin
	u, tok, err := svc.CreateUser(ctx, "field", workorders.RoleEngineer)
	require.NoError(t, err)
	require.Equal(t, 200, callAs(b, "GET", "/api/v1/me", tok, ""))

	// Revocation on a reaches b within a second.
	require.Equal(t, 204, callAs(a, "DELETE", "/api/v1/users/"+u.ID+"/tokens", adminTok, ""))
	require.Eventually(t, func() bool { return callAs(b, "GET", "/api/v1/me", tok, "") == 401 }, time.Second, 20*time.Millisecond)

	// Expiry and rotation.
	e := &env{t: t, svc: svc, srv: a, tokens: map[workorders.Role]string{workorders.RoleAdmin: adminTok}}
	var nt httpapi.Token
	e.mustJSON("POST", "/api/v1/users/"+u.ID+"/tokens", workorders.RoleAdmin, map[string]any{"expires_in": "1h"}, 201, &nt)
	require.NotNil(t, nt.ExpiresAt)
	require.Equal(t, 200, callAs(a, "GET", "/api/v1/me", nt.Token, ""))
	var infos httpapi.List[workorders.TokenInfo]
	e.mustJSON("GET", "/api/v1/users/"+u.ID+"/tokens", workorders.RoleAdmin, nil, 200, &infos)
	require.Len(t, infos.Items, 1)
	require.NotNil(t, infos.Items[0].LastUsedAt)
	var rotated httpapi.Token
	e.mustJSON("POST", "/api/v1/users/"+u.ID+"/tokens", workorders.RoleAdmin, map[string]any{"replace": true}, 201, &rotated)
	require.Equal(t, 200, callAs(b, "GET", "/api/v1/me", rotated.Token, ""))
	require.Eventually(t, func() bool { return callAs(b, "GET", "/api/v1/me", nt.Token, "") == 401 }, time.Second, 20*time.Millisecond)
	code, _ := e.do("POST", "/api/v1/users/"+u.ID+"/tokens", adminTok, map[string]any{"expires_in": "0s"})
	require.Equal(t, 201, code, "0s means no expiry")
	code, body := e.do("POST", "/api/v1/users/"+u.ID+"/tokens", adminTok, map[string]any{"expires_in": 5})
	require.Equal(t, 400, code, string(body))

	// An expired token is unknown.
	exp := time.Now().Add(-time.Minute)
	require.NoError(t, store.AddToken(ctx, u.ID, workorders.HashToken("pdm_expired_token_000"), workorders.TokenOptions{ExpiresAt: &exp}))
	require.Equal(t, 401, callAs(a, "GET", "/api/v1/me", "pdm_expired_token_000", ""))
}

func TestBootstrapTokenRetiredAndNeverResurrected(t *testing.T) {
	t.Parallel()
	store, _ := migratedStore(t)
	var _ interface {
		ListenRevocations(context.Context, func()) error
	} = store
	svc := workorders.NewService(store, nil, nil)
	ctx := context.Background()
	first, second := "first-admin-token-0123456789", "second-admin-token-0123456789"
	_, err := svc.BootstrapAdmin(ctx, first)
	require.NoError(t, err)
	_, err = svc.Authenticate(ctx, first)
	require.NoError(t, err)
	// PDM_ADMIN_TOKEN changed: the first one is retired.
	_, err = svc.BootstrapAdmin(ctx, second)
	require.NoError(t, err)
	_, err = svc.Authenticate(ctx, first)
	require.ErrorIs(t, err, workorders.ErrUnauthenticated)
	u, err := svc.Authenticate(ctx, second)
	require.NoError(t, err)
	// Revoked, then a restart with the same PDM_ADMIN_TOKEN: refused, not
	// resurrected.
	_, err = svc.RevokeTokens(ctx, u.ID)
	require.NoError(t, err)
	_, err = svc.BootstrapAdmin(ctx, second)
	require.ErrorIs(t, err, workorders.ErrTokenRevoked)
	_, err = svc.Authenticate(ctx, second)
	require.ErrorIs(t, err, workorders.ErrUnauthenticated)
	_, err = svc.BootstrapAdmin(ctx, first)
	require.ErrorIs(t, err, workorders.ErrTokenRevoked, "a retired token stays retired")
	_ = postgres.TokensChannel
}
