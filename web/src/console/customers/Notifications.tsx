// Notification settings: where planners' notifications go (email, WeCom,
// DingTalk, Slack) and of which kinds, and the outbox with each message's
// delivery state, and the messages' templates (Templates.tsx); each
// subscription picks its language.
import { useState } from 'preact/hooks';
import { useQuery, useQueryClient } from '@tanstack/preact-query';
import { useI18n, type ConsoleKey } from '../i18n';
import { useClient } from '../../lib/client';
import { formatDateTime } from '../../lib/format';
import type { ApiError } from '../../lib/api';
import type { components } from '../../api/schema';
import { Templates } from './Templates';

type Sub = components['schemas']['NotificationSubscription'];
type Msg = Required<components['schemas']['Notification']>;

const kinds = ['new_proposed_order', 'sla_at_risk', 'sla_breached', 'request_received', 'engineer_assigned', 'en_route', 'completed'];
const chans: Sub['channel'][] = ['email', 'wecom', 'dingtalk', 'slack'];

export function Notifications({ admin }: { admin: boolean }) {
  const { t, lang } = useI18n();
  const client = useClient();
  const qc = useQueryClient();
  const subs = useQuery({ queryKey: ['notify-subs'], queryFn: () => client.get<{ items: Sub[] }>('/notifications/subscriptions').then((r) => r.items) });
  const outbox = useQuery({
    queryKey: ['notify-outbox'],
    queryFn: () => client.get<{ items: Msg[] }>('/notifications/outbox').then((r) => r.items),
    enabled: admin,
    refetchInterval: 10_000,
  });
  const [channel, setChannel] = useState<Sub['channel']>('email');
  const [target, setTarget] = useState('');
  const [locale, setLocale] = useState<'en' | 'zh-CN'>(lang);
  const [picked, setPicked] = useState<string[]>([]);
  const [err, setErr] = useState('');
  const add = async (e: Event) => {
    e.preventDefault();
    setErr('');
    try {
      await client.post('/notifications/subscriptions', { channel, target, locale, kinds: picked, active: true });
      setTarget('');
      void qc.invalidateQueries({ queryKey: ['notify-subs'] });
    } catch (x) {
      const ae = x as ApiError;
      setErr(ae.fields?.map((f) => `${f.field}: ${f.message}`).join('; ') || ae.message);
    }
  };
  const remove = async (id: string) => {
    await client.delete(`/notifications/subscriptions/${id}`);
    void qc.invalidateQueries({ queryKey: ['notify-subs'] });
  };
  return (
    <section class="page">
      <h1>{t('notify.title')}</h1>
      <p class="muted">{t('notify.templates')}</p>
      {subs.error && <p class="notice">{t('common.error', { message: (subs.error as Error).message })}</p>}
      <div class="table-wrap">
        <table class="table" data-testid="subscriptions">
          <thead>
            <tr>
              <th>{t('notify.channel')}</th>
              <th>{t('notify.target')}</th>
              <th>{t('notify.kinds')}</th>
              <th>{t('notify.locale')}</th>
              {admin && <th />}
            </tr>
          </thead>
          <tbody>
            {(subs.data ?? []).map((s) => (
              <tr>
                <td>{s.channel}</td>
                <td>{s.target}</td>
                <td>{s.kinds && s.kinds.length ? s.kinds.map((k) => (k === '*' ? '*' : t(`kind.${k}` as ConsoleKey))).join(', ') : t('notify.defaultKinds')}</td>
                <td>{s.locale}</td>
                {admin && (
                  <td>
                    <button type="button" class="ghost" onClick={() => void remove(s.id ?? '')}>
                      {t('notify.remove')}
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {admin && (
        <form class="panel" onSubmit={add} style={{ marginTop: '1rem' }} data-testid="add-subscription">
          <h2>{t('notify.add')}</h2>
          <div class="row">
            <select aria-label={t('notify.channel')} value={channel} onChange={(e) => setChannel((e.target as HTMLSelectElement).value as Sub['channel'])}>
              {chans.map((c) => (
                <option value={c}>{c}</option>
              ))}
            </select>
            <input aria-label={t('notify.target')} value={target} required maxLength={500} size={40}
              placeholder={channel === 'email' ? 'planner@example.com' : 'https://…'} onInput={(e) => setTarget((e.target as HTMLInputElement).value)} />
            <select aria-label={t('notify.locale')} value={locale} onChange={(e) => setLocale((e.target as HTMLSelectElement).value as 'en' | 'zh-CN')}>
              <option value="en">English</option>
              <option value="zh-CN">中文</option>
            </select>
          </div>
          <fieldset class="row">
            <legend class="muted small">{t('notify.kinds')}</legend>
            {kinds.map((k) => (
              <label>
                <input type="checkbox" checked={picked.includes(k)}
                  onChange={(e) => setPicked((p) => ((e.target as HTMLInputElement).checked ? [...p, k] : p.filter((x) => x !== k)))} /> {t(`kind.${k}` as ConsoleKey)}
              </label>
            ))}
          </fieldset>
          <button type="submit">{t('notify.addButton')}</button>
          {err && (
            <p class="notice" role="alert">
              {err}
            </p>
          )}
        </form>
      )}
      <Templates admin={admin} />
      {admin && (
        <>
          <h2>{t('notify.outbox')}</h2>
          <div class="table-wrap">
            <table class="table" data-testid="outbox">
              <thead>
                <tr>
                  <th>{t('notify.when')}</th>
                  <th>{t('notify.kinds')}</th>
                  <th>{t('notify.target')}</th>
                  <th>{t('notify.subject')}</th>
                  <th>{t('notify.state')}</th>
                </tr>
              </thead>
              <tbody>
                {(outbox.data ?? []).map((m) => (
                  <tr>
                    <td>{formatDateTime(m.created_at, lang)}</td>
                    <td>{t(`kind.${m.kind}` as ConsoleKey)}</td>
                    <td>{m.target}</td>
                    <td>{m.subject || m.text.split('\n')[0]}</td>
                    <td title={m.last_error}>
                      <span class="badge">{m.status}</span> {m.attempts > 1 ? `×${m.attempts}` : ''}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}
