// The review queue: every proposed order, riskiest first, ranked by the
// server over all of them (GET /work-orders?status=proposed&sort=risk) and
// loaded a page at a time as the planner scrolls. Live order events patch
// the loaded pages instead of re-downloading them: an order that left
// "proposed" is dropped (no request), a new or changed proposed order is
// fetched alone (one request) and put where byRisk ranks it; a burst of
// more than maxFetches such orders within 100 ms reloads the first page.
import { useEffect } from 'preact/hooks';
import { useInfiniteQuery, useQueryClient, type InfiniteData, type QueryClient } from '@tanstack/preact-query';
import { useClient } from '../lib/client';
import type { Client } from '../lib/api';
import { onLive } from '../lib/live';
import type { List, WorkOrder } from '../api/types';

/** The queue's first page and each further page. */
export const queuePage = 100;

/** The queue's cache key: not under 'work-orders', whose live invalidation would refetch every loaded page. */
export const queueKey = ['review-queue', 'proposed', 'risk'] as const;

export type Queue = InfiniteData<List<WorkOrder>, string | undefined>;

/** q without the orders of ids. */
export function removeFromQueue(q: Queue, ids: Set<string>): Queue {
  if (!q.pages.some((p) => (p.items ?? []).some((o) => ids.has(o.id ?? '')))) return q;
  return { ...q, pages: q.pages.map((p) => ({ ...p, items: (p.items ?? []).filter((o) => !ids.has(o.id ?? '')) })) };
}

/**
 * q with o in its place: its old copy removed and, while it is proposed,
 * inserted before the first loaded order it outranks (cmp: byRisk). An
 * order ranking after every loaded one is left out while more pages
 * remain: the next page, read after the last loaded order's key, brings it.
 */
export function patchQueue(q: Queue, o: WorkOrder, cmp: (a: WorkOrder, b: WorkOrder) => number): Queue {
  const out = removeFromQueue(q, new Set([o.id ?? '']));
  if (o.status !== 'proposed' || out.pages.length === 0) return out;
  const pages = out.pages.map((p) => ({ ...p, items: [...(p.items ?? [])] }));
  for (const p of pages) {
    const i = p.items.findIndex((x) => cmp(o, x) < 0);
    if (i >= 0) {
      p.items.splice(i, 0, o);
      return { ...out, pages };
    }
  }
  const last = pages[pages.length - 1];
  if (last.next_cursor) return out === q ? q : out;
  last.items.push(o);
  return { ...out, pages };
}

/** What one live message does to the queue: nothing, drop an order, or fetch one. */
export function queueAction(m: { type: string; order_id?: string; data?: unknown }): { drop: string } | { fetch: string } | null {
  if (!m.type.startsWith('work_order.')) return null;
  const d = (m.data ?? {}) as { id?: string; status?: string };
  const id = m.order_id || d.id;
  if (!id) return null;
  // An attachment's event carries no status: the order may have changed.
  if (d.status && d.status !== 'proposed') return { drop: id };
  return { fetch: id };
}

/** At most this many orders are fetched one by one for a batch of events; a larger burst reloads the first page instead. */
export const maxFetches = 10;

/**
 * What a batch of live messages does: the orders to drop, the orders to
 * fetch (each once, its last event deciding), or, for a burst of more
 * than maxFetches, a reload of the first page (one request) instead.
 */
export function planBatch(ms: Parameters<typeof queueAction>[0][]): { drop: Set<string>; fetch: string[]; reload: boolean } {
  const last = new Map<string, 'drop' | 'fetch'>();
  for (const m of ms) {
    const a = queueAction(m);
    if (!a) continue;
    if ('drop' in a) last.set(a.drop, 'drop');
    else last.set(a.fetch, 'fetch');
  }
  const drop = new Set([...last].filter(([, a]) => a === 'drop').map(([id]) => id));
  const fetch = [...last].filter(([, a]) => a === 'fetch').map(([id]) => id);
  if (fetch.length > maxFetches) return { drop, fetch: [], reload: true };
  return { drop, fetch, reload: false };
}

/**
 * Counts the live messages seen per order: a fetched order is put in the
 * queue only if no message about it arrived while it was being fetched
 * (else a stale answer could bring back an order just approved).
 */
export class Generations {
  private n = new Map<string, number>();
  bump(id: string) {
    this.n.set(id, (this.n.get(id) ?? 0) + 1);
  }
  of(id: string): number {
    return this.n.get(id) ?? 0;
  }
}

export async function applyBatch(
  qc: QueryClient,
  client: Client,
  ms: Parameters<typeof queueAction>[0][],
  cmp: (a: WorkOrder, b: WorkOrder) => number,
  gens: Generations,
) {
  if (!qc.getQueryData<Queue>(queueKey)) return;
  const plan = planBatch(ms);
  if (plan.drop.size > 0) qc.setQueryData<Queue>(queueKey, (q) => q && removeFromQueue(q, plan.drop));
  if (plan.reload) {
    // Keep the first page only, then refetch it: one request, the riskiest rows fresh.
    qc.setQueryData<Queue>(queueKey, (q) => q && { pages: q.pages.slice(0, 1), pageParams: q.pageParams.slice(0, 1) });
    void qc.invalidateQueries({ queryKey: queueKey });
    return;
  }
  await Promise.all(
    plan.fetch.map(async (id) => {
      const gen = gens.of(id);
      try {
        const o = await client.get<WorkOrder>(`/work-orders/${id}`);
        if (gens.of(id) !== gen) return; // a newer message decides
        qc.setQueryData<Queue>(queueKey, (q) => q && patchQueue(q, o, cmp));
      } catch {
        // Gone or not readable: drop it; a refetch settles anything else.
        if (gens.of(id) === gen) qc.setQueryData<Queue>(queueKey, (q) => q && removeFromQueue(q, new Set([id])));
      }
    }),
  );
}

/** The queue's loaded pages, and live patches while mounted. */
export function useRiskQueue(cmp: (a: WorkOrder, b: WorkOrder) => number, refetchInterval: number | false, gens: Generations) {
  const client = useClient();
  const qc = useQueryClient();
  const q = useInfiniteQuery({
    queryKey: queueKey,
    queryFn: ({ pageParam }) =>
      client.get<List<WorkOrder>>('/work-orders', { status: 'proposed', sort: 'risk', limit: queuePage, cursor: pageParam }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (p) => p.next_cursor || undefined,
    refetchInterval,
  });
  // Live messages are applied in batches (100 ms), as useLive batches its invalidations.
  useEffect(() => {
    let pending: Parameters<typeof queueAction>[0][] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const off = onLive((m) => {
      const a = queueAction(m);
      if (a) gens.bump('drop' in a ? a.drop : a.fetch);
      pending.push(m);
      timer ??= setTimeout(() => {
        timer = undefined;
        const batch = pending;
        pending = [];
        void applyBatch(qc, client, batch, cmp, gens);
      }, 100);
    });
    return () => {
      off();
      clearTimeout(timer);
    };
  }, [qc, client, cmp, gens]);
  return q;
}
