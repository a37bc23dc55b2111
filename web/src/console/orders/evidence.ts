// The evidence chart's data: the telemetry window, the fitted trend up to
// the predicted crossing, and its band (earliest to latest crossing), as
// aligned columns for uPlot. Pure, so it is unit tested.

export interface Evidence {
  model?: string;
  window_start?: string;
  window_end?: string;
  slope?: number; // per hour, in the model's space
  intercept?: number; // the fit at window_end, in the model's space
  limit?: number;
  predicted_failure_at?: string;
  predicted_failure_earliest?: string;
  predicted_failure_latest?: string;
  breach_start?: string;
}

export interface Point {
  ts: string;
  value: number;
}

/** Seconds since the epoch of an RFC 3339 time, or undefined. */
export function secs(iso?: string | null): number | undefined {
  if (!iso) return undefined;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : t / 1000;
}

/** The fitted value at time t (seconds) in original units. */
export function trendAt(ev: Evidence, t: number): number | undefined {
  const end = secs(ev.window_end);
  if (end === undefined || ev.slope === undefined || ev.intercept === undefined) return undefined;
  const h = (t - end) / 3600;
  if (ev.model === 'exponential') return Math.exp(ev.intercept + ev.slope * h);
  if (ev.model === 'linear' || !ev.model) return ev.intercept + ev.slope * h;
  return undefined;
}

export type Columns = [number[], ...(number | null)[][]];

/**
 * Columns: x, telemetry, trend, band low edge, band high edge. The trend
 * runs from the window start to the predicted crossing (models other than
 * linear and exponential: a straight line from the window end's value to
 * the limit); the band's edges run from the window end to the limit at the
 * earliest and the latest crossing.
 */
export function evidenceColumns(points: Point[], ev: Evidence): Columns {
  const x: number[] = [];
  const y: (number | null)[] = [];
  for (const p of points) {
    const t = secs(p.ts);
    if (t === undefined) continue;
    x.push(t);
    y.push(p.value);
  }
  const start = secs(ev.window_start);
  const end = secs(ev.window_end);
  const cross = secs(ev.predicted_failure_at);
  const early = secs(ev.predicted_failure_earliest);
  const late = secs(ev.predicted_failure_latest);
  const extra = new Set<number>();
  for (const t of [start, end, cross, early, late]) if (t !== undefined) extra.add(t);
  const { xs, ys } = withTimes(x, y, [...extra]);
  const endValue = end !== undefined ? trendAt(ev, end) ?? lastValueBefore(xs, ys, end) : undefined;
  const line = (from: number | undefined, to: number | undefined, v0: number | undefined, v1: number | undefined) =>
    xs.map((t) => {
      if (from === undefined || to === undefined || v0 === undefined || v1 === undefined || t < from || t > to) return null;
      return to === from ? v1 : v0 + ((v1 - v0) * (t - from)) / (to - from);
    });
  let trend: (number | null)[];
  if (trendAt(ev, end ?? 0) !== undefined && start !== undefined) {
    const stop = cross ?? end!;
    trend = xs.map((t) => (t >= start && t <= stop ? trendAt(ev, t)! : null));
  } else {
    trend = line(end, cross, endValue, ev.limit);
  }
  const low = line(end, early, endValue, ev.limit);
  const high = line(end, late, endValue, ev.limit);
  return [xs, ys, trend, low, high];
}

function lastValueBefore(xs: number[], ys: (number | null)[], t: number): number | undefined {
  let v: number | undefined;
  for (let i = 0; i < xs.length && xs[i] <= t; i++) if (ys[i] !== null) v = ys[i]!;
  return v;
}

/**
 * x and y with the times extra added (y null there) where x lacks them, in
 * time order. Telemetry comes sorted: then the few extra times are merged
 * in one pass (100,000 points in a few milliseconds); otherwise sorted.
 */
function withTimes(x: number[], y: (number | null)[], extra: number[]): { xs: number[]; ys: (number | null)[] } {
  let sorted = true;
  for (let i = 1; i < x.length && sorted; i++) if (x[i] < x[i - 1]) sorted = false;
  const have = new Set(x.length < 64 ? x : extra.filter((t) => x.includes(t)));
  const add = extra.filter((t) => !have.has(t)).sort((a, b) => a - b);
  if (!sorted) {
    const all = [...x, ...add];
    const order = all.map((_, i) => i).sort((a, b) => all[a] - all[b]);
    return { xs: order.map((i) => all[i]), ys: order.map((i) => (i < y.length ? y[i] : null)) };
  }
  const xs: number[] = new Array(x.length + add.length);
  const ys: (number | null)[] = new Array(x.length + add.length);
  let i = 0;
  let j = 0;
  for (let k = 0; k < xs.length; k++) {
    if (j < add.length && (i >= x.length || add[j] < x[i])) {
      xs[k] = add[j++];
      ys[k] = null;
    } else {
      xs[k] = x[i];
      ys[k] = y[i++];
    }
  }
  return { xs, ys };
}
