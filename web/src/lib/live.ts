// Live updates: one server-sent event stream per signed-in tab
// (GET /api/v1/events) whose messages invalidate the query-cache keys of
// what changed, so every screen on those keys refetches within a second.
// The browser's EventSource resumes after a dropped connection with its
// Last-Event-ID; when the stream fails for good (server restarted, session
// expired), it is opened again with ?last_event_id= after a backoff, so
// nothing is missed. A "reset" message (too far behind) invalidates all.
// Every API answer carries the stream's position when it was read
// (X-Live-Position): the first stream resumes from the smallest position
// the page's answers carried so far, so the server replays whatever
// changed after any of those reads, and nothing is read twice; an answer
// that arrives later with a position older than that (a read that was in
// flight) makes the page read everything again, once. Only a stream
// opened before any answer (so with no position to resume from)
// invalidates all when it opens: what screens read before it opened is
// read again.
//
// Query-key conventions the screens follow (first elements):
//   ['work-orders', …filters]      order lists
//   ['work-order', idOrNumber]     one order's detail (id or WO-000123)
//   ['asset', assetId, …]          one asset's page (health, orders, telemetry)
//   ['signals', …], ['kpis', …], ['dispatch', …], ['engineers', …],
//   ['stock', …], ['purchase-requests', …], ['rules', …], ['me', 'jobs']
// A "<table>.changed" event of a table not listed here invalidates
// [<table with "_" as "-">], e.g. gateways.changed → ['gateways'].
import { useEffect, useState } from 'preact/hooks';
import type { QueryClient, QueryKey } from '@tanstack/preact-query';
import { useQueryClient } from '@tanstack/preact-query';
import { useClient } from './client';
import type { components } from '../api/schema';

export type LiveMessage = components['schemas']['LiveMessage'];

/** A set of queries to invalidate: by key prefix, or all (reset). */
export type Target = { prefix: QueryKey } | { all: true };

interface OrderData {
  id?: string;
  number?: string;
  asset_id?: string;
  site_id?: string;
  order_id?: string;
  rule_id?: string;
}

/** What one message makes stale. */
export function targetsOf(m: LiveMessage): Target[] {
  const d = (m.data ?? {}) as OrderData;
  const p = (...k: unknown[]): Target => ({ prefix: k });
  const order = (id?: string, number?: string): Target[] => {
    const out: Target[] = [];
    if (id) out.push(p('work-order', id));
    if (number) out.push(p('work-order', number));
    return out;
  };
  switch (m.type) {
    case 'reset':
      return [{ all: true }];
    case 'work_order.created':
    case 'work_order.transitioned':
    case 'work_order.assigned':
    case 'work_order.updated': {
      const out = [p('work-orders'), ...order(m.order_id || d.id, d.number), p('kpis'), p('dispatch'), p('me', 'jobs')];
      if (d.asset_id) out.push(p('asset', d.asset_id));
      return out;
    }
    case 'signal.created': {
      const out = [p('signals')];
      if (d.asset_id) out.push(p('asset', d.asset_id));
      out.push(...order(d.order_id ?? m.order_id));
      return out;
    }
    case 'engineer.updated':
      return [p('engineers'), p('dispatch')];
    case 'stock.changed':
      return [p('stock'), p('inventory'), ...order(m.order_id)];
    case 'purchase_request.changed':
      return [p('purchase-requests'), p('stock'), p('inventory')];
    case 'dispatch.run':
      return [p('dispatch')];
    case 'rule.changed':
      return [p('rules')];
  }
  const table = m.type.endsWith('.changed') ? m.type.slice(0, -'.changed'.length) : '';
  return table ? [p(table.replace(/_/g, '-'))] : [];
}

function prefixMatches(key: QueryKey, prefix: QueryKey): boolean {
  return prefix.every((v, i) => key[i] === v);
}

/** Invalidates the queries of a batch of targets (the session's own "me" survives a reset). */
export function invalidate(qc: QueryClient, targets: Target[]) {
  if (targets.length === 0) return;
  if (targets.some((t) => 'all' in t)) {
    void qc.invalidateQueries({ predicate: (q) => q.queryKey[0] !== 'me' || q.queryKey[1] === 'jobs' });
    return;
  }
  const prefixes = targets.map((t) => (t as { prefix: QueryKey }).prefix);
  void qc.invalidateQueries({ predicate: (q) => prefixes.some((p) => prefixMatches(q.queryKey, p)) });
}

export type LiveState = 'connecting' | 'live' | 'offline';

type Listener = (m: LiveMessage) => void;
const listeners = new Set<Listener>();

/** Calls fn with every live message while the returned function is not called. */
export function onLive(fn: Listener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

let current: LiveState = 'connecting';
const stateListeners = new Set<(s: LiveState) => void>();
function setState(s: LiveState) {
  current = s;
  stateListeners.forEach((l) => l(s));
}

/** Whether the stream is up; screens poll only while it is not. */
export function useLiveState(): LiveState {
  const [s, set] = useState(current);
  useEffect(() => {
    stateListeners.add(set);
    set(current);
    return () => void stateListeners.delete(set);
  }, []);
  return s;
}

/** Holds the live stream open while mounted (once, in the signed-in shell). */
export function useLive(url = '/api/v1/events', batchMs = 100) {
  const qc = useQueryClient();
  const client = useClient();
  useEffect(() => {
    let es: EventSource | undefined;
    let lastId = '';
    // Where the first stream resumed from: the smallest position of the
    // answers read before it ('' when none had come).
    let base = '';
    let first = true;
    let late = false;
    const offPosition = client.onLivePosition((p) => {
      if (base !== '' && p < Number(base) && !late) {
        late = true;
        invalidate(qc, [{ all: true }]);
      }
    });
    let retry = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let pending: Target[] = [];
    let flush: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;

    const open = () => {
      setState('connecting');
      if (first) {
        first = false;
        const seen = client.takeLowestPosition();
        if (seen !== undefined) base = String(seen);
      }
      const from = lastId || base;
      es = new EventSource(from ? `${url}?last_event_id=${encodeURIComponent(from)}` : url);
      es.onopen = () => {
        retry = 0;
        setState('live');
        // A stream that resumes from nothing starts at its own opening:
        // whatever changed between a screen's read and this moment would
        // never come. Every query read (or being read) before is read
        // again; a stream resumed from an event (the browser reconnects
        // with the last one) or a read's position replays the gap instead.
        if (!from && !lastId) invalidate(qc, [{ all: true }]);
      };
      es.onmessage = (ev) => {
        if (ev.lastEventId) lastId = ev.lastEventId;
        let m: LiveMessage;
        try {
          m = JSON.parse(ev.data as string) as LiveMessage;
        } catch {
          return;
        }
        pending.push(...targetsOf(m));
        listeners.forEach((l) => l(m));
        if (!flush) {
          flush = setTimeout(() => {
            flush = undefined;
            const batch = pending;
            pending = [];
            invalidate(qc, batch);
          }, batchMs);
        }
      };
      es.onerror = () => {
        if (!es || es.readyState !== EventSource.CLOSED) {
          setState('connecting'); // the browser reconnects by itself
          return;
        }
        setState('offline');
        es = undefined;
        if (stopped) return;
        // Failed for good (restart, expired session): open again after a
        // backoff; anything that changed meanwhile is replayed.
        const wait = Math.min(30_000, 1000 * 2 ** retry++);
        timer = setTimeout(open, wait);
      };
    };
    open();
    // A page left for another (or kept in the back-forward cache) lets go
    // of its stream: browsers allow six connections to a host, and
    // streams of pages no longer shown would hold them. Shown again from
    // the cache, it opens one and catches up (see onopen).
    const hide = () => {
      es?.close();
      es = undefined;
      clearTimeout(timer);
    };
    const show = (ev: PageTransitionEvent) => {
      if (ev.persisted && !es && !stopped) open();
    };
    window.addEventListener('pagehide', hide);
    window.addEventListener('pageshow', show);
    return () => {
      stopped = true;
      offPosition();
      window.removeEventListener('pagehide', hide);
      window.removeEventListener('pageshow', show);
      es?.close();
      clearTimeout(timer);
      clearTimeout(flush);
      setState('connecting');
    };
  }, [qc, client, url, batchMs]);
}
