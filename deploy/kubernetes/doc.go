// Package kubernetes holds pdm's Helm chart (pdm/) and its test: helm lint
// and helm template run against the chart, and every rendered object is
// decoded strictly with the Kubernetes API types.
package kubernetes
