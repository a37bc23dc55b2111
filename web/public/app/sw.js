// The engineers' app's service worker (scope /app/): keeps the app shell
// (the page, its hashed scripts and styles, the manifest and icons) so the
// app opens without a network. API data is not cached here: the app keeps
// its jobs and its outbox in IndexedDB itself.
const SHELL = 'pdm-app-shell-v1';
const PAGE = '/app/';

async function precache() {
  const cache = await caches.open(SHELL);
  const resp = await fetch(PAGE, { cache: 'no-cache', credentials: 'same-origin' });
  if (!resp.ok) throw new Error('app shell: ' + resp.status);
  const html = await resp.clone().text();
  await cache.put(PAGE, resp);
  // The page names its hashed assets; keep each one.
  const urls = new Set(['/app/manifest.json', '/app/icon.svg', '/app/icon-192.png']);
  for (const m of html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)) urls.add(m[1]);
  await Promise.all([...urls].map(async (u) => {
    const r = await fetch(u, { credentials: 'same-origin' });
    if (r.ok) await cache.put(u, r);
  }));
}

self.addEventListener('install', (e) => {
  e.waitUntil(precache().then(() => self.skipWaiting()));
});

self.addEventListener('activate', (e) => {
  e.waitUntil((async () => {
    for (const k of await caches.keys()) if (k.startsWith('pdm-app-') && k !== SHELL) await caches.delete(k);
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (e) => {
  const req = e.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin || url.pathname.startsWith('/api/')) return;
  if (req.mode === 'navigate' && url.pathname.startsWith('/app')) {
    // The page: the kept shell at once (stale while revalidate), updated
    // from the network in the background so the next start runs the new
    // version; the network when nothing is kept yet.
    e.respondWith((async () => {
      const cache = await caches.open(SHELL);
      const update = fetch(req).then((resp) => {
        if (resp.ok) {
          cache.put(PAGE, resp.clone());
          resp.clone().text().then((html) => {
            for (const m of html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)) {
              cache.match(m[1]).then((hit) => hit || fetch(m[1]).then((r) => r.ok && cache.put(m[1], r)));
            }
          });
        }
        return resp;
      });
      const kept = await cache.match(PAGE);
      if (kept) {
        e.waitUntil(update.catch(() => {}));
        return kept;
      }
      try {
        return await update;
      } catch {
        return Response.error();
      }
    })());
    return;
  }
  if (url.pathname.startsWith('/assets/') || url.pathname.startsWith('/app/')) {
    // Hashed assets never change: cache first.
    e.respondWith((async () => {
      const cache = await caches.open(SHELL);
      const hit = await cache.match(req);
      if (hit) return hit;
      const resp = await fetch(req);
      if (resp.ok && url.pathname.startsWith('/assets/')) cache.put(req, resp.clone());
      return resp;
    })());
  }
});
