import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import { useI18n } from './i18n';

/** The customer signs with a finger on a canvas; the PNG goes with the signer's name. */
export function SignatureForm({ onSubmit, onCancel }: { onSubmit: (png: Blob, signer: string) => void; onCancel: () => void }) {
  const { t } = useI18n();
  const canvas = useRef<HTMLCanvasElement>(null);
  const [signer, setSigner] = useState('');
  const [drawn, setDrawn] = useState(false);
  const [err, setErr] = useState('');
  // Before the sheet is painted: a finger that lands as soon as the canvas
  // shows draws (an effect after paint lost the first strokes on a busy
  // phone).
  useLayoutEffect(() => {
    const c = canvas.current!;
    const ratio = window.devicePixelRatio || 1;
    c.width = c.clientWidth * ratio;
    c.height = c.clientHeight * ratio;
    const g = c.getContext('2d')!;
    g.scale(ratio, ratio);
    g.lineWidth = 2.2;
    g.lineCap = 'round';
    g.strokeStyle = '#111';
    let down = false;
    const pos = (e: PointerEvent) => {
      const r = c.getBoundingClientRect();
      return [e.clientX - r.left, e.clientY - r.top] as const;
    };
    const start = (e: PointerEvent) => {
      down = true;
      try {
        c.setPointerCapture(e.pointerId);
      } catch {
        // a synthetic or already-ended pointer: draw without capture
      }
      const [x, y] = pos(e);
      g.beginPath();
      g.moveTo(x, y);
    };
    const move = (e: PointerEvent) => {
      if (!down) return;
      const [x, y] = pos(e);
      g.lineTo(x, y);
      g.stroke();
      setDrawn(true);
    };
    const end = () => (down = false);
    c.addEventListener('pointerdown', start);
    c.addEventListener('pointermove', move);
    c.addEventListener('pointerup', end);
    c.addEventListener('pointercancel', end);
    return () => {
      c.removeEventListener('pointerdown', start);
      c.removeEventListener('pointermove', move);
      c.removeEventListener('pointerup', end);
      c.removeEventListener('pointercancel', end);
    };
  }, []);
  const clear = () => {
    const c = canvas.current!;
    c.getContext('2d')!.clearRect(0, 0, c.width, c.height);
    setDrawn(false);
  };
  return (
    <form
      class="sheet"
      onSubmit={(e) => {
        e.preventDefault();
        if (!drawn) return setErr(t('form.signatureEmpty'));
        if (!signer.trim()) return setErr(t('form.signerRequired'));
        canvas.current!.toBlob((b) => b && onSubmit(b, signer.trim()), 'image/png');
      }}
    >
      <h2>{t('act.signature')}</h2>
      <canvas ref={canvas} class="signature" aria-label={t('form.signHere')} data-testid="signature" data-drawn={drawn ? '1' : '0'} />
      <label for="signer">{t('form.signer')}</label>
      <input id="signer" value={signer} maxLength={200} onInput={(e) => setSigner((e.target as HTMLInputElement).value)} />
      {err && <p class="field-error">{err}</p>}
      <div class="row end">
        <button type="button" onClick={clear}>
          {t('form.clear')}
        </button>
        <button type="button" onClick={onCancel}>
          {t('common.cancel')}
        </button>
        <button class="primary" type="submit">
          {t('act.send')}
        </button>
      </div>
    </form>
  );
}
