// One formatter for dates, durations and numbers, in the user's zone.
import type { Lang } from '../i18n';

const dtCache = new Map<string, Intl.DateTimeFormat>();

function dtf(lang: Lang, opts: Intl.DateTimeFormatOptions, timeZone?: string): Intl.DateTimeFormat {
  const key = lang + JSON.stringify(opts) + (timeZone ?? '');
  let f = dtCache.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(lang, { ...opts, timeZone });
    dtCache.set(key, f);
  }
  return f;
}

/** A date and time in the user's zone (or timeZone, for tests), e.g. "2026-03-01 14:05". */
export function formatDateTime(iso: string | null | undefined, lang: Lang, timeZone?: string): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime()) || d.getUTCFullYear() <= 1) return '';
  return dtf(lang, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }, timeZone).format(d);
}

/** Seconds as the two largest units: "3d 4h", "5h 59m", "42s"; Chinese: "3天4小时". */
export function formatDuration(seconds: number, lang: Lang): string {
  if (!Number.isFinite(seconds)) return '';
  let s = Math.round(Math.abs(seconds));
  const units: [number, string, string][] = [
    [86400, 'd', '天'],
    [3600, 'h', '小时'],
    [60, 'm', '分'],
    [1, 's', '秒'],
  ];
  const parts: string[] = [];
  for (const [size, enU, zhU] of units) {
    if (s >= size || (parts.length === 0 && size === 1)) {
      const n = Math.floor(s / size);
      s -= n * size;
      parts.push(lang === 'zh-CN' ? `${n}${zhU}` : `${n}${enU}`);
    }
    if (parts.length === 2) break;
  }
  return parts.join(lang === 'zh-CN' ? '' : ' ');
}

/** Parses a Go or contract duration ("1h30m", "7d", "5m0.5s") into seconds; NaN when it is not one. */
export function parseDuration(s: string | null | undefined): number {
  if (!s) return NaN;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/g;
  const mult: Record<string, number> = { ns: 1e-9, us: 1e-6, 'µs': 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600, d: 86400 };
  let total = 0;
  let consumed = 0;
  for (const m of s.matchAll(re)) {
    total += parseFloat(m[1]) * mult[m[2]];
    consumed += m[0].length;
  }
  return consumed === s.length && consumed > 0 ? total : NaN;
}

/** Time from now until iso, in seconds (negative when past). */
export function secondsUntil(iso: string | null | undefined, now: number = Date.now()): number {
  if (!iso) return NaN;
  const t = new Date(iso).getTime();
  return Number.isNaN(t) ? NaN : (t - now) / 1000;
}

export function formatNumber(v: number | null | undefined, lang: Lang, digits = 2): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '';
  return new Intl.NumberFormat(lang, { maximumFractionDigits: digits }).format(v);
}
