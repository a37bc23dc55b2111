import { describe, expect, it } from 'vitest';
import { coveragePercent, driverText, driversText } from './fleet';

describe('fleet drivers', () => {
  it('writes a driver as the metric and its signed deviation in sigma', () => {
    expect(driverText({ metric: 's11', rise: 3.24 }, 'en')).toBe('s11 +3.2σ');
    expect(driverText({ metric: 's7', rise: -2.06 }, 'en')).toBe('s7 −2.1σ');
    expect(driverText({ metric: 's2', rise: 3 }, 'zh-CN')).toBe('s2 +3.0σ');
    expect(driverText({ metric: 's9', rise: 0.01 }, 'en')).toBe('s9 ±0.0σ');
    expect(driverText({ metric: 's4' }, 'en')).toBe('');
    expect(driverText({ rise: 1 }, 'en')).toBe('');
  });

  it('lists at most three, in the server’s order, skipping broken ones', () => {
    const ds = [
      { metric: 's11', rise: 3.2 },
      { metric: 's4', rise: -2.8 },
      { metric: 'x' },
      { metric: 's15', rise: 1.5 },
    ];
    expect(driversText(ds, 'en')).toBe('s11 +3.2σ, s4 −2.8σ');
    expect(driversText(ds.slice(0, 2), 'zh-CN')).toBe('s11 +3.2σ、s4 −2.8σ');
    expect(driversText(null, 'en')).toBe('');
    expect(driversText([{ metric: 'a', rise: 1 }, { metric: 'b', rise: 1 }, { metric: 'c', rise: 1 }, { metric: 'd', rise: 1 }], 'en')).toBe(
      'a +1.0σ, b +1.0σ, c +1.0σ',
    );
  });

  it('takes the interval’s coverage in percent, 90 when missing', () => {
    expect(coveragePercent(0.9)).toBe(90);
    expect(coveragePercent(0.8)).toBe(80);
    expect(coveragePercent(0.955)).toBe(96);
    expect(coveragePercent(undefined)).toBe(90);
    expect(coveragePercent(1.5)).toBe(90);
  });
});
