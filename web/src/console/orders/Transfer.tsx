// A job's pending transfer to another engineer (asked from the app) and
// its helpers, with the planner's decision.
import { useState } from 'preact/hooks';
import { useQueryClient } from '@tanstack/preact-query';
import { makeUseI18n, mergeMessages } from '../../i18n';
import { common } from '../../i18n/common';
import { useClient } from '../../lib/client';
import type { User, WorkOrderDetail } from '../../api/types';
import { transferMessages } from './transfer.i18n';

const useI18n = makeUseI18n(mergeMessages(common, transferMessages));

export function TransferPanel({ o, user }: { o: WorkOrderDetail; user: User }) {
  const { t } = useI18n();
  const client = useClient();
  const qc = useQueryClient();
  const [err, setErr] = useState('');
  const tr = o.transfer_request;
  const helpers = o.helper_ids ?? [];
  if (!tr && helpers.length === 0) return null;
  const planner = user.role === 'admin' || user.role === 'planner';
  const decide = async (what: 'approve' | 'reject') => {
    setErr('');
    try {
      await client.post(`/work-orders/${o.id}/transfer/${what}`, {});
    } catch (e) {
      setErr(t('transfer.failed', { message: e instanceof Error ? e.message : String(e) }));
    }
    void qc.invalidateQueries({ queryKey: ['work-order'] });
  };
  return (
    <div class="notice" data-testid="transfer-panel">
      {helpers.length > 0 && <p>{t('transfer.helpers', { n: helpers.length })}</p>}
      {tr && (
        <>
          <strong>{t('transfer.title')}</strong>
          <p data-testid="transfer-request">
            {t('transfer.text', { by: tr.requested_by ?? '', to: tr.to_name ?? '' })}
            {tr.note && <span class="block">{tr.note}</span>}
          </p>
          {planner && (
            <p class="row">
              <button class="primary" data-action="transfer-approve" onClick={() => void decide('approve')}>
                {t('transfer.approve')}
              </button>
              <button data-action="transfer-reject" onClick={() => void decide('reject')}>
                {t('transfer.reject')}
              </button>
            </p>
          )}
          {err && <p role="alert">{err}</p>}
        </>
      )}
    </div>
  );
}
