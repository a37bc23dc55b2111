import { describe, expect, it } from 'vitest';
import { span, worstPriority } from './board';

describe('dispatch board helpers', () => {
  const from = Date.parse('2026-03-01T08:00:00Z');
  it('places a job in the window and clips it', () => {
    expect(span('2026-03-01T09:00:00Z', '2026-03-01T11:00:00Z', from, 10)).toEqual({ left: 10, width: 20 });
    expect(span('2026-03-01T06:00:00Z', '2026-03-01T09:00:00Z', from, 10)).toEqual({ left: 0, width: 10 });
    expect(span('2026-03-01T19:00:00Z', '2026-03-01T20:00:00Z', from, 10)).toBeNull();
    expect(span(undefined, '2026-03-01T20:00:00Z', from, 10)).toBeNull();
  });
  it('keeps the most urgent priority per asset', () => {
    const m = worstPriority([
      { asset_id: 'a', priority: 'P3' },
      { asset_id: 'a', priority: 'P1' },
      { asset_id: 'b', priority: 'P4' },
      { priority: 'P1' },
    ]);
    expect([...m.entries()]).toEqual([
      ['a', 'P1'],
      ['b', 'P4'],
    ]);
  });
});
