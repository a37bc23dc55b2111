// The i18n layer: every string on screen goes through t(); dates and
// numbers through Intl in the user's own time zone (lib/format.ts).
//
// Strings live next to what shows them: a screen declares its own with
// defineMessages(en, zh) (the compiler refuses a Chinese dictionary that
// lacks an English key), and each entry (console, app, public pages)
// merges the ones it uses and makes its typed hook with makeUseI18n.
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';

export type Lang = 'en' | 'zh-CN';
export const languages: { code: Lang; label: string }[] = [
  { code: 'zh-CN', label: '简体中文' },
  { code: 'en', label: 'English' },
];

export type Vars = Record<string, string | number>;

export interface Messages<K extends string> {
  en: Record<K, string>;
  'zh-CN': Record<K, string>;
}

/** Declares a set of strings in both languages; zh must have every key of en. */
export function defineMessages<const E extends Record<string, string>>(en: E, zh: { [K in keyof E]: string }): Messages<keyof E & string> {
  return { en: en as Record<keyof E & string, string>, 'zh-CN': zh as Record<keyof E & string, string> };
}

type KeysOf<M> = M extends Messages<infer K> ? K : never;

/** One dictionary from several; later sets win on a clash. */
export function mergeMessages<T extends Messages<string>[]>(...ms: T): Messages<KeysOf<T[number]>> {
  const out = { en: {}, 'zh-CN': {} } as Messages<string>;
  for (const m of ms) {
    Object.assign(out.en, m.en);
    Object.assign(out['zh-CN'], m['zh-CN']);
  }
  return out as Messages<KeysOf<T[number]>>;
}

export function translate<K extends string>(m: Messages<K>, lang: Lang, key: K, vars?: Vars): string {
  const s = m[lang][key] ?? m.en[key] ?? key;
  if (!vars) return s;
  return s.replace(/\{(\w+)\}/g, (whole, name: string) => (name in vars ? String(vars[name]) : whole));
}

/** The language to start in: a saved choice, else the browser's; Chinese for any zh-*. */
export function initialLang(saved: string | null, browser: readonly string[]): Lang {
  if (saved === 'en' || saved === 'zh-CN') return saved;
  for (const l of browser) {
    const low = l.toLowerCase();
    if (low.startsWith('zh')) return 'zh-CN';
    if (low.startsWith('en')) return 'en';
  }
  return 'en';
}

export const langStorageKey = 'pdm.lang';

/** The current language, shared by every entry. */
export interface LangState {
  lang: Lang;
  setLang: (l: Lang) => void;
}

export const LangContext = createContext<LangState>({ lang: 'en', setLang: () => {} });

export interface I18n<K extends string> extends LangState {
  t: (key: K, vars?: Vars) => string;
}

/** Makes an entry's typed hook over its merged dictionary. */
export function makeUseI18n<K extends string>(m: Messages<K>): () => I18n<K> {
  return () => {
    const { lang, setLang } = useContext(LangContext);
    return { lang, setLang, t: (key: K, vars?: Vars) => translate(m, lang, key, vars) };
  };
}
