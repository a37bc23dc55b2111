import { describe, expect, it } from 'vitest';
import { render } from 'preact';
import { QueryClient, QueryClientProvider } from '@tanstack/preact-query';
import { LangContext, translate, type Lang } from '../../i18n';
import { Client } from '../../lib/api';
import { ClientContext } from '../../lib/client';
import type { User } from '../../api/types';
import { consoleMessages } from '../i18n';
import { predictionStatus } from '../assets/AssetPage';
import { FleetEvidence, readableLife } from './OrderDetail';

// The fleet model's order evidence as cmd/pdm/fleet.go writes it.
const ev = {
  model: 'fleet',
  model_version: 4,
  model_kind: 'ridge',
  asset_type: 'pump',
  coverage: 0.9,
  drivers: [
    { metric: 's11', rise: 3.24 },
    { metric: 's4', rise: -2.8 },
  ],
  as_of: '2026-03-01T10:00:00Z',
  rul_seconds: 3 * 86400 + 4 * 3600,
  rul_lower_seconds: 5 * 3600 + 59 * 60,
  rul_upper_seconds: 9 * 86400,
};

class Models extends Client {
  paths: string[] = [];
  get<T>(path: string): Promise<T> {
    this.paths.push(path);
    return Promise.resolve({ version: 5, validation_rmse_seconds: 21.4 * 3600, validation_coverage: 0.88, coverage: 0.9 } as T);
  }
}

async function show(role: string, lang: Lang = 'en', e: typeof ev = ev) {
  const client = new Models();
  const root = document.createElement('div');
  render(
    <LangContext.Provider value={{ lang, setLang: () => {} }}>
      <QueryClientProvider client={new QueryClient()}>
        <ClientContext.Provider value={client}>
          <FleetEvidence ev={e} user={{ id: 'u', name: 'n', role } as User} />
        </ClientContext.Provider>
      </QueryClientProvider>
    </LangContext.Provider>,
    root,
  );
  for (let i = 0; i < 100 && role !== 'engineer' && !root.querySelector('[data-testid="fleet-validation"]'); i++) await new Promise((r) => setTimeout(r, 5));
  return { root, client };
}

describe('a fleet order as a planner reads it', () => {
  it('shows the remaining life, its interval, the model it came from and that model’s validation', async () => {
    const { root, client } = await show('planner');
    expect(root.querySelector('[data-testid="fleet-rul"]')?.textContent).toBe('3d 4h');
    expect(root.textContent).toContain('90 % interval: 5h 59m to 9d');
    const link = root.querySelector('[data-testid="fleet-model-link"]');
    expect(link?.getAttribute('href')).toBe('/asset-types/pump');
    expect(link?.textContent).toContain('model v4');
    expect(client.paths).toEqual(['/asset-types/pump/model']);
    expect(root.querySelector('[data-testid="fleet-validation"]')?.textContent).toBe(
      'Latest model v5 in validation: error (RMSE) 21h 24m; its 90 % intervals held 88 % of the time',
    );
  });

  it('names the metrics that drive the estimate and the interval’s coverage, in both languages', async () => {
    const { root } = await show('engineer');
    expect(root.querySelector('[data-testid="fleet-drivers"]')?.textContent).toBe('Driven by: s11 +3.2σ, s4 −2.8σ');
    expect(root.querySelector('[data-testid="fleet-as-of"]')?.textContent).toContain('ridge model');
    const zh = (await show('engineer', 'zh-CN')).root;
    expect(zh.querySelector('[data-testid="fleet-drivers"]')?.textContent).toBe('主要驱动指标：s11 +3.2σ、s4 −2.8σ');
    expect(zh.textContent).toContain('90% 区间');
    const eighty = (await show('engineer', 'en', { ...ev, coverage: 0.8, drivers: [] })).root;
    expect(eighty.textContent).toContain('80 % interval: 5h 59m to 9d');
    expect(eighty.querySelector('[data-testid="fleet-drivers"]')).toBeNull();
  });

  it('asks nothing an engineer may not read', async () => {
    const { root, client } = await show('engineer');
    expect(client.paths).toEqual([]);
    expect(root.querySelector('[data-testid="fleet-rul"]')?.textContent).toBe('3d 4h');
    expect(root.querySelector('[data-testid="fleet-validation"]')).toBeNull();
  });
});

describe('a metric prediction’s status', () => {
  it('is said in words in both languages, an unknown one as the API says it', () => {
    const t = (lang: Lang) => (k: never) => translate(consoleMessages, lang, k);
    expect(predictionStatus(t('en') as never, 'crossing_receding')).toBe('Crossing moving away');
    expect(predictionStatus(t('zh-CN') as never, 'beyond_horizon')).toBe('超出预测范围');
    expect(predictionStatus(t('en') as never, 'ok')).toBe('Predicting');
    expect(predictionStatus(t('en') as never, 'new_gate')).toBe('new_gate');
  });
});

describe('a trend order’s remaining life', () => {
  it('reads as a duration, not as the Go string the evidence holds', () => {
    expect(readableLife('24h49m23.378669883s', 'en')).toBe('1d 49m');
    expect(readableLife('24h49m23.378669883s', 'zh-CN')).not.toContain('23.378');
    expect(readableLife(undefined, 'en')).toBe('—');
  });
});
