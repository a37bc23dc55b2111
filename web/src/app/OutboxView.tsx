import { Link } from 'wouter-preact';
import { formatDateTime } from '../lib/format';
import { useI18n, type AppKey } from './i18n';
import { useOnline, useOps, useOutbox } from './state';
import type { Op } from './db';

function label(t: ReturnType<typeof useI18n>['t'], op: Op): string {
  if (op.kind === 'action') return t(`act.${op.action}` as AppKey);
  return t(`outbox.kind.${op.kind}` as AppKey);
}

function OpItem({ op }: { op: Op }) {
  const { t, lang } = useI18n();
  const box = useOutbox();
  return (
    <li class={'op ' + op.state} data-testid="op" data-state={op.state} data-conflict={op.conflict ?? ''}>
      <span class="strong">{label(t, op)}</span> <Link href={`/jobs/${op.orderId}`}>{op.number ?? op.orderId.slice(0, 8)}</Link>{' '}
      <span class="muted small">{formatDateTime(op.createdAt, lang)}</span>
      {op.kind === 'comment' && <span class="block pre">{String(op.body?.text ?? '')}</span>}
      {op.state === 'conflict' && (
        <>
          <span class="block conflict">{t(`outbox.conflict.${op.conflict ?? 'refused'}` as AppKey)}</span>
          {op.error?.message && <span class="block muted small">{op.error.message}</span>}
          <button class="small" onClick={() => void box.discard(op.seq!)}>
            {t('outbox.discard')}
          </button>
        </>
      )}
    </li>
  );
}

/** What the server refused for one order (cancelled, reassigned): kept with its notes and photos until discarded. */
export function Conflicts({ orderId }: { orderId: string }) {
  const ops = useOps().filter((o) => o.orderId === orderId && o.state === 'conflict');
  if (ops.length === 0) return null;
  return (
    <ul class="plain conflicts" data-testid="conflicts">
      {ops.map((o) => (
        <OpItem op={o} />
      ))}
    </ul>
  );
}

export function OutboxView() {
  const { t } = useI18n();
  const ops = useOps();
  const box = useOutbox();
  const online = useOnline();
  return (
    <section>
      <h1>{t('outbox.title')}</h1>
      {ops.length === 0 ? (
        <p class="muted">{t('outbox.empty')}</p>
      ) : (
        <>
          <ul class="plain">
            {ops.map((o) => (
              <OpItem op={o} />
            ))}
          </ul>
          {online && (
            <button onClick={() => void box.flush()} class="primary">
              {t('outbox.sendNow')}
            </button>
          )}
        </>
      )}
    </section>
  );
}
