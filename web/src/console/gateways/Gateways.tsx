// Gateways: every edge gateway with its retained status, its assets, the
// config the platform published and the gateway's answer; planners edit
// the config (validated by the server as the agent would, then published
// on the retained config topic).
import { useState } from 'preact/hooks';
import { Link } from 'wouter-preact';
import { useQuery, useQueryClient } from '@tanstack/preact-query';
import { useI18n } from '../i18n';
import { useClient } from '../../lib/client';
import { ApiError } from '../../lib/api';
import { formatDateTime } from '../../lib/format';
import type { List, User } from '../../api/types';
import { byAttention, draftOf, healthOf, parseDraft, type Gateway } from './gateways';

/** The gateways list, refreshed every 15 s (counters change without a live event). */
export function useGateways() {
  const client = useClient();
  return useQuery({
    queryKey: ['gateways'],
    queryFn: async () => (await client.get<List<Gateway>>('/gateways')).items ?? [],
    refetchInterval: 15_000,
  });
}

export function Gateways({ user }: { user: User }) {
  const { t, lang } = useI18n();
  const list = useGateways();
  const [open, setOpen] = useState<string>('');
  const rows = [...(list.data ?? [])].sort(byAttention);
  const alerts = rows.filter((g) => healthOf(g) === 'alert').length;
  const editable = user.role === 'admin' || user.role === 'planner';
  const current = rows.find((g) => g.id === open);
  return (
    <section class="page" aria-labelledby="gw-title">
      <h1 id="gw-title">{t('gw.title')}</h1>
      {alerts > 0 && (
        <p class="field-error" role="alert" data-testid="gw-alerts">
          {t('gw.alerts', { n: alerts })}
        </p>
      )}
      {rows.length === 0 && !list.isPending && <p class="muted">{t('gw.empty')}</p>}
      {rows.length > 0 && (
        <table class="table">
          <thead>
            <tr>
              <th scope="col">{t('gw.col.gateway')}</th>
              <th scope="col">{t('gw.col.site')}</th>
              <th scope="col">{t('gw.col.state')}</th>
              <th scope="col">{t('gw.col.queue')}</th>
              <th scope="col">{t('gw.col.version')}</th>
              <th scope="col">{t('gw.col.config')}</th>
              <th scope="col">{t('gw.col.assets')}</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((g) => {
              const h = healthOf(g);
              const since = formatDateTime(g.state_since, lang);
              return (
                <tr key={g.id} data-gateway={g.code} class={open === g.id ? 'cursor' : ''}>
                  <td>
                    <button type="button" class="ghost" onClick={() => setOpen(open === g.id ? '' : (g.id ?? ''))} aria-expanded={open === g.id}>
                      {g.code}
                    </button>
                  </td>
                  <td title={g.site_id ? '' : t('gw.unknownSite')}>{g.site_code}</td>
                  <td class={h === 'online' ? '' : 'danger'} data-testid="gw-state" data-state={h}>
                    {h === 'alert' ? t('gw.alert', { t: formatDateTime(g.alert_since, lang) }) : t(h === 'online' ? 'gw.online' : 'gw.offline', { t: since })}
                  </td>
                  <td>
                    {g.buffered} / {g.dropped}
                  </td>
                  <td>{g.version}</td>
                  <td data-testid="gw-config" data-config={g.config_state}>
                    {t(`gw.config.${g.config_state ?? 'none'}` as 'gw.config.none')}
                    {g.config_error && <div class="danger">{t('gw.agentError', { e: g.config_error })}</div>}
                  </td>
                  <td>
                    {(g.assets ?? []).map((a, i) => (
                      <>
                        {i > 0 && ', '}
                        {a.id ? <Link href={`/assets/${a.id}`}>{a.code}</Link> : a.code}
                      </>
                    ))}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {current && <ConfigEditor key={current.id + (current.config_sha256 ?? '')} gw={current} editable={editable} onClose={() => setOpen('')} />}
    </section>
  );
}

function ConfigEditor({ gw, editable, onClose }: { gw: Gateway; editable: boolean; onClose: () => void }) {
  const { t, lang } = useI18n();
  const client = useClient();
  const qc = useQueryClient();
  const [text, setText] = useState(() => draftOf(gw));
  const [err, setErr] = useState<ApiError>();
  const [jsonErr, setJsonErr] = useState('');
  const [busy, setBusy] = useState(false);
  const publish = async (e: Event) => {
    e.preventDefault();
    setErr(undefined);
    const d = parseDraft(text);
    if ('error' in d) {
      setJsonErr(d.error);
      return;
    }
    setJsonErr('');
    setBusy(true);
    try {
      const g = await client.put<Gateway>(`/gateways/${gw.id}/config`, d.value);
      qc.setQueryData<Gateway[]>(['gateways'], (old) => (old ?? []).map((x) => (x.id === g.id ? g : x)));
    } catch (x) {
      setErr(x as ApiError);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card" aria-labelledby="gw-edit-title" data-testid="gw-editor">
      <h2 id="gw-edit-title">{t('gw.edit', { gw: `${gw.site_code}/${gw.code}` })}</h2>
      <p class="muted">{t('gw.edit.help')}</p>
      <form onSubmit={publish}>
        <textarea
          id="gw-config-text"
          aria-label={t('gw.edit', { gw: gw.code ?? '' })}
          rows={18}
          style="width:100%;font-family:monospace"
          value={text}
          readOnly={!editable}
          aria-invalid={!!err || !!jsonErr}
          aria-describedby="gw-config-errors"
          onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
        />
        <div id="gw-config-errors">
          {jsonErr && (
            <p class="field-error" role="alert">
              {t('gw.badJson', { e: jsonErr })}
            </p>
          )}
          {err && (
            <ul class="field-error" role="alert" data-testid="gw-errors">
              {err.fields.length === 0 && <li>{err.message}</li>}
              {err.fields.map((f) => (
                <li data-field={f.field}>
                  <code>{f.field}</code>: {f.message}
                </li>
              ))}
            </ul>
          )}
        </div>
        {gw.config_published_at && (
          <p role="status">
            {t('gw.published', { t: formatDateTime(gw.config_published_at, lang) })} {t(`gw.config.${gw.config_state ?? 'none'}` as 'gw.config.none')}
          </p>
        )}
        <div class="actions">
          {editable && (
            <button type="submit" disabled={busy}>
              {t('gw.publish')}
            </button>
          )}
          <button type="button" class="ghost" onClick={onClose}>
            {t('gw.close')}
          </button>
        </div>
      </form>
    </section>
  );
}
