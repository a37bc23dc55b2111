// The dispatch board: approved orders waiting for an engineer, engineers'
// days as lanes (a Gantt of their jobs), and a map. Drag an order (or a
// job, to reassign it) onto a lane: the server checks the assignment while
// it hovers (skills, shift, SLA, parts, capacity), a drop with problems
// asks first, and the result says what was accepted despite what. "Run
// optimizer" shows the proposal with its cost and reasons before applying.
import { lazy, Suspense } from 'preact/compat';
import { useRef, useState } from 'preact/hooks';
import { useMutation, useQuery, useQueryClient } from '@tanstack/preact-query';
import { useI18n, type ConsoleKey } from '../i18n';
import { useClient } from '../../lib/client';
import { formatDateTime, formatDuration } from '../../lib/format';
import type { User } from '../../api/types';
import { Dialog } from '../ui';
import { RebalanceBanner } from './Rebalance';
import { span, stateColor, type Board, type Check, type Job, type Lane, type Run } from './board';

const DispatchMap = lazy(() => import('./DispatchMap'));
const HOURS = 12;

export function Dispatch({ user }: { user: User }) {
  const { t, lang } = useI18n();
  const client = useClient();
  const qc = useQueryClient();
  const canAct = user.role === 'admin' || user.role === 'planner';
  const board = useQuery({ queryKey: ['dispatch-board'], queryFn: () => client.get<Board>('/dispatch/board'), refetchInterval: 5_000 });
  const [dragging, setDragging] = useState<Job | null>(null);
  const [over, setOver] = useState<string | null>(null);
  const [checks, setChecks] = useState<Record<string, Check | 'pending'>>({});
  const [confirm, setConfirm] = useState<{ job: Job; lane: Lane; check: Check } | null>(null);
  const [flash, setFlash] = useState('');
  const [preview, setPreview] = useState<Run | null>(null);
  const inflight = useRef(new Set<string>());

  const key = (o: Job, l: Lane) => `${o.order_id}|${l.id}`;
  const runCheck = (o: Job, l: Lane) => {
    const k = key(o, l);
    if (checks[k] || inflight.current.has(k)) return;
    inflight.current.add(k);
    setChecks((c) => ({ ...c, [k]: 'pending' }));
    client
      .post<Check>('/dispatch/check', { order_id: o.order_id, engineer_id: l.id })
      .then((c) => setChecks((m) => ({ ...m, [k]: c })))
      .catch(() => setChecks((m) => ({ ...m, [k]: undefined as unknown as Check })))
      .finally(() => inflight.current.delete(k));
  };
  const problems = (c: Check) => c.violations.map((v) => t(`v.${v.code}` as ConsoleKey)).join(', ');

  const assign = useMutation({
    mutationFn: async ({ job, lane }: { job: Job; lane: Lane; check?: Check }) =>
      client.post(`/work-orders/${job.order_id}/assign`, { assignee_id: lane.user_id }),
    onSuccess: (_, { job, lane, check }) => {
      setFlash(
        check && !check.ok
          ? t('dispatch.assignedWith', { number: job.number, name: lane.name, problems: problems(check) })
          : t('dispatch.assigned', { number: job.number, name: lane.name }),
      );
      setChecks({});
      void qc.invalidateQueries({ queryKey: ['dispatch-board'] });
      void qc.invalidateQueries({ queryKey: ['work-orders'] });
    },
    onError: (e) => setFlash(t('common.error', { message: (e as Error).message })),
  });

  const drop = async (job: Job, lane: Lane) => {
    setOver(null);
    setDragging(null);
    let c = checks[key(job, lane)];
    if (!c || c === 'pending') {
      try {
        c = await client.post<Check>('/dispatch/check', { order_id: job.order_id, engineer_id: lane.id });
      } catch (e) {
        setFlash(t('common.error', { message: (e as Error).message }));
        return;
      }
    }
    if (c.ok) assign.mutate({ job, lane, check: c });
    else setConfirm({ job, lane, check: c });
  };

  const optimize = useMutation({
    mutationFn: () => client.post<Run>('/dispatch/preview', {}),
    onSuccess: (r) => setPreview(r),
    onError: (e) => setFlash(t('common.error', { message: (e as Error).message })),
  });
  const apply = useMutation({
    mutationFn: (r: Run) =>
      client.post<Run>('/dispatch/apply', {
        jobs: r.jobs.filter((j) => j.outcome === 'proposed').map((j) => ({ order_id: j.order_id, engineer_id: j.engineer_id })),
      }),
    onSuccess: (r) => {
      setPreview(null);
      setFlash(t('dispatch.applied', { n: r.assigned, skipped: r.unassigned }));
      void qc.invalidateQueries({ queryKey: ['dispatch-board'] });
    },
    onError: (e) => setFlash(t('common.error', { message: (e as Error).message })),
  });

  const b = board.data;
  const from = b ? Date.parse(b.generated_at) - 3600_000 : Date.now();
  const dragProps = (job: Job) =>
    canAct
      ? {
          draggable: true,
          onDragStart: (e: DragEvent) => {
            e.dataTransfer?.setData('text/plain', job.order_id);
            setDragging(job);
          },
          onDragEnd: () => {
            setDragging(null);
            setOver(null);
          },
        }
      : {};

  return (
    <section class="page dispatch">
      <div class="row between">
        <div>
          <h1>{t('dispatch.title')}</h1>
          <p class="muted">{t('dispatch.subtitle')}</p>
        </div>
        {canAct && (
          <button type="button" class="primary" onClick={() => optimize.mutate()} disabled={optimize.isPending}>
            {t('dispatch.optimize')}
          </button>
        )}
      </div>
      {flash && (
        <p class="flash" role="status" data-testid="dispatch-flash" onClick={() => setFlash('')}>
          {flash}
        </p>
      )}
      {canAct && <RebalanceBanner />}
      {board.error && <p class="notice">{t('common.error', { message: (board.error as Error).message })}</p>}
      {b && (
        <div class="dispatch-grid">
          <div class="card waiting" aria-label={t('dispatch.waiting', { n: b.unassigned.length })}>
            <h2>{t('dispatch.waiting', { n: b.unassigned.length })}</h2>
            {b.unassigned.length === 0 && <p class="muted">{t('dispatch.waitingEmpty')}</p>}
            {b.unassigned.map((o) => (
              <button
                type="button"
                class={`job-card prio-${o.priority}${dragging?.order_id === o.order_id ? ' selected' : ''}`}
                data-order={o.number}
                aria-pressed={dragging?.order_id === o.order_id}
                title={t('dispatch.pick', { number: o.number })}
                onClick={() => setDragging(dragging?.order_id === o.order_id ? null : o)}
                {...dragProps(o)}
              >
                <span class="strong">
                  {o.priority} {o.number}
                </span>
                <span>{o.title}</span>
                {o.due_at && <span class="muted small">{t('dispatch.due', { time: formatDateTime(o.due_at, lang) })}</span>}
              </button>
            ))}
          </div>
          <div class="card lanes">
            <h2>{t('dispatch.lanes')}</h2>
            {b.engineers.length === 0 && <p class="muted">{t('dispatch.noEngineers')}</p>}
            <div class="timeline muted small" aria-hidden="true">
              {Array.from({ length: HOURS / 2 + 1 }, (_, i) => (
                <span style={{ left: `${(i * 2 * 100) / HOURS}%` }}>{formatDateTime(new Date(from + i * 2 * 3600_000).toISOString(), lang).slice(-5)}</span>
              ))}
            </div>
            {b.engineers.map((l) => {
              const c = dragging ? checks[key(dragging, l)] : undefined;
              const cls = c && c !== 'pending' ? (c.ok ? ' fits' : ' violates') : '';
              return (
                <div
                  class={`lane${over === l.id ? ' over' : ''}${cls}`}
                  data-engineer={l.name}
                  onDragOver={(e) => {
                    if (!dragging || !canAct) return;
                    e.preventDefault();
                    if (over !== l.id) setOver(l.id);
                    runCheck(dragging, l);
                  }}
                  onDragLeave={() => setOver((o) => (o === l.id ? null : o))}
                  onDrop={(e) => {
                    e.preventDefault();
                    if (dragging) void drop(dragging, l);
                  }}
                  onMouseEnter={() => dragging && canAct && runCheck(dragging, l)}
                >
                  <div class="lane-head">
                    <span class="dot" style={{ background: stateColor[l.state] }} />
                    <span class="strong">{l.name}</span>
                    <span class="badge" data-state={l.state}>
                      {t(`dispatch.state.${l.state}` as ConsoleKey)}
                    </span>
                    <span class="muted small">
                      {!l.dispatchable
                        ? t('dispatch.notDispatchable')
                        : l.next_shift_at
                          ? t('dispatch.nextShift', { time: formatDateTime(l.next_shift_at, lang) })
                          : t('dispatch.jobs', { n: l.open_jobs, max: l.max_open_jobs })}
                    </span>
                    {dragging && canAct && (
                      <button type="button" class="small" onClick={() => void drop(dragging, l)}>
                        {t('dispatch.assignHere', { number: dragging.number })}
                      </button>
                    )}
                  </div>
                  <div class="lane-track">
                    {l.shifts.map((s) => {
                      const sp = span(s.start, s.end, from, HOURS);
                      return sp && <span class="shift" style={{ left: `${sp.left}%`, width: `${sp.width}%` }} />;
                    })}
                    {l.jobs.map((j) => {
                      const sp = span(j.start_at, j.finish_at, from, HOURS);
                      return (
                        sp && (
                          <span
                            class={`bar-job prio-${j.priority}${j.late ? ' late' : ''}`}
                            style={{ left: `${sp.left}%`, width: `${sp.width}%` }}
                            title={`${j.number} ${j.title} · ${t(`status.${j.status}` as ConsoleKey)}${j.late ? ' · ' + t('dispatch.late') : ''}`}
                            data-job={j.number}
                            {...dragProps(j)}
                          >
                            {j.number}
                          </span>
                        )
                      );
                    })}
                  </div>
                  {c === 'pending' && <p class="muted small">{t('dispatch.checking')}</p>}
                  {c && c !== 'pending' && (
                    <ul class={`check small ${c.ok ? 'ok' : 'bad'}`} data-testid="lane-check">
                      {c.ok ? (
                        <li>
                          {t('dispatch.fits', { travel: formatDuration(c.travel_minutes * 60, lang), finish: formatDateTime(c.finish_at, lang) })}
                        </li>
                      ) : (
                        c.violations.map((v) => (
                          <li>
                            <span class="strong">{t(`v.${v.code}` as ConsoleKey)}</span>: {v.message}
                          </li>
                        ))
                      )}
                    </ul>
                  )}
                </div>
              );
            })}
          </div>
          <div class="card map-card">
            <h2>{t('dispatch.map')}</h2>
            <Suspense fallback={<div class="map" />}>
              <DispatchMap board={b} />
            </Suspense>
          </div>
        </div>
      )}
      {confirm && (
        <Dialog title={t('dispatch.confirmTitle', { number: confirm.job.number, name: confirm.lane.name })} onClose={() => setConfirm(null)}>
          <p>{t('dispatch.confirmText')}</p>
          <ul>
            {confirm.check.violations.map((v) => (
              <li>
                <span class="strong">{t(`v.${v.code}` as ConsoleKey)}</span>: {v.message}
              </li>
            ))}
          </ul>
          <div class="row end">
            <button type="button" onClick={() => setConfirm(null)}>
              {t('dispatch.cancel')}
            </button>
            <button
              type="button"
              class="danger"
              onClick={() => {
                assign.mutate({ job: confirm.job, lane: confirm.lane, check: confirm.check });
                setConfirm(null);
              }}
            >
              {t('dispatch.assignAnyway')}
            </button>
          </div>
        </Dialog>
      )}
      {preview && <Preview run={preview} onClose={() => setPreview(null)} onApply={() => apply.mutate(preview)} busy={apply.isPending} />}
    </section>
  );
}

function Preview({ run, onClose, onApply, busy }: { run: Run; onClose: () => void; onApply: () => void; busy: boolean }) {
  const { t, lang } = useI18n();
  const proposed = run.jobs.filter((j) => j.outcome === 'proposed').length;
  return (
    <Dialog title={t('dispatch.previewTitle')} onClose={onClose}>
      {run.jobs.length === 0 ? (
        <p class="muted">{t('dispatch.previewEmpty')}</p>
      ) : (
        <>
          <p>{t('dispatch.previewCost', { cost: Math.round(run.total_cost), assigned: run.assigned, unassigned: run.unassigned })}</p>
          <table class="table small" data-testid="preview">
            <thead>
              <tr>
                <th>{t('dispatch.col.order')}</th>
                <th>{t('dispatch.col.engineer')}</th>
                <th>{t('dispatch.col.travel')}</th>
                <th>{t('dispatch.col.slack')}</th>
                <th>{t('dispatch.col.cost')}</th>
                <th>{t('dispatch.col.why')}</th>
              </tr>
            </thead>
            <tbody>
              {run.jobs.map((j) => (
                <tr>
                  <td>
                    {j.priority} {j.number}
                  </td>
                  <td>{j.outcome === 'proposed' ? `→ ${j.engineer_name}` : <span class="muted">{t('dispatch.unassigned')}</span>}</td>
                  <td>{j.travel_minutes != null ? formatDuration(j.travel_minutes * 60, lang) : ''}</td>
                  <td>{j.sla_slack_minutes != null ? formatDuration(j.sla_slack_minutes * 60, lang) + (j.sla_slack_minutes < 0 ? ' ⚠' : '') : ''}</td>
                  <td>{j.cost ? Math.round(j.cost.total) : ''}</td>
                  <td class="muted">{j.why}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <div class="row end">
        <button type="button" onClick={onClose}>
          {t('dispatch.cancel')}
        </button>
        {proposed > 0 && (
          <button type="button" class="primary" onClick={onApply} disabled={busy}>
            {t('dispatch.apply', { n: proposed })}
          </button>
        )}
      </div>
    </Dialog>
  );
}
