import { describe, expect, it } from 'vitest';
import { h, render } from 'preact';
import { Client } from '../lib/api';
import { ClientContext } from '../lib/client';
import { until } from '../lib/until';
import { FakeSource } from '../lib/fakeSource';
import { useLiveReload } from './Offers';

async function mount(client: Client, onReload: () => void) {
  function Live() {
    useLiveReload(onReload);
    return null;
  }
  const root = document.createElement('div');
  render(h(ClientContext.Provider, { value: client }, h(Live, null)), root);
  await until(() => FakeSource.all.length === 1, 'the stream');
  return () => render(null, root);
}

describe('useLiveReload', () => {
  it('resumes from the position the reads carried, and reloads a burst once', async () => {
    const real = globalThis.EventSource;
    globalThis.EventSource = FakeSource as unknown as typeof EventSource;
    FakeSource.all = [];
    const client = new Client({ fetch: async () => new Response('{}', { headers: { 'X-Live-Position': '17' } }) });
    await client.get('/me/offers');
    let reloads = 0;
    const unmount = await mount(client, () => reloads++);
    try {
      expect(FakeSource.all[0].url).toBe('/api/v1/events?last_event_id=17');
      FakeSource.all[0].open();
      // A replay of what changed since the read: one reload.
      for (let id = 18; id < 30; id++) FakeSource.all[0].send(id, { type: 'offers.changed' });
      await until(() => reloads === 1, 'the reload');
      await new Promise((r) => setTimeout(r, 150));
      expect(reloads).toBe(1);
    } finally {
      unmount();
      globalThis.EventSource = real;
    }
  });

  it('with no read to resume from, reloads once the stream is open', async () => {
    const real = globalThis.EventSource;
    globalThis.EventSource = FakeSource as unknown as typeof EventSource;
    FakeSource.all = [];
    let reloads = 0;
    const unmount = await mount(new Client({ fetch: async () => new Response('{}') }), () => reloads++);
    try {
      expect(FakeSource.all[0].url).toBe('/api/v1/events');
      expect(reloads).toBe(0);
      FakeSource.all[0].open();
      await until(() => reloads === 1, 'the reload on open');
    } finally {
      unmount();
      globalThis.EventSource = real;
    }
  });
});
