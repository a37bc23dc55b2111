import { describe, expect, it } from 'vitest';
import { QueryClient } from '@tanstack/preact-query';
import { Client } from '../lib/api';
import type { WorkOrder } from '../api/types';
import { byRisk } from './risk';
import { applyBatch, Generations, maxFetches, patchQueue, planBatch, queueAction, queueKey, removeFromQueue, type Queue } from './riskQueue';

const cmp = byRisk(() => 3);
const at = (h: number) => new Date(Date.UTC(2026, 2, 1) + h * 3_600_000).toISOString();
const order = (id: string, priority: string, h: number, status = 'proposed'): WorkOrder =>
  ({ id, number: id, status, priority, source: 'trend', predicted_failure_at: at(h), created_at: at(0) }) as WorkOrder;

// Two loaded pages of a longer queue: P1 at hours 1-4, then P2 at 1-2.
const queue = (more: boolean): Queue => ({
  pages: [
    { items: [order('a', 'P1', 1), order('b', 'P1', 2), order('c', 'P1', 3)], next_cursor: 'c1' },
    { items: [order('d', 'P1', 4), order('e', 'P2', 1), order('f', 'P2', 2)], next_cursor: more ? 'c2' : '' },
  ],
  pageParams: [undefined, 'c1'],
});
const ids = (q: Queue) => q.pages.map((p) => (p.items ?? []).map((o) => o.id).join(''));

describe('review queue live patches', () => {
  it('inserts a new proposed order where byRisk ranks it', () => {
    expect(ids(patchQueue(queue(true), order('n', 'P1', 3.5), cmp))).toEqual(['abc', 'ndef']);
    expect(ids(patchQueue(queue(true), order('n', 'P1', 0), cmp))).toEqual(['nabc', 'def']);
  });

  it('moves a changed order and drops one that left proposed', () => {
    expect(ids(patchQueue(queue(true), order('a', 'P2', 1.5), cmp))).toEqual(['bc', 'deaf']);
    expect(ids(patchQueue(queue(true), order('b', 'P1', 2, 'approved'), cmp))).toEqual(['ac', 'def']);
    expect(ids(removeFromQueue(queue(true), new Set(['c', 'e'])))).toEqual(['ab', 'df']);
  });

  it('leaves an order ranked after every loaded one to the next page, unless none remains', () => {
    expect(ids(patchQueue(queue(true), order('z', 'P4', 1), cmp))).toEqual(['abc', 'def']);
    expect(ids(patchQueue(queue(false), order('z', 'P4', 1), cmp))).toEqual(['abc', 'defz']);
    // Already there and now last of a longer queue: dropped, the next page brings it.
    expect(ids(patchQueue(queue(true), order('a', 'P4', 1), cmp))).toEqual(['bc', 'def']);
  });

  it('fetches only the order an event names, and nothing for a departure', () => {
    expect(queueAction({ type: 'work_order.created', order_id: 'n', data: { id: 'n', status: 'proposed' } })).toEqual({ fetch: 'n' });
    expect(queueAction({ type: 'work_order.transitioned', order_id: 'n', data: { id: 'n', status: 'approved' } })).toEqual({ drop: 'n' });
    expect(queueAction({ type: 'work_order.updated', order_id: 'n', data: { id: 'n', attachment_id: 'x' } })).toEqual({ fetch: 'n' });
    expect(queueAction({ type: 'signal.created', data: { id: 1 } })).toBeNull();
  });

  it('fetches each order of a batch once, its last event deciding, and reloads one page for a burst', () => {
    const ev = (id: string, status: string) => ({ type: 'work_order.transitioned', order_id: id, data: { id, status } });
    const p = planBatch([ev('a', 'proposed'), ev('a', 'proposed'), ev('b', 'proposed'), ev('b', 'approved'), ev('c', 'rejected')]);
    expect(p).toEqual({ drop: new Set(['b', 'c']), fetch: ['a'], reload: false });
    const burst = planBatch(Array.from({ length: maxFetches + 1 }, (_, i) => ev(`n${i}`, 'proposed')).concat([ev('x', 'approved')]));
    expect(burst).toEqual({ drop: new Set(['x']), fetch: [], reload: true });
    expect(planBatch(Array.from({ length: maxFetches }, (_, i) => ev(`n${i}`, 'proposed'))).fetch).toHaveLength(maxFetches);
  });

  it('applies a fetched order, unless a newer message about it came while it was fetched', async () => {
    // A stub API answering GET /work-orders/{id} when the test says so.
    const answers: ((o: WorkOrder) => void)[] = [];
    const requests: string[] = [];
    class Stub extends Client {
      get<T>(path: string): Promise<T> {
        requests.push(path);
        return new Promise<T>((resolve) => answers.push((o) => resolve(o as T)));
      }
    }
    const qc = new QueryClient();
    qc.setQueryData(queueKey, queue(true));
    const gens = new Generations();
    const ev = { type: 'work_order.updated', order_id: 'n', data: { id: 'n', status: 'proposed' } };

    gens.bump('n');
    let done = applyBatch(qc, new Stub(), [ev], cmp, gens);
    expect(requests).toEqual(['/work-orders/n']);
    answers[0](order('n', 'P1', 0));
    await done;
    expect(ids(qc.getQueryData<Queue>(queueKey)!)).toEqual(['nabc', 'def']);

    // The planner approves it while a second fetch is in flight: the
    // stale "proposed" answer does not bring it back.
    qc.setQueryData<Queue>(queueKey, (q) => q && removeFromQueue(q, new Set(['n'])));
    gens.bump('n');
    done = applyBatch(qc, new Stub(), [ev], cmp, gens);
    gens.bump('n');
    answers[1](order('n', 'P1', 0));
    await done;
    expect(ids(qc.getQueryData<Queue>(queueKey)!)).toEqual(['abc', 'def']);
  });
});
