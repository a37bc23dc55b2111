// Every asset, searched by code, name or type; each opens its page.
import { useMemo, useState } from 'preact/hooks';
import { Link } from 'wouter-preact';
import { useI18n } from '../i18n';
import { useAssets } from '../../lib/queries';

export function AssetList() {
  const { t } = useI18n();
  const assets = useAssets();
  const [q, setQ] = useState('');
  const rows = useMemo(() => {
    const all = [...(assets.data?.values() ?? [])];
    const n = q.trim().toLowerCase();
    const hit = n ? all.filter((a) => [a.code, a.name, a.type].some((v) => (v ?? '').toLowerCase().includes(n))) : all;
    return hit.sort((a, b) => (a.code ?? '').localeCompare(b.code ?? ''));
  }, [assets.data, q]);
  return (
    <section class="page" aria-labelledby="assets-title">
      <h1 id="assets-title">{t('assets.title')}</h1>
      <div class="filters">
        <label>
          {t('assets.search')}
          <input type="search" value={q} onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
        </label>
      </div>
      {rows.length === 0 && !assets.isPending ? (
        <p class="muted">{t('assets.empty')}</p>
      ) : (
        <table class="table">
          <thead>
            <tr>
              <th>{t('assets.col.code')}</th>
              <th>{t('assets.col.name')}</th>
              <th>{t('assets.col.type')}</th>
              <th>{t('assets.col.crit')}</th>
            </tr>
          </thead>
          <tbody>
            {rows.slice(0, 2000).map((a) => (
              <tr key={a.id}>
                <td>
                  <Link href={`/assets/${a.id}`}>{a.code}</Link>
                </td>
                <td>{a.name}</td>
                <td>{a.type}</td>
                <td>{a.criticality}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
