import { describe, expect, it } from 'vitest';
import { hours, percent, stacks } from './wall';

describe('KPI wall helpers', () => {
  it('formats rates and hours, empty when unknown', () => {
    expect(percent(0.953)).toBe('95%');
    expect(percent(null)).toBe('');
    expect(hours(3.04)).toBe('3.0');
    expect(hours(25.6)).toBe('26');
    expect(hours(undefined)).toBe('');
  });
  it('stacks sources in a stable order with offsets', () => {
    const r = stacks([
      { start: 'd1', counts: { manual: 1, trend: 2, zeta: 1 }, total: 4 },
      { start: 'd2', counts: { threshold: 5 }, total: 5 },
    ]);
    expect(r.sources).toEqual(['threshold', 'trend', 'manual', 'zeta']);
    expect(r.max).toBe(5);
    expect(r.stacks[0].parts).toEqual([
      { source: 'trend', n: 2, y: 0 },
      { source: 'manual', n: 1, y: 2 },
      { source: 'zeta', n: 1, y: 3 },
    ]);
  });
});
