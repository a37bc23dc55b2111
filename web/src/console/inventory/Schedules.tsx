// Preventive schedules as a month calendar: where each calendar schedule
// falls due, meter schedules beside it, and "run now" (POST /schedules/run).
import { useMemo, useState } from 'preact/hooks';
import { useQuery, useQueryClient } from '@tanstack/preact-query';
import { useI18n } from '../i18n';
import { useClient } from '../../lib/client';
import { ApiError } from '../../lib/api';
import { fetchAll } from '../../lib/queries';
import type { User } from '../../api/types';
import { dayKey, dueTimes, monthGrid, type Schedule } from './plan';

export function Schedules({ user }: { user: User }) {
  const { t, lang } = useI18n();
  const client = useClient();
  const qc = useQueryClient();
  const planner = user.role === 'admin' || user.role === 'planner';
  const [ym, setYm] = useState(() => {
    const n = new Date();
    return { y: n.getFullYear(), m: n.getMonth() };
  });
  const [err, setErr] = useState<ApiError>();
  const [flash, setFlash] = useState('');
  const list = useQuery({ queryKey: ['schedules', 'all'], queryFn: () => fetchAll<Schedule>(client, '/schedules') });
  const weeks = useMemo(() => monthGrid(ym.y, ym.m), [ym]);
  const byDay = useMemo(() => {
    const from = weeks[0][0];
    const last = weeks[weeks.length - 1][6];
    const to = new Date(last.getFullYear(), last.getMonth(), last.getDate() + 1);
    const m = new Map<string, { s: Schedule; at: Date }[]>();
    for (const s of list.data ?? []) {
      if (s.active === false) continue;
      for (const at of dueTimes(s, from, to)) {
        const k = dayKey(at);
        m.set(k, [...(m.get(k) ?? []), { s, at }]);
      }
    }
    return m;
  }, [list.data, weeks]);
  const meters = (list.data ?? []).filter((s) => s.kind === 'meter');
  const monthLabel = new Intl.DateTimeFormat(lang, { year: 'numeric', month: 'long' }).format(new Date(ym.y, ym.m, 1));
  const timeFmt = new Intl.DateTimeFormat(lang, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  const shift = (d: number) => setYm(({ y, m }) => ({ y: y + Math.floor((m + d) / 12), m: (((m + d) % 12) + 12) % 12 }));
  const runNow = async () => {
    setErr(undefined);
    setFlash('');
    try {
      const r = await client.post<{ created_order_ids?: string[] | null; errors?: string[] | null }>('/schedules/run', {});
      setFlash(t('sch.ran', { n: r.created_order_ids?.length ?? 0 }) + (r.errors?.length ? ' ' + t('sch.ranErrors', { e: r.errors.join('; ') }) : ''));
      void qc.invalidateQueries({ predicate: (q) => ['schedules', 'work-orders'].includes(String(q.queryKey[0])) });
    } catch (x) {
      setErr(x as ApiError);
    }
  };
  const today = dayKey(new Date());
  const weekdays = t('sch.weekdays').split(',');
  return (
    <section class="page" aria-labelledby="sch-title">
      <h1 id="sch-title">{t('sch.title')}</h1>
      <div class="filters">
        <button type="button" class="ghost" onClick={() => shift(-1)} aria-label={t('sch.prev')}>
          ‹
        </button>
        <h2 data-testid="sch-month">{monthLabel}</h2>
        <button type="button" class="ghost" onClick={() => shift(1)} aria-label={t('sch.next')}>
          ›
        </button>
        <button type="button" class="ghost" onClick={() => setYm({ y: new Date().getFullYear(), m: new Date().getMonth() })}>
          {t('sch.today')}
        </button>
        {planner && (
          <button type="button" onClick={runNow} data-testid="run-schedules">
            {t('sch.runNow')}
          </button>
        )}
      </div>
      {err && (
        <p class="field-error" role="alert">
          {err.message}
        </p>
      )}
      {flash && <p role="status">{flash}</p>}
      {(list.data ?? []).length === 0 && !list.isPending && <p class="muted">{t('sch.empty')}</p>}
      <table class="table calendar" data-testid="calendar">
        <thead>
          <tr>
            {weekdays.map((d) => (
              <th scope="col">{d}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {weeks.map((w) => (
            <tr>
              {w.map((d) => {
                const k = dayKey(d);
                const items = byDay.get(k) ?? [];
                return (
                  <td data-day={k} class={(d.getMonth() !== ym.m ? 'muted ' : '') + (k === today ? 'cursor' : '')} style="vertical-align:top;height:5.5rem;width:14%">
                    <div>{d.getDate()}</div>
                    {items.map(({ s, at }) => (
                      <div class="badge" data-schedule={s.name} title={s.title}>
                        {timeFmt.format(at)} {s.name}
                      </div>
                    ))}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
      {meters.length > 0 && (
        <section aria-labelledby="sch-meter">
          <h2 id="sch-meter">{t('sch.meter')}</h2>
          <ul>
            {meters.map((s) => (
              <li>
                {s.name} — {t('sch.everyHours', { h: s.every_hours ?? 0 })} {s.meter_metric ? `(${s.meter_metric})` : ''} {s.active === false ? t('sch.inactive') : ''}
              </li>
            ))}
          </ul>
        </section>
      )}
    </section>
  );
}
