// What a fleet-model order's evidence says beyond the estimate (cmd/pdm/fleet.go
// fleetSignal): the metrics that drive it and the interval's coverage, in the
// words both the console and the app show.
import type { Lang } from '../i18n';

/** A metric whose level stands out: rise is in standard deviations of the metric in its operating condition. */
export interface FleetDriver {
  metric?: string;
  rise?: number;
}

/** A fleet order's evidence, as far as the front ends read it. */
export interface FleetEvidenceFields {
  model?: string;
  model_version?: number;
  model_kind?: string;
  asset_type?: string;
  coverage?: number;
  as_of?: string;
  rul_seconds?: number | null;
  rul_lower_seconds?: number | null;
  rul_upper_seconds?: number | null;
  drivers?: FleetDriver[] | null;
}

/** One driver as "s11 +3.2σ" (a true minus sign when it fell); '' when it lacks a metric or a number. */
export function driverText(d: FleetDriver, lang: Lang): string {
  if (!d.metric || d.rise == null || !Number.isFinite(d.rise)) return '';
  const n = new Intl.NumberFormat(lang, { minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(Math.abs(d.rise));
  const sign = n === new Intl.NumberFormat(lang, { minimumFractionDigits: 1 }).format(0) ? '±' : d.rise < 0 ? '−' : '+';
  return `${d.metric} ${sign}${n}σ`;
}

/** Up to three drivers, largest first as the server sends them, joined for lang; '' when there are none. */
export function driversText(ds: FleetDriver[] | null | undefined, lang: Lang): string {
  return (ds ?? [])
    .slice(0, 3)
    .map((d) => driverText(d, lang))
    .filter((s) => s !== '')
    .join(lang === 'zh-CN' ? '、' : ', ');
}

/** The interval's nominal coverage in whole percent (90 when the evidence predates the field or is out of range). */
export function coveragePercent(c: number | null | undefined): number {
  return c != null && Number.isFinite(c) && c > 0 && c < 1 ? Math.round(c * 100) : 90;
}
