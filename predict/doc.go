// Package predict owns trend prediction: per (asset, metric) covered by a
// rule with `predict`, it keeps a sliding window of readings in event time,
// fits a linear trend and accelerating-wear models with
// sajari/regression, estimates the remaining useful life (time until the
// fit crosses the rule's critical limit) with bounds from the fit's
// prediction interval, and raises trend signals. It also rebuilds windows
// from history, re-predicts from history on a schedule, serves the health
// view and verifies completed work orders from post-repair telemetry.
//
// How the parts fit (cmd binds them):
//
//   - Predictor is a rules.Observer: pass it in rules.Config.Observers and
//     the rules engine hands it every accepted reading of a predicting
//     rule's metric, in strictly increasing event time (late readings are
//     dropped before it, so they never corrupt a window). Its signals go
//     through the engine's outbox to the same SignalFunc.
//   - Series (one per asset and rule) buckets readings (window/72 each, a
//     trimmed mean), refits every window/96 of event time, and raises a
//     KindTrend signal at LevelCritical once Confirm consecutive fits
//     predict a crossing within the horizon; while it holds, again every
//     ReemitEvery or when the remaining life shrank by a quarter.
//   - Fit is the pure fit with its gates (see Fit). A predicted crossing
//     must then survive the levelling checks (levelling.go): the rise is
//     sustained (visible in the older half of the window), is not a
//     change of operating point (a step model, then only what follows
//     the step counts) and does not level off (deceleration, or a
//     saturating model whose level is below the limit). Warm-ups,
//     run-ins and new operating points raise no trend orders.
//   - rules.Engine.WarmStart replays each window from InfluxDB on start;
//     Job.Run (cron) re-predicts from history what the stream missed;
//     rules.Backtester with the Predictor as observer backtests trend
//     rules too.
//   - HealthService.Health answers GET /assets/{id}/health from the
//     engine's live state, or from history on replicas without it.
//   - Verifier.Run (cron) verifies completed orders once the metric has
//     been healthy for HealthyFor.
package predict
