import { describe, expect, it } from 'vitest';
import { render } from 'preact';
import { LangContext, type Lang } from '../i18n';
import type { WorkOrderDetail } from '../api/types';
import { PredictionLine } from './Prediction';

function line(evidence: Record<string, unknown>, lang: Lang = 'en', source = 'trend'): HTMLElement {
  const root = document.createElement('div');
  const order = { id: 'o', source, evidence, predicted_failure_at: null } as unknown as WorkOrderDetail;
  render(
    <LangContext.Provider value={{ lang, setLang: () => {} }}>
      <PredictionLine order={order} />
    </LangContext.Provider>,
    root,
  );
  return root;
}

const fleet = {
  model: 'fleet',
  model_version: 2,
  model_kind: 'ensemble',
  coverage: 0.9,
  as_of: '2026-03-01T10:00:00Z',
  rul_seconds: 3 * 86400 + 4 * 3600,
  rul_lower_seconds: 5 * 3600 + 59 * 60,
  rul_upper_seconds: 9 * 86400,
  drivers: [
    { metric: 's11', rise: 3.2 },
    { metric: 's7', rise: -2.1 },
    { metric: 's4', rise: 1.94 },
  ],
};

describe('the job page’s prediction line', () => {
  it('gives a fleet estimate with its interval from the coverage and its drivers', () => {
    const root = line(fleet);
    expect(root.querySelector('[data-testid="job-prediction"]')?.textContent).toBe(
      'Fleet model v2: about 3d 4h of life left (90 % interval 5h 59m to 9d)',
    );
    expect(root.querySelector('[data-testid="job-drivers"]')?.textContent).toBe('Driven by s11 +3.2σ, s7 −2.1σ, s4 +1.9σ');
    const zh = line(fleet, 'zh-CN');
    expect(zh.querySelector('[data-testid="job-prediction"]')?.textContent).toBe('机群模型 v2：剩余寿命约 3天4小时（90% 区间 5小时59分 至 9天）');
    expect(zh.querySelector('[data-testid="job-drivers"]')?.textContent).toBe('主要驱动指标：s11 +3.2σ、s7 −2.1σ、s4 +1.9σ');
  });

  it('takes another coverage as sent and leaves out drivers an older order lacks', () => {
    const { drivers: _, ...old } = fleet;
    const root = line({ ...old, coverage: 0.8 });
    expect(root.textContent).toContain('(80 % interval');
    expect(root.querySelector('[data-testid="job-drivers"]')).toBeNull();
    const none = line({ model: 'fleet', model_version: 2, rul_seconds: null, drivers: fleet.drivers });
    expect(none.querySelector('[data-testid="job-prediction"]')?.textContent).toBe('Fleet model v2: no estimate');
  });

  it('says a trend order has no prediction and shows nothing for other orders', () => {
    expect(line({ model: 'linear' }).textContent).toBe('No prediction');
    expect(line({}, 'en', 'manual').textContent).toBe('');
  });
});
