import { useEffect } from 'preact/hooks';
import { useQueryClient } from '@tanstack/preact-query';
import { Link } from 'wouter-preact';
import type { List, WorkOrder } from '../api/types';
import { formatDateTime } from '../lib/format';
import { useClient } from '../lib/client';
import { useI18n, type AppKey } from './i18n';
import { cachedGet, useKept } from './data';
import { useOps } from './state';
import { effectiveStatus } from './lifecycle';
import type { Op } from './db';

/** The statuses after what waits in the outbox for order id. */
export function queuedActions(ops: Op[], id: string): string[] {
  return ops.filter((o) => o.orderId === id && o.kind === 'action' && o.state === 'pending').map((o) => o.action!);
}

const active = ['en_route', 'on_site', 'in_progress', 'on_hold'];

/** Today: what is under way, due by the end of today, or has no due date. */
export function isToday(o: Pick<WorkOrder, 'status' | 'due_at'>, now = new Date()): boolean {
  if (active.includes(o.status ?? '')) return true;
  if (!o.due_at) return true;
  const end = new Date(now);
  end.setHours(23, 59, 59, 999);
  return new Date(o.due_at) <= end;
}

export function Jobs() {
  const { t, lang } = useI18n();
  const client = useClient();
  const qc = useQueryClient();
  const jobs = useKept<List<WorkOrder>>('/me/jobs?limit=200');
  const ops = useOps();
  // Keep every job's detail, asset and parts on the device for offline use.
  useEffect(() => {
    if (!jobs.data || jobs.data.offline) return;
    for (const j of jobs.data.data.items) {
      for (const p of [`/work-orders/${j.id}`, `/work-orders/${j.id}/parts`, `/assets/${j.asset_id}`]) {
        void qc.prefetchQuery({ queryKey: ['kept', p], queryFn: () => cachedGet(client, p), networkMode: 'always', staleTime: 10_000 }).catch(() => {});
      }
    }
  }, [jobs.data]);
  if (jobs.isPending) return <p class="muted">{t('common.loading')}</p>;
  if (jobs.error) return <p class="field-error">{t('common.error', { message: jobs.error.message })}</p>;
  const items = [...jobs.data.data.items].sort((a, b) => (a.priority ?? '').localeCompare(b.priority ?? '') || (a.due_at ?? '9').localeCompare(b.due_at ?? '9'));
  const today = items.filter((o) => isToday(o));
  const next = items.filter((o) => !isToday(o));
  const row = (o: WorkOrder) => {
    const st = effectiveStatus(o.status ?? '', queuedActions(ops, o.id ?? ''));
    const waiting = ops.some((x) => x.orderId === o.id && x.state === 'pending');
    return (
      <li>
        <Link href={`/jobs/${o.id}`} class="job" data-testid="job-row">
          <span class={`prio ${o.priority}`}>{o.priority}</span>
          <span class="grow">
            <span class="strong">{o.title}</span>
            <span class="muted small block">
              {o.number} · {t(`status.${st}` as AppKey)}
              {o.due_at && ' · ' + t('jobs.due', { t: formatDateTime(o.due_at, lang) })}
            </span>
          </span>
          {waiting && <span class="badge" title={t('job.pending')}>⟳</span>}
        </Link>
      </li>
    );
  };
  return (
    <section>
      <h1>{t('app.title')}</h1>
      {jobs.data.offline && <p class="notice small">{t('jobs.cachedAt', { t: formatDateTime(new Date(jobs.data.at).toISOString(), lang) })}</p>}
      {items.length === 0 && <p class="muted">{t('jobs.none')}</p>}
      {today.length > 0 && (
        <>
          <h2>{t('jobs.today')}</h2>
          <ul class="list">{today.map(row)}</ul>
        </>
      )}
      {next.length > 0 && (
        <>
          <h2>{t('jobs.next')}</h2>
          <ul class="list">{next.map(row)}</ul>
        </>
      )}
    </section>
  );
}
