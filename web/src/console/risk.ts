// How the review queue ranks orders: riskiest first.
import type { WorkOrder } from '../api/types';

const priorityRank: Record<string, number> = { P1: 1, P2: 2, P3: 3, P4: 4 };

/** When the asset is expected to fail, in ms since the epoch: the prediction,
 * or for a breach or a critical event the moment it was detected (it is
 * failing now); +Infinity when nothing says. */
export function failureTime(o: WorkOrder): number {
  const iso = o.predicted_failure_at ?? (o.source === 'trend' ? null : (o.detected_at ?? o.created_at));
  if (!iso) return Number.POSITIVE_INFINITY;
  const t = new Date(iso).getTime();
  return Number.isNaN(t) ? Number.POSITIVE_INFINITY : t;
}

/** Orders by priority, then the sooner predicted failure, then the asset's
 * higher criticality (1–5), then the older order. */
export function byRisk(criticality: (assetID: string) => number) {
  return (a: WorkOrder, b: WorkOrder): number => {
    const pa = priorityRank[a.priority ?? ''] ?? 9;
    const pb = priorityRank[b.priority ?? ''] ?? 9;
    if (pa !== pb) return pa - pb;
    const fa = failureTime(a);
    const fb = failureTime(b);
    if (fa !== fb) return fa < fb ? -1 : 1;
    const ca = criticality(a.asset_id ?? '');
    const cb = criticality(b.asset_id ?? '');
    if (ca !== cb) return cb - ca;
    return (a.created_at ?? '').localeCompare(b.created_at ?? '');
  };
}
