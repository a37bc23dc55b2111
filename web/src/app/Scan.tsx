import { useEffect, useRef, useState } from 'preact/hooks';
import { useLocation } from 'wouter-preact';
import type { Asset, List, WorkOrder } from '../api/types';
import { useClient } from '../lib/client';
import { useI18n, type AppKey } from './i18n';
import { useKept } from './data';
import { parseLabel } from './media';
import { Link } from 'wouter-preact';

interface Detector {
  detect(src: CanvasImageSource): Promise<{ rawValue: string }[]>;
}

/** Scans an asset's QR label with the camera (BarcodeDetector, else jsQR) and opens the asset or its job. */
export function Scan() {
  const { t } = useI18n();
  const client = useClient();
  const [, go] = useLocation();
  const video = useRef<HTMLVideoElement>(null);
  const [err, setErr] = useState('');
  const [code, setCode] = useState('');

  const open = async (text: string) => {
    const l = parseLabel(text);
    let id = l.id;
    if (!id && l.code) {
      const found = await client.get<List<Asset>>('/assets', { code: l.code }).catch(() => undefined);
      id = found?.items.find((a) => !l.site || a.site_code === l.site)?.id;
    }
    if (!id) return setErr(t('scan.unknown', { code: text }));
    go(`/assets/${id}`);
  };

  useEffect(() => {
    let stream: MediaStream | undefined;
    let stop = false;
    (async () => {
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
        const v = video.current!;
        v.srcObject = stream;
        await v.play();
        const BD = (window as unknown as { BarcodeDetector?: new (o: { formats: string[] }) => Detector }).BarcodeDetector;
        const det = BD ? new BD({ formats: ['qr_code'] }) : undefined;
        const jsqr = det ? undefined : (await import('jsqr')).default;
        const canvas = document.createElement('canvas');
        while (!stop) {
          let text: string | undefined;
          if (det) {
            text = (await det.detect(v).catch(() => []))[0]?.rawValue;
          } else if (jsqr && v.videoWidth) {
            canvas.width = v.videoWidth;
            canvas.height = v.videoHeight;
            const g = canvas.getContext('2d', { willReadFrequently: true })!;
            g.drawImage(v, 0, 0);
            const img = g.getImageData(0, 0, canvas.width, canvas.height);
            text = jsqr(img.data, img.width, img.height)?.data;
          }
          if (text) {
            stop = true;
            void open(text);
            break;
          }
          await new Promise((r) => setTimeout(r, 250));
        }
      } catch (e) {
        setErr(t('scan.noCamera', { message: e instanceof Error ? e.message : String(e) }));
      }
    })();
    return () => {
      stop = true;
      stream?.getTracks().forEach((tr) => tr.stop());
    };
  }, []);

  return (
    <section>
      <h1>{t('scan.title')}</h1>
      <video ref={video} class="scanner" muted playsInline />
      {err && <p class="field-error">{err}</p>}
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          if (code.trim()) void open(code);
        }}
      >
        <input aria-label={t('scan.manual')} placeholder={t('scan.manual')} value={code} onInput={(e) => setCode((e.target as HTMLInputElement).value)} />
        <button class="primary" type="submit">
          {t('scan.open')}
        </button>
      </form>
    </section>
  );
}

/** An asset opened from its label: straight to the engineer's one job on it, else the list. */
export function AssetJobs({ id }: { id: string }) {
  const { t } = useI18n();
  const [, go] = useLocation();
  const asset = useKept<Asset>(`/assets/${id}`, 60_000);
  const jobs = useKept<List<WorkOrder>>('/me/jobs?limit=200');
  const mine = (jobs.data?.data.items ?? []).filter((o) => o.asset_id === id);
  useEffect(() => {
    if (mine.length === 1) go(`/jobs/${mine[0].id}`, { replace: true });
  }, [mine.length]);
  const a = asset.data?.data;
  return (
    <section>
      <h1>{a ? `${a.name} (${a.code})` : t('common.loading')}</h1>
      {a && <p class="muted">{a.type} · {a.site_code}</p>}
      {jobs.data && mine.length === 0 && <p>{t('asset.noJob')}</p>}
      {mine.length > 1 && (
        <>
          <h2>{t('asset.jobs')}</h2>
          <ul class="plain">
            {mine.map((o) => (
              <li>
                <Link href={`/jobs/${o.id}`}>
                  {o.number} {o.title} · {t(`status.${o.status}` as AppKey)}
                </Link>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
