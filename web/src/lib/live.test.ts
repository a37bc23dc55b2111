import { describe, expect, it } from 'vitest';
import { h, render } from 'preact';
import { QueryClient, QueryClientProvider } from '@tanstack/preact-query';
import { invalidate, targetsOf, useLive, type LiveMessage } from './live';
import { until } from './until';
import { FakeSource } from './fakeSource';
import { Client } from './api';
import { ClientContext } from './client';

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

function Live() {
  useLive('/api/v1/events', 1);
  return null;
}

describe('useLive', () => {
  it('resumes the first stream from the smallest position the reads carried, and reads nothing again', async () => {
    const real = globalThis.EventSource;
    globalThis.EventSource = FakeSource as unknown as typeof EventSource;
    FakeSource.all = [];
    const root = document.createElement('div');
    let position = 0;
    const client = new Client({
      fetch: async () => new Response('{}', { status: 200, headers: { 'X-Live-Position': String(position) } }),
    });
    try {
      const qc = new QueryClient();
      // Two screens' reads answered before the stream opens, at positions
      // 41 and 40 (another replica's hub a little behind).
      position = 41;
      qc.setQueryData(['order-list', {}], await client.get('/work-orders'));
      position = 40;
      qc.setQueryData(['rules'], await client.get('/rules'));
      render(h(ClientContext.Provider, { value: client }, h(QueryClientProvider, { client: qc }, h(Live, null))), root);
      await until(() => FakeSource.all.length === 1, 'the stream');
      expect(FakeSource.all[0].url).toBe('/api/v1/events?last_event_id=40');
      const stale = (k: unknown[]) => qc.getQueryState(k)?.isInvalidated;
      FakeSource.all[0].open();
      expect(stale(['order-list', {}])).toBe(false);
      expect(stale(['rules'])).toBe(false);

      // Dropped for good before any event: the next stream resumes from
      // the same position, not from nothing.
      FakeSource.all[0].readyState = FakeSource.CLOSED;
      FakeSource.all[0].onerror?.();
      await until(() => FakeSource.all.length === 2, 'the second stream', 5000);
      expect(FakeSource.all[1].url).toBe('/api/v1/events?last_event_id=40');
      FakeSource.all[1].open();
      expect(stale(['order-list', {}])).toBe(false);

      // A read answered later at a position at or after the stream's start
      // is covered by it; one from before (in flight while the stream
      // opened) makes the page read everything again, once.
      position = 45;
      await client.get('/kpis');
      expect(stale(['order-list', {}])).toBe(false);
      position = 39;
      await client.get('/signals');
      expect(stale(['order-list', {}])).toBe(true);
      expect(stale(['rules'])).toBe(true);
    } finally {
      render(null, root);
      globalThis.EventSource = real;
    }
  });

  it('reads again what screens read before a fresh stream opened, not before a resumed one', async () => {
    const real = globalThis.EventSource;
    globalThis.EventSource = FakeSource as unknown as typeof EventSource;
    FakeSource.all = [];
    const root = document.createElement('div');
    try {
      const qc = new QueryClient();
      // A list read before the stream is open: an order created between
      // that read and the stream's opening sends no event to this tab.
      qc.setQueryData(['order-list', {}], ['o1']);
      qc.setQueryData(['me'], { name: 'ann' });
      render(h(QueryClientProvider, { client: qc }, h(Live, null)), root);
      await until(() => FakeSource.all.length === 1, 'the stream');
      const stale = (k: unknown[]) => qc.getQueryState(k)?.isInvalidated;
      expect(stale(['order-list', {}])).toBe(false);
      FakeSource.all[0].open();
      expect(stale(['order-list', {}])).toBe(true);
      expect(stale(['me'])).toBe(false);

      // Read again; an event arrives, the connection drops and the
      // browser reconnects with the last id: the gap is replayed, nothing
      // is read again.
      qc.setQueryData(['order-list', {}], ['o1', 'o2']);
      qc.setQueryData(['rules'], []);
      FakeSource.all[0].send(7, msg('rule.changed'));
      await until(() => stale(['rules']) === true, "the event's batch");
      FakeSource.all[0].readyState = FakeSource.CONNECTING;
      FakeSource.all[0].onerror?.();
      FakeSource.all[0].open();
      expect(stale(['order-list', {}])).toBe(false);
    } finally {
      render(null, root);
      globalThis.EventSource = real;
    }
  });
});
