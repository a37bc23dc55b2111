// Pure folding of an order's linked and split events (one cause, one order).
import type { WorkOrderDetail } from '../../api/types';

export interface LinkedAsset {
  assetID: string;
  label: string;
  signals: number;
  splitInto?: string; // the order number it was split into
}

// linkedAssets folds the order's linked and split events into one row per
// asset, in the order they were first linked.
export function linkedAssets(events: WorkOrderDetail['events']): LinkedAsset[] {
  const rows = new Map<string, LinkedAsset>();
  for (const e of events ?? []) {
    const d = (e.data ?? {}) as Record<string, unknown>;
    const id = typeof d.asset_id === 'string' ? d.asset_id : '';
    if (!id) continue;
    if (e.type === 'linked') {
      const row = rows.get(id) ?? { assetID: id, label: [d.site, d.asset].filter(Boolean).join('/') || id, signals: 0 };
      row.signals++;
      rows.set(id, row);
    } else if (e.type === 'split' && rows.has(id)) {
      rows.get(id)!.splitInto = typeof d.number === 'string' ? d.number : '';
    }
  }
  return [...rows.values()];
}
