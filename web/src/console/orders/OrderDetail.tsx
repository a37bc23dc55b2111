// One order at /orders/{WO-number or id}: its evidence as a chart (the
// telemetry window with warn/critical lines, the fitted trend and its band
// up to the predicted crossing, breach and detection markers), then the
// timeline, parts and their reservations, SLA clock, attachments,
// suggested knowledge, and the actions the user's role may take.
import { useMemo, useState } from 'preact/hooks';
import { Link } from 'wouter-preact';
import { useQuery, useQueryClient } from '@tanstack/preact-query';
import { useI18n } from '../i18n';
import { useClient } from '../../lib/client';
import { ApiError } from '../../lib/api';
import { fetchAll, useAssets } from '../../lib/queries';
import type { components } from '../../api/schema';
import type { Lang } from '../../i18n';
import { formatDateTime, formatDuration, parseDuration, formatNumber, secondsUntil } from '../../lib/format';
import type { User, WorkOrder, WorkOrderDetail } from '../../api/types';
import { ApproveDialog, RejectDialog, rejectReasons } from '../ReviewDialogs';
import { Dialog, FieldError } from '../ui';
import { Chart, type Limit, type Marker } from '../Chart';
import { evidenceColumns, secs, type Evidence, type Point } from './evidence';
import { coveragePercent, driversText, type FleetEvidenceFields } from '../../lib/fleet';
import { TransferPanel } from './Transfer';
import { LinkedPanel } from './Linked';

interface Rule {
  id?: string;
  name?: string;
  verify_for?: string;
  metric?: string;
  warn?: number | null;
  critical?: number | null;
}
interface Series {
  metric?: string;
  points?: Point[];
}
interface Engineer {
  id: string;
  name: string;
  user_id?: string | null;
}
interface PartsState {
  state?: string;
  reservations?: { sku: string; location_id: string; qty: number }[];
  shortages?: { sku: string; qty: number }[];
}

const terminal = ['closed', 'rejected', 'cancelled', 'merged'];

export function OrderDetailPage({ orderRef, user }: { orderRef: string; user: User }) {
  const { t } = useI18n();
  const client = useClient();
  const detail = useQuery<WorkOrderDetail, ApiError>({
    queryKey: ['work-order', orderRef],
    queryFn: () => client.get<WorkOrderDetail>(`/work-orders/${encodeURIComponent(orderRef)}`),
  });
  const o = detail.data;
  if (detail.isPending) return <section class="page muted">{t('order.loading')}</section>;
  if (!o) {
    return (
      <section class="page">
        <p role="alert">{detail.error?.status === 404 ? t('order.notFound', { ref: orderRef }) : detail.error?.message}</p>
        <Link href="/orders">{t('order.back')}</Link>
      </section>
    );
  }
  return (
    <section class="page order-detail" aria-labelledby="order-title">
      <p>
        <Link href="/orders">← {t('order.back')}</Link>
      </p>
      <header class="order-head">
        <h1 id="order-title">
          <span class={'prio prio-' + (o.priority ?? '').toLowerCase()}>{o.priority}</span> {o.number} · {o.title}
        </h1>
        <span class={`badge big status-${o.status}`} data-status={o.status}>
          {t(`status.${o.status}` as never)}
        </span>
      </header>
      <OrderFacts o={o} user={user} />
      <Actions o={o} user={user} />
      <TransferPanel o={o} user={user} />
      <LinkedPanel o={o} user={user} />
      <EvidenceSection o={o} user={user} />
      <div class="order-grid">
        <Timeline o={o} />
        <div>
          <SLA o={o} />
          <Parts o={o} />
          <Attachments o={o} />
          <Articles o={o} />
        </div>
      </div>
    </section>
  );
}

function OrderFacts({ o, user }: { o: WorkOrderDetail; user: User }) {
  const { t } = useI18n();
  const client = useClient();
  const assets = useAssets();
  const a = assets.data?.get(o.asset_id ?? '');
  const rule = useQuery<Rule>({
    queryKey: ['rules', o.rule_id],
    queryFn: () => client.get<Rule>(`/rules/${o.rule_id}`),
    enabled: !!o.rule_id && user.role !== 'engineer',
    staleTime: 60_000,
  });
  return (
    <dl class="facts">
      <dt>{t('order.asset')}</dt>
      <dd>
        <Link href={`/assets/${o.asset_id}`}>{a ? `${a.code} · ${a.name}` : o.asset_id}</Link>
      </dd>
      <dt>{t('order.source')}</dt>
      <dd>{t(`source.${o.source}` as never)}</dd>
      <dt>{t('order.mode')}</dt>
      <dd>{o.failure_mode || '—'}</dd>
      <dt>{t('order.assignee')}</dt>
      <dd>{o.assignee_id ?? t('order.unassigned')}</dd>
      {o.status_url && (
        <>
          <dt>{t('order.statusLink')}</dt>
          <dd>
            <a href={o.status_url} target="_blank" rel="noopener noreferrer" data-testid="status-link">
              {o.status_url}
            </a>
          </dd>
        </>
      )}
      {rule.data && (
        <>
          <dt>{t('order.verifyFor')}</dt>
          <dd data-testid="verify-for">
            {rule.data.verify_for ? t('order.verifyRule', { d: rule.data.verify_for, rule: rule.data.name ?? '' }) : t('order.verifyDefault', { rule: rule.data.name ?? '' })}
          </dd>
        </>
      )}
    </dl>
  );
}

function EvidenceSection({ o, user }: { o: WorkOrderDetail; user: User }) {
  const { t, lang } = useI18n();
  const client = useClient();
  const ev = (o.evidence ?? {}) as Evidence & { metric?: string; r2?: number; points?: number; rul?: string; model?: string };
  const sig = o.signals?.[0];
  const rule = useQuery<Rule>({
    queryKey: ['rules', o.rule_id],
    queryFn: () => client.get<Rule>(`/rules/${o.rule_id}`),
    enabled: !!o.rule_id && user.role !== 'engineer',
    staleTime: 60_000,
  });
  const metric = ev.metric || sig?.metric || rule.data?.metric || '';
  const detected = secs(o.detected_at) ?? secs(o.created_at) ?? Date.now() / 1000;
  const from = Math.min(secs(ev.window_start) ?? detected - 6 * 3600, secs(ev.breach_start) ?? Infinity, detected - 3600);
  const to = Math.max(detected + 3600, Math.min(Date.now() / 1000, detected + 7 * 86400));
  const tel = useQuery<{ items: Series[] }>({
    queryKey: ['asset', o.asset_id, 'telemetry', metric, Math.floor(from), Math.floor(to)],
    queryFn: () =>
      client.get(`/assets/${o.asset_id}/telemetry`, {
        metric,
        from: new Date(from * 1000).toISOString(),
        to: new Date(to * 1000).toISOString(),
      }),
    enabled: !!metric,
    staleTime: 30_000,
  });
  const points = tel.data?.items?.find((s) => s.metric === metric)?.points ?? [];
  const data = useMemo(() => evidenceColumns(points, ev), [tel.data, o.evidence]);
  const limits: Limit[] = [];
  const warn = rule.data?.warn;
  const crit = rule.data?.critical ?? ev.limit;
  if (warn != null) limits.push({ value: warn, label: t('order.warn', { v: warn }), color: '#c98a00' });
  if (crit != null) limits.push({ value: crit, label: t('order.critical', { v: crit }), color: '#c0392b' });
  const markers: Marker[] = [];
  for (const s of o.signals ?? []) {
    const at = secs(s.detected_at);
    if (at !== undefined) markers.push({ t: at, label: `${s.kind} ${s.level}`, color: s.kind === 'trend' ? '#6c5ce7' : '#c0392b' });
  }
  const breach = secs(ev.breach_start);
  if (breach !== undefined) markers.push({ t: breach, label: t('order.marker.breach'), color: '#c0392b' });
  const cross = secs(ev.predicted_failure_at);
  if (cross !== undefined) markers.push({ t: cross, label: t('order.marker.predicted'), color: '#d67828' });
  const hasTrend = data[2].some((v) => v !== null);
  return (
    <section class="card" aria-labelledby="evidence-title">
      <h2 id="evidence-title">{t('order.evidence')}</h2>
      {ev.model === 'fleet' ? (
        <FleetEvidence ev={ev as FleetEv} user={user} />
      ) : (
        ev.model && (
          <>
            <p class="muted">
              {t('order.fit', { model: ev.model, r2: formatNumber(ev.r2 ?? 0, lang), points: ev.points ?? 0, rul: readableLife(ev.rul, lang) })}
            </p>
            <p data-testid="order-prediction">
              {o.predicted_failure_at ? t('order.predicted', { at: formatDateTime(o.predicted_failure_at, lang) }) : t('order.noPrediction')}
            </p>
          </>
        )
      )}
      {data[0].length === 0 ? (
        <p class="muted">{tel.isPending && metric ? t('order.loading') : t('order.noTelemetry')}</p>
      ) : (
        <Chart
          label={t('order.chart', { metric })}
          data={data}
          series={[
            { label: t('order.series.value'), color: '#2d6cdf', points: points.length < 200 },
            { label: t('order.series.trend'), color: '#6c5ce7', dash: [8, 4], width: 2 },
            { label: t('order.series.early'), color: 'rgba(214,120,40,0.7)', width: 1 },
            { label: t('order.series.late'), color: 'rgba(214,120,40,0.7)', width: 1 },
          ]}
          band={hasTrend ? [4, 3] : undefined}
          limits={limits}
          markers={markers}
        />
      )}
    </section>
  );
}

function Timeline({ o }: { o: WorkOrderDetail }) {
  const { t, lang } = useI18n();
  return (
    <section class="card" aria-labelledby="timeline-title">
      <h2 id="timeline-title">{t('order.timeline')}</h2>
      <ol class="timeline">
        {(o.events ?? []).map((e) => (
          <li>
            <time>{formatDateTime(e.at, lang)}</time> <strong>{e.type}</strong>
            {e.to ? ` → ${t(`status.${e.to}` as never)}` : ''} <span class="muted">{e.actor}</span>
            {e.note && <div class="muted">{e.note}</div>}
          </li>
        ))}
      </ol>
    </section>
  );
}

function SLA({ o }: { o: WorkOrderDetail }) {
  const { t, lang } = useI18n();
  const left = o.due_at ? secondsUntil(o.due_at) : undefined;
  return (
    <section class="card" aria-labelledby="sla-title">
      <h2 id="sla-title">{t('order.sla')}</h2>
      {o.due_at ? (
        <>
          <p>{t('order.sla.due', { at: formatDateTime(o.due_at, lang) })}</p>
          <p class={left! < 0 ? 'danger' : ''}>
            {left! >= 0 ? t('order.sla.left', { d: formatDuration(left!, lang) }) : t('order.sla.over', { d: formatDuration(-left!, lang) })}
          </p>
        </>
      ) : (
        <p class="muted">{t('order.sla.none')}</p>
      )}
      <p class="muted">{t('order.sla.state', { state: o.sla_state ?? 'ok' })}</p>
    </section>
  );
}

function Parts({ o }: { o: WorkOrderDetail }) {
  const { t } = useI18n();
  const client = useClient();
  const ps = useQuery<PartsState>({
    queryKey: ['work-order', o.id, 'parts'],
    queryFn: () => client.get<PartsState>(`/work-orders/${o.id}/parts`),
  });
  const parts = o.parts ?? [];
  return (
    <section class="card" aria-labelledby="parts-title">
      <h2 id="parts-title">{t('order.parts')}</h2>
      {parts.length === 0 ? (
        <p class="muted">{t('order.parts.none')}</p>
      ) : (
        <ul>
          {parts.map((p) => {
            const res = ps.data?.reservations?.filter((r) => r.sku === p.sku) ?? [];
            const short = ps.data?.shortages?.filter((s) => s.sku === p.sku) ?? [];
            return (
              <li>
                <strong>{p.sku}</strong> × {p.qty}{' '}
                {res.map((r) => (
                  <span class="badge">{t('order.parts.reserved', { qty: r.qty, location: r.location_id.slice(0, 8) })}</span>
                ))}
                {short.map((s) => (
                  <span class="badge danger">{t('order.parts.short', { qty: s.qty })}</span>
                ))}
              </li>
            );
          })}
        </ul>
      )}
      {ps.data?.state && <p class="muted">{t('order.parts.state', { state: ps.data.state })}</p>}
    </section>
  );
}

function Attachments({ o }: { o: WorkOrderDetail }) {
  const { t } = useI18n();
  const as = o.attachments ?? [];
  return (
    <section class="card" aria-labelledby="att-title">
      <h2 id="att-title">{t('order.attachments')}</h2>
      {as.length === 0 && <p class="muted">{t('order.attachments.none')}</p>}
      <div class="thumbs">
        {as.map((a) => {
          const href = `/api/v1/work-orders/${o.id}/attachments/${a.id}`;
          return (
            <figure>
              {a.content_type?.startsWith('image/') ? (
                <a href={href} target="_blank" rel="noreferrer">
                  <img src={href} alt={a.filename || a.kind} loading="lazy" />
                </a>
              ) : (
                <a href={href}>{a.filename || a.kind}</a>
              )}
              <figcaption>{a.kind === 'signature' && a.signer_name ? t('order.signedBy', { name: a.signer_name }) : a.kind}</figcaption>
            </figure>
          );
        })}
      </div>
    </section>
  );
}

function Articles({ o }: { o: WorkOrderDetail }) {
  const { t } = useI18n();
  const arts = o.suggested_articles ?? [];
  return (
    <section class="card" aria-labelledby="kb-title">
      <h2 id="kb-title">{t('order.articles')}</h2>
      {arts.length === 0 ? (
        <p class="muted">{t('order.articles.none')}</p>
      ) : (
        <ul>
          {arts.map((a) => (
            <li>{a.title}</li>
          ))}
        </ul>
      )}
    </section>
  );
}

type Pending = null | 'approve' | 'reject' | 'assign' | 'cancel' | 'close' | 'reopen';

function Actions({ o, user }: { o: WorkOrderDetail; user: User }) {
  const { t } = useI18n();
  const qc = useQueryClient();
  const [open, setOpen] = useState<Pending>(null);
  const [flash, setFlash] = useState('');
  const planner = user.role === 'admin' || user.role === 'planner';
  if (!planner) return null;
  const st = o.status ?? '';
  const can = {
    approve: st === 'proposed',
    reject: st === 'proposed',
    assign: ['approved', 'assigned', 'accepted'].includes(st),
    cancel: !terminal.includes(st) && !['completed', 'verified'].includes(st),
    close: st === 'verified' || st === 'completed',
    reopen: ['rejected', 'cancelled', 'completed', 'verified', 'closed'].includes(st),
  };
  const done = (msg?: string) => {
    setOpen(null);
    if (msg) setFlash(msg);
    void qc.invalidateQueries({ queryKey: ['work-order'] });
    void qc.invalidateQueries({ queryKey: ['work-orders'] });
  };
  const order = o as WorkOrder;
  return (
    <section class="actions" aria-label={t('order.actions')}>
      {can.approve && (
        <button type="button" onClick={() => setOpen('approve')}>
          {t('review.approve')}
        </button>
      )}
      {can.reject && (
        <button type="button" class="ghost" onClick={() => setOpen('reject')}>
          {t('review.reject')}
        </button>
      )}
      {can.assign && (
        <button type="button" onClick={() => setOpen('assign')}>
          {t('order.assign')}
        </button>
      )}
      {can.close && (
        <button type="button" onClick={() => setOpen('close')}>
          {t('order.close')}
        </button>
      )}
      {can.reopen && (
        <button type="button" class="ghost" onClick={() => setOpen('reopen')}>
          {t('order.reopen')}
        </button>
      )}
      {can.cancel && (
        <button type="button" class="ghost danger" onClick={() => setOpen('cancel')}>
          {t('order.cancel')}
        </button>
      )}
      {flash && (
        <span role="status" class="muted">
          {flash}
        </span>
      )}
      {open === 'approve' && <ApproveDialog orders={[order]} onClose={done} />}
      {open === 'reject' && <RejectDialog orders={[order]} onClose={done} />}
      {open === 'assign' && <AssignDialog o={o} onClose={done} />}
      {(open === 'cancel' || open === 'close' || open === 'reopen') && <ReasonDialog o={o} action={open} onClose={done} />}
    </section>
  );
}

function AssignDialog({ o, onClose }: { o: WorkOrderDetail; onClose: (m?: string) => void }) {
  const { t } = useI18n();
  const client = useClient();
  const engineers = useQuery({ queryKey: ['engineers'], queryFn: () => fetchAll<Engineer>(client, '/engineers') });
  const withUser = (engineers.data ?? []).filter((e) => e.user_id);
  const [who, setWho] = useState(o.assignee_id ?? '');
  const [err, setErr] = useState<ApiError>();
  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      const r = await client.post<WorkOrder>(`/work-orders/${o.id}/assign`, { assignee_id: who });
      onClose(t('order.done', { number: r.number ?? '', status: t(`status.${r.status}` as never) }));
    } catch (x) {
      setErr(x as ApiError);
    }
  };
  return (
    <Dialog title={t('order.assign')} onClose={() => onClose()}>
      <form onSubmit={submit}>
        <label>
          {t('order.assignTo')}
          <select value={who} onChange={(e) => setWho((e.target as HTMLSelectElement).value)} required>
            <option value="" />
            {withUser.map((e) => (
              <option value={e.user_id!}>{e.name}</option>
            ))}
          </select>
        </label>
        <FieldError err={err} field="assignee_id" />
        {err && !err.fields.length && <p class="field-error" role="alert">{err.message}</p>}
        <button type="submit">{t('order.confirm')}</button>
      </form>
    </Dialog>
  );
}

function ReasonDialog({ o, action, onClose }: { o: WorkOrderDetail; action: 'cancel' | 'close' | 'reopen'; onClose: (m?: string) => void }) {
  const { t } = useI18n();
  const client = useClient();
  const [reason, setReason] = useState<string>(action === 'close' ? 'no_fault_found' : '');
  const [note, setNote] = useState('');
  const [err, setErr] = useState<ApiError>();
  const submit = async (e: Event) => {
    e.preventDefault();
    const body: Record<string, string> = {};
    if (reason) body.reason = reason;
    if (note.trim()) body.note = note.trim();
    try {
      const r = await client.post<WorkOrder>(`/work-orders/${o.id}/${action}`, body);
      onClose(t('order.done', { number: r.number ?? '', status: t(`status.${r.status}` as never) }));
    } catch (x) {
      setErr(x as ApiError);
    }
  };
  return (
    <Dialog title={t(`order.${action}` as 'order.cancel')} onClose={() => onClose()}>
      <form onSubmit={submit}>
        {action === 'close' && (
          <label>
            {t('order.reason')}
            <select value={reason} onChange={(e) => setReason((e.target as HTMLSelectElement).value)}>
              {rejectReasons.map((r) => (
                <option value={r}>{t(`reason.${r}` as never)}</option>
              ))}
            </select>
          </label>
        )}
        <FieldError err={err} field="reason" />
        <label>
          {t('order.note')}
          <textarea value={note} onInput={(e) => setNote((e.target as HTMLTextAreaElement).value)} />
        </label>
        <FieldError err={err} field="note" />
        {err && !err.fields.length && <p class="field-error" role="alert">{err.message}</p>}
        <button type="submit">{t('order.confirm')}</button>
      </form>
    </Dialog>
  );
}

/** What the fleet model puts in its orders' evidence (cmd/pdm/fleet.go fleetSignal). */
type FleetEv = FleetEvidenceFields;

/** A fleet order's estimate as a planner reads it, linked to the model that made it. */
export function FleetEvidence({ ev, user }: { ev: FleetEv; user: User }) {
  const { t, lang } = useI18n();
  const client = useClient();
  // Its validation figures: planners and admins may read the model, engineers not.
  const model = useQuery<components['schemas']['FleetModel'], ApiError>({
    queryKey: ['fleet-model', ev.asset_type],
    queryFn: () => client.get(`/asset-types/${encodeURIComponent(ev.asset_type ?? '')}/model`),
    enabled: !!ev.asset_type && user.role !== 'engineer',
    staleTime: 60_000,
    retry: false,
  });
  const drivers = driversText(ev.drivers, lang);
  return (
    <div class="fleet-evidence" data-testid="fleet-evidence">
      <p class="strong">{t('order.fleet')}</p>
      <p>
        {t('fleet.rul')}:{' '}
        <strong data-testid="fleet-rul">{ev.rul_seconds != null ? formatDuration(ev.rul_seconds, lang) : t('asset.noDates')}</strong>
        {ev.rul_lower_seconds != null && ev.rul_upper_seconds != null && (
          <span class="muted">
            {' · '}
            {t('fleet.interval', {
              p: coveragePercent(ev.coverage),
              lower: formatDuration(ev.rul_lower_seconds, lang),
              upper: formatDuration(ev.rul_upper_seconds, lang),
            })}
          </span>
        )}
      </p>
      {drivers && (
        <p data-testid="fleet-drivers">
          {t('order.fleet.drivers', { list: drivers })}
        </p>
      )}
      <p class="muted small" data-testid="fleet-as-of">
        {[ev.as_of && t('fleet.asOf', { t: formatDateTime(ev.as_of, lang) }), ev.model_kind && t('order.fleet.kind', { kind: ev.model_kind })]
          .filter(Boolean)
          .join(' · ')}
      </p>
      {model.data && (
        <p class="small" data-testid="fleet-validation">
          {t('order.fleet.validation', {
            v: model.data.version ?? '',
            rmse: model.data.validation_rmse_seconds != null ? formatDuration(model.data.validation_rmse_seconds, lang) : '—',
            cov: formatNumber((model.data.validation_coverage ?? 0) * 100, lang, 0),
            nominal: formatNumber((ev.coverage ?? model.data.coverage ?? 0) * 100, lang, 0),
          })}
        </p>
      )}
      {ev.asset_type && (
        <p>
          <Link href={`/asset-types/${encodeURIComponent(ev.asset_type)}`} data-testid="fleet-model-link">
            {t('fleet.modelLink', { type: ev.asset_type })} · {t('fleet.version', { v: ev.model_version ?? '' })} →
          </Link>
        </p>
      )}
    </div>
  );
}

/** The evidence's remaining life (a Go duration) as lib/format writes durations; as sent when it is not one. */
export function readableLife(rul: string | undefined, lang: Lang): string {
  const s = parseDuration(rul);
  return Number.isNaN(s) ? (rul ?? '—') : formatDuration(s, lang);
}
