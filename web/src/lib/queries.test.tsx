import { describe, expect, it } from 'vitest';
import { render } from 'preact';
import { QueryClient, QueryClientProvider } from '@tanstack/preact-query';
import { ClientContext } from './client';
import { Client } from './api';
import { headSize, useProgressiveList } from './queries';
import { until } from './until';

// A client over 1,050 numbered items in pages; the caller releases each
// request, so the test sees the list between the first page and the rest.
class Pages extends Client {
  calls: { limit: number; cursor?: string }[] = [];
  waiting: (() => void)[] = [];
  get<T>(_path: string, query?: Record<string, string | number | undefined>): Promise<T> {
    const limit = Number(query?.limit);
    const from = Number(query?.cursor ?? 0);
    this.calls.push({ limit, cursor: query?.cursor as string | undefined });
    const items = Array.from({ length: Math.max(0, Math.min(limit, 1050 - from)) }, (_, i) => from + i);
    const next = from + limit < 1050 ? String(from + limit) : '';
    return new Promise((resolve) => this.waiting.push(() => resolve({ items, next_cursor: next } as T)));
  }
  release() {
    const w = this.waiting;
    this.waiting = [];
    w.forEach((f) => f());
  }
}

describe('useProgressiveList', () => {
  it('shows the first page at once and the whole list when every page is in', async () => {
    const client = new Pages();
    const seen: { n: number; complete: boolean }[] = [];
    function List() {
      const l = useProgressiveList<number>(['things'], '/things', {}, 5000);
      if (l.data) seen.push({ n: l.data.length, complete: l.complete });
      return null;
    }
    const root = document.createElement('div');
    render(
      <QueryClientProvider client={new QueryClient()}>
        <ClientContext.Provider value={client}>
          <List />
        </ClientContext.Provider>
      </QueryClientProvider>,
      root,
    );
    await until(() => client.calls.length >= 2, 'two requests');
    // Both queries start together: the small first page and the full list's first page.
    expect(client.calls).toEqual([{ limit: headSize, cursor: undefined }, { limit: 500, cursor: undefined }]);
    client.waiting[0](); // only the head answers
    client.waiting.splice(0, 1);
    await until(() => seen.length > 0, 'the first page');
    expect(seen.at(-1)).toEqual({ n: headSize, complete: false });
    for (let page = 1; page <= 3; page++) {
      await until(() => client.waiting.length > 0, 'page ' + page);
      expect(seen.at(-1)?.complete).toBe(false);
      client.release();
    }
    await until(() => seen.at(-1)?.complete === true, 'the whole list');
    expect(seen.at(-1)).toEqual({ n: 1050, complete: true });
    expect(client.calls.filter((c) => c.limit === 500).map((c) => c.cursor)).toEqual([undefined, '500', '1000']);
    render(null, root);
  });
});
