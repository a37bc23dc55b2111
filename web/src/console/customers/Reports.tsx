// Reports (数据复盘): top failure modes and repeat failures by site and
// asset type, engineers' performance, requests by channel, each with a bar
// chart and CSV/XLSX export; and the export of every work order or request.
import { useState } from 'preact/hooks';
import { useQuery } from '@tanstack/preact-query';
import { useI18n, type ConsoleKey } from '../i18n';
import { useClient } from '../../lib/client';
import { formatDateTime, formatNumber } from '../../lib/format';
import { queryString } from '../../lib/api';
import type { components } from '../../api/schema';

type FailureMode = Required<components['schemas']['FailureModeReport']>;
type Repeat = Required<components['schemas']['RepeatFailureReport']>;
type Engineer = Required<components['schemas']['EngineerReport']>;
type Channel = Required<components['schemas']['ChannelReport']>;

const periods = [7, 30, 90, 365];

function range(days: number) {
  const to = new Date();
  return { from: new Date(to.getTime() - days * 86400_000).toISOString(), to: to.toISOString() };
}

function useReport<T>(name: string, days: number) {
  const client = useClient();
  return useQuery({
    queryKey: ['report', name, days],
    queryFn: () => client.get<{ items: T[] }>(`/reports/${name}`, range(days)).then((r) => r.items),
  });
}

function Exports({ path, days }: { path: string; days: number }) {
  const { t } = useI18n();
  const q = queryString(range(days));
  return (
    <span class="row small">
      {t('reports.export')}:
      <a href={`/api/v1${path}${q}&format=csv`} download>
        CSV
      </a>
      <a href={`/api/v1${path}${q}&format=xlsx`} download>
        XLSX
      </a>
    </span>
  );
}

/** A horizontal bar whose length is value/max. */
function Bar({ value, max, color = 'var(--accent, #1f6feb)' }: { value: number; max: number; color?: string }) {
  const w = max > 0 ? Math.max(2, Math.round((value / max) * 100)) : 0;
  return (
    <span class="report-bar" aria-hidden="true" style={{ display: 'inline-block', width: `${w}%`, minWidth: w ? '2px' : 0, height: '0.7rem', background: color, borderRadius: '2px' }} />
  );
}

function pct(v: number | null | undefined, lang: 'en' | 'zh-CN') {
  return v == null ? '—' : formatNumber(v * 100, lang, 0) + ' %';
}

export function Reports() {
  const { t, lang } = useI18n();
  const [days, setDays] = useState(30);
  const fm = useReport<FailureMode>('failure-modes', days);
  const rf = useReport<Repeat>('repeat-failures', days);
  const en = useReport<Engineer>('engineers', days);
  const ch = useReport<Channel>('channels', days);
  const err = fm.error || rf.error || en.error || ch.error;
  const maxFM = Math.max(0, ...(fm.data ?? []).map((x) => x.orders));
  const maxJobs = Math.max(0, ...(en.data ?? []).map((x) => x.jobs));
  const maxReq = Math.max(0, ...(ch.data ?? []).map((x) => x.requests));
  const section = (title: ConsoleKey, path: string, empty: boolean, body: preact.ComponentChildren, testid: string) => (
    <section class="panel" data-testid={testid} style={{ marginBottom: '1rem' }}>
      <div class="row between">
        <h2>{t(title)}</h2>
        <Exports path={path} days={days} />
      </div>
      {empty ? <p class="muted">{t('reports.none')}</p> : body}
    </section>
  );
  return (
    <section class="page">
      <div class="page-head">
        <h1>{t('reports.title')}</h1>
        <div class="row">
          <label for="report-period" class="muted">
            {t('reports.period')}
          </label>
          <select id="report-period" value={days} onChange={(e) => setDays(Number((e.target as HTMLSelectElement).value))}>
            {periods.map((p) => (
              <option value={p}>{t('reports.days', { n: p })}</option>
            ))}
          </select>
          <Exports path="/exports/work-orders" days={days} />
          <span class="muted small">{t('reports.exportOrders')}</span>
          <Exports path="/exports/requests" days={days} />
          <span class="muted small">{t('reports.exportRequests')}</span>
        </div>
      </div>
      {err && <p class="notice">{t('common.error', { message: (err as Error).message })}</p>}
      {section('reports.failureModes', '/reports/failure-modes/export', (fm.data ?? []).length === 0, (
        <table class="table">
          <thead>
            <tr>
              <th>{t('reports.site')}</th>
              <th>{t('reports.assetType')}</th>
              <th>{t('reports.mode')}</th>
              <th>{t('reports.orders')}</th>
              <th>{t('reports.repeatCount')}</th>
              <th>{t('reports.assets')}</th>
              <th style={{ width: '30%' }} />
            </tr>
          </thead>
          <tbody>
            {(fm.data ?? []).slice(0, 20).map((x) => (
              <tr>
                <td>{x.site_name}</td>
                <td>{x.asset_type}</td>
                <td>{x.failure_mode}</td>
                <td>{x.orders}</td>
                <td>{x.repeats}</td>
                <td>{x.assets}</td>
                <td>
                  <Bar value={x.orders} max={maxFM} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ), 'report-failure-modes')}
      {section('reports.repeats', '/reports/repeat-failures/export', (rf.data ?? []).length === 0, (
        <table class="table">
          <thead>
            <tr>
              <th>{t('reports.asset')}</th>
              <th>{t('reports.site')}</th>
              <th>{t('reports.mode')}</th>
              <th>{t('reports.orders')}</th>
              <th>{t('reports.repeatCount')}</th>
              <th>{t('reports.last')}</th>
            </tr>
          </thead>
          <tbody>
            {(rf.data ?? []).slice(0, 50).map((x) => (
              <tr>
                <td>
                  <a href={`/assets/${x.asset_id}`}>{x.asset_code}</a> {x.asset_name}
                </td>
                <td>{x.site_name}</td>
                <td>{x.failure_mode}</td>
                <td>{x.orders}</td>
                <td>{x.repeats}</td>
                <td>{formatDateTime(x.last_at, lang)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ), 'report-repeats')}
      {section('reports.engineers', '/reports/engineers/export', (en.data ?? []).length === 0, (
        <table class="table">
          <thead>
            <tr>
              <th>{t('reports.engineer')}</th>
              <th>{t('reports.jobs')}</th>
              <th>{t('reports.ftf')}</th>
              <th>{t('reports.mttr')}</th>
              <th>{t('reports.sla')}</th>
              <th>{t('reports.csat')}</th>
              <th style={{ width: '25%' }} />
            </tr>
          </thead>
          <tbody>
            {(en.data ?? []).map((x) => (
              <tr>
                <td>{x.name}</td>
                <td>{x.jobs}</td>
                <td>{pct(x.first_time_fix_rate, lang)}</td>
                <td>{x.mttr_hours == null ? '—' : formatNumber(x.mttr_hours, lang, 1)}</td>
                <td>{pct(x.sla_rate, lang)}</td>
                <td>
                  {x.csat_average == null ? '—' : formatNumber(x.csat_average, lang, 1)} ({x.csat_responses})
                </td>
                <td>
                  <Bar value={x.jobs} max={maxJobs} color="#1a7f37" />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ), 'report-engineers')}
      {section('reports.channels', '/reports/channels/export', (ch.data ?? []).length === 0, (
        <table class="table">
          <thead>
            <tr>
              <th>{t('inbox.channel')}</th>
              <th>{t('reports.requests')}</th>
              <th>{t('reports.open')}</th>
              <th>{t('reports.mergedCol')}</th>
              <th>{t('reports.rejected')}</th>
              <th>{t('reports.review')}</th>
              <th style={{ width: '25%' }} />
            </tr>
          </thead>
          <tbody>
            {(ch.data ?? []).map((x) => (
              <tr>
                <td>{t(`channel.${x.channel}` as ConsoleKey)}</td>
                <td>{x.requests}</td>
                <td>{x.open}</td>
                <td>{x.merged}</td>
                <td>{x.rejected}</td>
                <td>{x.review_hours == null ? '—' : formatNumber(x.review_hours, lang, 1)}</td>
                <td>
                  <Bar value={x.requests} max={maxReq} color="#b08800" />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ), 'report-channels')}
    </section>
  );
}
