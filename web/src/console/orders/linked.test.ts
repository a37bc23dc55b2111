import { describe, expect, it } from 'vitest';
import { linkedAssets } from './linked';

const ev = (type: string, data: Record<string, unknown>) => ({ type, at: '2026-01-01T00:00:00Z', actor: 'system', data }) as never;

describe('linkedAssets', () => {
  it('folds repeated links into one row per asset, keeping first-link order', () => {
    const rows = linkedAssets([
      ev('created', {}),
      ev('linked', { asset_id: 'b', asset: 'PB-002', site: 'S1' }),
      ev('linked', { asset_id: 'c', asset: 'PB-003', site: 'S1' }),
      ev('linked', { asset_id: 'b', asset: 'PB-002', site: 'S1' }),
    ]);
    expect(rows.map((r) => [r.assetID, r.label, r.signals])).toEqual([
      ['b', 'S1/PB-002', 2],
      ['c', 'S1/PB-003', 1],
    ]);
    expect(rows.every((r) => r.splitInto === undefined)).toBe(true);
  });

  it('marks an asset split out with the new order number and ignores splits of unknown assets', () => {
    const rows = linkedAssets([
      ev('linked', { asset_id: 'b', asset: 'PB-002', site: 'S1' }),
      ev('split', { asset_id: 'b', order_id: 'x', number: 'WO-000042' }),
      ev('split', { asset_id: 'z', number: 'WO-000043' }),
    ]);
    expect(rows).toHaveLength(1);
    expect(rows[0].splitInto).toBe('WO-000042');
  });

  it('skips events without an asset id and an empty list', () => {
    expect(linkedAssets([ev('linked', {}), ev('linked', { asset_id: 7 })])).toEqual([]);
    expect(linkedAssets(undefined)).toEqual([]);
  });
});
