import { describe, expect, it } from 'vitest';
import { evidenceColumns, trendAt } from './evidence';

const h = (n: number) => new Date(Date.UTC(2026, 0, 1, n)).toISOString();

describe('evidence', () => {
  const ev = {
    model: 'linear',
    window_start: h(0),
    window_end: h(10),
    slope: 0.5,
    intercept: 5,
    limit: 7,
    predicted_failure_at: h(14),
    predicted_failure_earliest: h(12),
    predicted_failure_latest: h(18),
  };
  it('merges the window and crossing times into sorted telemetry, and sorts telemetry that is not', () => {
    // 100 readings every 6 minutes from h(0): h(10) and the crossings are
    // not among them, h(0) and h(5) are.
    const sorted = Array.from({ length: 100 }, (_, i) => ({ ts: new Date(Date.parse(h(0)) + i * 360_000).toISOString(), value: i }));
    const a = evidenceColumns(sorted, ev);
    const b = evidenceColumns([...sorted].reverse(), ev);
    expect(b).toEqual(a);
    expect(a[0]).toHaveLength(100 + 4); // + h(10), h(12), h(14), h(18)
    for (let i = 1; i < a[0].length; i++) expect(a[0][i]).toBeGreaterThan(a[0][i - 1]);
    const at = (t: string) => a[0].indexOf(Date.parse(t) / 1000);
    expect(a[1][at(h(5))]).toBe(50);
    expect(a[1][at(h(10))]).toBeNull();
    expect(a[1].filter((v) => v !== null)).toHaveLength(100);
  });
  it('the linear trend reads the fit at the window end', () => {
    expect(trendAt(ev, Date.parse(h(10)) / 1000)).toBe(5);
    expect(trendAt(ev, Date.parse(h(14)) / 1000)).toBe(7);
  });
  it('columns run to the latest crossing, the trend to the predicted one, the band from the window end', () => {
    const pts = [0, 5, 10].map((i) => ({ ts: h(i), value: i / 2 }));
    const [x, y, trend, low, high] = evidenceColumns(pts, ev);
    expect(x).toEqual([0, 5, 10, 12, 14, 18].map((i) => Date.parse(h(i)) / 1000));
    expect(y).toEqual([0, 2.5, 5, null, null, null]);
    expect(trend[4]).toBe(7);
    expect(trend[5]).toBeNull();
    expect(low[2]).toBe(5);
    expect(low[3]).toBe(7);
    expect(high[5]).toBe(7);
    expect(high[0]).toBeNull();
  });
  it('an exponential fit is drawn in original units', () => {
    const e = { ...ev, model: 'exponential', intercept: Math.log(5), slope: Math.log(2) };
    expect(trendAt(e, Date.parse(h(11)) / 1000)).toBeCloseTo(10);
  });
});
