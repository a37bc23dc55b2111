import { describe, expect, it } from 'vitest';
import { byRisk, failureTime } from './risk';
import type { WorkOrder } from '../api/types';

const o = (id: string, f: Partial<WorkOrder>): WorkOrder => ({ id, asset_id: 'a-' + id, created_at: '2026-03-01T00:00:00Z', ...f });

describe('byRisk', () => {
  it('puts higher priority first whatever the prediction', () => {
    const list = [o('p3', { priority: 'P3', predicted_failure_at: '2026-03-01T01:00:00Z' }), o('p1', { priority: 'P1', predicted_failure_at: '2026-04-01T00:00:00Z' })];
    expect(list.sort(byRisk(() => 3)).map((x) => x.id)).toEqual(['p1', 'p3']);
  });
  it('within a priority, the sooner failure first; a breach counts as failing when detected', () => {
    const list = [
      o('late', { priority: 'P2', source: 'trend', predicted_failure_at: '2026-03-09T00:00:00Z' }),
      o('breach', { priority: 'P2', source: 'threshold', detected_at: '2026-03-02T00:00:00Z' }),
      o('soon', { priority: 'P2', source: 'trend', predicted_failure_at: '2026-03-03T00:00:00Z' }),
      o('unknown', { priority: 'P2', source: 'trend' }),
    ];
    expect(list.sort(byRisk(() => 3)).map((x) => x.id)).toEqual(['breach', 'soon', 'late', 'unknown']);
  });
  it('breaks ties by the asset’s criticality, then age', () => {
    const crit: Record<string, number> = { 'a-x': 2, 'a-y': 5, 'a-z': 5 };
    const list = [
      o('x', { priority: 'P2', predicted_failure_at: '2026-03-03T00:00:00Z' }),
      o('z', { priority: 'P2', predicted_failure_at: '2026-03-03T00:00:00Z', created_at: '2026-03-02T00:00:00Z' }),
      o('y', { priority: 'P2', predicted_failure_at: '2026-03-03T00:00:00Z' }),
    ];
    expect(list.sort(byRisk((id) => crit[id] ?? 3)).map((x) => x.id)).toEqual(['y', 'z', 'x']);
  });
  it('treats a missing or invalid time as unknown, not as now', () => {
    expect(failureTime(o('t', { source: 'trend', predicted_failure_at: 'garbage' }))).toBe(Number.POSITIVE_INFINITY);
  });
});
