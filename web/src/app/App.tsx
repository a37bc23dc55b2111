import { useEffect, useMemo, useState } from 'preact/hooks';
import { useQuery, useQueryClient } from '@tanstack/preact-query';
import { Link, Route, Router, Switch } from 'wouter-preact';
import { LangContext, initialLang, langStorageKey, languages, type Lang, type LangState } from '../i18n';
import { useClient } from '../lib/client';
import { ApiError } from '../lib/api';
import type { Session, User } from '../api/types';
import { useI18n } from './i18n';
import { Outbox } from './outbox';
import { OutboxContext, useOnline, useOps, useOutbox } from './state';
import { getCached, putCached } from './db';
import { Tracker } from './location';
import { Jobs } from './Jobs';
import { Job } from './Job';
import { Scan, AssetJobs } from './Scan';
import { OutboxView } from './OutboxView';
import { Offers } from './Offers';
import { Mentions } from './Mentions';

export function App() {
  const [lang, setLangState] = useState<Lang>(() => initialLang(localStorage.getItem(langStorageKey), navigator.languages ?? [navigator.language]));
  const langState = useMemo<LangState>(() => ({ lang, setLang: (l) => (localStorage.setItem(langStorageKey, l), setLangState(l)) }), [lang]);
  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);
  const box = useMemo(() => new Outbox(), []);
  return (
    <LangContext.Provider value={langState}>
      <OutboxContext.Provider value={box}>
        <Root />
      </OutboxContext.Provider>
    </LangContext.Provider>
  );
}

function Root() {
  const client = useClient();
  const qc = useQueryClient();
  const box = useOutbox();
  const { t } = useI18n();
  const [expired, setExpired] = useState(false);
  // Who is signed in: the server's answer, else the one kept on the device
  // (offline starts must not ask for a sign-in the server cannot check).
  const me = useQuery<User | null, ApiError>({
    queryKey: ['me'],
    networkMode: 'always',
    retry: false,
    staleTime: 60_000,
    queryFn: async () => {
      // A kept identity opens the app at once; the server checks it in the
      // background (a 401 there asks for sign-in over the screen).
      const check = client.get<User>('/me').then(
        async (u) => (await putCached('/me', u), u),
        (e: unknown) => {
          if (e instanceof ApiError && e.status === 401) return null;
          if (e instanceof ApiError && e.status === 0) return undefined;
          throw e;
        },
      );
      const kept = (await getCached<User>('/me'))?.data;
      if (kept) {
        check.then((u) => u && qc.setQueryData(['me'], u), () => {});
        return kept;
      }
      const u = await check;
      return u === undefined ? null : u;
    },
  });
  useEffect(() => client.onUnauthorized(() => setExpired(true)), [client]);
  useEffect(() => box.subscribe(() => box.needsSignIn && setExpired(true)), [box]);

  // Replay on reconnect, at start and every 15 s while something waits.
  useEffect(() => {
    const tracker = new Tracker();
    tracker.start();
    const sync = () => {
      void box.flush().then(() => qc.invalidateQueries({ queryKey: ['kept'] }));
      void tracker.flush();
    };
    window.addEventListener('online', sync);
    const iv = setInterval(() => navigator.onLine && void box.flush(), 15_000);
    sync();
    return () => {
      window.removeEventListener('online', sync);
      clearInterval(iv);
      tracker.stop();
    };
  }, [box, qc]);

  const onSignedIn = (u: User) => {
    qc.setQueryData(['me'], u);
    void putCached('/me', u);
    setExpired(false);
    box.needsSignIn = false;
    void box.flush();
    void qc.invalidateQueries({ queryKey: ['kept'] });
  };
  if (me.isPending) return <div class="center muted">{t('common.loading')}</div>;
  if (!me.data) return <SignIn onSignedIn={onSignedIn} />;
  return (
    <Router base="/app">
      <Shell />
      {expired && <SignIn onSignedIn={onSignedIn} dialog />}
    </Router>
  );
}

function Shell() {
  const { t } = useI18n();
  return (
    <div class="app">
      <NetBar />
      <main class="content">
        <Switch>
          <Route path="/" component={Jobs} />
          <Route path="/jobs/:id">{(p) => <Job id={p.id} />}</Route>
          <Route path="/scan" component={Scan} />
          <Route path="/assets/:id">{(p) => <AssetJobs id={p.id} />}</Route>
          <Route path="/outbox" component={OutboxView} />
          <Route path="/offers" component={Offers} />
          <Route path="/mentions" component={Mentions} />
          <Route>
            <p class="muted">{t('notfound.title')}</p>
          </Route>
        </Switch>
      </main>
      <nav class="tabs" aria-label="pdm">
        <Link href="/">{t('nav.jobs')}</Link>
        <Link href="/offers">{t('nav.offers')}</Link>
        <Link href="/mentions">{t('nav.mentions')}</Link>
        <Link href="/scan">{t('nav.scan')}</Link>
        <Link href="/outbox">{t('nav.outbox')}</Link>
      </nav>
    </div>
  );
}

function NetBar() {
  const { t } = useI18n();
  const online = useOnline();
  const ops = useOps();
  const box = useOutbox();
  const pending = ops.filter((o) => o.state === 'pending').length;
  return (
    <header class={'netbar' + (online ? '' : ' offline')} data-testid="netbar" data-pending={pending} data-online={online ? '1' : '0'}>
      <span role="status">{online ? (pending ? t('net.pending', { n: pending }) : t('net.synced')) : t('net.offline')}</span>
      {!online && pending > 0 && <span class="badge">{t('net.pending', { n: pending })}</span>}
      {box.needsSignIn && <span class="badge warn">{t('net.signin')}</span>}
    </header>
  );
}

function SignIn({ onSignedIn, dialog = false }: { onSignedIn: (u: User) => void; dialog?: boolean }) {
  const { t, lang, setLang } = useI18n();
  const client = useClient();
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const submit = async (e: Event) => {
    e.preventDefault();
    setError('');
    try {
      const s = await client.post<Session>('/session', { token: token.trim() });
      setToken('');
      onSignedIn(s.user as User);
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.fieldMessage('token'))) setError(t('signin.failed'));
      else setError(t('common.error', { message: err instanceof Error ? err.message : String(err) }));
    }
  };
  const form = (
    <form class="sheet" onSubmit={submit}>
      <h1>{t('signin.title')}</h1>
      {dialog && <p class="notice">{t('signin.expired')}</p>}
      <label for="token">{t('signin.token')}</label>
      <input id="token" type="password" autocomplete="current-password" value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} />
      <p class="muted small">{t('signin.tokenHelp')}</p>
      {error && <p class="field-error" role="alert">{error}</p>}
      <div class="row between">
        <select aria-label={t('nav.language')} value={lang} onChange={(e) => setLang((e.target as HTMLSelectElement).value as Lang)}>
          {languages.map((l) => (
            <option value={l.code}>{l.label}</option>
          ))}
        </select>
        <button class="primary" type="submit" disabled={token.trim() === ''}>
          {t('signin.submit')}
        </button>
      </div>
    </form>
  );
  return dialog ? <div class="overlay">{form}</div> : <main class="content">{form}</main>;
}
