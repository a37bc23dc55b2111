// The evidence chart (loaded when a job opens, not with the app shell):
// the signal's metric around the detection, with the limit it crossed.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { WorkOrderDetail } from '../api/types';
import { useKept } from './data';
import { useI18n } from './i18n';

interface Series {
  metric: string;
  points: { ts: string; value: number }[] | null;
}

export default function Chart({ order }: { order: WorkOrderDetail }) {
  const { t } = useI18n();
  const sig = (order.signals ?? [])[0];
  const metric = sig?.metric;
  const at = order.detected_at ?? sig?.detected_at ?? order.created_at;
  const from = at ? new Date(new Date(at).getTime() - 24 * 3600e3).toISOString() : undefined;
  const to = at ? new Date(Math.min(Date.now(), new Date(at).getTime() + 24 * 3600e3)).toISOString() : undefined;
  const path = metric && from && to ? `/assets/${order.asset_id}/telemetry?metric=${metric}&from=${from}&to=${to}` : undefined;
  const series = useKept<Series>(path, 300_000);
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const pts = series.data?.data.points ?? [];
    if (!el.current || pts.length === 0) return;
    const xs = pts.map((p) => new Date(p.ts).getTime() / 1000);
    const ys = pts.map((p) => p.value);
    const limit = sig?.limit;
    const data: uPlot.AlignedData = limit != null ? [xs, ys, xs.map(() => limit)] : [xs, ys];
    const plot = new uPlot(
      {
        width: el.current.clientWidth || 320,
        height: 180,
        legend: { show: false },
        series: [{}, { label: metric, stroke: '#1f6feb', width: 1.5 }, ...(limit != null ? [{ label: 'limit', stroke: '#c62828', dash: [4, 4] }] : [])],
      },
      data,
      el.current,
    );
    return () => plot.destroy();
  }, [series.data]);
  if (!path) return <p class="muted small">{t('common.none')}</p>;
  if (series.isPending) return <p class="muted small">{t('common.loading')}</p>;
  if (!series.data || (series.data.data.points ?? []).length === 0) return <p class="muted small">{metric}: {t('common.none')}</p>;
  return (
    <figure class="chart">
      <div ref={el} />
      <figcaption class="muted small">{metric}</figcaption>
    </figure>
  );
}
