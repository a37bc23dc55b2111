import { useEffect, useMemo, useState } from 'preact/hooks';
import { useQuery, useQueryClient } from '@tanstack/preact-query';
import { I18nContext, initialLang, translate, type I18n, type Lang } from '../i18n';
import { useClient } from '../lib/client';
import { ApiError } from '../lib/api';
import type { User } from '../api/types';
import { SignIn } from './SignIn';
import { Shell } from './Shell';

const langKey = 'pdm.lang';

export function Root() {
  const [lang, setLangState] = useState<Lang>(() => initialLang(localStorage.getItem(langKey), navigator.languages ?? [navigator.language]));
  const i18n = useMemo<I18n>(
    () => ({
      lang,
      t: (k, v) => translate(lang, k, v),
      setLang: (l) => {
        localStorage.setItem(langKey, l);
        setLangState(l);
      },
    }),
    [lang],
  );
  useEffect(() => {
    document.documentElement.lang = lang;
    document.title = 'pdm · ' + translate(lang, 'app.tagline');
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
    body = <div class="center muted">{i18n.t('common.loading')}</div>;
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
  return <I18nContext.Provider value={i18n}>{body}</I18nContext.Provider>;
}
