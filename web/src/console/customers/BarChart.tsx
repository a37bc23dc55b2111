// A bar chart on uPlot for the reports: one bar per category (a failure
// mode, an engineer, a channel), up to two series side by side (e.g. all
// failures and their repeats), with the
// categories' names under the bars and a legend.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Bars {
  label: string;
  color: string;
  values: number[];
}

export interface BarChartProps {
  /** The categories' names, one per bar, and what they are. */
  categories: string[];
  categoryLabel: string;
  /** The first series is drawn behind the second. */
  series: Bars[];
  /** What the chart shows (for screen readers). */
  label: string;
  height?: number;
}

export function BarChart(p: BarChartProps) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!el.current || p.categories.length === 0) return;
    const n = p.categories.length;
    const xs = p.categories.map((_, i) => i);
    const short = (s: string) => (s.length > 18 ? s.slice(0, 17) + '…' : s);
    // Two series stand side by side around their category.
    const two = p.series.length > 1;
    const bars = (i: number) => uPlot.paths.bars!({ size: [two ? 0.35 : 0.6, 48], align: two ? (i === 0 ? -1 : 1) : 0 });
    const height = p.height ?? 240;
    const opts: uPlot.Options = {
      width: el.current.clientWidth || 640,
      height,
      scales: { x: { time: false, range: () => [-0.5, n - 0.5] }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      series: [
        { label: p.categoryLabel, value: (_u, v) => (v == null ? '' : p.categories[v] ?? '') },
        ...p.series.map((s, i) => ({
          label: s.label,
          stroke: s.color,
          fill: s.color,
          width: 0,
          paths: bars(i),
          points: { show: false },
        })),
      ],
      axes: [
        {
          splits: () => xs,
          values: (_u, splits) => splits.map((i) => short(p.categories[i] ?? '')),
          rotate: n > 6 ? -30 : 0,
          size: n > 6 ? 70 : 40,
          grid: { show: false },
        },
        { values: (_u, splits) => splits.map((v) => (Number.isInteger(v) ? String(v) : '')) },
      ],
      cursor: { drag: { x: false, y: false } },
    };
    const plot = new uPlot(opts, [xs, ...p.series.map((s) => s.values)] as uPlot.AlignedData, el.current);
    const ro = new ResizeObserver(() => {
      if (el.current) plot.setSize({ width: el.current.clientWidth || 640, height });
    });
    ro.observe(el.current);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [JSON.stringify(p.categories), JSON.stringify(p.series), p.height]);
  return <div class="chart report-chart" ref={el} role="img" aria-label={p.label} data-bars={p.categories.length} />;
}
