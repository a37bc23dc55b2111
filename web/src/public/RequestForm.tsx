// The request form: a customer describes a fault, leaves a way to reach
// them and may add photos; the answer is the status link to keep.
import { useEffect, useState } from 'preact/hooks';
import type { components } from '../api/schema';
import { ApiError } from '../lib/api';
import { call } from './fetch';
import { useI18n } from './i18n';
import { NotFound } from './NotFound';

type Form = components['schemas']['RequestForm'];
type Created = components['schemas']['RequestCreated'];

export function RequestForm({ site, asset }: { site: string; asset: string }) {
  const { t, lang } = useI18n();
  const [form, setForm] = useState<Form | null>(null);
  const [missing, setMissing] = useState(false);
  const [chosen, setChosen] = useState(asset);
  const [err, setErr] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<Created | null>(null);

  useEffect(() => {
    const path = '/public/forms/' + encodeURIComponent(site) + (asset ? '/' + encodeURIComponent(asset) : '');
    call<Form>('GET', path).then(setForm, (e: unknown) => {
      if (e instanceof ApiError && (e.status === 404 || e.status === 400)) setMissing(true);
      else setErr(e instanceof ApiError ? e : new ApiError(0, 'network', String(e)));
    });
  }, [site, asset]);

  if (missing) return <NotFound what="form" />;
  if (done) {
    const url = new URL(done.status_url, location.origin);
    return (
      <section class="pub-card" data-testid="request-sent">
        <h1>{t('form.sent', { number: done.number })}</h1>
        <p>{t('form.followHint')}</p>
        <p>
          <a class="pub-button" href={url.pathname} data-testid="status-link">
            {t('form.follow')}
          </a>
        </p>
        <p class="pub-muted pub-break">{url.href}</p>
      </section>
    );
  }
  if (!form) return <section class="pub-card">{err ? t('error.generic') : '…'}</section>;

  const fieldErr = (name: string) => err?.fieldMessage(name);
  const submit = async (ev: Event) => {
    ev.preventDefault();
    const el = ev.currentTarget as HTMLFormElement;
    const data = new FormData(el);
    data.set('site', site);
    data.set('asset', chosen);
    data.set('requester.locale', lang);
    for (const [k, v] of [...data.entries()]) if (k === 'photos' && v instanceof File && v.size === 0) data.delete(k);
    setBusy(true);
    setErr(null);
    try {
      setDone(await call<Created>('POST', '/public/requests', data));
    } catch (e) {
      setErr(e instanceof ApiError ? e : new ApiError(0, 'network', String(e)));
    } finally {
      setBusy(false);
    }
  };
  const F = ({ name, label, children, hint }: { name: string; label: string; children: preact.ComponentChildren; hint?: string }) => (
    <label class={'pub-field' + (fieldErr(name) ? ' pub-invalid' : '')}>
      <span>{label}</span>
      {children}
      {hint && <small class="pub-muted">{hint}</small>}
      {fieldErr(name) && (
        <small class="pub-error" data-field={name}>
          {fieldErr(name)}
        </small>
      )}
    </label>
  );
  return (
    <section class="pub-card">
      <h1>{t('form.title')}</h1>
      <p class="pub-muted">
        {t('form.site')}: <strong>{form.site_name}</strong>
        {form.asset_name && (
          <>
            {' · '}
            {t('form.asset')}: <strong>{form.asset_name}</strong>
          </>
        )}
      </p>
      <form onSubmit={submit} noValidate>
        {!asset && (
          <F name="asset" label={t('form.asset')}>
            <select value={chosen} onChange={(e) => setChosen((e.currentTarget as HTMLSelectElement).value)} name="asset-choice">
              <option value="">{t('form.assetUnknown')}</option>
              {(form.assets ?? []).map((a) => (
                <option key={a.code} value={a.code}>
                  {a.name} ({a.code})
                </option>
              ))}
            </select>
          </F>
        )}
        <F name="description" label={t('form.description')} hint={t('form.descriptionHint')}>
          <textarea name="description" rows={5} maxLength={5000} required />
        </F>
        <F name="requester.name" label={t('form.name')}>
          <input name="requester.name" autoComplete="name" maxLength={200} />
        </F>
        <F name="requester.email" label={t('form.email')} hint={t('form.contactHint')}>
          <input name="requester.email" type="email" autoComplete="email" maxLength={254} />
        </F>
        <F name="requester.phone" label={t('form.phone')}>
          <input name="requester.phone" type="tel" autoComplete="tel" maxLength={40} />
        </F>
        <F name="photos" label={t('form.photos')}>
          <input name="photos" type="file" accept="image/jpeg,image/png,image/gif,image/webp" multiple />
        </F>
        {err && (
          <p class="pub-error" role="alert">
            {err.status === 429 ? t('form.rateLimited') : err.fields.length ? t('form.error') : t('error.generic')}
          </p>
        )}
        <button class="pub-button" type="submit" disabled={busy} data-testid="submit">
          {busy ? t('form.sending') : t('form.submit')}
        </button>
      </form>
    </section>
  );
}
