package httpapi_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// redoclyCLI is the pinned outside linter of the OpenAPI document (npm;
// it runs on Node 18).
const redoclyCLI = "@redocly/cli@1.34.20"

// TestOpenAPIDocumentLints runs Redocly's linter over the served document
// with its recommended rules: the web console generates its types from
// this document, so it must be valid OpenAPI and complete.
func TestOpenAPIDocumentLints(t *testing.T) {
	t.Parallel()
	npx, err := exec.LookPath("npx")
	require.NoError(t, err, "npx (Node 18+) is needed to lint the OpenAPI document")
	e := newOpsEnv(t)
	code, b := e.do("GET", "/api/v1/openapi.json", "", nil)
	require.Equal(t, 200, code)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(b, &doc))
	dir := t.TempDir()
	path := filepath.Join(dir, "openapi.json")
	require.NoError(t, os.WriteFile(path, b, 0o600))
	if out := os.Getenv("PDM_OPENAPI_OUT"); out != "" {
		require.NoError(t, os.WriteFile(out, b, 0o600))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "redocly.yaml"), []byte(redoclyConfig), 0o600))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npx, "--yes", redoclyCLI, "lint", "--config", filepath.Join(dir, "redocly.yaml"),
		"--format", "stylish", path)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true", "NO_UPDATE_NOTIFIER=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "redocly lint:\n%s", out)
}

// redoclyConfig: the recommended rules, all as errors, except those that
// ask for things this API does not have (a server list, a licence) and
// unused components (the live stream's message schema is referred to from
// an extension, x-data, for the console's types).
const redoclyConfig = `extends:
  - recommended-strict
rules:
  no-unused-components: warn
  no-server-example.com: off
  no-empty-servers: off
  info-license: off
  info-license-url: off
`
