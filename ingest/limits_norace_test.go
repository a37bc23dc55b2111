//go:build !race

package ingest

// bogusAssets is how many asset codes TestMillionBogusAssetsMemoryFlat
// publishes.
const bogusAssets = 1_000_000
