import { describe, expect, it } from 'vitest';
import { visibleRange } from './window';

describe('visibleRange', () => {
  it('renders only the rows in view plus overscan', () => {
    expect(visibleRange(10_000, 32, 32_000, 640, 5)).toEqual({ start: 995, end: 1025, top: 995 * 32, bottom: (10_000 - 1025) * 32 });
  });
  it('clamps at both ends', () => {
    expect(visibleRange(10, 32, 0, 640)).toEqual({ start: 0, end: 10, top: 0, bottom: 0 });
    expect(visibleRange(0, 32, 100, 640).end).toBe(0);
  });
});
