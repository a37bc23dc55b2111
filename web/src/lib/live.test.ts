import { describe, expect, it } from 'vitest';
import { QueryClient } from '@tanstack/preact-query';
import { invalidate, targetsOf, type LiveMessage } from './live';

const msg = (type: string, data: Record<string, unknown> = {}, order_id?: string): LiveMessage =>
  ({ id: 1, type, at: '2026-01-01T00:00:00Z', order_id, data }) as LiveMessage;

describe('targetsOf', () => {
  it('an order change makes lists, its detail by id and number, KPIs and its asset stale', () => {
    const ts = targetsOf(msg('work_order.transitioned', { id: 'o1', number: 'WO-000123', asset_id: 'a1' }, 'o1'));
    const prefixes = ts.map((t) => ('prefix' in t ? t.prefix : 'all'));
    expect(prefixes).toContainEqual(['work-orders']);
    expect(prefixes).toContainEqual(['work-order', 'o1']);
    expect(prefixes).toContainEqual(['work-order', 'WO-000123']);
    expect(prefixes).toContainEqual(['kpis']);
    expect(prefixes).toContainEqual(['asset', 'a1']);
  });
  it('reset makes everything stale', () => {
    expect(targetsOf(msg('reset'))).toEqual([{ all: true }]);
  });
  it('an unknown table falls back to its name', () => {
    expect(targetsOf(msg('gateway_status.changed'))).toEqual([{ prefix: ['gateway-status'] }]);
  });
});

describe('invalidate', () => {
  it('touches only queries under the prefixes, and keeps the session on reset', async () => {
    const qc = new QueryClient();
    for (const k of [['work-orders', { status: 'proposed' }], ['work-order', 'o1'], ['work-order', 'o2'], ['rules'], ['me']]) {
      qc.setQueryData(k, 1);
    }
    invalidate(qc, targetsOf(msg('work_order.updated', { id: 'o1' }, 'o1')));
    const stale = (k: unknown[]) => qc.getQueryState(k)?.isInvalidated;
    expect(stale(['work-orders', { status: 'proposed' }])).toBe(true);
    expect(stale(['work-order', 'o1'])).toBe(true);
    expect(stale(['work-order', 'o2'])).toBe(false);
    expect(stale(['rules'])).toBe(false);
    invalidate(qc, targetsOf(msg('reset')));
    expect(stale(['rules'])).toBe(true);
    expect(stale(['me'])).toBe(false);
  });
});
