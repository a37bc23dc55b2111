// Pure helpers of the dispatch board (unit-tested) and its API types.
import type { components } from '../../api/schema';

export interface Span {
  left: number; // percent of the window
  width: number; // percent of the window
}

/** Where [start, end) falls in the window [from, from+hours) as percentages, clipped; null when outside. */
export function span(start: string | null | undefined, end: string | null | undefined, from: number, hours: number): Span | null {
  if (!start || !end) return null;
  const s = Date.parse(start);
  const e = Date.parse(end);
  const to = from + hours * 3600_000;
  if (!Number.isFinite(s) || !Number.isFinite(e) || e <= from || s >= to) return null;
  const a = Math.max(s, from);
  const b = Math.min(e, to);
  return { left: ((a - from) / (to - from)) * 100, width: Math.max(((b - a) / (to - from)) * 100, 0.5) };
}

const rank: Record<string, number> = { P1: 1, P2: 2, P3: 3, P4: 4 };

/** The worst (most urgent) priority per asset among open orders. */
export function worstPriority(orders: { asset_id?: string; priority?: string }[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const o of orders) {
    if (!o.asset_id || !o.priority) continue;
    const cur = out.get(o.asset_id);
    if (!cur || (rank[o.priority] ?? 9) < (rank[cur] ?? 9)) out.set(o.asset_id, o.priority);
  }
  return out;
}

export const priorityColor: Record<string, string> = { P1: '#c62828', P2: '#d9480f', P3: '#b08800', P4: '#57606a' };
export const stateColor: Record<string, string> = { idle: '#1a7f37', travelling: '#1f6feb', on_site: '#8250df', off_shift: '#8c959f' };

// The board's API shapes, generated from the served OpenAPI document
// (web/openapi.json → src/api/schema.d.ts): the server marks what it always
// sends as required, so the build fails when the two drift.
type Schemas = components['schemas'];
export type Board = Schemas['DispatchBoard'];
export type Lane = NonNullable<Board['engineers']>[number];
export type Job = NonNullable<Board['unassigned']>[number];
export type Point = NonNullable<Job['position']>;
export type Check = Schemas['AssignmentCheck'];
export type Run = Schemas['DispatchRun'];
export type PlannedJob = NonNullable<Run['jobs']>[number];
