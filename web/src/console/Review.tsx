import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { useMutation, useQueryClient } from '@tanstack/preact-query';
import { useI18n } from './i18n';
import { useClient } from '../lib/client';
import { ApiError } from '../lib/api';
import { useAssets } from '../lib/queries';
import { formatDateTime, formatDuration, secondsUntil } from '../lib/format';
import type { User, WorkOrder } from '../api/types';
import { byRisk } from './risk';
import { Generations, queueKey, removeFromQueue, useRiskQueue, type Queue } from './riskQueue';
import { useLiveState } from '../lib/live';
import { Link } from 'wouter-preact';
import { ApproveDialog, RejectDialog } from './ReviewDialogs';

export function Review({ user }: { user: User }) {
  const { t, lang } = useI18n();
  const client = useClient();
  const qc = useQueryClient();
  const canAct = user.role === 'admin' || user.role === 'planner';
  // Live updates patch the queue; it polls only while the stream is down.
  const live = useLiveState();
  const assets = useAssets();
  const cmp = useMemo(() => byRisk((id: string) => assets.data?.get(id)?.criticality ?? 3), [assets.data]);
  // Every proposed order ranked by the server, riskiest first: the first
  // 100 at once, a further 100 as the end of the list comes into view.
  const [gens] = useState(() => new Generations());
  const orders = useRiskQueue(cmp, live === 'live' ? false : 5_000, gens);
  const sorted = useMemo(() => (orders.data?.pages ?? []).flatMap((p) => p.items ?? []), [orders.data]);
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = orders;
  const loadMore = useCallback(() => {
    if (hasNextPage && !isFetchingNextPage) void fetchNextPage();
  }, [hasNextPage, isFetchingNextPage, fetchNextPage]);

  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [cursor, setCursor] = useState(0);
  const [approving, setApproving] = useState<WorkOrder[] | null>(null);
  const [rejecting, setRejecting] = useState<WorkOrder[] | null>(null);
  const [flash, setFlash] = useState('');
  const rows = useRef<HTMLTableSectionElement>(null);
  // The next page loads as the end comes into view or the cursor nears it.
  const more = useRef<HTMLTableRowElement>(null);
  useEffect(() => {
    const el = more.current;
    if (!el || typeof IntersectionObserver === 'undefined') return;
    const io = new IntersectionObserver((es) => {
      if (es.some((e) => e.isIntersecting)) loadMore();
    });
    io.observe(el);
    return () => io.disconnect();
  }, [loadMore, sorted.length]);
  useEffect(() => {
    if (cursor >= sorted.length - 5) loadMore();
  }, [cursor, sorted.length, loadMore]);

  // Forget selections of orders that left the queue.
  useEffect(() => {
    const ids = new Set(sorted.map((o) => o.id));
    setSelected((s) => new Set([...s].filter((id) => ids.has(id))));
    setCursor((c) => Math.min(c, Math.max(0, sorted.length - 1)));
  }, [sorted]);

  // The orders acted on leave the queue at once (their live events would
  // drop them too); other lists refetch.
  const done = (msg: string, acted: WorkOrder[]) => {
    setFlash(msg);
    setSelected(new Set());
    const ids = new Set(acted.map((o) => o.id ?? ''));
    // A fetch of one of them still in flight must not bring it back.
    ids.forEach((id) => gens.bump(id));
    qc.setQueryData<Queue>(queueKey, (q) => q && removeFromQueue(q, ids));
    void qc.invalidateQueries({ queryKey: ['work-orders'] });
  };

  const quickApprove = useMutation({
    mutationFn: (o: WorkOrder) => client.post<WorkOrder>(`/work-orders/${o.id}/approve`, {}),
    onSuccess: (o) => done(t('review.approved', { number: o.number ?? '' }), [o]),
    onError: (e) => setFlash(t('common.error', { message: (e as Error).message })),
  });

  const targets = (): WorkOrder[] => {
    const sel = sorted.filter((o) => selected.has(o.id ?? ''));
    if (sel.length > 0) return sel;
    return sorted[cursor] ? [sorted[cursor]] : [];
  };

  // Keyboard: j/k move, x select, a approve, r reject, Shift+A approve with edits.
  useEffect(() => {
    if (!canAct) return;
    const onKey = (e: KeyboardEvent) => {
      if (approving || rejecting) return;
      const tag = (e.target as HTMLElement | null)?.tagName;
      if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === 'j') setCursor((c) => Math.min(c + 1, sorted.length - 1));
      else if (e.key === 'k') setCursor((c) => Math.max(c - 1, 0));
      else if (e.key === 'x' && sorted[cursor]) toggle(sorted[cursor].id ?? '');
      else if (e.key === 'a' && targets().length === 1 && !e.shiftKey) quickApprove.mutate(targets()[0]);
      else if (e.key === 'a' || e.key === 'A') setApproving(targets());
      else if (e.key === 'r') setRejecting(targets());
      else return;
      e.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  });

  useEffect(() => {
    rows.current?.querySelectorAll('tr')[cursor]?.scrollIntoView?.({ block: 'nearest' });
  }, [cursor]);

  const toggle = (id: string) =>
    setSelected((s) => {
      const n = new Set(s);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });

  const selCount = selected.size;
  return (
    <section class="page" aria-labelledby="review-title">
      <div class="page-head">
        <div>
          <h1 id="review-title">{t('review.title')}</h1>
          <p class="muted">{t('review.subtitle')}</p>
        </div>
        <div class="row">
          {orders.data && (
            <span class="badge big" data-testid="review-count" data-complete={!hasNextPage}>
              {t(hasNextPage ? 'review.countMore' : 'review.count', { n: sorted.length })}
            </span>
          )}
          {canAct && selCount > 0 && (
            <>
              <button type="button" class="primary" onClick={() => setApproving(targets())}>
                {t('review.approveSelected', { n: selCount })}
              </button>
              <button type="button" class="danger" onClick={() => setRejecting(targets())}>
                {t('review.rejectSelected', { n: selCount })}
              </button>
            </>
          )}
        </div>
      </div>
      {flash && (
        <p class="flash" role="status" onClick={() => setFlash('')}>
          {flash}
        </p>
      )}
      {canAct && <p class="muted small">{t('review.shortcuts')}</p>}
      {orders.isPending && <p class="muted">{t('common.loading')}</p>}
      {orders.error && (
        <p class="field-error" role="alert">
          {(orders.error as ApiError).status === 0 ? t('common.offline') : t('common.error', { message: (orders.error as Error).message })}
        </p>
      )}
      {orders.data && sorted.length === 0 && <p class="empty">{t('review.empty')}</p>}
      {sorted.length > 0 && (
        <div class="table-wrap">
          <table class="list">
            <thead>
              <tr>
                {canAct && (
                  <th scope="col" class="narrow">
                    <input
                      type="checkbox"
                      aria-label={t('review.selectAll')}
                      checked={selCount > 0 && selCount === sorted.length}
                      onChange={(e) => setSelected((e.target as HTMLInputElement).checked ? new Set(sorted.map((o) => o.id ?? '')) : new Set())}
                    />
                  </th>
                )}
                <th scope="col">{t('review.col.priority')}</th>
                <th scope="col">{t('review.col.order')}</th>
                <th scope="col">{t('review.col.asset')}</th>
                <th scope="col">{t('review.col.mode')}</th>
                <th scope="col">{t('review.col.source')}</th>
                <th scope="col">{t('review.col.rul')}</th>
                <th scope="col">{t('review.col.detected')}</th>
                {canAct && <th scope="col">{t('review.col.actions')}</th>}
              </tr>
            </thead>
            <tbody ref={rows}>
              {sorted.map((o, i) => {
                const a = assets.data?.get(o.asset_id ?? '');
                const rul = secondsUntil(o.predicted_failure_at);
                return (
                  <tr key={o.id} class={i === cursor ? 'cursor' : ''} data-order={o.number} onClick={() => setCursor(i)}>
                    {canAct && (
                      <td class="narrow">
                        <input type="checkbox" aria-label={t('review.select') + ' ' + o.number} checked={selected.has(o.id ?? '')} onChange={() => toggle(o.id ?? '')} />
                      </td>
                    )}
                    <td>
                      <span class={'prio prio-' + (o.priority ?? '').toLowerCase()}>{o.priority}</span>
                    </td>
                    <td>
                      <Link class="strong" href={`/orders/${o.number}`}>
                        {o.number}
                      </Link>
                      <div class="muted small clip">{o.title}</div>
                    </td>
                    <td>
                      <div>{a?.name ?? a?.code ?? o.asset_id?.slice(0, 8)}</div>
                      {a && <div class="muted small">{a.code} · {a.type} · C{a.criticality}</div>}
                    </td>
                    <td>{o.failure_mode}</td>
                    <td>
                      <span class={'src src-' + o.source}>{o.source ? t(('source.' + o.source) as 'source.trend') : ''}</span>
                    </td>
                    <td>
                      {o.predicted_failure_at ? (
                        <>
                          <div class={rul < 86400 ? 'urgent' : ''}>{rul > 0 ? t('time.in', { d: formatDuration(rul, lang) }) : formatDateTime(o.predicted_failure_at, lang)}</div>
                          {o.predicted_failure_earliest && o.predicted_failure_latest && (
                            <div class="muted small">
                              {t('review.between', {
                                from: formatDateTime(o.predicted_failure_earliest, lang),
                                to: formatDateTime(o.predicted_failure_latest, lang),
                              })}
                            </div>
                          )}
                        </>
                      ) : (
                        <span class="muted">{t('common.none')}</span>
                      )}
                    </td>
                    <td class="small">{formatDateTime(o.detected_at ?? o.created_at, lang)}</td>
                    {canAct && (
                      <td class="actions">
                        <button type="button" class="primary small" onClick={() => setApproving([o])}>
                          {t('review.approve')}
                        </button>
                        <button type="button" class="ghost small" onClick={() => setRejecting([o])}>
                          {t('review.reject')}
                        </button>
                      </td>
                    )}
                  </tr>
                );
              })}
              {hasNextPage && (
                <tr ref={more} class="more">
                  <td colSpan={canAct ? 9 : 7}>
                    <button type="button" class="ghost small" disabled={isFetchingNextPage} onClick={loadMore}>
                      {t(isFetchingNextPage ? 'common.loading' : 'review.more')}
                    </button>
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      )}
      {approving && approving.length > 0 && (
        <ApproveDialog
          orders={approving}
          onClose={(msg) => {
            setApproving(null);
            if (msg) done(msg, approving);
          }}
        />
      )}
      {rejecting && rejecting.length > 0 && (
        <RejectDialog
          orders={rejecting}
          onClose={(msg) => {
            setRejecting(null);
            if (msg) done(msg, rejecting);
          }}
        />
      )}
    </section>
  );
}
