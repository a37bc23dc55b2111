import { useEffect, useMemo, useState } from 'preact/hooks';
import { useQuery, useQueryClient } from '@tanstack/preact-query';
import { LangContext, initialLang, langStorageKey, translate, type LangState, type Lang } from '../i18n';
import { consoleMessages } from './i18n';
import { useClient } from '../lib/client';
import { ApiError } from '../lib/api';
import type { User } from '../api/types';
import { SignIn } from './SignIn';
import { Shell } from './Shell';

export function Root() {
  const [lang, setLangState] = useState<Lang>(() => initialLang(localStorage.getItem(langStorageKey), navigator.languages ?? [navigator.language]));
  const langState = useMemo<LangState>(
    () => ({
      lang,
      setLang: (l) => {
        localStorage.setItem(langStorageKey, l);
        setLangState(l);
      },
    }),
    [lang],
  );
  const t = (k: 'app.tagline' | 'common.loading') => translate(consoleMessages, lang, k);
  useEffect(() => {
    document.documentElement.lang = lang;
    document.title = 'pdm · ' + t('app.tagline');
  }, [lang]);

  const client = useClient();
  const qc = useQueryClient();
  // expired: the session ended while the user was working; the screen stays
  // mounted under the sign-in dialog so nothing typed is lost.
  const [expired, setExpired] = useState(false);
  const me = useQuery<User, ApiError>({
    queryKey: ['me'],
    queryFn: () => client.get<User>('/me'),
    retry: false,
    staleTime: 60_000,
  });
  useEffect(() => client.onUnauthorized(() => setExpired(true)), [client]);

  const signedIn = me.data !== undefined && !(me.error?.status === 401 && !me.data);
  const onSignedIn = (u: User) => {
    qc.setQueryData(['me'], u);
    setExpired(false);
    void qc.invalidateQueries({ predicate: (q) => q.queryKey[0] !== 'me' });
  };

  let body;
  if (me.isPending) {
    body = <div class="center muted">{t('common.loading')}</div>;
  } else if (!signedIn) {
    body = <SignIn onSignedIn={onSignedIn} />;
  } else {
    body = (
      <>
        <Shell user={me.data!} />
        {expired && <SignIn onSignedIn={onSignedIn} dialog />}
      </>
    );
  }
  return <LangContext.Provider value={langState}>{body}</LangContext.Provider>;
}
