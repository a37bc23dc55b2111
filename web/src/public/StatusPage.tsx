// The status page: where a request stands, in the customer's words; the
// engineer's first name and ETA; the completion report and a one-tap
// rating (also reached from the email's links: ?rate=N).
import { useEffect, useState } from 'preact/hooks';
import type { components } from '../api/schema';
import { ApiError } from '../lib/api';
import { formatDateTime } from '../lib/format';
import { call } from './fetch';
import { PublicKey, useI18n } from './i18n';
import { NotFound } from './NotFound';

type View = components['schemas']['PublicStatus'];

export function StatusPage({ token }: { token: string }) {
  const { t, lang } = useI18n();
  const [v, setV] = useState<View | null>(null);
  const [missing, setMissing] = useState(false);
  const [failed, setFailed] = useState(false);
  const [comment, setComment] = useState('');
  const [rated, setRated] = useState<number | null>(null);
  const [commented, setCommented] = useState(false);
  const path = '/public/status/' + encodeURIComponent(token);

  const load = () =>
    call<View>('GET', path).then(
      (x) => {
        setV(x);
        setFailed(false);
      },
      (e: unknown) => {
        if (e instanceof ApiError && (e.status === 404 || e.status === 400)) setMissing(true);
        else setFailed(true);
      },
    );
  useEffect(() => {
    load();
    const id = setInterval(load, 30_000);
    return () => clearInterval(id);
  }, [token]);

  const rate = async (n: number, text = '') => {
    try {
      await call('POST', path + '/survey', JSON.stringify({ score: n, comment: text }), true);
      setRated(n);
      if (text) setCommented(true);
      load();
    } catch {
      setFailed(true);
    }
  };
  // A rating link from the email (?rate=4) rates in one tap.
  useEffect(() => {
    const n = Number(new URLSearchParams(location.search).get('rate'));
    if (v?.survey.open && n >= 1 && n <= 5 && rated === null) rate(n);
  }, [v?.survey.open]);

  if (missing) return <NotFound what="status" />;
  if (!v) return <section class="pub-card">{failed ? t('error.generic') : '…'}</section>;
  const score = rated ?? v.survey.score ?? null;
  return (
    <section class="pub-card" data-testid="status">
      <h1>{t('status.title', { number: v.number })}</h1>
      <p class="pub-title">{v.title}</p>
      <p class="pub-muted">
        {v.site_name} · {v.asset_name} · {t('status.submitted', { at: formatDateTime(v.submitted_at, lang) })}
      </p>
      {v.merged && <p class="pub-note">{t('status.merged')}</p>}
      <p class="pub-stage" data-testid="stage" data-stage={v.stage}>
        {t(('stage.' + v.stage) as PublicKey)}
      </p>
      {v.engineer && <p data-testid="engineer">{t('status.engineer', { name: v.engineer })}</p>}
      {v.eta && <p data-testid="eta">{t('status.eta', { at: formatDateTime(v.eta, lang) })}</p>}
      <h2>{t('status.timeline')}</h2>
      <ol class="pub-timeline">
        {(v.timeline ?? []).map((s, i) => (
          <li key={i}>
            <span>{t(('stage.' + s.stage) as PublicKey)}</span> <time class="pub-muted">{formatDateTime(s.at, lang)}</time>
          </li>
        ))}
      </ol>
      {v.completion && (
        <>
          <h2>{t('status.report')}</h2>
          <p class="pub-muted">{t('status.completedAt', { at: formatDateTime(v.completion.completed_at, lang) })}</p>
          <p class="pub-report" data-testid="report">
            {v.completion.summary}
          </p>
        </>
      )}
      {v.survey.open && score === null && (
        <div class="pub-survey" data-testid="survey">
          <p>{t('survey.ask')}</p>
          <div class="pub-stars">
            {[1, 2, 3, 4, 5].map((n) => (
              <button type="button" key={n} aria-label={t('survey.score', { n: String(n) })} data-score={n} onClick={() => rate(n)}>
                {n}
              </button>
            ))}
          </div>
        </div>
      )}
      {score !== null && (
        <div class="pub-survey" data-testid="rated">
          <p>{t('survey.thanks', { n: score })}</p>
          {!commented && !v.survey.comment && (
            <form
              onSubmit={(e) => {
                e.preventDefault();
                if (comment.trim()) rate(score, comment.trim());
              }}
            >
              <label class="pub-field">
                <span>{t('survey.comment')}</span>
                <textarea rows={3} maxLength={2000} value={comment} onInput={(e) => setComment((e.currentTarget as HTMLTextAreaElement).value)} />
              </label>
              <button class="pub-button" type="submit">
                {t('survey.send')}
              </button>
            </form>
          )}
        </div>
      )}
      <p class="pub-muted">{t('status.refresh')}</p>
    </section>
  );
}
