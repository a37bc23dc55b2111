// The fleet model in the console: the asset page's panel (the health
// answer's `fleet` block: remaining life with its 90 % interval, as of the
// last data, or why there is no estimate) and the asset type's model
// (version, quality, lead, "Train now" for planners and admins, failures).
// "Train now" starts a training job (POST .../model/jobs, 202) and polls it
// (GET .../model/jobs/{id}) until it succeeds or fails; the request never
// waits for the training itself.
import { Link } from 'wouter-preact';
import { useEffect, useState } from 'preact/hooks';
import { useMutation, useQuery, useQueryClient } from '@tanstack/preact-query';
import { useI18n } from '../i18n';
import type { Lang } from '../../i18n';
import { useClient } from '../../lib/client';
import { ApiError } from '../../lib/api';
import { fetchAll } from '../../lib/queries';
import { formatDateTime, formatDuration, formatNumber } from '../../lib/format';
import { coveragePercent } from '../../lib/fleet';
import type { components } from '../../api/schema';
import type { User } from '../../api/types';
import './fleet.css';

type S = components['schemas'];
export type FleetScore = NonNullable<S['AssetHealth']['fleet']>;
type FleetModel = S['FleetModel'];
type FleetFailure = S['FleetFailure'];
export type FleetJob = S['FleetJob'];

/** How often a running training job is asked about (ms). */
export const jobPollMs = 1000;

/** A job that will not change any more. */
export const jobDone = (j?: FleetJob | null) => j?.status === 'succeeded' || j?.status === 'failed';

const typePath = (type: string) => `/asset-types/${encodeURIComponent(type)}`;

/** The asset page's panel; fleet is undefined when the type has no model. */
export function FleetPanel({ fleet, type }: { fleet?: FleetScore | null; type?: string }) {
  const { t, lang } = useI18n();
  return (
    <section class="card" aria-labelledby="fleet-title" data-testid="fleet-panel" data-status={fleet?.status ?? 'none'}>
      <h2 id="fleet-title">{t('fleet.panel')}</h2>
      {!fleet ? (
        <p class="muted">{t('fleet.none', { type: type ?? '' })}</p>
      ) : fleet.status === 'ok' && fleet.rul_seconds != null ? (
        <>
          <p>
            {t('fleet.rul')}: <strong data-testid="fleet-rul">{formatDuration(fleet.rul_seconds, lang)}</strong>
          </p>
          {fleet.rul_lower_seconds != null && fleet.rul_upper_seconds != null && (
            <p data-testid="fleet-interval">
              {t('fleet.interval', { p: coveragePercent(undefined), lower: formatDuration(fleet.rul_lower_seconds, lang), upper: formatDuration(fleet.rul_upper_seconds, lang) })}
            </p>
          )}
          <p class="muted small" data-testid="fleet-as-of">
            {t('fleet.asOf', { t: formatDateTime(fleet.as_of, lang) })} · {t('fleet.version', { v: fleet.model_version ?? '' })}
          </p>
          {fleet.model_status === 'not_validated' && (
            <p class="muted small" data-testid="fleet-gate">
              {t('fleet.panelGate')}
            </p>
          )}
        </>
      ) : (
        <>
          <p data-testid="fleet-why">
            {fleet.status === 'short_history' || fleet.status === 'no_data'
              ? t(`fleet.status.${fleet.status}`)
              : t('fleet.status.other', { status: fleet.status ?? '' })}
          </p>
          <p class="muted small">{t('fleet.version', { v: fleet.model_version ?? '' })}</p>
        </>
      )}
      {type && (
        <p>
          <Link href={typePath(type)} data-testid="fleet-model-link">
            {t('fleet.modelLink', { type })} →
          </Link>
        </p>
      )}
    </section>
  );
}

/** The route /asset-types/:type: the current model, "Train now", the failures. */
export function FleetModelPage({ type, user }: { type: string; user: User }) {
  const { t, lang } = useI18n();
  const client = useClient();
  const qc = useQueryClient();
  const canTrain = user.role === 'admin' || user.role === 'planner';
  const model = useQuery<FleetModel | null, ApiError>({
    queryKey: ['fleet', type, 'model'],
    queryFn: async () => {
      try {
        return await client.get<FleetModel>(`${typePath(type)}/model`);
      } catch (e) {
        if (e instanceof ApiError && e.status === 404 && e.code === 'no_model') return null;
        throw e;
      }
    },
    retry: false,
  });
  const failures = useQuery<FleetFailure[], ApiError>({
    queryKey: ['fleet', type, 'failures'],
    queryFn: () => fetchAll<FleetFailure>(client, `${typePath(type)}/failures`),
    retry: false,
  });
  // The job this page follows: the one it started, else a training the
  // model says is under way (started by someone else, or before a reload).
  const [startedId, setStartedId] = useState<string | null>(null);
  const train = useMutation<FleetJob, ApiError>({
    mutationFn: () => client.post<FleetJob>(`${typePath(type)}/model/jobs`, {}),
    onMutate: () => setStartedId(null),
    onSuccess: (j) => {
      if (j.id) {
        qc.setQueryData(['fleet', type, 'job', j.id], j);
        setStartedId(j.id);
      }
    },
    onError: (e) => {
      // Someone else's training: the model's `training` (or, before the
      // first model, the latest job) names it; follow that one.
      if (e.code === 'training_under_way') {
        void qc.invalidateQueries({ queryKey: ['fleet', type, 'model'] });
        void qc.invalidateQueries({ queryKey: ['fleet', type, 'jobs'] });
      }
    },
  });
  const m = model.data;
  // Without a model there is no `training` to read: the type's latest job
  // tells whether a first training is under way (someone else's, or one
  // started before a reload).
  const latestJob = useQuery<FleetJob | null, ApiError>({
    queryKey: ['fleet', type, 'jobs', 'latest'],
    queryFn: async () => (await client.get<{ items?: FleetJob[] }>(`${typePath(type)}/model/jobs`, { limit: 1 })).items?.[0] ?? null,
    enabled: model.isSuccess && model.data === null,
    retry: false,
  });
  const active = m ? m.training : model.isSuccess ? latestJob.data : undefined;
  const running = active && !jobDone(active) ? active.id : undefined;
  const jobId = startedId ?? running ?? null;
  const job = useQuery<FleetJob, ApiError>({
    queryKey: ['fleet', type, 'job', jobId],
    queryFn: () => client.get<FleetJob>(`${typePath(type)}/model/jobs/${encodeURIComponent(jobId ?? '')}`),
    enabled: jobId != null,
    retry: false,
    refetchInterval: (q) => (jobDone(q.state.data) || q.state.error ? false : jobPollMs),
  });
  const j = jobId != null ? job.data : undefined;
  const finished = jobDone(j) || job.error != null;
  useEffect(() => {
    if (!finished || jobId == null) return;
    // Done (or unknown to this replica): the model and the assets' health tell the outcome.
    void qc.invalidateQueries({ queryKey: ['fleet', type, 'model'] });
    if (j?.status === 'succeeded') void qc.invalidateQueries({ queryKey: ['asset'] });
    // "Already running" was about the training that just ended.
    if (train.error?.code === 'training_under_way') train.reset();
  }, [finished, jobId, j?.status]);
  const busy = train.isPending || (jobId != null && !finished);
  const denied = model.error?.status === 403;

  return (
    <section class="page" aria-labelledby="fleet-model-title" data-testid="fleet-model-page">
      <p>
        <Link href="/assets">← {t('asset.back')}</Link>
      </p>
      <h1 id="fleet-model-title">{t('fleet.title', { type })}</h1>
      <section class="card" data-testid="fleet-model" data-version={m?.version ?? ''}>
        {model.isPending ? (
          <p class="muted">{t('common.loading')}</p>
        ) : denied ? (
          <p class="muted" data-testid="fleet-denied">
            {t('fleet.denied')}
          </p>
        ) : model.error ? (
          <p role="alert">{model.error.status === 0 ? t('common.offline') : t('common.error', { message: model.error.message })}</p>
        ) : !m ? (
          <p class="muted" data-testid="fleet-no-model">
            {t('fleet.noModel')}
          </p>
        ) : (
          <ModelTable m={m} />
        )}
        {canTrain && (
          <div class="filters">
            <button type="button" data-testid="fleet-train" disabled={busy} onClick={() => train.mutate()}>
              {busy ? t('fleet.training') : t('fleet.train')}
            </button>
            {train.error && (
              <p class="field-error" role="alert" data-testid="fleet-train-error" data-code={train.error.code}>
                {trainError(t, train.error)}
              </p>
            )}
            {jobId != null && <JobLine job={j} error={job.error} />}
          </div>
        )}
        {canTrain && m?.gate && m.gate.status !== 'validated' && <GateControl type={type} gate={m.gate} />}
      </section>
      <section class="card" aria-labelledby="fleet-failures-title">
        <h2 id="fleet-failures-title">{t('fleet.failures', { n: failures.data?.length ?? 0 })}</h2>
        {failures.error ? (
          failures.error.status === 403 ? (
            <p class="muted">{t('fleet.denied')}</p>
          ) : (
            <p role="alert">{t('common.error', { message: failures.error.message })}</p>
          )
        ) : (failures.data ?? []).length === 0 ? (
          <p class="muted">{failures.isPending ? t('common.loading') : t('fleet.noFailures')}</p>
        ) : (
          <table class="table" data-testid="fleet-failures">
            <thead>
              <tr>
                <th>{t('fleet.col.asset')}</th>
                <th>{t('fleet.col.site')}</th>
                <th>{t('fleet.col.failedAt')}</th>
                <th>{t('fleet.col.source')}</th>
              </tr>
            </thead>
            <tbody>
              {(failures.data ?? []).map((f) => (
                <tr>
                  <td>
                    <Link href={`/assets/${f.asset_id}`}>{f.asset_code}</Link>
                  </td>
                  <td>{f.site_code}</td>
                  <td>{formatDateTime(f.failed_at, lang)}</td>
                  <td data-source={f.source}>{f.order_id ? <Link href={`/orders/${f.order_id}`}>{sourceLabel(t, f.source)}</Link> : sourceLabel(t, f.source)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </section>
  );
}

/**
 * A planner's override of the validation gate (PUT .../model/gate): let a type whose model is not validated raise
 * orders, with a note saying why, or take that back.
 */
export function GateControl({ type, gate }: { type: string; gate: NonNullable<FleetModel['gate']> }) {
  const { t } = useI18n();
  const client = useClient();
  const qc = useQueryClient();
  const [note, setNote] = useState('');
  // The note is read from the form when it is submitted, not from state: a
  // click right after the last keystroke must not send the note one
  // letter short.
  const set = useMutation<FleetModel, ApiError, { override: boolean; note?: string }>({
    mutationFn: (body) => client.put<FleetModel>(`${typePath(type)}/model/gate`, body),
    onSuccess: () => {
      setNote('');
      void qc.invalidateQueries({ queryKey: ['fleet', type, 'model'] });
    },
  });
  const err = set.error;
  if (gate.status === 'overridden') {
    return (
      <div class="filters" data-testid="fleet-gate-control">
        <button type="button" data-testid="fleet-gate-withdraw" disabled={set.isPending} onClick={() => set.mutate({ override: false })}>
          {t('fleet.gate.withdraw')}
        </button>
        {err && <p class="field-error" role="alert">{err.message}</p>}
      </div>
    );
  }
  return (
    <form
      class="filters"
      data-testid="fleet-gate-control"
      onSubmit={(e) => {
        e.preventDefault();
        const area = (e.currentTarget as HTMLFormElement).elements.namedItem('note') as HTMLTextAreaElement | null;
        set.mutate({ override: true, note: area?.value ?? note });
      }}
    >
      <label>
        {t('fleet.gate.note')}
        <textarea name="note" data-testid="fleet-gate-note" value={note} onInput={(e) => setNote((e.target as HTMLTextAreaElement).value)} />
      </label>
      {err?.fieldMessage('note') && (
        <p class="field-error" role="alert">
          {err.fieldMessage('note')}
        </p>
      )}
      {err && !err.fieldMessage('note') && (
        <p class="field-error" role="alert">
          {err.message}
        </p>
      )}
      <button type="submit" data-testid="fleet-gate-override" disabled={set.isPending || note.trim() === ''}>
        {t('fleet.gate.override')}
      </button>
    </form>
  );
}

/** Metrics the model has but makes no features of: metrics less use less settings (none for a model without `use`). */
export function droppedMetrics(m: FleetModel): string[] {
  if (!m.use) return [];
  const kept = new Set([...(m.use ?? []), ...(m.settings ?? [])]);
  return (m.metrics ?? []).filter((x) => !kept.has(x));
}

/** The model's facts: quality, operating conditions, the metrics it uses and drops, its last training. */
export function ModelTable({ m }: { m: FleetModel }) {
  const { t, lang } = useI18n();
  const list = (xs?: string[] | null) => ((xs ?? []).length ? (xs ?? []).join(', ') : t('fleet.noneListed'));
  const tr = m.training;
  return (
    <table class="table" data-testid="fleet-model-table">
      <tbody>
        <Row label={t('fleet.versionLabel')} value={String(m.version ?? '')} />
        <Row label={t('fleet.trainedAt')} value={formatDateTime(m.trained_at, lang)} />
        <Row label={t('fleet.kind')} value={(m.kind ?? '') + (m.trees ? ` · ${t('fleet.trees')}` : '')} />
        <Row label={t('fleet.units')} value={`${m.n_units ?? 0} (${m.n_train_units ?? 0} / ${m.n_calibration_units ?? 0})`} />
        <Row label={t('fleet.rmse')} value={m.validation_rmse_seconds != null ? formatDuration(m.validation_rmse_seconds, lang) : ''} />
        <Row
          label={t('fleet.coverage')}
          value={`${formatNumber((m.validation_coverage ?? 0) * 100, lang, 0)} % / ${formatNumber((m.coverage ?? 0) * 100, lang, 0)} %`}
        />
        <Row label={t('fleet.lead')} value={m.lead_seconds != null ? formatDuration(m.lead_seconds, lang) : t('fleet.leadDefault')} />
        <Row
          id="conditions"
          label={t('fleet.conditions')}
          value={(m.conditions ?? 1) <= 1 ? t('fleet.conditionsOne') : t('fleet.conditionsN', { n: m.conditions ?? 0 })}
        />
        <Row id="settings" label={t('fleet.settings')} value={list(m.settings)} />
        <Row id="metrics" label={t('fleet.metrics')} value={list(m.metrics)} />
        {m.use && <Row id="used" label={t('fleet.used')} value={list(m.use)} />}
        {m.use && <Row id="dropped" label={t('fleet.dropped')} value={list(droppedMetrics(m))} />}
        {m.gate && <Row id="gate" label={t('fleet.gate')} value={gateText(t, m.gate, lang)} status={m.gate.status ?? ''} />}
        {tr && <Row id="training" label={t('fleet.lastTraining')} value={trainingState(t, tr, lang)} status={tr.status ?? ''} />}
      </tbody>
    </table>
  );
}

/** The version's validation gate in words: validated, or not (why), and an operator's override. */
export function gateText(t: T, g: NonNullable<FleetModel['gate']>, lang: Lang): string {
  const why = (g.reasons ?? [])
    .map((r) => {
      switch (r.code) {
        case 'few_held_out_failures':
          return t('fleet.gate.few_held_out_failures', { v: r.value ?? 0, l: r.limit ?? 0 });
        case 'low_validation_coverage':
          return t('fleet.gate.low_validation_coverage', {
            v: formatNumber((r.value ?? 0) * 100, lang, 0),
            l: formatNumber((r.limit ?? 0) * 100, lang, 0),
          });
        case 'rmse_above_lead':
          return t('fleet.gate.rmse_above_lead', { v: formatDuration(r.value ?? 0, lang), l: formatDuration(r.limit ?? 0, lang) });
        default:
          return r.message ?? '';
      }
    })
    .join(' ');
  if (g.status === 'overridden') return t('fleet.gate.overridden', { by: g.override?.by ?? '', note: g.override?.note ?? '', why });
  if (g.status === 'not_validated') return t('fleet.gate.not_validated', { why });
  return t('fleet.gate.validated');
}

/** The model's latest training (from any server) in one line. */
export function trainingState(t: T, j: FleetJob, lang: Lang): string {
  const when = formatDateTime(j.finished ?? j.started, lang);
  switch (j.status) {
    case 'succeeded':
      return t('fleet.training.succeeded', { v: j.model_version ?? '', t: when });
    case 'failed':
      return t('fleet.training.failed', { t: when, why: jobError(t, j) });
    case 'waiting':
      return t('fleet.job.waiting');
    default:
      return t('fleet.training.running', { t: when });
  }
}

/** The followed job's state in words: waiting, running (for how long), succeeded, failed and why. */
export function JobLine({ job, error, now }: { job?: FleetJob; error?: ApiError | null; now?: number }) {
  const { t, lang } = useI18n();
  const [tick, setTick] = useState(() => Date.now());
  const done = jobDone(job) || error != null;
  useEffect(() => {
    if (done || now != null) return;
    const id = setInterval(() => setTick(Date.now()), 1000);
    return () => clearInterval(id);
  }, [done, now]);
  if (error) {
    return (
      <p class="muted" role="status" data-testid="fleet-job" data-status="unknown">
        {error.status === 404 ? t('fleet.job.gone') : error.status === 0 ? t('common.offline') : t('common.error', { message: error.message })}
      </p>
    );
  }
  if (!job) return null;
  if (job.status === 'failed') {
    return (
      <p class="field-error" role="alert" data-testid="fleet-job" data-status="failed" data-code={job.error_code ?? ''}>
        {jobError(t, job)}
      </p>
    );
  }
  if (job.status === 'succeeded') {
    return (
      <p role="status" data-testid="fleet-job" data-status="succeeded">
        {t('fleet.trained', { v: job.model_version ?? '' })}
      </p>
    );
  }
  const started = job.started ? Date.parse(job.started) : NaN;
  const elapsed = Number.isFinite(started) ? Math.max(0, ((now ?? tick) - started) / 1000) : null;
  return (
    <p role="status" aria-live="polite" data-testid="fleet-job" data-status={job.status ?? ''}>
      {job.status === 'waiting' ? t('fleet.job.waiting') : t('fleet.job.running')}
      {elapsed != null && ` ${t('fleet.job.elapsed', { d: formatDuration(Math.floor(elapsed), lang) })}`}
    </p>
  );
}

/** A failed job's error in words: the contract's codes get a sentence, the rest the server's message. */
export function jobError(t: T, j: FleetJob): string {
  const code = j.error_code ?? '';
  const message = j.error ?? '';
  if (
    code === 'too_few_failures' ||
    code === 'no_common_metrics' ||
    code === 'nothing_varies' ||
    code === 'busy' ||
    code === 'runner_lost' ||
    code === 'interrupted'
  ) {
    return t(`fleet.err.${code}`, { message });
  }
  return t('fleet.err.other', { message: message || code });
}

function Row({ label, value, id, status }: { label: string; value: string; id?: string; status?: string }) {
  return (
    <tr data-row={id} data-status={status}>
      <th scope="row">{label}</th>
      <td>{value}</td>
    </tr>
  );
}

type T = ReturnType<typeof useI18n>['t'];

const orderSources = ['threshold', 'trend', 'event', 'manual', 'schedule', 'request'] as const;

/** A failure's source in words: recorded through the API, or the kind of order it came from. */
function sourceLabel(t: T, source?: string): string {
  if (source === 'import') return t('fleet.source.import');
  const known = orderSources.find((s) => s === source);
  return known ? t(`source.${known}`) : (source ?? '');
}

/** The train button's error in words: the contract's codes get a sentence, the rest the server's message. */
export function trainError(t: T, e: ApiError): string {
  if (e.code === 'too_few_failures' || e.code === 'no_common_metrics' || e.code === 'nothing_varies') {
    return t(`fleet.err.${e.code}`, { message: e.message });
  }
  if (e.code === 'training_under_way') return t('fleet.err.training_under_way');
  if (e.status === 403) return t('fleet.err.forbidden');
  if (e.status === 0) return t('common.offline');
  return t('fleet.err.other', { message: e.message });
}
