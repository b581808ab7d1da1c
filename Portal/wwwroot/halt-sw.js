// The halt app's service worker (issue 19, item 4). It caches one thing, the static offline page, and serves it only
// when a page load fails because the network is down, instead of the browser's error page. Nothing that acts is ever
// cached, answered from a cache or replayed: only GET page loads are touched (never a form post, /api/, /_blazor,
// /hubs/ or a sign-in post), page loads always go to the network, and no response from Portal is ever stored.
'use strict';

// Bump the version when offline.html changes: a changed worker installs afresh and drops the older cache.
const CACHE = 'portal-offline-v1';
const OFFLINE_PAGE = '/offline.html';

// Paths whose GET page loads are left to the browser alone, even when they fail: they are not pages a person reads.
const UNTOUCHED_PREFIXES = ['/api/', '/_blazor', '/hubs/', '/_framework/'];

/** Whether a request may be answered with the offline page if the network fails: a GET page load of a page. */
function fallsBackToOfflinePage(request) {
  if (request.method !== 'GET' || request.mode !== 'navigate') return false;
  const path = new URL(request.url).pathname;
  return !UNTOUCHED_PREFIXES.some(prefix => path.startsWith(prefix));
}

self.addEventListener('install', event => {
  // cache: 'reload' so the copy comes from Portal, not from the browser's HTTP cache.
  event.waitUntil(caches.open(CACHE)
    .then(cache => cache.add(new Request(OFFLINE_PAGE, { cache: 'reload' })))
    .then(() => self.skipWaiting()));
});

self.addEventListener('activate', event => {
  event.waitUntil(caches.keys()
    .then(names => Promise.all(names.filter(name => name !== CACHE).map(name => caches.delete(name))))
    .then(() => self.clients.claim()));
});

self.addEventListener('fetch', event => {
  if (!fallsBackToOfflinePage(event.request)) return; // the browser handles it as if there were no worker
  event.respondWith(fetch(event.request).catch(async error => {
    const offline = await caches.match(OFFLINE_PAGE, { cacheName: CACHE });
    if (offline) return offline;
    throw error;
  }));
});
