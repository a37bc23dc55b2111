// The KPI wall (看板): the maintenance key figures on one screen for a wall
// display. It refreshes itself every 30 s and has a full-screen mode with
// large type.
import { useEffect, useState } from 'preact/hooks';
import { useQuery } from '@tanstack/preact-query';
import { useI18n, type ConsoleKey } from '../i18n';
import { useClient } from '../../lib/client';
import { formatDateTime } from '../../lib/format';
import type { components } from '../../api/schema';
import { hours, percent, stacks } from './wall';

type KPIs = components['schemas']['KPIs'];

const periods = [7, 30, 90];
const sourceColor: Record<string, string> = {
  threshold: '#d9480f',
  trend: '#1f6feb',
  event: '#8250df',
  manual: '#57606a',
  schedule: '#1a7f37',
  request: '#b08800',
};

/** How often the wall refreshes: ?refresh=N seconds (1-3600), else 30. */
function refreshSeconds(): number {
  const n = Number(new URLSearchParams(window.location.search).get('refresh'));
  return Number.isFinite(n) && n >= 1 && n <= 3600 ? n : 30;
}

export function Kpis() {
  const { t, lang } = useI18n();
  const client = useClient();
  const [days, setDays] = useState(30);
  const [full, setFull] = useState(false);
  const q = useQuery({
    queryKey: ['kpis', days],
    queryFn: () => {
      const to = new Date();
      const from = new Date(to.getTime() - days * 86400_000);
      return client.get<KPIs>('/kpis', { from: from.toISOString(), to: to.toISOString() });
    },
    refetchInterval: refreshSeconds() * 1000,
    refetchIntervalInBackground: true,
  });

  useEffect(() => {
    const on = () => setFull(document.fullscreenElement != null);
    document.addEventListener('fullscreenchange', on);
    return () => document.removeEventListener('fullscreenchange', on);
  }, []);
  const toggleFull = () => {
    if (document.fullscreenElement) void document.exitFullscreen();
    else void document.getElementById('kpi-wall')?.requestFullscreen?.().catch(() => setFull((f) => !f));
  };

  const k = q.data;
  return (
    <section id="kpi-wall" class={`page kpi-wall${full ? ' full' : ''}`} aria-busy={q.isLoading}>
      <div class="row between">
        <h1>{t('kpis.title')}</h1>
        <div class="row">
          <label class="muted" for="kpi-period">
            {t('kpis.period')}
          </label>
          <select id="kpi-period" value={days} onChange={(e) => setDays(Number((e.target as HTMLSelectElement).value))}>
            {periods.map((p) => (
              <option value={p}>{t('kpis.days', { n: p })}</option>
            ))}
          </select>
          <button type="button" onClick={toggleFull}>
            {full ? t('kpis.exitFullscreen') : t('kpis.fullscreen')}
          </button>
        </div>
      </div>
      {q.error && <p class="notice">{t('common.error', { message: (q.error as Error).message })}</p>}
      {k && (
        <>
          <p class="muted small" data-testid="kpi-updated">
            {t('kpis.updated', { time: formatDateTime(new Date(q.dataUpdatedAt).toISOString(), lang), n: refreshSeconds() })}
          </p>
          <div class="tiles">
            <Tile label={t('kpis.mttr')} value={hours(k.mttr_hours) ? t('kpis.hours', { n: hours(k.mttr_hours) }) : t('kpis.none')} />
            <Tile
              label={t('kpis.mtbf')}
              value={hours(k.mtbf_hours) ? t('kpis.hours', { n: hours(k.mtbf_hours) }) : t('kpis.none')}
              sub={t('kpis.failures', { n: k.failures ?? 0 })}
            />
            <Tile
              id="kpi-sla"
              label={t('kpis.sla')}
              value={percent(k.sla?.compliance) || t('kpis.none')}
              sub={t('kpis.of', { count: k.sla?.on_time ?? 0, total: k.sla?.completed ?? 0 })}
            />
            <Tile
              label={t('kpis.ftf')}
              value={percent(k.first_time_fix?.rate) || t('kpis.none')}
              sub={t('kpis.of', { count: k.first_time_fix?.count ?? 0, total: k.first_time_fix?.total ?? 0 })}
            />
            <Tile
              label={t('kpis.lead')}
              value={hours(k.prediction_lead_time?.mean_hours) ? t('kpis.hours', { n: hours(k.prediction_lead_time?.mean_hours) }) : t('kpis.none')}
              sub={t('kpis.leadOrders', { n: k.prediction_lead_time?.orders ?? 0 })}
            />
          </div>
          <div class="panels">
            <Backlog k={k} />
            <FalseAlarms k={k} />
            <BySource k={k} />
          </div>
        </>
      )}
    </section>
  );
}

function Tile({ id, label, value, sub }: { id?: string; label: string; value: string; sub?: string }) {
  return (
    <div class="card tile" data-testid={id}>
      <div class="tile-label">{label}</div>
      <div class="tile-value">{value}</div>
      {sub && <div class="tile-sub muted">{sub}</div>}
    </div>
  );
}

function Backlog({ k }: { k: KPIs }) {
  const { t } = useI18n();
  const rows = k.backlog ?? [];
  const max = Math.max(1, ...rows.map((b) => b.count ?? 0));
  const total = rows.reduce((s, b) => s + (b.count ?? 0), 0);
  return (
    <div class="card panel" data-testid="kpi-backlog" data-total={total}>
      <h2>{t('kpis.backlog')}</h2>
      {rows.length === 0 && <p class="muted">{t('kpis.backlogEmpty')}</p>}
      {rows.map((b) => (
        <div class="bar-row">
          <span>{t(`status.${b.status}` as ConsoleKey)}</span>
          <span class="bar" style={{ width: `${((b.count ?? 0) / max) * 100}%` }} />
          <span class="strong">{b.count}</span>
        </div>
      ))}
    </div>
  );
}

function FalseAlarms({ k }: { k: KPIs }) {
  const { t } = useI18n();
  const rules = (k.rules ?? []).filter((r) => (r.confirmed ?? 0) + (r.false_alarms ?? 0) > 0);
  return (
    <div class="card panel">
      <h2>{t('kpis.falseAlarms')}</h2>
      {rules.length === 0 && <p class="muted">{t('kpis.falseAlarmsEmpty')}</p>}
      {rules.map((r) => {
        const decided = (r.confirmed ?? 0) + (r.false_alarms ?? 0);
        return (
          <div class="bar-row" title={t('kpis.falseAlarmRule', { name: r.name ?? '', rate: percent(r.false_alarm_rate), n: r.false_alarms ?? 0, total: decided })}>
            <span>{r.name}</span>
            <span class="bar warn" style={{ width: `${(r.false_alarm_rate ?? 0) * 100}%` }} />
            <span class="strong">{percent(r.false_alarm_rate)}</span>
          </div>
        );
      })}
    </div>
  );
}

function BySource({ k }: { k: KPIs }) {
  const { t, lang } = useI18n();
  const { stacks: st, max, sources } = stacks(
    (k.orders_by_source ?? []).map((b) => ({ start: b.start ?? '', counts: (b.counts ?? {}) as Record<string, number>, total: b.total ?? 0 })),
  );
  const W = 600;
  const H = 180;
  const bw = st.length > 0 ? W / st.length : W;
  return (
    <div class="card panel wide">
      <h2>{t('kpis.bySource')}</h2>
      {st.length === 0 ? (
        <p class="muted">{t('kpis.bySourceEmpty')}</p>
      ) : (
        <>
          <svg viewBox={`0 0 ${W} ${H}`} class="stack-chart" role="img" aria-label={t('kpis.bySource')}>
            {st.map((s, i) =>
              s.parts.map((p) => (
                <rect
                  x={i * bw + 1}
                  width={Math.max(bw - 2, 1)}
                  y={H - ((p.y + p.n) / max) * H}
                  height={(p.n / max) * H}
                  fill={sourceColor[p.source] ?? '#999'}
                >
                  <title>{`${formatDateTime(s.start, lang).slice(0, 10)} · ${t(`source.${p.source}` as ConsoleKey)}: ${p.n}`}</title>
                </rect>
              )),
            )}
          </svg>
          <div class="row legend">
            {sources.map((s) => (
              <span class="row">
                <span class="swatch" style={{ background: sourceColor[s] ?? '#999' }} />
                {t(`source.${s}` as ConsoleKey)}
              </span>
            ))}
          </div>
        </>
      )}
    </div>
  );
}
