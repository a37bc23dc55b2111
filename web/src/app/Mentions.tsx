// The comments that @mention the engineer, newest first (kept for
// offline reading); a mention on a job they may open links to it.
import { Link } from 'wouter-preact';
import type { List } from '../api/types';
import { formatDateTime } from '../lib/format';
import { useI18n } from './i18n';
import { useKept } from './data';

interface Mention {
  id?: number;
  order_id?: string;
  order_number?: string;
  order_title?: string;
  visible?: boolean;
  actor?: string;
  at?: string;
  note?: string;
}

export function Mentions() {
  const { t, lang } = useI18n();
  const ms = useKept<List<Mention>>('/me/mentions?limit=50');
  if (ms.isPending) return <p class="muted">{t('common.loading')}</p>;
  if (ms.error) return <p class="field-error">{t('common.error', { message: ms.error.message })}</p>;
  const items = ms.data.data.items;
  return (
    <section>
      <h1>{t('mentions.title')}</h1>
      {items.length === 0 && <p class="muted">{t('mentions.none')}</p>}
      <ul class="list">
        {items.map((m) => {
          const head = (
            <span class="muted small block">
              {m.order_number} · {m.actor} · {formatDateTime(m.at ?? '', lang)}
            </span>
          );
          return (
            <li class="job" data-testid="mention-row">
              <span class="grow">
                {m.visible ? <Link href={`/jobs/${m.order_id}`}>{m.order_title}</Link> : <span class="strong">{m.order_title}</span>}
                {head}
                <span class="pre block">{m.note}</span>
              </span>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
