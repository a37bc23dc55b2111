// The optimizer's moves of assigned, not yet accepted orders: shown on the
// board when re-planning them lowers the total cost, for a planner to
// approve (PDM_DISPATCH_REBALANCE=propose).
import { useMutation, useQuery, useQueryClient } from '@tanstack/preact-query';
import { useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import { useClient } from '../../lib/client';
import type { components } from '../../api/schema';

type Rebalance = components['schemas']['Rebalance'];
type Run = components['schemas']['DispatchRun'];
type ConsoleConfig = components['schemas']['ConsoleConfig'];

export function RebalanceBanner() {
  const { t } = useI18n();
  const client = useClient();
  const qc = useQueryClient();
  const [flash, setFlash] = useState('');
  const config = useQuery({ queryKey: ['config'], queryFn: () => client.get<ConsoleConfig>('/config'), staleTime: 300_000 });
  const on = config.data?.dispatch_rebalance === 'propose';
  const rb = useQuery({
    queryKey: ['dispatch', 'rebalance'],
    queryFn: () => client.post<Rebalance>('/dispatch/rebalance/preview', {}),
    enabled: on,
    refetchInterval: 30_000,
  });
  const apply = useMutation({
    mutationFn: (r: Rebalance) =>
      client.post<Run>('/dispatch/rebalance/apply', { jobs: (r.moves ?? []).map((m) => ({ order_id: m.order_id, engineer_id: m.to_engineer_id })) }),
    onSuccess: (r) => {
      setFlash(t('rebalance.applied', { n: r.assigned ?? 0, skipped: r.unassigned ?? 0 }));
      void qc.invalidateQueries({ predicate: (q) => q.queryKey[0] === 'dispatch-board' || q.queryKey[0] === 'dispatch' });
    },
    onError: (e) => setFlash(t('common.error', { message: (e as Error).message })),
  });
  const r = rb.data;
  const moves = r?.moves ?? [];
  if (!on || (moves.length === 0 && !flash)) return null;
  return (
    <section class="card" aria-labelledby="rebalance-title" data-testid="rebalance">
      {flash && <p role="status">{flash}</p>}
      {r && moves.length > 0 && (
        <>
          <h2 id="rebalance-title">{t('rebalance.title', { n: moves.length, saving: Math.round(r.saving ?? 0) })}</h2>
          <p class="muted">{t('rebalance.cost', { before: Math.round(r.cost_before ?? 0), after: Math.round(r.cost_after ?? 0) })}</p>
          <ul>
            {moves.map((m) => (
              <li data-move={m.number}>
                {m.priority} {m.number}: {m.from_engineer_name} → <strong>{m.to_engineer_name}</strong> ({Math.round(m.cost_before ?? 0)} → {Math.round(m.cost_after ?? 0)}) <span class="muted">{m.why}</span>
              </li>
            ))}
          </ul>
          <button type="button" class="primary" onClick={() => apply.mutate(r)} disabled={apply.isPending}>
            {t('rebalance.approve', { n: moves.length })}
          </button>
        </>
      )}
    </section>
  );
}
