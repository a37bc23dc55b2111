// The evidence chart's draw-time harness (bench only, not in the shipped
// bundle): the console's own Chart component and evidenceColumns, fed a
// synthetic telemetry window of ?points=N readings (default 100,000) with
// a fitted trend and its band, drawn ?runs=R times (default 7) into a fresh
// element each. Per run it records the milliseconds to build the columns,
// from mounting to the end of uPlot's first draw, and from mounting to the
// next frame after it; window.__bench holds the result for the Go harness
// (cmd/pdm BenchmarkConsole).
import { render } from 'preact';
import { Chart } from '../src/console/Chart';
import { evidenceColumns, type Evidence, type Point } from '../src/console/orders/evidence';

interface Result {
  points: number;
  columns: number;
  build_ms: number[];
  draw_ms: number[];
  frame_ms: number[];
}

declare global {
  interface Window {
    __bench?: Result | { error: string };
  }
}

const params = new URLSearchParams(location.search);
const n = Number(params.get('points') ?? 100_000);
const runs = Number(params.get('runs') ?? 7);

function telemetry(count: number): { points: Point[]; ev: Evidence } {
  const end = Date.parse('2026-03-01T00:00:00Z');
  const step = 10_000; // one reading every 10 s: 100,000 readings ≈ 11.6 days
  const start = end - (count - 1) * step;
  const points: Point[] = new Array(count);
  let seed = 42;
  const noise = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff - 0.5;
  };
  for (let i = 0; i < count; i++) {
    const h = (i * step) / 3600_000;
    points[i] = { ts: new Date(start + i * step).toISOString(), value: 2 + 0.01 * h + 0.3 * Math.sin(i / 500) + 0.4 * noise() };
  }
  const hours = ((count - 1) * step) / 3600_000;
  const iso = (ms: number) => new Date(ms).toISOString();
  const ev: Evidence = {
    model: 'linear',
    window_start: iso(start),
    window_end: iso(end),
    slope: 0.01,
    intercept: 2 + 0.01 * hours,
    limit: 7.1,
    predicted_failure_at: iso(end + 200 * 3600_000),
    predicted_failure_earliest: iso(end + 150 * 3600_000),
    predicted_failure_latest: iso(end + 260 * 3600_000),
    breach_start: iso(end - 3600_000),
  };
  return { points, ev };
}

const nextFrame = () => new Promise<void>((r) => requestAnimationFrame(() => setTimeout(r, 0)));

async function main() {
  const { points, ev } = telemetry(n);
  const root = document.getElementById('root')!;
  const out: Result = { points: n, columns: 0, build_ms: [], draw_ms: [], frame_ms: [] };
  for (let r = 0; r < runs; r++) {
    const host = document.createElement('div');
    root.replaceChildren(host);
    await nextFrame();
    const t0 = performance.now();
    const data = evidenceColumns(points, ev);
    const built = performance.now();
    let drawn = 0;
    render(
      <Chart
        label="bench"
        data={data}
        series={[
          { label: 'value', color: '#2d6cdf' },
          { label: 'trend', color: '#6c5ce7', dash: [8, 4], width: 2 },
          { label: 'early', color: 'rgba(214,120,40,0.7)', width: 1 },
          { label: 'late', color: 'rgba(214,120,40,0.7)', width: 1 },
        ]}
        band={[4, 3]}
        limits={[
          { value: 4.5, label: 'warn', color: '#c98a00' },
          { value: 7.1, label: 'critical', color: '#c0392b' },
        ]}
        markers={[{ t: Date.parse(ev.breach_start!) / 1000, label: 'breach', color: '#c0392b' }]}
        onDrawn={() => {
          drawn = performance.now();
        }}
      />,
      host,
    );
    await nextFrame();
    const framed = performance.now();
    if (!drawn) throw new Error('the chart never drew');
    out.columns = data.length;
    out.build_ms.push(built - t0);
    out.draw_ms.push(drawn - built);
    out.frame_ms.push(framed - built);
    render(null, host);
  }
  window.__bench = out;
}

main().catch((e: unknown) => {
  window.__bench = { error: String(e) };
});
