import { describe, expect, it } from 'vitest';
import { render } from 'preact';
import { LangContext, type Lang } from '../../i18n';
import { ApiError } from '../../lib/api';
import { consoleMessages } from '../i18n';
import { translate } from '../../i18n';
import { FleetPanel, trainError, type FleetScore } from './Fleet';

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
    ];
    for (const [e, want] of cases) {
      const got = trainError(t('en') as never, e);
      expect(got).toContain(want);
      expect(got).not.toContain('[object');
    }
    expect(trainError(t('zh-CN') as never, new ApiError(422, 'too_few_failures', 'x'))).toContain('至少需要 6 次');
  });
});
