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
