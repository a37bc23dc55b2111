import { useState } from 'preact/hooks';
import { languages } from '../i18n';
import { useI18n } from './i18n';
import { useClient } from '../lib/client';
import { ApiError } from '../lib/api';
import type { Session, User } from '../api/types';

export function SignIn({ onSignedIn, dialog = false }: { onSignedIn: (u: User) => void; dialog?: boolean }) {
  const { t, lang, setLang } = useI18n();
  const client = useClient();
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const s = await client.post<Session>('/session', { token: token.trim() });
      setToken('');
      onSignedIn(s.user as User);
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.fieldMessage('token'))) setError(t('signin.failed'));
      else setError(t('common.error', { message: err instanceof Error ? err.message : String(err) }));
    } finally {
      setBusy(false);
    }
  };

  const form = (
    <form class="signin card" onSubmit={submit} aria-labelledby="signin-title">
      <div class="brand">
        <span class="logo" aria-hidden="true" />
        <span>pdm</span>
        <span class="muted small">{t('app.tagline')}</span>
      </div>
      <h1 id="signin-title">{t('signin.title')}</h1>
      {dialog && <p class="notice">{t('signin.expired')}</p>}
      <label for="token">{t('signin.token')}</label>
      <input
        id="token"
        name="token"
        type="password"
        autocomplete="current-password"
        required
        value={token}
        onInput={(e) => setToken((e.target as HTMLInputElement).value)}
        aria-invalid={error ? 'true' : undefined}
        aria-describedby="token-help token-error"
      />
      <p id="token-help" class="muted small">{t('signin.tokenHelp')}</p>
      {error && (
        <p id="token-error" class="field-error" role="alert">
          {error}
        </p>
      )}
      <div class="row between">
        <select aria-label={t('nav.language')} value={lang} onChange={(e) => setLang((e.target as HTMLSelectElement).value as typeof lang)}>
          {languages.map((l) => (
            <option value={l.code}>{l.label}</option>
          ))}
        </select>
        <button type="submit" class="primary" disabled={busy || token.trim() === ''}>
          {t('signin.submit')}
        </button>
      </div>
    </form>
  );
  if (dialog) {
    return (
      <div class="overlay" role="dialog" aria-modal="true">
        {form}
      </div>
    );
  }
  return <main class="signin-page">{form}</main>;
}
