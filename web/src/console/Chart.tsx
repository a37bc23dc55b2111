// A time chart on uPlot (draws 100,000 points in a few tens of
// milliseconds): series, horizontal limit lines (warn, critical), vertical
// markers (breaches, events, the predicted crossing), an optional band
// between two series, drag to zoom (onZoom gets the new range in seconds).
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartSeries {
  label: string;
  color: string;
  dash?: number[];
  width?: number;
  points?: boolean;
}

export interface Limit {
  value: number;
  label: string;
  color: string;
}

export interface Marker {
  t: number; // seconds
  label: string;
  color: string;
}

export interface ChartProps {
  data: uPlot.AlignedData;
  series: ChartSeries[];
  limits?: Limit[];
  markers?: Marker[];
  /** Fill between these two series indexes (1-based, as in data). */
  band?: [number, number];
  height?: number;
  label: string;
  onZoom?: (from: number, to: number) => void;
  /** Called after the first draw of new data, with the milliseconds from creating the plot to the end of that draw. */
  onDrawn?: (ms: number) => void;
}

export function Chart(p: ChartProps) {
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const props = useRef(p);
  props.current = p;

  useEffect(() => {
    if (!el.current) return;
    const started = performance.now();
    let reported = false;
    const width = el.current.clientWidth || 800;
    const opts: uPlot.Options = {
      width,
      height: p.height ?? 320,
      series: [
        {},
        ...p.series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: s.width ?? 1.5,
          dash: s.dash,
          points: { show: s.points ?? false },
          spanGaps: false,
        })),
      ],
      bands: p.band ? [{ series: p.band, fill: 'rgba(214, 120, 40, 0.15)' }] : undefined,
      scales: { x: { time: true } },
      axes: [{}, {}],
      // Only a selection the user drags zooms (the scale also changes
      // whenever data arrives: reporting those as zooms narrowed the
      // range to the data's own, refetched, and narrowed it again).
      cursor: { drag: { x: true, y: false, setScale: !props.current.onZoom } },
      hooks: {
        setSelect: [
          (u) => {
            const zoom = props.current.onZoom;
            const { left, width } = u.select;
            if (!zoom || width < 2) return;
            const from = u.posToVal(left, 'x');
            const to = u.posToVal(left + width, 'x');
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            if (to > from) zoom(from, to);
          },
        ],
        draw: [
          (u) => {
            const ctx = u.ctx;
            const { left, top, width: w, height: h } = u.bbox;
            ctx.save();
            ctx.font = `${11 * devicePixelRatio}px sans-serif`;
            for (const l of props.current.limits ?? []) {
              const y = u.valToPos(l.value, 'y', true);
              if (y < top || y > top + h) continue;
              ctx.strokeStyle = l.color;
              ctx.fillStyle = l.color;
              ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
              ctx.lineWidth = devicePixelRatio;
              ctx.beginPath();
              ctx.moveTo(left, y);
              ctx.lineTo(left + w, y);
              ctx.stroke();
              ctx.fillText(l.label, left + 4, y - 4);
            }
            ctx.setLineDash([]);
            for (const m of props.current.markers ?? []) {
              const x = u.valToPos(m.t, 'x', true);
              if (x < left || x > left + w) continue;
              ctx.strokeStyle = m.color;
              ctx.fillStyle = m.color;
              ctx.lineWidth = devicePixelRatio;
              ctx.beginPath();
              ctx.moveTo(x, top);
              ctx.lineTo(x, top + h);
              ctx.stroke();
              ctx.fillText(m.label, x + 3, top + 12 * devicePixelRatio);
            }
            ctx.restore();
            if (!reported) {
              reported = true;
              props.current.onDrawn?.(performance.now() - started);
            }
          },
        ],
      },
    };
    plot.current?.destroy();
    plot.current = new uPlot(opts, p.data, el.current);
    const ro = new ResizeObserver(() => {
      if (el.current && plot.current) plot.current.setSize({ width: el.current.clientWidth || width, height: p.height ?? 320 });
    });
    ro.observe(el.current);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [p.data, p.series.length, p.band?.[0], p.height]);

  useEffect(() => plot.current?.redraw(false, false), [p.limits, p.markers]);

  return <div class="chart" ref={el} role="img" aria-label={p.label} data-points={p.data[0]?.length ?? 0} />;
}
