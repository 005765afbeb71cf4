/*
 * Birge's service worker, served as /sw.js (survey/collection/offline_views.py) so that its scope
 * is the whole site. It keeps what the volunteer's form needs to open without a network:
 * - the static assets (css/js): precached at install, then served from the cache while a fresh
 *   copy is fetched in the background (stale-while-revalidate);
 * - the form pages (/collect/v/<id>) the volunteer opened while online: network first, the cached
 *   copy when the network fails or is too slow. A copy served from the cache is marked
 *   (<html data-offline-copy>) so offline.js gives it a new instanceID and start time.
 * It never touches other pages, POSTs (answers are never cached) or other sites. The pages' own
 * Cache-Control: no-store keeps them out of the browser's HTTP cache; this cache is the worker's,
 * and its pages are dropped whenever the login page is opened (logout, expired session) and by
 * offline.js at logout, so a second person on the same browser never gets the first one's pages.
 * Deploying new assets: the first visit after it may still run the cached ones (they are
 * refreshed in the background); bump VERSION to drop every cache at once. Paths assume the
 * site is served from the root of its domain.
 * Bump VERSION when this file's caching changes: old caches are deleted on activation.
 */
'use strict';

const VERSION = 'v1';
const PREFIX = 'birge-';
const STATIC_CACHE = PREFIX + VERSION + '-static';
const PAGE_CACHE = PREFIX + VERSION + '-pages'; // offline.js deletes caches ending in '-pages'
const ASSETS = ['/static/css/app.css', '/static/js/expressions.js', '/static/js/form.js',
  '/static/js/offline.js', '/static/js/geolocation.js'];
const FORM_PAGE = /^\/collect\/v\/\d+$/;
const NETWORK_WAIT = 8000; // ms before a page falls back to its cached copy

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(STATIC_CACHE).then((cache) => cache.addAll(ASSETS))
    .then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys().then((names) => Promise.all(names
    .filter((name) => name.indexOf(PREFIX) === 0 && name !== STATIC_CACHE && name !== PAGE_CACHE)
    .map((name) => caches.delete(name))))
    .then(() => self.clients.claim()));
});

function pageKey(url) { // one copy per form, whatever the query (?lang=…)
  return url.origin + url.pathname;
}

function cacheable(response) {
  return response && response.type === 'basic' && response.status === 200 && !response.redirected;
}

// The cached page, marked as a copy: the page must not reuse the instanceID it was saved with.
async function cachedPage(key) {
  const cached = await caches.match(key, { cacheName: PAGE_CACHE, ignoreVary: true });
  if (!cached) return null;
  const html = (await cached.text()).replace('<html ', '<html data-offline-copy="1" ');
  const headers = new Headers(cached.headers);
  headers.delete('Content-Length'); // the body grew
  return new Response(html, { status: 200, headers: headers });
}

async function formPage(event, url) {
  const network = fetch(event.request).then(async (response) => {
    if (cacheable(response)) {
      const cache = await caches.open(PAGE_CACHE);
      await cache.put(pageKey(url), response.clone());
    }
    return response;
  });
  const slow = new Promise((resolve) => setTimeout(resolve, NETWORK_WAIT, 'slow'));
  try {
    const first = await Promise.race([network, slow]);
    if (first !== 'slow') return first;
    event.waitUntil(network.catch(() => null)); // a late answer still refreshes the copy
    return (await cachedPage(pageKey(url))) || (await network);
  } catch (error) {
    const copy = await cachedPage(pageKey(url));
    if (copy) return copy;
    throw error;
  }
}

async function asset(event) {
  const cache = await caches.open(STATIC_CACHE);
  const cached = await cache.match(event.request, { ignoreVary: true });
  const network = fetch(event.request).then((response) => {
    if (cacheable(response)) return cache.put(event.request, response.clone()).then(() => response);
    return response;
  });
  if (!cached) return network;
  event.waitUntil(network.catch(() => null));
  return cached;
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (url.pathname.indexOf('/static/') === 0) {
    event.respondWith(asset(event));
  } else if (request.mode === 'navigate' && url.pathname === '/login') {
    event.waitUntil(caches.delete(PAGE_CACHE)); // logged out or expired: forget the pages
  } else if (request.mode === 'navigate' && FORM_PAGE.test(url.pathname)) {
    event.respondWith(formPage(event, url));
  }
});

// offline.js asks to keep the form it shows ('remember': the page was loaded before this worker
// controlled it) and to forget every page at logout ('forget').
self.addEventListener('message', (event) => {
  const data = event.data || {};
  if (data.type === 'forget') {
    event.waitUntil(caches.delete(PAGE_CACHE));
  } else if (data.type === 'remember' && typeof data.url === 'string') {
    const url = new URL(data.url, self.location.origin);
    if (url.origin !== self.location.origin || !FORM_PAGE.test(url.pathname)) return;
    event.waitUntil(caches.open(PAGE_CACHE).then(async (cache) => {
      if (await cache.match(pageKey(url), { ignoreVary: true })) return;
      const response = await fetch(pageKey(url), { credentials: 'same-origin' });
      if (cacheable(response)) await cache.put(pageKey(url), response);
    }).catch(() => null));
  }
});
