// Photos are made small on the phone before they wait in the outbox: the
// longest side at most 1600 px, JPEG at quality 0.72 (a 12 MP photo of
// 4-6 MB becomes about 200-400 KB).
export async function compressPhoto(file: Blob, maxSide = 1600, quality = 0.72): Promise<Blob> {
  const bmp = await createImageBitmap(file);
  const scale = Math.min(1, maxSide / Math.max(bmp.width, bmp.height));
  const w = Math.max(1, Math.round(bmp.width * scale));
  const h = Math.max(1, Math.round(bmp.height * scale));
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  canvas.getContext('2d')!.drawImage(bmp, 0, 0, w, h);
  bmp.close();
  const out = await new Promise<Blob | null>((res) => canvas.toBlob(res, 'image/jpeg', quality));
  if (!out) throw new Error('the photo could not be encoded');
  return out.size < file.size ? out : file;
}

/** geo: opens the phone's map app; the https link works everywhere else. */
export function mapLinks(lat: number, lon: number, label: string): { geo: string; web: string } {
  const q = `${lat},${lon}`;
  return {
    geo: `geo:${q}?q=${q}(${encodeURIComponent(label)})`,
    web: `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=17/${lat}/${lon}`,
  };
}

/** Reads an asset reference from a scanned label: a URL or text holding an asset id, or a site/code pair. */
export function parseLabel(text: string): { id?: string; site?: string; code?: string } {
  const t = text.trim();
  const id = t.match(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i);
  if (id) return { id: id[0].toLowerCase() };
  const pair = t.replace(/^pdm:(asset:)?/i, '').split('/').filter(Boolean);
  if (pair.length >= 2) return { site: pair[pair.length - 2], code: pair[pair.length - 1] };
  return { code: t };
}
