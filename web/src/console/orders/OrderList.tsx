// Every work order, filtered by status, priority and source and searched
// by number or title; windowed so 10,000 rows scroll smoothly, and driven
// from the keyboard (arrows, Home/End, Enter opens). Live events patch
// the loaded list (liveList.ts) instead of reloading it.
import { useMemo, useRef, useState } from 'preact/hooks';
import { useLocation } from 'wouter-preact';
import { useI18n } from '../i18n';
import { useProgressiveList } from '../../lib/queries';
import { useLiveState } from '../../lib/live';
import { formatDateTime } from '../../lib/format';
import type { WorkOrder } from '../../api/types';
import { visibleRange } from './window';
import { listKey, maxRows, type ListFilters } from './liveList';

const statuses = ['proposed', 'approved', 'assigned', 'accepted', 'en_route', 'on_site', 'in_progress', 'on_hold', 'completed', 'verified', 'closed', 'rejected', 'cancelled'];
const priorities = ['P1', 'P2', 'P3', 'P4'];
const sources = ['threshold', 'trend', 'event', 'manual', 'schedule', 'request'];
const rowHeight = 36;

export function OrderList() {
  const { t, lang } = useI18n();
  const [, navigate] = useLocation();
  const [status, setStatus] = useState('');
  const [priority, setPriority] = useState('');
  const [source, setSource] = useState('');
  const [q, setQ] = useState('');
  const filters: ListFilters = { status: status || undefined, priority: priority || undefined, source: source || undefined };
  // The first page shows at once; the rest (up to 10,000) follows. While
  // the live stream is up it keeps the list current (useLiveOrderLists in
  // the shell), so a loaded list is not read again.
  const live = useLiveState() === 'live';
  const orders = useProgressiveList<WorkOrder>(listKey(filters), '/work-orders', filters, maxRows, { staleTime: live ? Infinity : 10_000 });
  const rows = useMemo(() => {
    const all = orders.data ?? [];
    const needle = q.trim().toLowerCase();
    return needle ? all.filter((o) => (o.number ?? '').toLowerCase().includes(needle) || (o.title ?? '').toLowerCase().includes(needle)) : all;
  }, [orders.data, q]);

  const box = useRef<HTMLDivElement>(null);
  const [scroll, setScroll] = useState(0);
  const [active, setActive] = useState(0);
  const viewport = 600;
  const w = visibleRange(rows.length, rowHeight, scroll, viewport);

  const move = (i: number) => {
    const n = Math.max(0, Math.min(rows.length - 1, i));
    setActive(n);
    const el = box.current;
    if (!el) return;
    if (n * rowHeight < el.scrollTop) el.scrollTop = n * rowHeight;
    else if ((n + 1) * rowHeight > el.scrollTop + el.clientHeight) el.scrollTop = (n + 1) * rowHeight - el.clientHeight;
  };
  const onKey = (e: KeyboardEvent) => {
    const page = Math.floor(viewport / rowHeight);
    const to: Record<string, number> = { ArrowDown: active + 1, ArrowUp: active - 1, PageDown: active + page, PageUp: active - page, Home: 0, End: rows.length - 1 };
    if (e.key in to) {
      e.preventDefault();
      move(to[e.key]);
    } else if (e.key === 'Enter' && rows[active]) {
      navigate(`/orders/${rows[active].number}`);
    }
  };
  const select = (label: string, value: string, set: (v: string) => void, opts: string[], text: (v: string) => string) => (
    <label>
      {label}
      <select value={value} onChange={(e) => set((e.target as HTMLSelectElement).value)}>
        <option value="">{t('list.all')}</option>
        {opts.map((o) => (
          <option value={o}>{text(o)}</option>
        ))}
      </select>
    </label>
  );

  return (
    <section class="page" aria-labelledby="list-title">
      <h1 id="list-title">{t('list.title')}</h1>
      <div class="filters">
        {select(t('list.status'), status, setStatus, statuses, (s) => t(`status.${s}` as never))}
        {select(t('list.priority'), priority, setPriority, priorities, (p) => p)}
        {select(t('list.source'), source, setSource, sources, (s) => t(`source.${s}` as never))}
        <label>
          {t('list.search')}
          <input type="search" value={q} onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
        </label>
        <span class="muted" role="status">
          {!orders.complete && orders.data
            ? t('list.loading', { n: rows.length })
            : (orders.data?.length ?? 0) >= maxRows
              ? t('list.more', { n: maxRows })
              : t('list.count', { n: rows.length })}
        </span>
      </div>
      <p class="muted small">{t('list.keys')}</p>
      <div class="vlist-head" aria-hidden="true">
        <span>{t('list.priority')}</span>
        <span>{t('list.col.number')}</span>
        <span>{t('list.col.title')}</span>
        <span>{t('list.status')}</span>
        <span>{t('list.source')}</span>
        <span>{t('list.col.created')}</span>
        <span>{t('list.col.due')}</span>
      </div>
      <div
        class="vlist"
        ref={box}
        style={{ height: viewport + 'px' }}
        tabIndex={0}
        role="listbox"
        aria-label={t('list.title')}
        aria-activedescendant={rows[active] ? `row-${rows[active].id}` : undefined}
        onScroll={(e) => setScroll((e.target as HTMLDivElement).scrollTop)}
        onKeyDown={onKey}
      >
        {rows.length === 0 && !orders.isPending && <p class="muted">{t('list.empty')}</p>}
        <div style={{ height: w.top + 'px' }} />
        {rows.slice(w.start, w.end).map((o, k) => {
          const i = w.start + k;
          return (
            <div
              id={`row-${o.id}`}
              key={o.id}
              role="option"
              aria-selected={i === active}
              class={'vrow' + (i === active ? ' cursor' : '')}
              style={{ height: rowHeight + 'px' }}
              onClick={() => {
                setActive(i);
                navigate(`/orders/${o.number}`);
              }}
            >
              <span>
                <span class={'prio prio-' + (o.priority ?? '').toLowerCase()}>{o.priority}</span>
              </span>
              <span class="strong">{o.number}</span>
              <span class="clip">{o.title}</span>
              <span>{t(`status.${o.status}` as never)}</span>
              <span>{t(`source.${o.source}` as never)}</span>
              <span>{formatDateTime(o.created_at, lang)}</span>
              <span>{o.due_at ? formatDateTime(o.due_at, lang) : '—'}</span>
            </div>
          );
        })}
        <div style={{ height: w.bottom + 'px' }} />
      </div>
    </section>
  );
}
