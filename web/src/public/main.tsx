// The public pages: a customer's request form (/r/{site}, /r/{site}/{asset})
// and status page (/s/{token}). No sign-in, no query library: two small
// screens that must load fast on a phone.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Lang, LangContext, initialLang, langStorageKey } from '../i18n';
import { RequestForm } from './RequestForm';
import { StatusPage } from './StatusPage';
import { NotFound } from './NotFound';
import './public.css';

function readLang(): Lang {
  let saved: string | null = null;
  try {
    saved = localStorage.getItem(langStorageKey);
  } catch {
    /* private mode */
  }
  return initialLang(saved, navigator.languages ?? [navigator.language]);
}

/** The route from the path: /r/site[/asset] or /s/token. */
export function route(path: string): { kind: 'form'; site: string; asset: string } | { kind: 'status'; token: string } | { kind: 'none' } {
  const parts = path.split('/').filter(Boolean).map((p) => decodeURIComponent(p));
  if (parts[0] === 'r' && parts.length >= 2 && parts.length <= 3) return { kind: 'form', site: parts[1], asset: parts[2] ?? '' };
  if (parts[0] === 's' && parts.length === 2) return { kind: 'status', token: parts[1] };
  return { kind: 'none' };
}

function App() {
  const [lang, setLangState] = useState<Lang>(readLang);
  const setLang = (l: Lang) => {
    setLangState(l);
    try {
      localStorage.setItem(langStorageKey, l);
    } catch {
      /* ignore */
    }
  };
  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);
  const r = route(location.pathname);
  return (
    <LangContext.Provider value={{ lang, setLang }}>
      <main class="pub">
        <div class="pub-top">
          <button type="button" class="pub-lang" onClick={() => setLang(lang === 'en' ? 'zh-CN' : 'en')}>
            {lang === 'en' ? '中文' : 'English'}
          </button>
        </div>
        {r.kind === 'form' && <RequestForm site={r.site} asset={r.asset} />}
        {r.kind === 'status' && <StatusPage token={r.token} />}
        {r.kind === 'none' && <NotFound what="form" />}
      </main>
    </LangContext.Provider>
  );
}

render(<App />, document.getElementById('root')!);
