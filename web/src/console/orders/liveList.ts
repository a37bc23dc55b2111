// The orders list kept current by the live stream without reloading it.
// The list holds up to 10,000 orders (20 requests of 500); reloading it on
// every order event was a storm on a busy fleet. Instead each batch of
// events (100 ms) patches the cached lists:
//   - an order's event carries its status, priority and source, which is
//     all the filters read: a listed order that no longer matches is
//     dropped, one that still does gets those fields at once (no request);
//   - an order the list lacks that now matches (new, or moved into the
//     filter), and a listed order that was edited (title, due date), is
//     fetched alone (GET /work-orders/{id}) and put where the server's
//     default order (created_at desc, id desc) ranks it;
//   - a burst of more than maxFetches such orders reads the list's first
//     page once instead (new orders are the newest), and fetches alone
//     only those it did not bring; a burst of more than maxFetches older
//     orders moving into a filtered view reloads that one list;
//   - the whole list is read again only when the stream says it missed
//     events ("reset": useLive invalidates every query).
// Lists live under ['order-list', filters] (and their first page under
// […, 'head']), outside the 'work-orders' prefix useLive invalidates.
import { useEffect } from 'preact/hooks';
import { useQueryClient, type Query, type QueryClient, type QueryKey } from '@tanstack/preact-query';
import { useClient } from '../../lib/client';
import { ApiError, type Client } from '../../lib/api';
import { onLive } from '../../lib/live';
import { headSize } from '../../lib/queries';
import type { List, WorkOrder } from '../../api/types';

/** The filters a list is read with (undefined: any). */
export type ListFilters = {
  status?: string;
  priority?: string;
  source?: string;
};

export const listPrefix = 'order-list';

/** The whole list's cache key; its first page is under [...listKey(f), 'head']. */
export function listKey(f: ListFilters): QueryKey {
  return [listPrefix, f];
}

/** How many orders a list holds at most. */
export const maxRows = 10_000;

/** At most this many orders are fetched one by one per batch of events. */
export const maxFetches = 10;

/** The largest page the list endpoint serves. */
const pageLimit = 500;

type Message = { type: string; order_id?: string; data?: unknown };

/** What an order event carries (migration 00700's live_emit). */
interface OrderEvent {
  id?: string;
  status?: string;
  priority?: string;
  source?: string;
  assignee_id?: string | null;
  sla_state?: string;
  attachment_id?: string;
}

/** Whether an order shows in a list read with f. */
export function matches(o: Pick<WorkOrder, 'status' | 'priority' | 'source'>, f: ListFilters): boolean {
  return (!f.status || o.status === f.status) && (!f.priority || o.priority === f.priority) && (!f.source || o.source === f.source);
}

/** Microseconds since the epoch of an RFC 3339 time (the server's precision; Date.parse stops at milliseconds). */
function micros(s: string | undefined): number {
  if (!s) return 0;
  const ms = Date.parse(s);
  const frac = /\.(\d+)/.exec(s)?.[1] ?? '';
  return ms * 1000 + Number((frac + '000000').slice(3, 6));
}

/** The server's default order (sort=newest): created_at descending, then id descending. */
export function newestFirst(a: WorkOrder, b: WorkOrder): number {
  const d = micros(b.created_at) - micros(a.created_at);
  if (d !== 0) return d;
  const x = a.id ?? '',
    y = b.id ?? '';
  return x < y ? 1 : x > y ? -1 : 0;
}

/** The last event of each order in a batch, and whether any of them may have edited what the list shows beyond its status fields. */
export interface Change {
  ev: OrderEvent;
  edited: boolean;
}

/** Each order's change in a batch; attachments change nothing the list shows. */
export function changesOf(ms: Message[]): Map<string, Change> {
  const out = new Map<string, Change>();
  for (const m of ms) {
    if (!m.type.startsWith('work_order.')) continue;
    const ev = (m.data ?? {}) as OrderEvent;
    const id = m.order_id || ev.id;
    if (!id || ev.attachment_id || !ev.status) continue;
    const edited = (out.get(id)?.edited ?? false) || m.type === 'work_order.updated';
    out.set(id, { ev, edited });
  }
  return out;
}

/** What a batch does to one list: drop, patch in place, and fetch to place (absent) or refresh (edited). */
export interface ListPlan {
  drop: Set<string>;
  patch: Map<string, Partial<WorkOrder>>;
  place: string[];
  refresh: string[];
}

export function planList(changes: Map<string, Change>, listed: Set<string>, f: ListFilters): ListPlan {
  const plan: ListPlan = { drop: new Set(), patch: new Map(), place: [], refresh: [] };
  for (const [id, { ev, edited }] of changes) {
    const now = { status: ev.status, priority: ev.priority, source: ev.source } as Pick<WorkOrder, 'status' | 'priority' | 'source'>;
    const fits = matches(now, f);
    if (listed.has(id)) {
      if (!fits) {
        plan.drop.add(id);
        continue;
      }
      const p: Partial<WorkOrder> = { ...now };
      if ('assignee_id' in ev) p.assignee_id = ev.assignee_id ?? null;
      if (ev.sla_state) p.sla_state = ev.sla_state;
      plan.patch.set(id, p);
      if (edited) plan.refresh.push(id);
    } else if (fits) {
      plan.place.push(id);
    }
  }
  return plan;
}

/** list without the dropped orders and with the patched fields. */
export function patchList(list: WorkOrder[], plan: Pick<ListPlan, 'drop' | 'patch'>): WorkOrder[] {
  if (plan.drop.size === 0 && plan.patch.size === 0) return list;
  let changed = false;
  const out: WorkOrder[] = [];
  for (const o of list) {
    const id = o.id ?? '';
    if (plan.drop.has(id)) {
      changed = true;
      continue;
    }
    const p = plan.patch.get(id);
    if (p && Object.entries(p).some(([k, v]) => (o as Record<string, unknown>)[k] !== v)) {
      out.push({ ...o, ...p });
      changed = true;
    } else out.push(o);
  }
  return changed ? out : list;
}

/**
 * list with o in its place: its old copy removed and, while it matches f,
 * inserted where newestFirst ranks it. A full list (max) leaves out an
 * order ranking after its last one (the server holds more after it) and
 * drops its last when one is inserted.
 */
export function placeOrder(list: WorkOrder[], o: WorkOrder, f: ListFilters, max: number): WorkOrder[] {
  const at = list.findIndex((x) => x.id === o.id);
  const rest = at >= 0 ? [...list.slice(0, at), ...list.slice(at + 1)] : list;
  if (!matches(o, f)) return at >= 0 ? rest : list;
  const full = list.length >= max;
  let lo = 0,
    hi = rest.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (newestFirst(rest[mid], o) < 0) lo = mid + 1;
    else hi = mid;
  }
  if (full && lo === rest.length && at < 0) return list;
  const out = [...rest.slice(0, lo), o, ...rest.slice(lo)];
  return out.length > max ? out.slice(0, max) : out;
}

/** Counts live messages so an answer fetched before a newer message about its order is not applied over it. */
export class Seen {
  private seq = 0;
  private last = new Map<string, number>();
  bump(id: string) {
    this.last.set(id, ++this.seq);
  }
  /** A point to compare later messages with. */
  mark(): number {
    return this.seq;
  }
  /** Whether a message about id came after mark. */
  since(id: string, mark: number): boolean {
    return (this.last.get(id) ?? 0) > mark;
  }
}

type ListQuery = Query<WorkOrder[], Error, WorkOrder[], QueryKey>;

function filtersOf(q: ListQuery): ListFilters {
  return (q.queryKey[1] ?? {}) as ListFilters;
}

function maxOf(q: ListQuery): number {
  return q.queryKey[2] === 'head' ? headSize : maxRows;
}

/** Resolves when no list is loading: an answer in flight may predate the batch, so the batch waits to be applied over it. */
function listsIdle(qc: QueryClient): Promise<void> {
  const busy = () => qc.isFetching({ queryKey: [listPrefix] }) > 0;
  if (!busy()) return Promise.resolve();
  return new Promise((resolve) => {
    const off = qc.getQueryCache().subscribe(() => {
      if (busy()) return;
      off();
      resolve();
    });
  });
}

/** Applies one fetched order to every cached list. */
function placeEverywhere(qc: QueryClient, o: WorkOrder) {
  for (const q of qc.getQueryCache().findAll({ queryKey: [listPrefix] }) as ListQuery[]) {
    if (!q.state.data) continue;
    const next = placeOrder(q.state.data, o, filtersOf(q), maxOf(q));
    if (next !== q.state.data) qc.setQueryData(q.queryKey, next);
  }
}

function dropEverywhere(qc: QueryClient, id: string) {
  for (const q of qc.getQueryCache().findAll({ queryKey: [listPrefix] }) as ListQuery[]) {
    if (!q.state.data) continue;
    const next = patchList(q.state.data, { drop: new Set([id]), patch: new Map() });
    if (next !== q.state.data) qc.setQueryData(q.queryKey, next);
  }
}

/** Fetches one order and places it, unless a newer message about it came meanwhile. */
async function fetchOne(qc: QueryClient, client: Client, id: string, seen: Seen) {
  const mark = seen.mark();
  try {
    const o = await client.get<WorkOrder>(`/work-orders/${id}`);
    if (!seen.since(id, mark)) placeEverywhere(qc, o);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404 && !seen.since(id, mark)) dropEverywhere(qc, id);
  }
}

/** Applies a batch of live messages to every cached orders list. */
export async function applyListBatch(qc: QueryClient, client: Client, ms: Message[], seen: Seen) {
  const changes = changesOf(ms);
  if (changes.size === 0) return;
  if (qc.getQueryCache().findAll({ queryKey: [listPrefix] }).length === 0) return;
  await listsIdle(qc);
  // Patch and drop at once; collect what must be fetched, per filter set.
  const place = new Map<string, { f: ListFilters; ids: Set<string> }>();
  const refresh = new Set<string>();
  for (const q of qc.getQueryCache().findAll({ queryKey: [listPrefix] }) as ListQuery[]) {
    const list = q.state.data;
    if (!list) continue;
    const f = filtersOf(q);
    const plan = planList(changes, new Set(list.map((o) => o.id ?? '')), f);
    const next = patchList(list, plan);
    if (next !== list) qc.setQueryData(q.queryKey, next);
    const fk = JSON.stringify(f);
    const p = place.get(fk) ?? { f, ids: new Set<string>() };
    plan.place.forEach((id) => p.ids.add(id));
    place.set(fk, p);
    plan.refresh.forEach((id) => refresh.add(id));
  }
  const placeIds = new Set([...place.values()].flatMap((p) => [...p.ids]));
  let budget = maxFetches;
  const one: string[] = [];
  if (placeIds.size <= maxFetches) {
    one.push(...placeIds);
    budget -= placeIds.size;
  } else {
    // A burst: the first page of each filtered list brings the new orders.
    await Promise.all(
      [...place.values()]
        .filter((p) => p.ids.size > 0)
        .map(async ({ f, ids }) => {
          const mark = seen.mark();
          let page: List<WorkOrder>;
          try {
            page = await client.get<List<WorkOrder>>('/work-orders', { ...f, limit: Math.min(pageLimit, ids.size + headSize) });
          } catch {
            void qc.invalidateQueries({ queryKey: listKey(f) });
            return;
          }
          for (const o of page.items ?? []) {
            ids.delete(o.id ?? '');
            refresh.delete(o.id ?? '');
            if (!seen.since(o.id ?? '', mark)) placeEverywhere(qc, o);
          }
          // The page held every matching order: the rest no longer match.
          if (!page.next_cursor) return;
          if (ids.size > budget) void qc.invalidateQueries({ queryKey: listKey(f) });
          else {
            budget -= ids.size;
            one.push(...ids);
          }
        }),
    );
  }
  // Edited orders refresh within what is left of the budget; past it
  // their status fields are current and their title or due date waits
  // for the next fetch of that order.
  one.push(...[...refresh].filter((id) => !one.includes(id)).slice(0, Math.max(0, budget)));
  await Promise.all([...new Set(one)].map((id) => fetchOne(qc, client, id, seen)));
}

/** Keeps every cached orders list current from the live stream (once, in the signed-in shell). */
export function useLiveOrderLists(batchMs = 100) {
  const client = useClient();
  const qc = useQueryClient();
  useEffect(() => {
    const seen = new Seen();
    let pending: Message[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    // One batch at a time: a later batch must not overtake an earlier one
    // waiting for a list to load, and events arriving meanwhile gather
    // into the next batch (a storm makes fewer, larger batches).
    let running = false;
    let stopped = false;
    const flush = () => {
      timer = undefined;
      if (running || pending.length === 0) return;
      const batch = pending;
      pending = [];
      running = true;
      void applyListBatch(qc, client, batch, seen)
        .catch(() => {})
        .finally(() => {
          running = false;
          if (!stopped && pending.length > 0) timer ??= setTimeout(flush, batchMs);
        });
    };
    const off = onLive((m) => {
      if (!m.type.startsWith('work_order.')) return;
      const id = m.order_id || (m.data as OrderEvent | undefined)?.id;
      if (id) seen.bump(id);
      pending.push(m);
      timer ??= setTimeout(flush, batchMs);
    });
    return () => {
      stopped = true;
      off();
      clearTimeout(timer);
    };
  }, [qc, client, batchMs]);
}
