import { describe, expect, it } from 'vitest';
import { render } from 'preact';
import { QueryClient, QueryClientProvider } from '@tanstack/preact-query';
import { LangContext, type Lang } from '../../i18n';
import { ApiError, Client } from '../../lib/api';
import { ClientContext } from '../../lib/client';
import type { User } from '../../api/types';
import { consoleMessages } from '../i18n';
import { translate } from '../../i18n';
import { FleetModelPage, FleetPanel, JobLine, ModelTable, droppedMetrics, jobDone, jobError, trainError, type FleetJob, type FleetScore } from './Fleet';
import { until } from '../../lib/until';

function panel(fleet: FleetScore | null, lang: Lang = 'en'): HTMLElement {
  const root = document.createElement('div');
  render(
    <LangContext.Provider value={{ lang, setLang: () => {} }}>
      <FleetPanel fleet={fleet} type="engine" />
    </LangContext.Provider>,
    root,
  );
  return root;
}

const t = (lang: Lang) => (k: never, v?: Record<string, string | number>) => translate(consoleMessages, lang, k, v);

describe('FleetPanel', () => {
  it('shows the remaining life and its interval as durations', () => {
    const root = panel({ model_version: 3, status: 'ok', as_of: '2026-03-01T10:00:00Z', rul_seconds: 3 * 86400 + 4 * 3600, rul_lower_seconds: 5 * 3600 + 59 * 60, rul_upper_seconds: 9 * 86400 });
    expect(root.querySelector('[data-testid="fleet-rul"]')?.textContent).toBe('3d 4h');
    expect(root.querySelector('[data-testid="fleet-interval"]')?.textContent).toBe('90 % interval: 5h 59m to 9d');
    expect(root.textContent).toContain('model v3');
    expect(root.querySelector('a')?.getAttribute('href')).toBe('/asset-types/engine');
  });

  it('says in words why there is no estimate, in both languages', () => {
    for (const [status, en, zh] of [
      ['short_history', 'fewer readings than the model needs', '读数少于模型评估所需'],
      ['no_data', 'no readings of the model’s metrics', '没有模型指标的读数'],
      ['stale', 'No estimate (stale).', '无估计（stale）。'],
    ]) {
      const f = { model_version: 1, status, as_of: null, rul_seconds: null };
      expect(panel(f, 'en').querySelector('[data-testid="fleet-why"]')?.textContent).toContain(en);
      expect(panel(f, 'zh-CN').querySelector('[data-testid="fleet-why"]')?.textContent).toContain(zh);
      expect(panel(f).querySelector('[data-testid="fleet-rul"]')).toBeNull();
    }
  });

  it('says when the model that estimated raises no orders', () => {
    const f = { model_version: 2, model_status: 'not_validated', raises_orders: false, status: 'ok', as_of: '2026-03-01T10:00:00Z', rul_seconds: 3600, rul_lower_seconds: 0, rul_upper_seconds: 7200 };
    expect(panel(f).querySelector('[data-testid="fleet-gate"]')?.textContent).toBe('This model is not validated: its estimate raises no orders.');
    expect(panel({ ...f, model_status: 'validated' }).querySelector('[data-testid="fleet-gate"]')).toBeNull();
  });

  it('names a type without a model', () => {
    expect(panel(null).textContent).toContain('No fleet model for the type engine');
  });
});

describe('trainError', () => {
  it('explains the contract codes and never shows an object', () => {
    const cases: [ApiError, string][] = [
      [new ApiError(422, 'too_few_failures', '3 failures with history, 6 needed'), 'at least 6 are needed). 3 failures with history, 6 needed'],
      [new ApiError(422, 'no_common_metrics', 'none'), 'share no metrics'],
      [new ApiError(403, 'forbidden', 'role may not'), 'Your role may not train models.'],
      [new ApiError(0, 'network', 'Failed to fetch'), 'cannot be reached'],
      [new ApiError(500, 'internal', 'boom'), 'Training failed: boom'],
      [new ApiError(409, 'training_under_way', 'a training of engine is under way'), 'A training of this type is already running.'],
      [new ApiError(422, 'nothing_varies', 'flat'), 'nothing to learn from. flat'],
    ];
    for (const [e, want] of cases) {
      const got = trainError(t('en') as never, e);
      expect(got).toContain(want);
      expect(got).not.toContain('[object');
    }
    expect(trainError(t('zh-CN') as never, new ApiError(422, 'too_few_failures', 'x'))).toContain('至少需要 6 次');
  });
});

function jobLine(job: FleetJob | undefined, error: ApiError | null = null, lang: Lang = 'en'): HTMLElement {
  const root = document.createElement('div');
  render(
    <LangContext.Provider value={{ lang, setLang: () => {} }}>
      <JobLine job={job} error={error} now={Date.parse('2026-03-01T10:01:05Z')} />
    </LangContext.Provider>,
    root,
  );
  return root;
}

const job = (over: Partial<FleetJob>): FleetJob => ({
  id: 'j1',
  asset_type: 'engine',
  status: 'running',
  started: '2026-03-01T10:00:00Z',
  finished: null,
  error: null,
  error_code: null,
  model_version: null,
  ...over,
});

describe('JobLine', () => {
  it('shows a running job and how long it has run, in both languages', () => {
    const line = jobLine(job({}));
    const p = line.querySelector('[data-testid="fleet-job"]');
    expect(p?.getAttribute('data-status')).toBe('running');
    expect(p?.textContent).toBe('Training… (1m 5s so far)');
    expect(jobLine(job({}), null, 'zh-CN').textContent).toBe('训练中… （已用 1分5秒）');
    expect(jobLine(job({ status: 'waiting' })).textContent).toContain('Waiting for another training of this type');
  });

  it('names the stored version when the job succeeded', () => {
    const p = jobLine(job({ status: 'succeeded', finished: '2026-03-01T10:01:00Z', model_version: 4 })).querySelector('[data-testid="fleet-job"]');
    expect(p?.getAttribute('data-status')).toBe('succeeded');
    expect(p?.textContent).toBe('Trained version 4.');
  });

  it('explains a failed job by its code, or its message', () => {
    const cases: [Partial<FleetJob>, string][] = [
      [{ error_code: 'too_few_failures', error: '3 failures with history, 6 needed' }, 'at least 6 are needed). 3 failures with history, 6 needed'],
      [{ error_code: 'no_common_metrics', error: 'none shared' }, 'share no metrics'],
      [{ error_code: 'nothing_varies', error: 'flat' }, 'nothing to learn from'],
      [{ error_code: 'busy', error: 'waited 30m' }, 'try again later. waited 30m'],
      [{ error_code: 'error', error: 'influx: timeout' }, 'Training failed: influx: timeout'],
      [{ error_code: 'error', error: null }, 'Training failed: error'],
    ];
    for (const [over, want] of cases) {
      const f = job({ status: 'failed', ...over });
      const p = jobLine(f).querySelector('[data-testid="fleet-job"]');
      expect(p?.getAttribute('data-status')).toBe('failed');
      expect(p?.getAttribute('role')).toBe('alert');
      expect(p?.textContent).toContain(want);
      expect(jobError(t('en') as never, f)).not.toContain('[object');
    }
    expect(jobError(t('zh-CN') as never, job({ status: 'failed', error_code: 'busy', error: '' }))).toContain('稍后再试');
  });

  it('says when the job is no longer on record', () => {
    const p = jobLine(undefined, new ApiError(404, 'not_found', 'no such job')).querySelector('[data-testid="fleet-job"]');
    expect(p?.textContent).toContain('no longer on record');
  });

  it('knows when a job is done', () => {
    expect(jobDone(job({}))).toBe(false);
    expect(jobDone(job({ status: 'waiting' }))).toBe(false);
    expect(jobDone(job({ status: 'succeeded' }))).toBe(true);
    expect(jobDone(job({ status: 'failed' }))).toBe(true);
    expect(jobDone(undefined)).toBe(false);
  });
});

type Model = Parameters<typeof ModelTable>[0]['m'];

function table(m: Model, lang: Lang = 'en'): HTMLElement {
  const root = document.createElement('div');
  render(
    <LangContext.Provider value={{ lang, setLang: () => {} }}>
      <ModelTable m={m} />
    </LangContext.Provider>,
    root,
  );
  return root;
}

const row = (root: HTMLElement, id: string) => root.querySelector(`tr[data-row="${id}"] td`)?.textContent;

const model: Model = {
  asset_type: 'engine',
  version: 3,
  trained_at: '2026-03-01T10:00:00Z',
  kind: 'ridge',
  metrics: ['op1', 'op2', 's2', 's3', 's11', 's18'],
  settings: ['op1', 'op2'],
  use: ['s11', 's2'],
  conditions: 6,
  trees: false,
  n_units: 100,
  n_train_units: 80,
  n_calibration_units: 20,
  coverage: 0.9,
  validation_coverage: 0.88,
  validation_rmse_seconds: 3600,
  lead_seconds: null,
  training: null,
};

describe('ModelTable', () => {
  it('shows the conditions, the metrics used and those dropped', () => {
    const root = table(model);
    expect(row(root, 'conditions')).toBe('6 found from the settings');
    expect(row(root, 'settings')).toBe('op1, op2');
    expect(row(root, 'used')).toBe('s11, s2');
    expect(row(root, 'dropped')).toBe('s3, s18');
    expect(root.querySelector('tr[data-row="training"]')).toBeNull();
    const zh = table(model, 'zh-CN');
    expect(row(zh, 'conditions')).toBe('由设定参数识别出 6 种');
    expect(row(table({ ...model, conditions: 1, settings: [] }), 'conditions')).toBe('1 (none told apart)');
    expect(row(table({ ...model, use: ['s2', 's3', 's11', 's18'] }), 'dropped')).toBe('none');
  });

  it('leaves out used and dropped for a model without use', () => {
    const root = table({ ...model, use: null });
    expect(root.querySelector('tr[data-row="used"]')).toBeNull();
    expect(root.querySelector('tr[data-row="dropped"]')).toBeNull();
    expect(droppedMetrics({ ...model, use: null })).toEqual([]);
    expect(row(root, 'metrics')).toBe('op1, op2, s2, s3, s11, s18');
  });

  it('says how the last training went', () => {
    const base = { id: 'j', asset_type: 'engine', started: '2026-03-01T10:00:00Z', finished: '2026-03-01T10:01:00Z', error: null, error_code: null, model_version: null };
    const ok = table({ ...model, training: { ...base, status: 'succeeded', model_version: 3 } });
    expect(ok.querySelector('tr[data-row="training"]')?.getAttribute('data-status')).toBe('succeeded');
    expect(row(ok, 'training')).toMatch(/^succeeded .*, stored version 3$/);
    const bad = table({ ...model, training: { ...base, status: 'failed', error_code: 'nothing_varies', error: 'flat' } });
    expect(row(bad, 'training')).toMatch(/^failed .*: None of the failed assets’ metrics varies.* flat$/);
    const zh = table({ ...model, training: { ...base, status: 'failed', error_code: 'busy', error: '' } }, 'zh-CN');
    expect(row(zh, 'training')).toContain('失败：另一台服务器');
    const run = table({ ...model, training: { ...base, status: 'running', finished: null } });
    expect(row(run, 'training')).toMatch(/^running since /);
    const lost = table({ ...model, training: { ...base, status: 'failed', error_code: 'runner_lost', error: 'replica-a stopped' } });
    expect(row(lost, 'training')).toMatch(/stopped answering; start it again\. replica-a stopped$/);
  });

  it('says in words whether the version passed its validation gate', () => {
    const rule = { min_held_out_units: 6, min_validation_coverage: 0.8, max_validation_rmse_seconds: 48 * 3600 };
    const ok = table({ ...model, gate: { status: 'validated', raises_orders: true, passed: true, reasons: [], rule, override: null } });
    expect(ok.querySelector('tr[data-row="gate"]')?.getAttribute('data-status')).toBe('validated');
    expect(row(ok, 'gate')).toBe('Validated: its estimates raise orders.');
    const reasons = [
      { code: 'few_held_out_failures', value: 4, limit: 6, message: '' },
      { code: 'low_validation_coverage', value: 0.7, limit: 0.8, message: '' },
      { code: 'rmse_above_lead', value: 34 * 3600, limit: 24 * 3600, message: '' },
    ];
    const bad = table({ ...model, gate: { status: 'not_validated', raises_orders: false, passed: false, reasons, rule, override: null } });
    expect(row(bad, 'gate')).toBe(
      'Not validated: it gives estimates but raises no orders. Only 4 failures were held out to validate it; 6 are needed. ' +
        'Its interval covered 70 % of the held-out remaining lives; 80 % are needed. ' +
        'Its validation error (1d 10h) is larger than the order lead (1d).',
    );
    const zh = table({ ...model, gate: { status: 'not_validated', raises_orders: false, passed: false, reasons: reasons.slice(0, 1), rule, override: null } }, 'zh-CN');
    expect(row(zh, 'gate')).toBe('未通过验证：给出估计，但不生成工单。仅留出 4 次故障用于验证；需要 6 次。');
    const over = table({
      ...model,
      gate: { status: 'overridden', raises_orders: true, passed: false, reasons: reasons.slice(0, 1), rule, override: { by: 'ann', at: '2026-03-01T10:00:00Z', note: 'all we have' } },
    });
    expect(row(over, 'gate')).toMatch(/^Not validated, but ann let it raise orders \(all we have\)\. Only 4 failures/);
  });
});

// A type with no model yet whose first training is under way (started by
// someone else, or before a reload): the API answers as pdm does.
class FirstTraining extends Client {
  get<T>(path: string): Promise<T> {
    const job = { id: 'j1', asset_type: 'engine', status: 'waiting', phase: 'waiting_for_lock', started: new Date().toISOString() };
    if (path.endsWith('/model')) return Promise.reject(new ApiError(404, 'no_model', 'no model for engine'));
    if (path.endsWith('/failures')) return Promise.resolve({ items: [], next_cursor: '' } as T);
    if (path.endsWith('/model/jobs')) return Promise.resolve({ items: [job] } as T);
    if (path.endsWith('/model/jobs/j1')) return Promise.resolve(job as T);
    return Promise.reject(new ApiError(404, 'not_found', path));
  }
}

describe('FleetModelPage', () => {
  it('follows a first training under way although there is no model to name it', async () => {
    const root = document.createElement('div');
    const user = { id: 'u1', name: 'Li Na', role: 'planner' } as User;
    render(
      <QueryClientProvider client={new QueryClient()}>
        <ClientContext.Provider value={new FirstTraining()}>
          <LangContext.Provider value={{ lang: 'en', setLang: () => {} }}>
            <FleetModelPage type="engine" user={user} />
          </LangContext.Provider>
        </ClientContext.Provider>
      </QueryClientProvider>,
      root,
    );
    await until(() => root.querySelector('[data-testid="fleet-job"][data-status="waiting"]') !== null, 'the job line');
    expect(root.querySelector('[data-testid="fleet-no-model"]')).not.toBeNull();
    expect((root.querySelector('[data-testid="fleet-train"]') as HTMLButtonElement).disabled).toBe(true);
    render(null, root);
  });
});
