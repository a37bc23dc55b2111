// Rules: the list, and an editor whose draft can be replayed over the last
// 30 days (POST /rules/backtest) and plotted on an asset's history before
// it is saved.
import { useMemo, useState } from 'preact/hooks';
import { useQuery, useQueryClient } from '@tanstack/preact-query';
import { useI18n } from '../i18n';
import { useClient } from '../../lib/client';
import { ApiError } from '../../lib/api';
import { fetchAll, useAssets } from '../../lib/queries';
import { FieldError } from '../ui';
import { Chart, type Limit, type Marker } from '../Chart';

interface Rule {
  id: string;
  name: string;
  metric: string;
  asset_type?: string;
  asset_id?: string | null;
  warn?: number | null;
  critical?: number | null;
  for?: string;
  verify_for?: string;
  enabled?: boolean;
  [k: string]: unknown;
}
interface Backtest {
  signals?: { asset?: string; asset_id?: string; detected_at?: string; level?: string }[];
  orders?: unknown[];
}

export function Rules() {
  const { t } = useI18n();
  const client = useClient();
  const rules = useQuery({ queryKey: ['rules', 'all'], queryFn: () => fetchAll<Rule>(client, '/rules') });
  const [open, setOpen] = useState<Rule | null>(null);
  return (
    <section class="page" aria-labelledby="rules-title">
      <h1 id="rules-title">{t('rules.title')}</h1>
      {(rules.data ?? []).length === 0 && !rules.isPending && <p class="muted">{t('rules.empty')}</p>}
      <table class="table">
        <tbody>
          {(rules.data ?? []).map((r) => (
            <tr key={r.id} class={open?.id === r.id ? 'cursor' : ''}>
              <td>
                <button type="button" class="ghost" onClick={() => setOpen(r)}>
                  {r.name}
                </button>
              </td>
              <td>{r.metric}</td>
              <td>{r.asset_type ?? ''}</td>
              <td>
                {r.warn ?? '—'} / {r.critical ?? '—'}
              </td>
              <td>{r.enabled ? '✓' : '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {open && <RuleEditor key={open.id} rule={open} />}
    </section>
  );
}

function num(v: string): number | null {
  const n = parseFloat(v);
  return Number.isFinite(n) ? n : null;
}

function RuleEditor({ rule }: { rule: Rule }) {
  const { t } = useI18n();
  const client = useClient();
  const qc = useQueryClient();
  const assets = useAssets();
  const [draft, setDraft] = useState<Rule>(rule);
  const [err, setErr] = useState<ApiError>();
  const [flash, setFlash] = useState('');
  const [bt, setBt] = useState<Backtest>();
  const candidates = useMemo(
    () => [...(assets.data?.values() ?? [])].filter((a) => (rule.asset_id ? a.id === rule.asset_id : a.type === rule.asset_type)),
    [assets.data],
  );
  const [assetId, setAssetId] = useState('');
  const shown = assetId || candidates[0]?.id || '';
  const [now] = useState(() => Math.floor(Date.now() / 1000));
  const from = now - 30 * 86400;
  const tel = useQuery({
    queryKey: ['asset', shown, 'telemetry', rule.metric, from, now],
    queryFn: () =>
      client.get<{ items: { metric: string; points: { ts: string; value: number }[] }[] }>(`/assets/${shown}/telemetry`, {
        metric: rule.metric,
        from: new Date(from * 1000).toISOString(),
        to: new Date(now * 1000).toISOString(),
        max_points: 3000,
      }),
    enabled: !!shown && !!bt,
  });
  const pts = tel.data?.items?.find((s) => s.metric === rule.metric)?.points ?? [];
  const data = useMemo<[number[], number[]]>(() => [pts.map((p) => Date.parse(p.ts) / 1000), pts.map((p) => p.value)], [tel.data]);
  const a = assets.data?.get(shown);
  const limits: Limit[] = [];
  if (draft.warn != null) limits.push({ value: draft.warn, label: t('order.warn', { v: draft.warn }), color: '#c98a00' });
  if (draft.critical != null) limits.push({ value: draft.critical, label: t('order.critical', { v: draft.critical }), color: '#c0392b' });
  const markers: Marker[] = (bt?.signals ?? [])
    .filter((s) => s.asset_id === shown || (a && s.asset === a.code))
    .map((s) => ({ t: Date.parse(s.detected_at ?? '') / 1000, label: s.level ?? '', color: '#6c5ce7' }));

  const body = () => {
    const { id: _id, created_at: _c, updated_at: _u, ...rest } = draft as Rule & { created_at?: string; updated_at?: string };
    return rest;
  };
  const preview = async () => {
    setErr(undefined);
    try {
      setBt(await client.post<Backtest>('/rules/backtest', { rule: body(), from: new Date(from * 1000).toISOString(), to: new Date(now * 1000).toISOString() }));
    } catch (x) {
      setErr(x as ApiError);
    }
  };
  const save = async (e: Event) => {
    e.preventDefault();
    setErr(undefined);
    try {
      await client.put(`/rules/${rule.id}`, body());
      setFlash(t('rules.saved', { name: draft.name }));
      void qc.invalidateQueries({ queryKey: ['rules'] });
    } catch (x) {
      setErr(x as ApiError);
    }
  };
  const field = (k: 'warn' | 'critical', label: string) => (
    <label>
      {label}
      <input inputMode="decimal" value={draft[k] ?? ''} onInput={(e) => setDraft({ ...draft, [k]: num((e.target as HTMLInputElement).value) })} />
      <FieldError err={err} field={k} />
    </label>
  );
  return (
    <section class="card" aria-labelledby="rule-edit-title">
      <h2 id="rule-edit-title">{t('rules.edit', { name: rule.name })}</h2>
      <form onSubmit={save} class="filters">
        {field('warn', t('rules.warn'))}
        {field('critical', t('rules.critical'))}
        <label>
          {t('rules.for')}
          <input value={draft.for ?? ''} onInput={(e) => setDraft({ ...draft, for: (e.target as HTMLInputElement).value })} />
          <FieldError err={err} field="for" />
        </label>
        <label>
          {t('rules.verifyFor')}
          <input
            value={draft.verify_for ?? ''}
            placeholder="24h"
            onInput={(e) => {
              const v = (e.target as HTMLInputElement).value.trim();
              const { verify_for: _v, ...rest } = draft;
              setDraft(v ? { ...rest, verify_for: v } : rest);
            }}
          />
          <FieldError err={err} field="verify_for" />
        </label>
        <label>
          <input type="checkbox" checked={!!draft.enabled} onChange={(e) => setDraft({ ...draft, enabled: (e.target as HTMLInputElement).checked })} /> {t('rules.enabled')}
        </label>
        <button type="button" class="ghost" onClick={preview}>
          {t('rules.preview')}
        </button>
        <button type="submit">{t('rules.save')}</button>
      </form>
      {err && err.fields.length === 0 && (
        <p class="field-error" role="alert">
          {err.message}
        </p>
      )}
      {flash && <p role="status">{flash}</p>}
      {bt && (
        <>
          <p role="status">{t('rules.result', { signals: bt.signals?.length ?? 0, orders: bt.orders?.length ?? 0 })}</p>
          <label>
            {t('rules.asset')}
            <select value={shown} onChange={(e) => setAssetId((e.target as HTMLSelectElement).value)}>
              {candidates.map((c) => (
                <option value={c.id}>{c.code}</option>
              ))}
            </select>
          </label>
          {data[0].length > 0 && (
            <Chart label={t('rules.chart', { metric: rule.metric, asset: a?.code ?? '' })} data={data} series={[{ label: rule.metric, color: '#2d6cdf' }]} limits={limits} markers={markers} height={260} />
          )}
        </>
      )}
    </section>
  );
}
