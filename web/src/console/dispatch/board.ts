// Pure helpers of the dispatch board (unit-tested).

export interface Span {
  left: number; // percent of the window
  width: number; // percent of the window
}

/** Where [start, end) falls in the window [from, from+hours) as percentages, clipped; null when outside. */
export function span(start: string | undefined, end: string | undefined, from: number, hours: number): Span | null {
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

// The board's API shapes as the server always sends them (the generated
// schema marks response fields optional; these say what is always there).
export interface Point {
  lat: number;
  lon: number;
}
export interface Job {
  order_id: string;
  number: string;
  title: string;
  status: string;
  priority: string;
  asset_id: string;
  site_id: string;
  due_at: string | null;
  required_skills: string[];
  estimated_minutes: number;
  position: Point | null;
  start_at?: string;
  arrive_at?: string;
  finish_at?: string;
  travel_minutes?: number;
  late: boolean;
}
export interface Lane {
  id: string;
  name: string;
  user_id: string | null;
  position: Point;
  location_at: string | null;
  state: 'idle' | 'travelling' | 'on_site' | 'off_shift';
  next_shift_at: string | null;
  shifts: { start: string; end: string }[];
  open_jobs: number;
  max_open_jobs: number;
  dispatchable: boolean;
  jobs: Job[];
}
export interface Board {
  generated_at: string;
  engineers: Lane[];
  unassigned: Job[];
}
export interface Check {
  order_id: string;
  engineer_id: string;
  ok: boolean;
  violations: { code: string; message: string }[];
  travel_minutes: number;
  start_at: string;
  arrive_at: string;
  finish_at: string;
  sla_slack_minutes: number | null;
}
export interface PlannedJob {
  order_id: string;
  number: string;
  priority: string;
  engineer_id?: string;
  engineer_name?: string;
  travel_minutes?: number;
  sla_slack_minutes?: number;
  cost?: { total: number };
  why: string;
  outcome: string;
}
export interface Run {
  orders: number;
  assigned: number;
  unassigned: number;
  total_cost: number;
  jobs: PlannedJob[];
}
