//go:build race

package ingest

// bogusAssets is how many asset codes TestMillionBogusAssetsMemoryFlat
// publishes under the race detector (ten times slower).
const bogusAssets = 100_000
