import { useState } from 'preact/hooks';
import { useI18n, type ConsoleKey } from './i18n';
import { useClient } from '../lib/client';
import { ApiError } from '../lib/api';
import type { WorkOrder } from '../api/types';
import { Dialog, FieldError } from './ui';

export const rejectReasons = ['no_fault_found', 'duplicate', 'not_actionable', 'other'] as const;
const priorities = ['P1', 'P2', 'P3', 'P4'] as const;

/** Runs one request per order; returns the numbers done and the first error. */
async function each(orders: WorkOrder[], f: (o: WorkOrder) => Promise<unknown>): Promise<{ done: string[]; err?: ApiError | Error }> {
  const done: string[] = [];
  for (const o of orders) {
    try {
      await f(o);
      done.push(o.number ?? '');
    } catch (e) {
      return { done, err: e as Error };
    }
  }
  return { done };
}

function toLocalInput(iso?: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A failed request's message, unless it named fields (those show beside their field). */
function RequestError({ error }: { error: ApiError | Error | null }) {
  const { t } = useI18n();
  if (!error || (error instanceof ApiError && error.fields.length > 0)) return null;
  return (
    <p class="field-error" role="alert">
      {t('common.error', { message: error.message })}
    </p>
  );
}

export function ApproveDialog({ orders, onClose }: { orders: WorkOrder[]; onClose: (msg?: string) => void }) {
  const { t } = useI18n();
  const client = useClient();
  const one = orders.length === 1 ? orders[0] : undefined;
  const [priority, setPriority] = useState<string>(one?.priority ?? '');
  const [due, setDue] = useState(toLocalInput(one?.due_at));
  const [skills, setSkills] = useState((one?.required_skills ?? []).join(', '));
  const [note, setNote] = useState('');
  const [error, setError] = useState<ApiError | Error | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    const body: Record<string, unknown> = {};
    if (note.trim()) body.note = note.trim();
    if (priority && priority !== one?.priority) body.priority = priority;
    if (one) {
      if (due && due !== toLocalInput(one.due_at)) body.due_at = new Date(due).toISOString();
      const sk = skills.split(/[,，\s]+/).filter(Boolean);
      if (sk.join(',') !== (one.required_skills ?? []).join(',')) body.required_skills = sk;
    }
    const r = await each(orders, (o) => client.post(`/work-orders/${o.id}/approve`, body));
    setBusy(false);
    if (r.err) {
      setError(r.err);
      return;
    }
    onClose(r.done.map((n) => t('review.approved', { number: n })).join(' · '));
  };

  const fe = error instanceof ApiError ? error : undefined;
  return (
    <Dialog title={one ? `${t('review.approve')} ${one.number}` : t('review.approveSelected', { n: orders.length })} onClose={() => onClose()}>
      <form onSubmit={submit} class="form">
        <label for="ap-priority">{t('review.col.priority')}</label>
        <select id="ap-priority" value={priority} onChange={(e) => setPriority((e.target as HTMLSelectElement).value)}>
          {!one && <option value="">{t('common.none')}</option>}
          {priorities.map((p) => (
            <option value={p}>{p}</option>
          ))}
        </select>
        <FieldError err={fe} field="priority" />
        {one && (
          <>
            <label for="ap-due">{t('approve.due')}</label>
            <input id="ap-due" type="datetime-local" value={due} onInput={(e) => setDue((e.target as HTMLInputElement).value)} />
            <FieldError err={fe} field="due_at" />
            <label for="ap-skills">{t('approve.skills')}</label>
            <input id="ap-skills" value={skills} onInput={(e) => setSkills((e.target as HTMLInputElement).value)} />
            <FieldError err={fe} field="required_skills" />
          </>
        )}
        <label for="ap-note">{t('reject.note')}</label>
        <textarea id="ap-note" rows={2} value={note} onInput={(e) => setNote((e.target as HTMLTextAreaElement).value)} />
        <FieldError err={fe} field="note" />
        <RequestError error={error} />
        <div class="row end">
          <button type="button" class="ghost" onClick={() => onClose()}>
            {t('common.cancel')}
          </button>
          <button type="submit" class="primary" disabled={busy}>
            {t('review.approve')}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function RejectDialog({ orders, onClose }: { orders: WorkOrder[]; onClose: (msg?: string) => void }) {
  const { t } = useI18n();
  const client = useClient();
  const [reason, setReason] = useState<(typeof rejectReasons)[number]>('no_fault_found');
  const [note, setNote] = useState('');
  const [error, setError] = useState<ApiError | Error | null>(null);
  const [noteMissing, setNoteMissing] = useState(false);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (reason === 'other' && !note.trim()) {
      setNoteMissing(true);
      return;
    }
    setBusy(true);
    const body: Record<string, unknown> = { reason };
    if (note.trim()) body.note = note.trim();
    const r = await each(orders, (o) => client.post(`/work-orders/${o.id}/reject`, body));
    setBusy(false);
    if (r.err) {
      setError(r.err);
      return;
    }
    onClose(r.done.map((n) => t('review.rejected', { number: n })).join(' · '));
  };
  const fe = error instanceof ApiError ? error : undefined;
  const title = orders.length === 1 ? t('reject.title', { number: orders[0].number ?? '' }) : t('review.rejectSelected', { n: orders.length });
  return (
    <Dialog title={title} onClose={() => onClose()}>
      <form onSubmit={submit} class="form">
        <fieldset>
          <legend>{t('reject.reason')}</legend>
          {rejectReasons.map((r) => (
            <label class="radio">
              <input type="radio" name="reason" value={r} checked={reason === r} onChange={() => setReason(r)} />
              {t(('reason.' + r) as ConsoleKey)}
            </label>
          ))}
        </fieldset>
        <FieldError err={fe} field="reason" />
        <label for="rj-note">{t('reject.note')}</label>
        <textarea
          id="rj-note"
          rows={3}
          value={note}
          aria-invalid={noteMissing ? 'true' : undefined}
          onInput={(e) => {
            setNote((e.target as HTMLTextAreaElement).value);
            setNoteMissing(false);
          }}
        />
        {noteMissing && <p class="field-error">{t('reject.noteRequired')}</p>}
        <FieldError err={fe} field="note" />
        <RequestError error={error} />
        <div class="row end">
          <button type="button" class="ghost" onClick={() => onClose()}>
            {t('common.cancel')}
          </button>
          <button type="submit" class="danger" disabled={busy}>
            {t('review.reject')}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
