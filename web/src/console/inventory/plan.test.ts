import { describe, expect, it } from 'vitest';
import { byReorder, dayKey, dueTimes, monthGrid, reorderState, type Schedule, type Stock } from './plan';

const st = (sku: string, f: Partial<Stock>): Stock => ({ sku, location_code: 'WH', available: 10, reorder_point: 2, ...f }) as Stock;

describe('reorder state', () => {
  it('an open request wins, then a suggestion, then low, else ok', () => {
    expect(reorderState(st('a', { open_purchase_request_id: 'pr', suggested_order_qty: 5 }))).toBe('requested');
    expect(reorderState(st('b', { suggested_order_qty: 5 }))).toBe('reorder');
    expect(reorderState(st('c', { available: 2 }))).toBe('low');
    expect(reorderState(st('d', {}))).toBe('ok');
    expect(reorderState(st('e', { reorder_point: 0, available: 0 }))).toBe('ok');
  });
  it('sorts what needs a decision first', () => {
    const l = [st('ok', {}), st('req', { open_purchase_request_id: 'x' }), st('low', { available: 1 }), st('re', { suggested_order_qty: 3 })];
    expect(l.sort(byReorder).map((s) => s.sku)).toEqual(['re', 'low', 'req', 'ok']);
  });
});

describe('calendar', () => {
  it('lays a month out in Monday-first weeks covering every day', () => {
    const g = monthGrid(2026, 2); // March 2026 starts on a Sunday
    expect(g[0][0].getDate()).toBe(23);
    expect(g[0][6].getDate()).toBe(1);
    const days = g.flat().filter((d) => d.getMonth() === 2).length;
    expect(days).toBe(31);
    expect(g.every((w) => w.length === 7)).toBe(true);
  });
  it('places a calendar schedule every period from its start, none for meters', () => {
    const s = { kind: 'calendar', every: '7d', starts_at: '2026-03-02T08:00:00Z' } as Schedule;
    const from = new Date('2026-03-01T00:00:00Z');
    const to = new Date('2026-04-01T00:00:00Z');
    expect(dueTimes(s, from, to).map((d) => d.toISOString().slice(0, 10))).toEqual(['2026-03-02', '2026-03-09', '2026-03-16', '2026-03-23', '2026-03-30']);
    expect(dueTimes({ ...s, starts_at: '2026-03-20T00:00:00Z' }, from, to)).toHaveLength(2);
    expect(dueTimes({ ...s, kind: 'meter' }, from, to)).toEqual([]);
    expect(dueTimes({ ...s, every: 'soon' }, from, to)).toEqual([]);
  });
  it('keys days in local time', () => {
    expect(dayKey(new Date(2026, 0, 5))).toBe('2026-01-05');
  });
});
