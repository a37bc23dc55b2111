import { useI18n } from './i18n';

export function NotFound({ what }: { what: 'form' | 'status' }) {
  const { t } = useI18n();
  return (
    <section class="pub-card" data-testid="not-found">
      <h1>{t('notFound.title')}</h1>
      <p>{t(what === 'form' ? 'notFound.form' : 'notFound.status')}</p>
    </section>
  );
}
