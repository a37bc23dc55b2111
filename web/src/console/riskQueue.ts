// The review queue: every proposed order, riskiest first, ranked by the
// server over all of them (GET /work-orders?status=proposed&sort=risk) and
// loaded a page at a time as the planner scrolls. Live order events patch
// the loaded pages instead of re-downloading them: an order that left
// "proposed" is dropped (no request), a new or changed proposed order is
// fetched alone (one request) and put where byRisk ranks it.
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

async function applyLive(qc: QueryClient, client: Client, m: Parameters<typeof queueAction>[0], cmp: (a: WorkOrder, b: WorkOrder) => number) {
  const act = queueAction(m);
  if (!act || !qc.getQueryData<Queue>(queueKey)) return;
  if ('drop' in act) {
    qc.setQueryData<Queue>(queueKey, (q) => q && removeFromQueue(q, new Set([act.drop])));
    return;
  }
  try {
    const o = await client.get<WorkOrder>(`/work-orders/${act.fetch}`);
    qc.setQueryData<Queue>(queueKey, (q) => q && patchQueue(q, o, cmp));
  } catch {
    // Gone or not readable: the next refetch settles it.
  }
}

/** The queue's loaded pages, and live patches while mounted. */
export function useRiskQueue(cmp: (a: WorkOrder, b: WorkOrder) => number, refetchInterval: number | false) {
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
  useEffect(() => onLive((m) => void applyLive(qc, client, m, cmp)), [qc, client, cmp]);
  return q;
}
