// The request inbox: customers' requests from every channel (form, API,
// email), newest first; a planner merges one into an open order of the
// same asset (its requester then follows that order).
import { useState } from 'preact/hooks';
import { useInfiniteQuery, useQuery, useQueryClient } from '@tanstack/preact-query';
import { Link } from 'wouter-preact';
import { useI18n, type ConsoleKey } from '../i18n';
import { useClient } from '../../lib/client';
import { formatDateTime } from '../../lib/format';
import type { ApiError } from '../../lib/api';
import type { components } from '../../api/schema';

type Request = Required<components['schemas']['Request']>;
type Order = components['schemas']['WorkOrder'];
interface Page<T> {
  items: T[];
  next_cursor: string;
}

const channels = ['', 'form', 'api', 'email'];
const mergeable = ['proposed', 'approved'];
const open = ['proposed', 'approved', 'assigned', 'accepted', 'en_route', 'on_site', 'in_progress', 'on_hold'];

export function Inbox({ canMerge }: { canMerge: boolean }) {
  const { t, lang } = useI18n();
  const client = useClient();
  const [channel, setChannel] = useState('');
  const [openOnly, setOpenOnly] = useState(true);
  const [notice, setNotice] = useState('');
  const q = useInfiniteQuery({
    queryKey: ['requests', channel, openOnly],
    initialPageParam: '',
    queryFn: ({ pageParam }) =>
      client.get<Page<Request>>('/requests', { channel: channel || undefined, open: openOnly ? 'true' : undefined, limit: 50, cursor: pageParam || undefined }),
    getNextPageParam: (p) => p.next_cursor || undefined,
  });
  const items = q.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <section class="page" aria-busy={q.isLoading}>
      <div class="page-head">
        <h1>{t('inbox.title')}</h1>
        <div class="row">
          <label for="inbox-channel" class="muted">
            {t('inbox.channel')}
          </label>
          <select id="inbox-channel" value={channel} onChange={(e) => setChannel((e.target as HTMLSelectElement).value)}>
            {channels.map((c) => (
              <option value={c}>{c ? t(`channel.${c}` as ConsoleKey) : t('inbox.all')}</option>
            ))}
          </select>
          <label>
            <input type="checkbox" checked={openOnly} onChange={(e) => setOpenOnly((e.target as HTMLInputElement).checked)} /> {t('inbox.openOnly')}
          </label>
        </div>
      </div>
      {q.error && <p class="notice">{t('common.error', { message: (q.error as Error).message })}</p>}
      {notice && (
        <p role="status" data-testid="inbox-notice">
          {notice}
        </p>
      )}
      {q.isSuccess && items.length === 0 && <p class="muted">{t('inbox.empty')}</p>}
      {items.length > 0 && (
        <div class="table-wrap">
          <table class="table" data-testid="inbox">
            <thead>
              <tr>
                <th>{t('inbox.order')}</th>
                <th>{t('inbox.what')}</th>
                <th>{t('inbox.requester')}</th>
                <th>{t('inbox.channel')}</th>
                <th>{t('inbox.received')}</th>
                <th>{t('inbox.status')}</th>
                {canMerge && <th>{t('inbox.merge')}</th>}
              </tr>
            </thead>
            <tbody>
              {items.map((r) => (
                <InboxRow key={r.order_id} r={r} canMerge={canMerge} lang={lang} onMerged={setNotice} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {q.hasNextPage && (
        <div class="row end">
          <button type="button" onClick={() => void q.fetchNextPage()} disabled={q.isFetchingNextPage}>
            {t('inbox.more')}
          </button>
        </div>
      )}
    </section>
  );
}

function InboxRow({ r, canMerge, lang, onMerged }: { r: Request; canMerge: boolean; lang: 'en' | 'zh-CN'; onMerged: (m: string) => void }) {
  const { t } = useI18n();
  const o = r.order;
  const who = [r.requester?.name, r.requester?.email || r.requester?.phone].filter(Boolean).join(' · ');
  return (
    <tr data-order={o?.number}>
      <td>{o ? <Link href={`/orders/${encodeURIComponent(o.number ?? '')}`}>{o.number}</Link> : r.order_id}</td>
      <td>
        <strong>{o?.title}</strong>
        {o?.description && o.description !== o.title && <div class="muted small">{o.description.slice(0, 200)}</div>}
      </td>
      <td>{who}</td>
      <td>
        <span class="badge">{t(`channel.${r.channel}` as ConsoleKey)}</span>
      </td>
      <td>{formatDateTime(r.created_at ?? '', lang)}</td>
      <td>{o?.status}</td>
      {canMerge && <td>{o && mergeable.includes(o.status ?? '') && <MergeForm order={o} onMerged={onMerged} />}</td>}
    </tr>
  );
}

function MergeForm({ order, onMerged }: { order: Order; onMerged: (m: string) => void }) {
  const { t } = useI18n();
  const client = useClient();
  const qc = useQueryClient();
  const [into, setInto] = useState('');
  const [err, setErr] = useState('');
  const [done, setDone] = useState('');
  const candidates = useQuery({
    queryKey: ['asset-open-orders', order.asset_id],
    queryFn: () => client.get<Page<Order>>('/work-orders', { asset_id: order.asset_id, limit: 100 }),
    staleTime: 10_000,
  });
  const others = (candidates.data?.items ?? []).filter((o) => o.id !== order.id && open.includes(o.status ?? ''));
  const submit = async (e: Event) => {
    e.preventDefault();
    setErr('');
    try {
      await client.post(`/work-orders/${order.id}/merge`, { into });
      const msg = t('inbox.merged', { number: order.number ?? '', into });
      setDone(msg);
      onMerged(msg);
      void qc.invalidateQueries({ queryKey: ['requests'] });
    } catch (x) {
      const ae = x as ApiError;
      setErr(ae.fields?.map((f) => f.message).join('; ') || ae.message);
    }
  };
  if (done) return <span role="status">{done}</span>;
  return (
    <form class="row" onSubmit={submit}>
      <input list={`merge-${order.id}`} value={into} placeholder="WO-000123" aria-label={t('inbox.merge')} size={12}
        onInput={(e) => setInto((e.target as HTMLInputElement).value.trim())} required maxLength={36} />
      <datalist id={`merge-${order.id}`}>
        {others.map((o) => (
          <option value={o.number}>{o.title}</option>
        ))}
      </datalist>
      <button type="submit" disabled={!into}>
        {t('inbox.mergeButton')}
      </button>
      {others.length > 0 && <span class="muted small">{t('inbox.pick')} {others.map((o) => o.number).join(', ')}</span>}
      {err && (
        <span class="notice" role="alert">
          {err}
        </span>
      )}
    </form>
  );
}
