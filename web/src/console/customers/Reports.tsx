// Reports (数据复盘): top failure modes and repeat failures by site and
// asset type (repeats within a chosen window), engineers' performance,
// requests by channel, each with a bar chart (uPlot) and CSV/XLSX export;
// and the export of every work order or request.
import { useState } from 'preact/hooks';
import { useQuery } from '@tanstack/preact-query';
import { useI18n, type ConsoleKey } from '../i18n';
import { useClient } from '../../lib/client';
import { formatDateTime, formatNumber } from '../../lib/format';
import { queryString } from '../../lib/api';
import type { components } from '../../api/schema';
import { BarChart } from './BarChart';

type FailureMode = Required<components['schemas']['FailureModeReport']>;
type Repeat = Required<components['schemas']['RepeatFailureReport']>;
type Engineer = Required<components['schemas']['EngineerReport']>;
type Channel = Required<components['schemas']['ChannelReport']>;

const periods = [7, 30, 90, 365];
const windows = [7, 14, 30, 60, 90];

function range(days: number, repeatDays?: number) {
  const to = new Date();
  const r: Record<string, string> = { from: new Date(to.getTime() - days * 86400_000).toISOString(), to: to.toISOString() };
  if (repeatDays) r.repeat_window = `${repeatDays}d`;
  return r;
}

function useReport<T>(name: string, days: number, repeatDays?: number) {
  const client = useClient();
  return useQuery({
    queryKey: ['report', name, days, repeatDays],
    queryFn: () => client.get<{ items: T[] }>(`/reports/${name}`, range(days, repeatDays)).then((r) => r.items),
  });
}

function Exports({ path, days, repeatDays }: { path: string; days: number; repeatDays?: number }) {
  const { t } = useI18n();
  const q = queryString(range(days, repeatDays));
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

function pct(v: number | null | undefined, lang: 'en' | 'zh-CN') {
  return v == null ? '—' : formatNumber(v * 100, lang, 0) + ' %';
}

export function Reports() {
  const { t, lang } = useI18n();
  const [days, setDays] = useState(30);
  const [repeatDays, setRepeatDays] = useState(30);
  const fm = useReport<FailureMode>('failure-modes', days, repeatDays);
  const rf = useReport<Repeat>('repeat-failures', days, repeatDays);
  const en = useReport<Engineer>('engineers', days);
  const ch = useReport<Channel>('channels', days);
  const err = fm.error || rf.error || en.error || ch.error;
  const top = <T,>(xs: T[] | undefined, n: number) => (xs ?? []).slice(0, n);
  const section = (title: string, path: string, empty: boolean, chart: preact.ComponentChildren, body: preact.ComponentChildren,
    testid: string, repeats = false) => (
    <section class="panel" data-testid={testid} style={{ marginBottom: '1rem' }}>
      <div class="row between">
        <h2>{title}</h2>
        <Exports path={path} days={days} repeatDays={repeats ? repeatDays : undefined} />
      </div>
      {empty ? (
        <p class="muted">{t('reports.none')}</p>
      ) : (
        <>
          {chart}
          {body}
        </>
      )}
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
          <label for="report-window" class="muted">
            {t('reports.window')}
          </label>
          <select id="report-window" value={repeatDays} onChange={(e) => setRepeatDays(Number((e.target as HTMLSelectElement).value))}>
            {windows.map((w) => (
              <option value={w}>{t('reports.windowDays', { n: w })}</option>
            ))}
          </select>
          <Exports path="/exports/work-orders" days={days} />
          <span class="muted small">{t('reports.exportOrders')}</span>
          <Exports path="/exports/requests" days={days} />
          <span class="muted small">{t('reports.exportRequests')}</span>
        </div>
      </div>
      {err && <p class="notice">{t('common.error', { message: (err as Error).message })}</p>}
      {section(t('reports.failureModes'), '/reports/failure-modes/export', (fm.data ?? []).length === 0, (
        <BarChart label={t('reports.failureModes')} categoryLabel={t('reports.mode')} categories={top(fm.data, 12).map((x) => `${x.asset_type} · ${x.failure_mode}`)}
          series={[
            { label: t('reports.orders'), color: '#1f6feb', values: top(fm.data, 12).map((x) => x.orders) },
            { label: t('reports.repeatCount'), color: '#cf222e', values: top(fm.data, 12).map((x) => x.repeats) },
          ]} />
      ), (
        <table class="table">
          <thead>
            <tr>
              <th>{t('reports.site')}</th>
              <th>{t('reports.assetType')}</th>
              <th>{t('reports.mode')}</th>
              <th>{t('reports.orders')}</th>
              <th>{t('reports.repeatCount')}</th>
              <th>{t('reports.assets')}</th>
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
              </tr>
            ))}
          </tbody>
        </table>
      ), 'report-failure-modes', true)}
      {section(t('reports.repeats', { n: repeatDays }), '/reports/repeat-failures/export', (rf.data ?? []).length === 0, (
        <BarChart label={t('reports.repeats', { n: repeatDays })} categoryLabel={t('reports.asset')} categories={top(rf.data, 12).map((x) => `${x.asset_code} · ${x.failure_mode}`)}
          series={[
            { label: t('reports.orders'), color: '#1f6feb', values: top(rf.data, 12).map((x) => x.orders) },
            { label: t('reports.repeatCount'), color: '#cf222e', values: top(rf.data, 12).map((x) => x.repeats) },
          ]} />
      ), (
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
      ), 'report-repeats', true)}
      {section(t('reports.engineers'), '/reports/engineers/export', (en.data ?? []).length === 0, (
        <BarChart label={t('reports.engineers')} categoryLabel={t('reports.engineer')} categories={top(en.data, 20).map((x) => x.name)}
          series={[
            { label: t('reports.jobs'), color: '#1a7f37', values: top(en.data, 20).map((x) => x.jobs) },
            { label: t('reports.ftf'), color: '#8250df', values: top(en.data, 20).map((x) => x.first_time_fix) },
          ]} />
      ), (
        <table class="table">
          <thead>
            <tr>
              <th>{t('reports.engineer')}</th>
              <th>{t('reports.jobs')}</th>
              <th>{t('reports.ftf')}</th>
              <th>{t('reports.mttr')}</th>
              <th>{t('reports.sla')}</th>
              <th>{t('reports.csat')}</th>
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
              </tr>
            ))}
          </tbody>
        </table>
      ), 'report-engineers')}
      {section(t('reports.channels'), '/reports/channels/export', (ch.data ?? []).length === 0, (
        <BarChart label={t('reports.channels')} categoryLabel={t('inbox.channel')} categories={(ch.data ?? []).map((x) => t(`channel.${x.channel}` as ConsoleKey))}
          series={[
            { label: t('reports.requests'), color: '#b08800', values: (ch.data ?? []).map((x) => x.requests) },
            { label: t('reports.open'), color: '#cf222e', values: (ch.data ?? []).map((x) => x.open) },
          ]} />
      ), (
        <table class="table">
          <thead>
            <tr>
              <th>{t('inbox.channel')}</th>
              <th>{t('reports.requests')}</th>
              <th>{t('reports.open')}</th>
              <th>{t('reports.mergedCol')}</th>
              <th>{t('reports.rejected')}</th>
              <th>{t('reports.review')}</th>
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
              </tr>
            ))}
          </tbody>
        </table>
      ), 'report-channels')}
    </section>
  );
}
