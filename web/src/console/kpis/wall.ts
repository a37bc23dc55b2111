// Pure helpers of the KPI wall (unit-tested).

/** A rate 0..1 as a whole percentage, or '' when unknown. */
export function percent(rate: number | null | undefined): string {
  if (rate == null || !Number.isFinite(rate)) return '';
  return `${Math.round(rate * 100)}%`;
}

/** Hours with one decimal below 10 and none above, or '' when unknown. */
export function hours(h: number | null | undefined): string {
  if (h == null || !Number.isFinite(h)) return '';
  return h < 10 ? h.toFixed(1) : Math.round(h).toString();
}

export interface Bucket {
  start: string;
  counts: Record<string, number>;
  total: number;
}

export interface Stack {
  start: string;
  total: number;
  /** Segments bottom-up: source, count, y offset (in counts). */
  parts: { source: string; n: number; y: number }[];
}

/** The sources in a stable order: the contract's order first, others after. */
export const sourceOrder = ['threshold', 'trend', 'event', 'manual', 'schedule', 'request'];

/** Stacks each bucket's counts in sourceOrder; returns the stacks and the tallest total. */
export function stacks(buckets: Bucket[]): { stacks: Stack[]; max: number; sources: string[] } {
  const seen = new Set<string>();
  for (const b of buckets) for (const s of Object.keys(b.counts)) seen.add(s);
  const sources = [...sourceOrder.filter((s) => seen.has(s)), ...[...seen].filter((s) => !sourceOrder.includes(s)).sort()];
  let max = 0;
  const out = buckets.map((b) => {
    let y = 0;
    const parts = [];
    for (const s of sources) {
      const n = b.counts[s] ?? 0;
      if (n > 0) {
        parts.push({ source: s, n, y });
        y += n;
      }
    }
    max = Math.max(max, y);
    return { start: b.start, total: y, parts };
  });
  return { stacks: out, max, sources };
}
