// Notification templates: what each kind of message says per language and
// channel (email: subject, plain text, HTML; chat: one text). Planners see
// them and preview drafts; administrators save and reset them. The server
// checks a draft against a sample order and names every failing part.
import { useEffect, useState } from 'preact/hooks';
import { useQuery, useQueryClient } from '@tanstack/preact-query';
import { useI18n, type ConsoleKey } from '../i18n';
import { useClient } from '../../lib/client';
import { formatDateTime } from '../../lib/format';
import type { ApiError } from '../../lib/api';
import type { components } from '../../api/schema';

type Tmpl = components['schemas']['NotificationTemplate'];
type Preview = components['schemas']['NotificationPreview'];

const kinds = [
  'request_received', 'engineer_assigned', 'en_route', 'completed', 'new_proposed_order', 'sla_at_risk', 'sla_breached',
  'transfer_proposed', 'mention', 'help_requested', 'job_transferred',
];

type Draft = { subject: string; text: string; html: string };
const draftOf = (t: Tmpl | undefined): Draft => ({ subject: t?.subject ?? '', text: t?.text ?? '', html: t?.html ?? '' });

export function Templates({ admin }: { admin: boolean }) {
  const { t, lang } = useI18n();
  const client = useClient();
  const qc = useQueryClient();
  const all = useQuery({
    queryKey: ['notify-templates'],
    queryFn: () => client.get<{ items: Tmpl[] }>('/notifications/templates').then((r) => r.items),
  });
  const [kind, setKind] = useState(kinds[0]);
  const [locale, setLocale] = useState<Tmpl['locale']>(lang);
  const [channel, setChannel] = useState<Tmpl['channel']>('email');
  const cur = all.data?.find((x) => x.kind === kind && x.locale === locale && x.channel === channel);
  const [draft, setDraft] = useState<Draft>(draftOf(cur));
  const [errs, setErrs] = useState<Record<string, string>>({});
  const [msg, setMsg] = useState('');
  const [preview, setPreview] = useState<Preview | null>(null);
  // A new selection (or a reload after saving) starts from what is stored.
  useEffect(() => {
    setDraft(draftOf(cur));
    setErrs({});
    setPreview(null);
  }, [kind, locale, channel, cur?.updated_at, cur?.custom, all.dataUpdatedAt]);
  const path = `/notifications/templates/${kind}/${locale}/${channel}`;
  const body = () => (channel === 'email' ? draft : { text: draft.text });
  const failed = (x: unknown) => {
    const ae = x as ApiError;
    const fs: Record<string, string> = {};
    for (const f of ae.fields ?? []) fs[f.field] = f.message;
    setErrs(fs);
    setMsg(ae.fields?.length ? t('tmpl.invalid') : ae.message);
  };
  const run = async (what: 'preview' | 'save' | 'reset') => {
    setErrs({});
    setMsg('');
    try {
      if (what === 'preview') {
        setPreview(await client.post<Preview>(`${path}/preview`, body()));
        return;
      }
      if (what === 'save') await client.put<Tmpl>(path, body());
      else await client.delete<Tmpl>(path);
      setMsg(t(what === 'save' ? 'tmpl.saved' : 'tmpl.resetDone'));
      await qc.invalidateQueries({ queryKey: ['notify-templates'] });
    } catch (x) {
      failed(x);
    }
  };
  const field = (name: keyof Draft, rows: number) => (
    <label style={{ display: 'grid', gap: '0.25rem', marginBottom: '0.6rem' }}>
      <strong class="small">{t(`tmpl.${name}`)}</strong>
      {rows === 1 ? (
        <input value={draft[name]} readOnly={!admin} maxLength={500} aria-invalid={!!errs[name]} style={{ width: '100%' }}
          onInput={(e) => setDraft((d) => ({ ...d, [name]: (e.target as HTMLInputElement).value }))} />
      ) : (
        <textarea rows={rows} value={draft[name]} readOnly={!admin} aria-invalid={!!errs[name]}
          placeholder={name === 'html' ? t('tmpl.htmlEmpty') : undefined} style={{ fontFamily: 'monospace', width: '100%' }}
          onInput={(e) => setDraft((d) => ({ ...d, [name]: (e.target as HTMLTextAreaElement).value }))} />
      )}
      {errs[name] && (
        <span class="notice small" role="alert" data-field={name}>
          {errs[name]}
        </span>
      )}
    </label>
  );
  return (
    <section data-testid="templates">
      <h2>{t('tmpl.title')}</h2>
      <p class="muted small">{t('tmpl.help')}</p>
      {all.error && <p class="notice">{t('common.error', { message: (all.error as Error).message })}</p>}
      <div class="row">
        <select aria-label={t('notify.kinds')} value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value)}>
          {kinds.map((k) => (
            <option value={k}>{t(`kind.${k}` as ConsoleKey)}</option>
          ))}
        </select>
        <select aria-label={t('notify.locale')} value={locale} onChange={(e) => setLocale((e.target as HTMLSelectElement).value as Tmpl['locale'])}>
          <option value="en">English</option>
          <option value="zh-CN">中文</option>
        </select>
        <select aria-label={t('notify.channel')} value={channel} onChange={(e) => setChannel((e.target as HTMLSelectElement).value as Tmpl['channel'])}>
          <option value="email">{t('tmpl.email')}</option>
          <option value="chat">{t('tmpl.chat')}</option>
        </select>
        {cur && (
          <span class="badge" data-testid="template-state">
            {cur.custom ? t('tmpl.custom') : t('tmpl.default')}
          </span>
        )}
        {cur?.custom && cur.updated_at && <span class="muted small">{formatDateTime(cur.updated_at, lang)}</span>}
      </div>
      {cur?.outdated && <p class="notice">{t('tmpl.outdated', { version: String(cur.default_version ?? '') })}</p>}
      <div class="panel">
        {channel === 'email' && field('subject', 1)}
        {field('text', 10)}
        {channel === 'email' && field('html', 6)}
        {cur?.custom && cur.default && (
          <details data-testid="template-default">
            <summary class="muted small">{t('tmpl.showDefault')}</summary>
            {channel === 'email' && <pre style={{ whiteSpace: 'pre-wrap' }}>{cur.default.subject}</pre>}
            <pre style={{ whiteSpace: 'pre-wrap' }}>{cur.default.text}</pre>
            {channel === 'email' && <pre style={{ whiteSpace: 'pre-wrap' }}>{cur.default.html}</pre>}
          </details>
        )}
        {errs.kind || errs.locale || errs.channel ? <p class="notice">{[errs.kind, errs.locale, errs.channel].filter(Boolean).join('; ')}</p> : null}
        <div class="row">
          <button type="button" onClick={() => void run('preview')}>
            {t('tmpl.preview')}
          </button>
          {admin && (
            <>
              <button type="button" onClick={() => void run('save')}>
                {t('tmpl.save')}
              </button>
              <button type="button" class="ghost" disabled={!cur?.custom} onClick={() => void run('reset')}>
                {t('tmpl.reset')}
              </button>
            </>
          )}
          {msg && <span role="status">{msg}</span>}
        </div>
      </div>
      {preview && (
        <div class="panel" data-testid="template-preview">
          <h3>{t('tmpl.previewTitle')}</h3>
          {channel === 'email' && (
            <p>
              <strong>{t('notify.subject')}:</strong> {preview.subject}
            </p>
          )}
          <pre style={{ whiteSpace: 'pre-wrap' }}>{preview.text}</pre>
          {channel === 'email' && preview.html && (
            // The HTML body in a sandbox: no scripts (the console's CSP
            // forbids inline ones too), forms, pop-ups or navigation.
            <iframe title={t('tmpl.html')} sandbox="allow-same-origin" srcdoc={preview.html} data-testid="template-html"
              style={{ width: '100%', minHeight: '16rem', border: '1px solid var(--line, #ccc)', background: '#fff' }} />
          )}
        </div>
      )}
    </section>
  );
}
