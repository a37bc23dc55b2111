import { describe, expect, it } from 'vitest';
import { render } from 'preact';
import { QueryClient, QueryClientProvider } from '@tanstack/preact-query';
import { ClientContext } from '../lib/client';
import { Client } from '../lib/api';
import type { User, WorkOrder } from '../api/types';
import { Review } from './Review';
import { until } from '../lib/until';

// 250 proposed orders from a stub API, already riskiest first as the
// server ranks them (sort=risk), paged by cursor; it records the requests.
class Queue extends Client {
  requests: Record<string, string | number | undefined>[] = [];
  get<T>(path: string, query?: Record<string, string | number | undefined>): Promise<T> {
    if (path !== '/work-orders') return Promise.resolve({ items: [], next_cursor: '' } as T);
    this.requests.push(query ?? {});
    const limit = Number(query?.limit);
    const from = query?.cursor ? Number(query.cursor) : 0;
    const items: WorkOrder[] = Array.from({ length: Math.max(0, Math.min(limit, 250 - from)) }, (_, k) => {
      const i = from + k;
      return {
        id: `id-${i}`,
        number: `WO-${String(i + 1).padStart(6, '0')}`,
        status: 'proposed',
        priority: i < 125 ? 'P1' : 'P2',
        source: 'trend',
        asset_id: 'a',
        title: `order ${i}`,
        created_at: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
      };
    }) as WorkOrder[];
    return Promise.resolve({ items, next_cursor: from + limit < 250 ? String(from + limit) : '' } as T);
  }
}

describe('Review', () => {
  it('loads the server-ranked queue 100 rows at a time, on demand', async () => {
    const root = document.createElement('div');
    document.body.append(root);
    const user = { id: 'u', name: 'Li Na', role: 'planner' } as User;
    const api = new Queue();
    render(
      <QueryClientProvider client={new QueryClient()}>
        <ClientContext.Provider value={api}>
          <Review user={user} />
        </ClientContext.Provider>
      </QueryClientProvider>,
      root,
    );
    const rows = () => root.querySelectorAll('tbody tr[data-order]');
    await until(() => rows().length === 100, 'the first page', 400);
    expect(api.requests).toEqual([{ status: 'proposed', sort: 'risk', limit: 100, cursor: undefined }]);
    const count = () => root.querySelector('[data-testid="review-count"]');
    expect(count()?.getAttribute('data-complete')).toBe('false');
    expect(count()?.textContent).toContain('100');
    // In the server's order, not re-sorted.
    expect(rows()[0].getAttribute('data-order')).toBe('WO-000001');
    expect(rows()[99].getAttribute('data-order')).toBe('WO-000100');
    root.querySelector<HTMLButtonElement>('tr.more button')!.click();
    await until(() => rows().length === 200, '200 rows', 400);
    expect(api.requests[1]).toMatchObject({ sort: 'risk', limit: 100, cursor: '100' });
    await until(() => !root.querySelector<HTMLButtonElement>('tr.more button')?.disabled, 'the button again', 400);
    root.querySelector<HTMLButtonElement>('tr.more button')!.click();
    await until(() => rows().length === 250, 'every row', 400);
    await until(() => root.querySelector('tr.more') === null, 'no more button', 400);
    expect(count()?.getAttribute('data-complete')).toBe('true');
    expect(count()?.textContent).toContain('250');
    expect(rows()[249].getAttribute('data-order')).toBe('WO-000250');
    expect(api.requests).toHaveLength(3);
    render(null, root);
  });
});
