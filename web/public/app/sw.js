// The engineers' app's service worker (scope /app/): keeps the app shell
// (the page, its hashed scripts and styles, the manifest and icons) so the
// app opens without a network. API data is not cached here: the app keeps
// its jobs and its outbox in IndexedDB itself.
const SHELL = 'pdm-app-shell-v1';
const PAGE = '/app/';

// The hashed assets a text names: the page's src/href, and in scripts
// the chunks they import later (a chart, the QR reader): Vite names them
// "assets/<name>-<hash>.js" in its import maps.
function assetsIn(text) {
  const out = [];
  for (const m of text.matchAll(/(?:^|["'(\/.])(assets\/[\w.-]+\.(?:js|css))/g)) out.push('/' + m[1]);
  return out;
}

// keep caches urls that are not kept yet, and the assets their scripts
// and styles name, transitively (at most 300).
async function keep(cache, urls) {
  const queue = [...urls];
  const seen = new Set(queue);
  while (queue.length > 0 && seen.size <= 300) {
    const batch = queue.splice(0, queue.length);
    await Promise.all(batch.map(async (u) => {
      let r = await cache.match(u);
      if (!r) {
        r = await fetch(u, { credentials: 'same-origin' });
        if (!r.ok) return;
        await cache.put(u, r.clone());
      }
      if (!/\.(?:js|css)$/.test(u)) return;
      for (const a of assetsIn(await r.text())) {
        if (!seen.has(a)) {
          seen.add(a);
          queue.push(a);
        }
      }
    }));
  }
}

async function precache() {
  const cache = await caches.open(SHELL);
  const resp = await fetch(PAGE, { cache: 'no-cache', credentials: 'same-origin' });
  if (!resp.ok) throw new Error('app shell: ' + resp.status);
  const html = await resp.clone().text();
  await cache.put(PAGE, resp);
  // The page names its hashed assets, and they the chunks loaded later;
  // keep them all, so every screen opens without a network.
  await keep(cache, ['/app/manifest.json', '/app/icon.svg', '/app/icon-192.png', ...assetsIn(html)]);
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
          resp.clone().text().then((html) => keep(cache, assetsIn(html)));
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
