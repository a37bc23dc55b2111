// Assets linked to this order because they rise with its asset ("one
// cause, one order"), each with the planner's way out: split it into an
// order of its own.
import { useState } from 'preact/hooks';
import { useQueryClient } from '@tanstack/preact-query';
import { makeUseI18n, mergeMessages } from '../../i18n';
import { common } from '../../i18n/common';
import { useClient } from '../../lib/client';
import type { User, WorkOrder, WorkOrderDetail } from '../../api/types';
import { linkedMessages } from './linked.i18n';
import { linkedAssets } from './linked';

const useI18n = makeUseI18n(mergeMessages(common, linkedMessages));

export function LinkedPanel({ o, user }: { o: WorkOrderDetail; user: User }) {
  const { t } = useI18n();
  const client = useClient();
  const qc = useQueryClient();
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState('');
  const rows = linkedAssets(o.events);
  if (rows.length === 0) return null;
  const planner = user.role === 'admin' || user.role === 'planner';
  const split = async (assetID: string) => {
    setErr('');
    setBusy(assetID);
    try {
      await client.post<WorkOrder>(`/work-orders/${o.id}/split`, { asset_id: assetID });
    } catch (e) {
      setErr(t('linked.failed', { message: e instanceof Error ? e.message : String(e) }));
    } finally {
      setBusy('');
    }
    void qc.invalidateQueries({ queryKey: ['work-order'] });
  };
  return (
    <section class="card" aria-labelledby="linked-title" data-testid="linked-panel">
      <h2 id="linked-title">{t('linked.title')}</h2>
      <p class="muted">{t('linked.explain')}</p>
      <ul>
        {rows.map((r) => (
          <li data-testid="linked-asset" data-asset={r.assetID}>
            <strong>{r.label}</strong> <span class="muted">{t('linked.signals', { n: r.signals })}</span>{' '}
            {r.splitInto !== undefined ? (
              <a href={`/orders/${r.splitInto}`}>{t('linked.splitInto', { number: r.splitInto })}</a>
            ) : (
              planner && (
                <button data-action="split" disabled={busy === r.assetID} onClick={() => void split(r.assetID)}>
                  {t('linked.split')}
                </button>
              )
            )}
          </li>
        ))}
      </ul>
      {err && <p role="alert">{err}</p>}
    </section>
  );
}
