import { useRef, useState } from 'preact/hooks';
import type { Engineer, List } from '../api/types';
import { useI18n, type AppKey } from './i18n';
import { useKept } from './data';
import { useOutbox } from './state';
import { compressPhoto } from './media';

export function ActionForm({ action, onSubmit, onCancel }: { action: 'decline' | 'hold'; onSubmit: (b: Record<string, unknown>) => void; onCancel: () => void }) {
  const { t } = useI18n();
  const [reason, setReason] = useState('');
  const [note, setNote] = useState('');
  const [err, setErr] = useState('');
  return (
    <form
      class="sheet"
      onSubmit={(e) => {
        e.preventDefault();
        if (!reason.trim()) return setErr(t('form.reasonRequired'));
        onSubmit({ reason: reason.trim(), ...(note.trim() ? { note: note.trim() } : {}) });
      }}
    >
      <h2>{t(`act.${action}` as AppKey)}</h2>
      <label for="reason">{t('form.reason')}</label>
      <input id="reason" name="reason" value={reason} maxLength={200} onInput={(e) => setReason((e.target as HTMLInputElement).value)} aria-invalid={err ? 'true' : undefined} />
      {err && <p class="field-error">{err}</p>}
      <label for="note">{t('form.note')}</label>
      <textarea id="note" value={note} maxLength={4000} onInput={(e) => setNote((e.target as HTMLTextAreaElement).value)} />
      <div class="row end">
        <button type="button" onClick={onCancel}>
          {t('common.cancel')}
        </button>
        <button class="primary" type="submit">
          {t(`act.${action}` as AppKey)}
        </button>
      </div>
    </form>
  );
}

interface Stock {
  sku?: string;
  part_name?: string;
  available?: number;
}

interface Used {
  sku: string;
  qty: number;
}

/** Parts used come only from the order's reservations or the van's stock: an unknown SKU cannot be typed. */
export function CompleteForm({
  reserved,
  onSubmit,
  onCancel,
}: {
  reserved: { sku?: string; qty?: number }[];
  onSubmit: (b: Record<string, unknown>) => void;
  onCancel: () => void;
}) {
  const { t } = useI18n();
  const me = useKept<Engineer>('/me/engineer', 300_000);
  const van = me.data?.data.van_id;
  const stock = useKept<List<Stock>>(van ? `/stock?location_id=${van}&limit=500` : undefined, 60_000);
  const options = new Map<string, string>();
  for (const r of reserved) if (r.sku) options.set(r.sku, `${r.sku} · ${t('form.fromReserved')} ${r.qty}`);
  for (const s of stock.data?.data.items ?? []) if (s.sku && !options.has(s.sku) && (s.available ?? 0) > 0) options.set(s.sku, `${s.sku} · ${s.part_name ?? ''} · ${t('form.fromVan')} ${s.available}`);
  const [resolution, setResolution] = useState('');
  const [hours, setHours] = useState(1);
  const [minutes, setMinutes] = useState(0);
  const [used, setUsed] = useState<Used[]>(() => reserved.filter((r) => r.sku).map((r) => ({ sku: r.sku!, qty: r.qty ?? 1 })));
  const set = (i: number, u: Partial<Used>) => setUsed(used.map((x, j) => (j === i ? { ...x, ...u } : x)));
  return (
    <form
      class="sheet"
      onSubmit={(e) => {
        e.preventDefault();
        const labour = `${Math.max(0, Math.floor(hours))}h${Math.max(0, Math.floor(minutes))}m`;
        onSubmit({ resolution: resolution.trim(), labour_time: labour, parts_used: used.filter((u) => u.sku && u.qty > 0) });
      }}
    >
      <h2>{t('act.complete')}</h2>
      <label for="resolution">{t('form.resolution')}</label>
      <textarea id="resolution" value={resolution} maxLength={4000} onInput={(e) => setResolution((e.target as HTMLTextAreaElement).value)} />
      <fieldset>
        <legend>{t('form.labour')}</legend>
        <input id="hours" type="number" inputMode="numeric" min={0} max={99} value={hours} onInput={(e) => setHours(Number((e.target as HTMLInputElement).value))} />{' '}
        {t('form.hours')}{' '}
        <input id="minutes" type="number" inputMode="numeric" min={0} max={59} value={minutes} onInput={(e) => setMinutes(Number((e.target as HTMLInputElement).value))} />{' '}
        {t('form.minutes')}
      </fieldset>
      <fieldset>
        <legend>{t('form.partsUsed')}</legend>
        {used.map((u, i) => (
          <div class="row">
            <select aria-label="SKU" value={u.sku} onChange={(e) => set(i, { sku: (e.target as HTMLSelectElement).value })}>
              {[...options].map(([sku, label]) => (
                <option value={sku}>{label}</option>
              ))}
            </select>
            <input aria-label={t('form.qty')} type="number" min={0} max={1000} value={u.qty} onInput={(e) => set(i, { qty: Number((e.target as HTMLInputElement).value) })} />
          </div>
        ))}
        {options.size > 0 && (
          <button type="button" onClick={() => setUsed([...used, { sku: [...options.keys()][0], qty: 1 }])}>
            {t('form.addPart')}
          </button>
        )}
      </fieldset>
      <div class="row end">
        <button type="button" onClick={onCancel}>
          {t('common.cancel')}
        </button>
        <button class="primary" type="submit" data-action="complete-submit">
          {t('act.complete')}
        </button>
      </div>
    </form>
  );
}

export function NoteForm({ onSubmit, onCancel }: { onSubmit: (text: string) => void; onCancel: () => void }) {
  const { t } = useI18n();
  const [text, setText] = useState('');
  return (
    <form
      class="sheet"
      onSubmit={(e) => {
        e.preventDefault();
        if (text.trim()) onSubmit(text.trim());
      }}
    >
      <label for="note-text">{t('form.note')}</label>
      <textarea id="note-text" value={text} maxLength={4000} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
      <div class="row end">
        <button type="button" onClick={onCancel}>
          {t('common.cancel')}
        </button>
        <button class="primary" type="submit" disabled={!text.trim()}>
          {t('act.send')}
        </button>
      </div>
    </form>
  );
}

/** The phone's camera (capture), the photo made small, then into the outbox. */
export function PhotoButton({ orderId, number }: { orderId: string; number?: string }) {
  const { t } = useI18n();
  const box = useOutbox();
  const input = useRef<HTMLInputElement>(null);
  return (
    <>
      <button type="button" data-action="photo" onClick={() => input.current?.click()}>
        {t('act.photo')}
      </button>
      <input
        ref={input}
        type="file"
        accept="image/*"
        capture="environment"
        hidden
        data-testid="photo-input"
        onChange={async (e) => {
          const el = e.target as HTMLInputElement;
          for (const f of Array.from(el.files ?? [])) {
            const small = await compressPhoto(f).catch(() => f);
            await box.enqueue({ orderId, number, kind: 'attachment', attachKind: 'photo', file: small, fileName: 'photo.jpg' });
          }
          el.value = '';
        }}
      />
    </>
  );
}
