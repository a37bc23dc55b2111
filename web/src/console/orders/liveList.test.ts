import { describe, expect, it } from 'vitest';
import { QueryClient } from '@tanstack/preact-query';
import { ApiError, Client } from '../../lib/api';
import { invalidate, targetsOf } from '../../lib/live';
import type { WorkOrder } from '../../api/types';
import { applyListBatch, changesOf, listKey, maxFetches, newestFirst, placeOrder, planList, Seen, type ListFilters } from './liveList';

const at = (s: number) => new Date(Date.UTC(2026, 10, 1) + s * 1000).toISOString();
const order = (id: string, s: number, status = 'approved', priority = 'P2'): WorkOrder =>
  ({ id, number: 'WO-' + id, title: 'order ' + id, status, priority, source: 'manual', created_at: at(s) }) as WorkOrder;
const ev = (type: string, o: WorkOrder, extra: Record<string, unknown> = {}) => ({
  type,
  order_id: o.id,
  data: { id: o.id, number: o.number, status: o.status, priority: o.priority, source: o.source, ...extra },
});
// Newest first: c (30 s), b (20 s), a (10 s).
const list = () => [order('c', 30), order('b', 20), order('a', 10)];
const ids = (l: WorkOrder[] | undefined) => (l ?? []).map((o) => o.id).join('');

// A stub API: GET /work-orders/{id} from a table, GET /work-orders as a
// page of the table newest first; every request recorded. hold() keeps
// answers back until release().
class Stub extends Client {
  requests: string[] = [];
  held: (() => void)[] = [];
  holding = false;
  constructor(public orders: Map<string, WorkOrder>) {
    super();
  }
  get<T>(path: string, query?: Record<string, string | number | undefined>): Promise<T> {
    const q = Object.entries(query ?? {})
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${v}`)
      .join('&');
    this.requests.push(q ? `${path}?${q}` : path);
    const answer = (): T => {
      if (path === '/work-orders') {
        const all = [...this.orders.values()].filter((o) => !query?.status || o.status === query.status).sort(newestFirst);
        const lim = Number(query?.limit);
        return { items: all.slice(0, lim), next_cursor: all.length > lim ? 'more' : '' } as T;
      }
      const o = this.orders.get(path.split('/').pop()!);
      if (!o) throw new ApiError(404, 'not_found', 'not found');
      return o as T;
    };
    return new Promise<T>((resolve, reject) => {
      const go = () => {
        try {
          resolve(answer());
        } catch (e) {
          reject(e);
        }
      };
      if (this.holding) this.held.push(go);
      else go();
    });
  }
  release() {
    this.holding = false;
    this.held.splice(0).forEach((f) => f());
  }
}

function setup(f: ListFilters = {}, orders = list()) {
  const qc = new QueryClient();
  qc.setQueryData(listKey(f), orders);
  const server = new Map(orders.map((o) => [o.id!, o]));
  return { qc, stub: new Stub(server), seen: new Seen() };
}

describe('orders list live patches', () => {
  it('plans drops, in-place patches and fetches from the events alone', () => {
    const listed = new Set(['a', 'b', 'c']);
    const ch = changesOf([
      ev('work_order.transitioned', order('a', 10, 'cancelled')),
      ev('work_order.assigned', order('b', 20, 'assigned'), { assignee_id: 'u1' }),
      ev('work_order.updated', order('c', 30, 'approved', 'P1')),
      ev('work_order.created', order('n', 40)),
      ev('work_order.created', order('x', 40, 'proposed')),
      { type: 'work_order.updated', order_id: 'c', data: { id: 'c', attachment_id: 'f1' } },
    ]);
    const p = planList(ch, listed, { status: 'approved' });
    expect([...p.drop]).toEqual(['a', 'b']);
    expect(p.patch.get('c')).toEqual({ status: 'approved', priority: 'P1', source: 'manual' });
    expect(p.place).toEqual(['n']);
    expect(p.refresh).toEqual(['c']);
    const all = planList(ch, listed, {});
    expect(all.drop.size).toBe(0);
    expect(all.patch.get('b')).toMatchObject({ status: 'assigned', assignee_id: 'u1' });
    expect(all.place).toEqual(['n', 'x']);
  });

  it('places an order where the server sorts it, to the microsecond', () => {
    const l = list();
    expect(ids(placeOrder(l, order('n', 40), {}, 100))).toBe('ncba');
    expect(ids(placeOrder(l, order('n', 15), {}, 100))).toBe('cbna');
    expect(ids(placeOrder(l, order('n', 5), {}, 3))).toBe('cba'); // full: it belongs to a later page
    expect(ids(placeOrder(l, order('n', 40), {}, 3))).toBe('ncb'); // full: the last leaves
    expect(ids(placeOrder(l, order('b', 20, 'cancelled'), { status: 'approved' }, 100))).toBe('ca');
    // Same millisecond, later microsecond: newer.
    const u = (id: string, t: string) => ({ ...order(id, 0), created_at: t }) as WorkOrder;
    const ms = [u('p', '2026-11-01T00:00:00.123Z'), u('q', '2026-11-01T00:00:00.1229Z')];
    expect(ids(placeOrder(ms, u('r', '2026-11-01T00:00:00.123456Z'), {}, 10))).toBe('rpq');
    expect(newestFirst(u('a1', at(1)), u('a2', at(1)))).toBeGreaterThan(0); // ties: higher id first
  });

  it('applies a transition without a request and fetches a new order alone', async () => {
    const { qc, stub, seen } = setup();
    const n = order('n', 40);
    stub.orders.set('n', n);
    await applyListBatch(qc, stub, [ev('work_order.transitioned', order('b', 20, 'on_hold')), ev('work_order.created', n)], seen);
    const l = qc.getQueryData<WorkOrder[]>(listKey({}))!;
    expect(ids(l)).toBe('ncba');
    expect(l[2].status).toBe('on_hold');
    expect(stub.requests).toEqual(['/work-orders/n']);
  });

  it('reads one page for a burst of new orders instead of one request each', async () => {
    const { qc, stub, seen } = setup({ status: 'approved' });
    const burst = Array.from({ length: 3 * maxFetches }, (_, i) => order('n' + String(i).padStart(2, '0'), 100 + i));
    burst.forEach((o) => stub.orders.set(o.id!, o));
    await applyListBatch(qc, stub, burst.map((o) => ev('work_order.created', o)), seen);
    expect(stub.requests).toEqual([`/work-orders?status=approved&limit=${3 * maxFetches + 100}`]);
    expect(qc.getQueryData<WorkOrder[]>(listKey({ status: 'approved' }))).toHaveLength(3 * maxFetches + 3);
  });

  it('does not let an answer fetched before a newer event undo it', async () => {
    const { qc, stub, seen } = setup({ status: 'approved' });
    const n = order('n', 40);
    stub.orders.set('n', n);
    stub.holding = true;
    seen.bump('n');
    const done = applyListBatch(qc, stub, [ev('work_order.created', n)], seen);
    await new Promise((r) => setTimeout(r, 0));
    // The order is cancelled while its GET is in flight; the next batch drops it (absent: nothing to do).
    seen.bump('n');
    stub.release();
    await done;
    expect(ids(qc.getQueryData(listKey({ status: 'approved' })))).toBe('cba');
  });

  it('drops an order that is gone', async () => {
    const { qc, stub, seen } = setup();
    stub.orders.delete('b');
    await applyListBatch(qc, stub, [ev('work_order.updated', order('b', 20))], seen);
    expect(ids(qc.getQueryData(listKey({})))).toBe('ca');
  });

  it('waits for a list being loaded and applies the batch over its answer', async () => {
    const qc = new QueryClient();
    const seen = new Seen();
    let answer!: (l: WorkOrder[]) => void;
    const loaded = qc.fetchQuery({ queryKey: listKey({}), queryFn: () => new Promise<WorkOrder[]>((r) => (answer = r)) });
    qc.setQueryData(listKey({}), list()); // an earlier copy is on screen meanwhile
    const stub = new Stub(new Map());
    const done = applyListBatch(qc, stub, [ev('work_order.transitioned', order('a', 10, 'closed'))], seen);
    await new Promise((r) => setTimeout(r, 10));
    answer(list()); // read before the transition
    await loaded;
    await done;
    expect(qc.getQueryData<WorkOrder[]>(listKey({}))![2].status).toBe('closed');
    expect(stub.requests).toEqual([]);
  });

  it('is not invalidated by order events (that reloaded up to 10,000 orders on each)', () => {
    const qc = new QueryClient();
    qc.setQueryData(listKey({}), list());
    invalidate(qc, targetsOf({ type: 'work_order.transitioned', order_id: 'a', data: { id: 'a', status: 'closed' } }));
    expect(qc.getQueryState(listKey({}))?.isInvalidated).toBe(false);
    invalidate(qc, targetsOf({ type: 'reset' }));
    expect(qc.getQueryState(listKey({}))?.isInvalidated).toBe(true);
  });
});

