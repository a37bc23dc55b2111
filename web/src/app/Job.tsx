import { lazy, Suspense } from 'preact/compat';
import { useState } from 'preact/hooks';
import { useQueryClient } from '@tanstack/preact-query';
import type { Asset, User, WorkOrderDetail } from '../api/types';
import { formatDateTime } from '../lib/format';
import { useI18n, type AppKey } from './i18n';
import { useKept } from './data';
import { useOps, useOutbox } from './state';
import { actionsFrom, effectiveStatus, isOpen } from './lifecycle';
import { queuedActions } from './Jobs';
import { mapLinks } from './media';
import { ActionForm, CompleteForm, NoteForm, PhotoButton } from './Forms';
import { SignatureForm } from './Signature';
import { Conflicts } from './OutboxView';
import { CollabInfo, PickEngineerForm } from './Collab';
import { PredictionLine } from './Prediction';

const Chart = lazy(() => import('./Chart'));

interface PartsState {
  reservations?: { sku?: string; qty?: number; location_id?: string }[] | null;
}
interface Article {
  id: string;
  title: string;
}
interface ETA {
  eta: string;
  distance_km: number;
}

type Sheet = '' | 'decline' | 'hold' | 'complete' | 'note' | 'signature' | 'help' | 'transfer';

const transferable = ['assigned', 'accepted', 'en_route', 'on_site', 'on_hold'];

export function Job({ id }: { id: string }) {
  const { t, lang } = useI18n();
  const box = useOutbox();
  const ops = useOps();
  const me = useQueryClient().getQueryData<User | null>(['me']);
  const detail = useKept<WorkOrderDetail>(`/work-orders/${id}`);
  const kept = detail.data;
  const d = kept?.data;
  const asset = useKept<Asset>(d ? `/assets/${d.asset_id}` : undefined, 60_000);
  const parts = useKept<PartsState>(`/work-orders/${id}/parts`);
  const [sheet, setSheet] = useState<Sheet>('');
  const status = d ? effectiveStatus(d.status ?? '', queuedActions(ops, id)) : '';
  const eta = useKept<ETA>(status === 'en_route' && navigator.onLine ? `/work-orders/${id}/eta` : undefined);

  if (detail.isPending) return <p class="muted">{t('common.loading')}</p>;
  // Only a page with nothing to show gives way to the error: a background
  // refresh that fails keeps the job, and any sheet open on it, on screen.
  if (!d) {
    return (
      <section>
        <p class="notice">{detail.error?.status === 404 ? t('job.notFound') : t('common.error', { message: detail.error?.message ?? '' })}</p>
        <Conflicts orderId={id} />
      </section>
    );
  }
  const act = (action: string, body?: Record<string, unknown>) =>
    void box.enqueue({ orderId: id, number: d.number, kind: 'action', action, body }).then(() => setSheet(''));
  const a = asset.data?.data;
  const loc = a?.location;
  const pendingFiles = ops.filter((o) => o.orderId === id && o.kind === 'attachment');
  const pendingNotes = ops.filter((o) => o.orderId === id && o.kind === 'comment');
  // Helpers see the job, note and photograph; its engineer alone acts on it.
  const mine = !me || me.role !== 'engineer' || d.assignee_id === me.id;
  const helpers = d.helper_ids ?? [];
  const articles = ((d as unknown as { suggested_articles?: Article[] }).suggested_articles ?? []) as Article[];
  // Layout: the title and status, then the actions and their sheet, then
  // everything that can appear or grow once the page is open (the kept
  // copy refreshed, the ETA, conflicts, helpers). Before, those lines sat
  // above the buttons: a refresh landing as the engineer tapped moved
  // Transfer 33 px down and the tap opened nothing (TestAppOffersLive).
  return (
    <section class="job-detail">
      <p class="muted small">
        {d.number} · <span class={`prio ${d.priority}`}>{d.priority}</span>
      </p>
      <h1>{d.title}</h1>
      <p>
        <span class="status" data-testid="job-status" data-status={status}>
          {t(`status.${status}` as AppKey)}
        </span>
        {status !== d.status && <span class="badge">{t('job.pending')}</span>}
      </p>

      {isOpen(status) && (
        <div class="actions">
          {(mine ? actionsFrom(status) : []).map((x, i) => {
            const needsForm = x === 'decline' || x === 'hold' || x === 'complete';
            return (
              <button
                class={i === 0 ? 'primary big' : 'big'}
                data-action={x}
                onClick={() => (needsForm ? setSheet(x as Sheet) : act(x))}
              >
                {t(`act.${x}` as AppKey)}
              </button>
            );
          })}
          <button data-action="note" onClick={() => setSheet('note')}>
            {t('act.note')}
          </button>
          <PhotoButton orderId={id} number={d.number} />
          <button data-action="signature" onClick={() => setSheet('signature')}>
            {t('act.signature')}
          </button>
          {mine && (
            <button data-action="help" onClick={() => setSheet('help')}>
              {t('collab.help')}
            </button>
          )}
          {mine && transferable.includes(status) && !d.transfer_request && (
            <button data-action="transfer" onClick={() => setSheet('transfer')}>
              {t('collab.transfer')}
            </button>
          )}
        </div>
      )}
      {(sheet === 'help' || sheet === 'transfer') && (
        <PickEngineerForm
          kind={sheet}
          exclude={[d.assignee_id ?? '', ...(sheet === 'help' ? helpers : [])]}
          onSubmit={(b) => act(sheet === 'help' ? 'helpers' : 'transfer', b)}
          onCancel={() => setSheet('')}
        />
      )}
      {(sheet === 'decline' || sheet === 'hold') && <ActionForm action={sheet} onSubmit={(b) => act(sheet, b)} onCancel={() => setSheet('')} />}
      {sheet === 'complete' && (
        <CompleteForm reserved={parts.data?.data.reservations ?? []} onSubmit={(b) => act('complete', b)} onCancel={() => setSheet('')} />
      )}
      {sheet === 'note' && (
        <NoteForm
          onSubmit={(text) => void box.enqueue({ orderId: id, number: d.number, kind: 'comment', body: { text } }).then(() => setSheet(''))}
          onCancel={() => setSheet('')}
        />
      )}
      {sheet === 'signature' && (
        <SignatureForm
          onSubmit={(file, signer) =>
            void box
              .enqueue({ orderId: id, number: d.number, kind: 'attachment', attachKind: 'signature', file, fileName: 'signature.png', signerName: signer })
              .then(() => setSheet(''))
          }
          onCancel={() => setSheet('')}
        />
      )}

      {detail.error && (
        <p class="notice small" data-testid="refresh-error">
          {detail.error.status === 404 ? t('job.notFound') : t('common.error', { message: detail.error.message })}
        </p>
      )}
      {kept?.offline && <p class="notice small">{t('jobs.cachedAt', { t: formatDateTime(new Date(kept.at).toISOString(), lang) })}</p>}
      {eta.data && <p class="small">{t('job.eta', { t: formatDateTime(eta.data.data.eta, lang), km: eta.data.data.distance_km.toFixed(1) })}</p>}
      <Conflicts orderId={id} />
      <CollabInfo helperIds={helpers} transfer={d.transfer_request} mine={mine} />

      <h2>{t('job.asset')}</h2>
      <p>
        {a ? `${a.name} (${a.code})` : ''} {a?.type && <span class="muted small">{a.type}</span>}
      </p>
      <p>
        {loc ? (
          <>
            <a class="button" href={mapLinks(loc.lat ?? 0, loc.lon ?? 0, a?.name ?? '').geo} data-testid="map-link">
              {t('job.openMap')}
            </a>{' '}
            <a href={mapLinks(loc.lat ?? 0, loc.lon ?? 0, a?.name ?? '').web} target="_blank" rel="noopener">
              {t('job.mapWeb')}
            </a>
          </>
        ) : (
          <span class="muted">{t('job.noLocation')}</span>
        )}
      </p>
      {d.description && <p class="pre">{d.description}</p>}

      <h2>{t('job.evidence')}</h2>
      <PredictionLine order={d} />
      <Suspense fallback={<p class="muted">{t('common.loading')}</p>}>
        <Chart order={d} />
      </Suspense>

      <h2>{t('job.parts')}</h2>
      {(parts.data?.data.reservations ?? []).length === 0 ? (
        <p class="muted">{t('job.noParts')}</p>
      ) : (
        <ul class="plain">
          {parts.data!.data.reservations!.map((p) => (
            <li>
              {p.sku} × {p.qty}
            </li>
          ))}
        </ul>
      )}

      {articles.length > 0 && (
        <>
          <h2>{t('job.articles')}</h2>
          <ul class="plain">
            {articles.map((x) => (
              <ArticleItem article={x} />
            ))}
          </ul>
        </>
      )}

      <h2>{t('job.attachments')}</h2>
      <ul class="thumbs">
        {(d.attachments ?? []).map((x) => (
          <li>
            {x.content_type?.startsWith('image/') ? <img src={`/api/v1/work-orders/${id}/attachments/${x.id}`} alt={x.filename} loading="lazy" /> : x.filename}
            {x.signer_name && <span class="small block">{x.signer_name}</span>}
          </li>
        ))}
        {pendingFiles.map((x) => (
          <li class={x.state}>
            <BlobImg blob={x.file!} />
            <span class="small block">{x.signerName ?? t('job.pending')}</span>
          </li>
        ))}
      </ul>

      <h2>{t('job.history')}</h2>
      <ol class="history">
        {pendingNotes.map((n) => (
          <li class={n.state}>
            <span class="muted small">{t('job.pending')}</span> {String(n.body?.text ?? '')}
          </li>
        ))}
        {[...(d.events ?? [])].reverse().map((e) => (
          <li>
            <span class="muted small">{formatDateTime(e.at, lang)}</span> {e.actor}: {e.to ? t(`status.${e.to}` as AppKey) : e.type}
            {e.note && <span class="block pre">{e.note}</span>}
          </li>
        ))}
      </ol>
    </section>
  );
}

function BlobImg({ blob }: { blob: Blob }) {
  const [url] = useState(() => URL.createObjectURL(blob));
  return <img src={url} alt="" />;
}

function ArticleItem({ article }: { article: Article }) {
  const [open, setOpen] = useState(false);
  const full = useKept<{ body: string }>(open ? `/knowledge/${article.id}` : undefined, 300_000);
  return (
    <li>
      <button class="link" onClick={() => setOpen(!open)} aria-expanded={open}>
        {article.title}
      </button>
      {open && full.data && <div class="pre small article">{full.data.data.body}</div>}
    </li>
  );
}

