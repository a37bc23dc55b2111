// Logic of the inventory and schedules screens: reorder state of a stock
// line, and where calendar schedules fall on a month.
import type { components } from '../../api/schema';
import { parseDuration } from '../../lib/format';

type S = components['schemas'];
export type Stock = S['Stock'];
export type PurchaseRequest = S['PurchaseRequest'];
export type Movement = S['Movement'];
export type Schedule = S['Schedule'];

/** A stock line's reorder state: a request is open, it should be reordered, it is low, or fine. */
export type ReorderState = 'requested' | 'reorder' | 'low' | 'ok';

export function reorderState(s: Stock): ReorderState {
  if (s.open_purchase_request_id) return 'requested';
  if ((s.suggested_order_qty ?? 0) > 0) return 'reorder';
  const rp = s.reorder_point ?? 0;
  if (rp > 0 && (s.available ?? 0) <= rp) return 'low';
  return 'ok';
}

/** Lines needing attention first (reorder, low, requested, ok), then location and SKU. */
export function byReorder(a: Stock, b: Stock): number {
  const rank: Record<ReorderState, number> = { reorder: 0, low: 1, requested: 2, ok: 3 };
  return (
    rank[reorderState(a)] - rank[reorderState(b)] ||
    (a.location_code ?? '').localeCompare(b.location_code ?? '') ||
    (a.sku ?? '').localeCompare(b.sku ?? '')
  );
}

/** The weeks (Monday first) of the month holding `day`, as dates at local midnight. */
export function monthGrid(year: number, month: number): Date[][] {
  const first = new Date(year, month, 1);
  const offset = (first.getDay() + 6) % 7; // Monday = 0
  const start = new Date(year, month, 1 - offset);
  const weeks: Date[][] = [];
  for (let w = 0; w < 6; w++) {
    const week: Date[] = [];
    for (let d = 0; d < 7; d++) week.push(new Date(start.getFullYear(), start.getMonth(), start.getDate() + w * 7 + d));
    if (w > 0 && week[0].getMonth() !== month) break;
    weeks.push(week);
  }
  return weeks;
}

/** Due times of a calendar schedule in [from, to): starts_at + k·every, k ≥ 0. Meter schedules have none. */
export function dueTimes(s: Schedule, from: Date, to: Date, max = 100): Date[] {
  if (s.kind !== 'calendar' || !s.starts_at) return [];
  const every = parseDuration(s.every) * 1000;
  const start = Date.parse(s.starts_at);
  if (!(every > 0) || Number.isNaN(start)) return [];
  let k = Math.max(0, Math.ceil((from.getTime() - start) / every));
  const out: Date[] = [];
  for (let t = start + k * every; t < to.getTime() && out.length < max; k++, t = start + k * every) out.push(new Date(t));
  return out;
}

/** A local day's key, "2026-03-01". */
export function dayKey(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}
