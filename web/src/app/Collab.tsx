// Asking a colleague for help and transferring a job: both pick an
// engineer (names only; colleagues' positions are never shown) and go
// through the outbox like every action, so they work offline too.
import { useState } from 'preact/hooks';
import type { Engineer, List } from '../api/types';
import { useI18n } from './i18n';
import { useKept } from './data';

export function PickEngineerForm({
  kind,
  exclude,
  onSubmit,
  onCancel,
}: {
  kind: 'help' | 'transfer';
  exclude: string[];
  onSubmit: (b: Record<string, unknown>) => void;
  onCancel: () => void;
}) {
  const { t } = useI18n();
  const engs = useKept<List<Engineer>>('/engineers?limit=500', 300_000);
  const [who, setWho] = useState('');
  const [note, setNote] = useState('');
  const [err, setErr] = useState('');
  const choices = (engs.data?.data.items ?? []).filter((e) => e.user_id && e.active !== false && !exclude.includes(e.user_id));
  return (
    <form
      class="sheet"
      data-testid={`${kind}-form`}
      onSubmit={(e) => {
        e.preventDefault();
        if (!who) return setErr(t('collab.pickRequired'));
        const n = note.trim() ? { note: note.trim() } : {};
        onSubmit(kind === 'help' ? { user_id: who, ...n } : { to_user_id: who, ...n });
      }}
    >
      <h2>{t(kind === 'help' ? 'collab.help' : 'collab.transfer')}</h2>
      <p class="muted small">{t(kind === 'help' ? 'collab.helpText' : 'collab.transferText')}</p>
      <label for="who">{t('collab.engineer')}</label>
      <select id="who" value={who} onChange={(e) => setWho((e.target as HTMLSelectElement).value)} aria-invalid={err ? 'true' : undefined}>
        <option value="">—</option>
        {choices.map((e) => (
          <option value={e.user_id!}>{e.name}</option>
        ))}
      </select>
      {err && <p class="field-error">{err}</p>}
      <label for="collab-note">{t('form.note')}</label>
      <textarea id="collab-note" value={note} maxLength={4000} onInput={(e) => setNote((e.target as HTMLTextAreaElement).value)} />
      <div class="row end">
        <button type="button" onClick={onCancel}>
          {t('common.cancel')}
        </button>
        <button class="primary" type="submit">
          {t(kind === 'help' ? 'collab.help' : 'collab.transfer')}
        </button>
      </div>
    </form>
  );
}

/** The job's helpers and pending transfer, by name. */
export function CollabInfo({ helperIds, transfer, mine }: { helperIds: string[]; transfer?: { to_name?: string } | null; mine: boolean }) {
  const { t } = useI18n();
  const engs = useKept<List<Engineer>>(helperIds.length ? '/engineers?limit=500' : undefined, 300_000);
  const name = (id: string) => engs.data?.data.items.find((e) => e.user_id === id)?.name ?? '…';
  return (
    <>
      {!mine && <p class="notice small" data-testid="helping">{t('collab.helping')}</p>}
      {helperIds.length > 0 && (
        <p class="small" data-testid="helpers">
          {t('collab.helpers')}: {helperIds.map(name).join(', ')}
        </p>
      )}
      {transfer && (
        <p class="notice small" data-testid="transfer-pending">
          {t('collab.transferPending', { name: transfer.to_name ?? '' })}
        </p>
      )}
    </>
  );
}
