// Claim mode (抢单): the orders offered to this engineer now, kept live by
// the server's event stream (an order offered, claimed or assigned reloads
// the list), and the claim itself, which needs the network: the first
// claim wins, the others are told the order is gone.
import { useEffect, useState } from 'preact/hooks';
import { useQuery } from '@tanstack/preact-query';
import { useLocation } from 'wouter-preact';
import type { List, WorkOrder } from '../api/types';
import { ApiError } from '../lib/api';
import { useClient } from '../lib/client';
import { formatDateTime } from '../lib/format';
import { useI18n } from './i18n';
import { useOnline } from './state';

type Offer = WorkOrder & { distance_km?: number | null };

/**
 * Reloads fn on the messages of the live stream while mounted, once per
 * burst. The stream resumes from the smallest position the app's answers
 * carried (X-Live-Position), so what changed after its reads comes too;
 * with none yet, it reloads once it is open. A page left for another (or
 * kept in the back-forward cache) closes its stream, which would otherwise
 * hold one of the six connections browsers allow a host; shown again, it
 * opens one and reloads.
 */
export function useLiveReload(fn: () => void) {
  const client = useClient();
  useEffect(() => {
    if (typeof EventSource === 'undefined') return;
    let es: EventSource | undefined;
    let burst: ReturnType<typeof setTimeout> | undefined;
    const reload = () => {
      if (burst) return;
      burst = setTimeout(() => {
        burst = undefined;
        fn();
      }, 100);
    };
    let first = true;
    const open = () => {
      const from = first ? client.takeLowestPosition() : undefined;
      es = new EventSource(from === undefined ? '/api/v1/events' : `/api/v1/events?last_event_id=${from}`);
      es.onmessage = reload;
      if (first && from === undefined) es.onopen = reload;
      first = false;
    };
    const hide = () => {
      es?.close();
      es = undefined;
    };
    const show = (ev: PageTransitionEvent) => {
      if (!ev.persisted || es) return;
      open();
      fn();
    };
    open();
    window.addEventListener('pagehide', hide);
    window.addEventListener('pageshow', show);
    return () => {
      window.removeEventListener('pagehide', hide);
      window.removeEventListener('pageshow', show);
      clearTimeout(burst);
      hide();
    };
  }, [client]);
}

export function Offers() {
  const { t, lang } = useI18n();
  const client = useClient();
  const online = useOnline();
  const [, go] = useLocation();
  const [gone, setGone] = useState('');
  const [busy, setBusy] = useState('');
  const offers = useQuery<List<Offer>, ApiError>({
    queryKey: ['offers'],
    queryFn: () => client.get<List<Offer>>('/me/offers'),
    enabled: online,
    retry: false,
    refetchInterval: 30_000,
  });
  useLiveReload(() => void offers.refetch());
  const claim = async (o: Offer) => {
    setBusy(o.id ?? '');
    setGone('');
    try {
      await client.post(`/work-orders/${o.id}/claim`, {}, { 'Idempotency-Key': crypto.randomUUID?.() ?? `claim-${o.id}-${Date.now()}` });
      go(`/jobs/${o.id}`);
    } catch (e) {
      if (e instanceof ApiError && (e.status === 409 || e.status === 403 || e.status === 404)) setGone(o.number ?? '');
      else setGone(e instanceof Error ? e.message : String(e));
      void offers.refetch();
    } finally {
      setBusy('');
    }
  };
  if (!online) return <p class="notice">{t('offers.offline')}</p>;
  if (offers.isPending) return <p class="muted">{t('common.loading')}</p>;
  if (offers.error) return <p class="field-error">{t('common.error', { message: offers.error.message })}</p>;
  const items = offers.data.items;
  return (
    <section>
      <h1>{t('offers.title')}</h1>
      {gone && (
        <p class="notice" role="alert" data-testid="offer-gone">
          {t('offers.gone', { n: gone })}
        </p>
      )}
      {items.length === 0 && <p class="muted">{t('offers.none')}</p>}
      <ul class="list">
        {items.map((o) => (
          <li class="job" data-testid="offer-row" data-id={o.id}>
            <span class={`prio ${o.priority}`}>{o.priority}</span>
            <span class="grow">
              <span class="strong">{o.title}</span>
              <span class="muted small block">
                {o.number}
                {o.distance_km != null && ' · ' + t('offers.km', { km: o.distance_km.toFixed(1) })}
                {o.due_at && ' · ' + t('jobs.due', { t: formatDateTime(o.due_at, lang) })}
              </span>
            </span>
            <button class="primary" data-action="claim" disabled={busy !== ''} onClick={() => void claim(o)}>
              {t('offers.claim')}
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
