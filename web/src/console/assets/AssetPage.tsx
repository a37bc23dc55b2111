// One asset: health per metric (latest value, rule state, prediction with
// its gate status and bounds), telemetry charts of every metric it has
// over any range (drag to zoom; the server picks the averaging window),
// order history and MTBF.
import { useMemo, useState } from 'preact/hooks';
import { Link } from 'wouter-preact';
import { useQuery } from '@tanstack/preact-query';
import { useI18n, type ConsoleKey } from '../i18n';
import { useClient } from '../../lib/client';
import { fetchAll, useAssets } from '../../lib/queries';
import { formatDateTime, formatDuration, formatNumber } from '../../lib/format';
import type { WorkOrder } from '../../api/types';
import { Chart, type Limit } from '../Chart';
import { FleetPanel, type FleetScore } from '../fleet/Fleet';

interface Prediction {
  status: string;
  model?: string;
  limit?: number;
  rul?: string | null;
  rul_seconds?: number | null;
  predicted_failure_at?: string | null;
  predicted_failure_earliest?: string | null;
  predicted_failure_latest?: string | null;
}
interface MetricHealth {
  metric: string;
  value?: number | null;
  ts?: string | null;
  rule_state: string;
  prediction?: Prediction | null;
}
interface Series {
  metric: string;
  every?: string;
  points: { ts: string; value: number }[];
}

const ranges: [string, number][] = [
  ['1h', 3600],
  ['24h', 86400],
  ['7d', 7 * 86400],
  ['30d', 30 * 86400],
  ['1y', 365 * 86400],
];

export function AssetPage({ id }: { id: string }) {
  const { t, lang } = useI18n();
  const client = useClient();
  const assets = useAssets();
  const a = assets.data?.get(id);
  const health = useQuery({
    queryKey: ['asset', id, 'health'],
    queryFn: () => client.get<{ metrics: MetricHealth[]; fleet?: FleetScore | null }>(`/assets/${id}/health`),
    retry: false,
  });
  const orders = useQuery({
    queryKey: ['asset', id, 'orders'],
    queryFn: () => fetchAll<WorkOrder>(client, '/work-orders', { asset_id: id }, 500),
  });
  const kpis = useQuery({
    queryKey: ['kpis', 'year'],
    queryFn: () =>
      client.get<{ assets?: { asset_id: string; mtbf_hours?: number | null }[] }>('/kpis', {
        from: new Date(Date.now() - 365 * 86400_000).toISOString(),
      }),
    staleTime: 300_000,
    retry: false,
  });
  const mtbf = kpis.data?.assets?.find((k) => k.asset_id === id)?.mtbf_hours;
  const metrics = health.data?.metrics ?? [];
  const [range, setRange] = useState<[number, number]>(() => {
    const now = Math.floor(Date.now() / 1000);
    return [now - 86400, now];
  });
  // Every metric's readings in the range, one request: the metrics with
  // a rule first (with their limits), then any other the asset has (an
  // uploaded history, a fleet model's sensors).
  const tel = useQuery({
    queryKey: ['asset', id, 'telemetry', range[0], range[1]],
    queryFn: () =>
      client.get<{ items: Series[] }>(`/assets/${id}/telemetry`, {
        from: new Date(range[0] * 1000).toISOString(),
        to: new Date(range[1] * 1000).toISOString(),
        max_points: 2000,
      }),
    placeholderData: (prev) => prev,
  });
  const series = useMemo(() => new Map((tel.data?.items ?? []).map((x) => [x.metric, x])), [tel.data]);
  const charted = useMemo(() => {
    const ruled = new Set(metrics.map((m) => m.metric));
    const rest = [...series.keys()].filter((m) => !ruled.has(m)).sort();
    return [...metrics.map((m) => ({ metric: m.metric, limit: m.prediction?.limit })), ...rest.map((m) => ({ metric: m, limit: undefined }))];
  }, [metrics, series]);

  return (
    <section class="page" aria-labelledby="asset-title">
      <p>
        <Link href="/assets">← {t('asset.back')}</Link>
      </p>
      <h1 id="asset-title">{a ? `${a.code} · ${a.name}` : id}</h1>
      {a && (
        <p class="muted">
          {a.type}{a.area ? ` · ${a.area}` : ''} · C{a.criticality} · {mtbf != null ? t('asset.mtbf', { v: formatNumber(mtbf, lang, 0) + ' h' }) : t('asset.mtbfNone')}
        </p>
      )}
      <div class="health-row">
        <section class="card" aria-labelledby="health-title">
          <h2 id="health-title">{t('asset.health')}</h2>
          {health.isSuccess && metrics.length === 0 ? (
            <p class="muted" data-testid="no-rules">
              {t('asset.noRules')}
            </p>
          ) : (
            <table class="table">
              <thead>
                <tr>
                  <th>{t('asset.metric')}</th>
                  <th>{t('asset.latest')}</th>
                  <th>{t('asset.rule')}</th>
                  <th>{t('asset.prediction')}</th>
                </tr>
              </thead>
              <tbody>
                {metrics.map((m) => (
                  <tr>
                    <td>{m.metric}</td>
                    <td>
                      {m.value != null ? formatNumber(m.value, lang) : '—'} <span class="muted small">{formatDateTime(m.ts, lang)}</span>
                    </td>
                    <td>{m.rule_state}</td>
                    <td>
                      {m.prediction ? (
                        <span data-testid="metric-prediction" data-metric={m.metric}>
                          <span class="badge" data-gate={m.prediction.status}>
                            {predictionStatus(t, m.prediction.status)}
                          </span>{' '}
                          {m.prediction.rul_seconds != null && m.prediction.predicted_failure_at ? (
                            <>
                              {m.prediction.rul_seconds > 0 && t('asset.rulLeft', { d: formatDuration(m.prediction.rul_seconds, lang) })}{' '}
                              <span class="muted small">
                                {m.prediction.predicted_failure_earliest && m.prediction.predicted_failure_latest
                                  ? t('asset.bounds', {
                                      from: formatDateTime(m.prediction.predicted_failure_earliest, lang),
                                      to: formatDateTime(m.prediction.predicted_failure_latest, lang),
                                    })
                                  : formatDateTime(m.prediction.predicted_failure_at, lang)}
                              </span>
                            </>
                          ) : (
                            <span class="muted">{t('asset.noDates')}</span>
                          )}
                        </span>
                      ) : (
                        t('asset.noPrediction')
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
        {health.data && <FleetPanel fleet={health.data.fleet} type={a?.type} />}
      </div>
      <section class="card" aria-labelledby="tel-title">
        <h2 id="tel-title">{t('asset.telemetry')}</h2>
        <div class="filters" role="group" aria-label={t('asset.range')}>
          {ranges.map(([label, secs]) => (
            <button
              type="button"
              class="ghost"
              onClick={() => {
                const now = Math.floor(Date.now() / 1000);
                setRange([now - secs, now]);
              }}
            >
              {label}
            </button>
          ))}
          <span class="muted small">{t('asset.zoomHint')}</span>
        </div>
        {charted.length === 0 && tel.isSuccess && <p class="muted">{t('asset.noData')}</p>}
        {charted.map((m) => (
          <MetricChart metric={m.metric} s={series.get(m.metric)} limit={m.limit} onZoom={(f, to) => setRange([Math.floor(f), Math.ceil(to)])} />
        ))}
      </section>
      <section class="card" aria-labelledby="hist-title">
        <h2 id="hist-title">{t('asset.orders')}</h2>
        {(orders.data ?? []).length === 0 ? (
          <p class="muted">{t('asset.noOrders')}</p>
        ) : (
          <ul>
            {(orders.data ?? []).map((o) => (
              <li>
                <Link href={`/orders/${o.number}`}>{o.number}</Link> · {o.title} · {t(`status.${o.status}` as never)} ·{' '}
                <span class="muted">{formatDateTime(o.created_at, lang)}</span>
              </li>
            ))}
          </ul>
        )}
      </section>
    </section>
  );
}

function MetricChart({ metric, s, limit, onZoom }: { metric: string; s?: Series; limit?: number; onZoom: (from: number, to: number) => void }) {
  const { t } = useI18n();
  const data = useMemo<[number[], number[]]>(() => {
    const pts = s?.points ?? [];
    return [pts.map((p) => Date.parse(p.ts) / 1000), pts.map((p) => p.value)];
  }, [s]);
  const limits: Limit[] = limit ? [{ value: limit, label: String(limit), color: '#c0392b' }] : [];
  return (
    <figure class="metric-chart">
      <figcaption>
        <strong>{metric}</strong> {s?.every && <span class="muted small">{t('asset.every', { every: s.every })}</span>}
      </figcaption>
      {data[0].length === 0 ? (
        <p class="muted">{t('asset.noData')}</p>
      ) : (
        <Chart label={t('asset.chart', { metric })} data={data} series={[{ label: metric, color: '#2d6cdf' }]} limits={limits} height={220} onZoom={onZoom} />
      )}
    </figure>
  );
}

const predictionStatuses = [
  'ok',
  'insufficient_points',
  'window_not_covered',
  'low_r2',
  'no_trend_towards_limit',
  'slope_not_significant',
  'not_sustained',
  'levelling_off',
  'step_change',
  'not_confirmed',
  'crossing_receding',
  'beyond_horizon',
  'already_beyond_limit',
  'fit_failed',
] as const;

/** A prediction's status in words (an unknown one as the API says it). */
export function predictionStatus(t: (k: ConsoleKey) => string, status: string): string {
  return (predictionStatuses as readonly string[]).includes(status) ? t(`asset.pstatus.${status as (typeof predictionStatuses)[number]}`) : status;
}
