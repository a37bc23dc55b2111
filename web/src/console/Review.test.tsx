import { describe, expect, it } from 'vitest';
import { render } from 'preact';
import { QueryClient, QueryClientProvider } from '@tanstack/preact-query';
import { ClientContext } from '../lib/client';
import { Client } from '../lib/api';
import type { User, WorkOrder } from '../api/types';
import { Review } from './Review';

// 250 proposed orders from a stub API, 100 a page for the first request
// and 500 a page for the rest, as the server pages them.
class Queue extends Client {
  get<T>(path: string, query?: Record<string, string | number | undefined>): Promise<T> {
    if (path !== '/work-orders') return Promise.resolve({ items: [], next_cursor: '' } as T);
    const limit = Number(query?.limit);
    const items: WorkOrder[] = Array.from({ length: Math.min(limit, 250) }, (_, i) => ({
      id: `id-${i}`,
      number: `WO-${String(i + 1).padStart(6, '0')}`,
      status: 'proposed',
      priority: i % 2 ? 'P2' : 'P1',
      source: 'trend',
      asset_id: 'a',
      title: `order ${i}`,
      created_at: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
    })) as WorkOrder[];
    return Promise.resolve({ items, next_cursor: '' } as T);
  }
}

async function until(cond: () => boolean, what: string) {
  for (let i = 0; i < 400; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('timed out waiting for ' + what);
}

describe('Review', () => {
  it('renders a long queue 100 rows at a time, riskiest first', async () => {
    const root = document.createElement('div');
    document.body.append(root);
    const user = { id: 'u', name: 'Li Na', role: 'planner' } as User;
    render(
      <QueryClientProvider client={new QueryClient()}>
        <ClientContext.Provider value={new Queue()}>
          <Review user={user} />
        </ClientContext.Provider>
      </QueryClientProvider>,
      root,
    );
    const rows = () => root.querySelectorAll('tbody tr[data-order]');
    await until(() => root.querySelector('[data-testid="review-count"]')?.getAttribute('data-complete') === 'true', 'the whole queue');
    expect(root.querySelector('[data-testid="review-count"]')?.textContent).toContain('250');
    expect(rows()).toHaveLength(100);
    // P1 orders first (even indexes), oldest first within the same priority.
    expect(rows()[0].getAttribute('data-order')).toBe('WO-000001');
    expect(rows()[1].getAttribute('data-order')).toBe('WO-000003');
    const more = root.querySelector<HTMLButtonElement>('tr.more button');
    expect(more?.textContent).toContain('150');
    more!.click();
    await until(() => rows().length === 200, '200 rows');
    root.querySelector<HTMLButtonElement>('tr.more button')!.click();
    await until(() => rows().length === 250, 'every row');
    expect(root.querySelector('tr.more')).toBeNull();
    expect(rows()[249].getAttribute('data-order')).toBe('WO-000250');
    render(null, root);
  });
});
