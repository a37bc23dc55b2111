// The i18n layer: every string on screen goes through t(); dates and
// numbers through Intl in the user's own time zone. Dictionaries are typed,
// so a key missing in one language fails the build.
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import { en, type MessageKey } from './en';
import { zhCN } from './zh-CN';

export type Lang = 'en' | 'zh-CN';
export const languages: { code: Lang; label: string }[] = [
  { code: 'zh-CN', label: '简体中文' },
  { code: 'en', label: 'English' },
];

const dictionaries: Record<Lang, Record<MessageKey, string>> = { en, 'zh-CN': zhCN };

export type Vars = Record<string, string | number>;

export function translate(lang: Lang, key: MessageKey, vars?: Vars): string {
  const s = dictionaries[lang][key] ?? en[key] ?? key;
  if (!vars) return s;
  return s.replace(/\{(\w+)\}/g, (m, name: string) => (name in vars ? String(vars[name]) : m));
}

/** The language to start in: a saved choice, else the browser's, else Chinese for zh-*. */
export function initialLang(saved: string | null, browser: readonly string[]): Lang {
  if (saved === 'en' || saved === 'zh-CN') return saved;
  for (const l of browser) {
    const low = l.toLowerCase();
    if (low.startsWith('zh')) return 'zh-CN';
    if (low.startsWith('en')) return 'en';
  }
  return 'en';
}

export interface I18n {
  lang: Lang;
  t: (key: MessageKey, vars?: Vars) => string;
  setLang: (l: Lang) => void;
}

export const I18nContext = createContext<I18n>({
  lang: 'en',
  t: (k, v) => translate('en', k, v),
  setLang: () => {},
});

export function useI18n(): I18n {
  return useContext(I18nContext);
}

export type { MessageKey };
