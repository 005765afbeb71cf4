/*
 * Interviews without a network: the form works offline; what is submitted there waits on the
 * device, encrypted, until it can be sent. Loaded on every page of a logged-in user (base.html:
 * logout hook); the queue's panel and texts (data- attributes, translated) are in form.html.
 *
 * Design
 * - sw.js caches static assets and the form pages opened online; a page served from that cache
 *   is marked <html data-offline-copy> and gets a new instanceID (crypto.randomUUID) here.
 * - Submit: form.js checks first and guards against double submits; if it lets the submit pass,
 *   this file posts the FormData itself (exactly what the browser would post: csrf_token,
 *   _instance_id, _started_at, repeats; URL-encoded, or multipart with the chosen files of a
 *   form with media questions) with Accept: application/json.
 *   saved/duplicate/refusal: go to the receipt. invalid/conflict/expired (after one retry with a
 *   fresh token): post the form the ordinary way, so the server's page marks the fields.
 *   Network down, timeout, 5xx or a lost login: queue it, empty the fields, new instanceID, and
 *   tell form.js ('birge:submit-done' {blank}) to start again at step 1.
 * - Queue: IndexedDB 'birge-queue', store 'entries' {id, user, url, queuedAt, state, message,
 *   errors, iv, data, files}; data = AES-GCM-256 of {body, files: [{name, filename, type}]}
 *   (random 96-bit IV, user id as additional data); files = [{iv, data}], each chosen file's
 *   bytes sealed the same way, in the order of the list in data (photos are kept as bytes,
 *   not text, so a queue of pictures costs what the pictures cost). state: 'waiting', or
 *   'invalid'/'conflict' once the server refused it.
 * - Sending (on load, 'online', "Send now", every 30 s; one tab at a time by Web Locks): each
 *   waiting entry is posted to its form URL with a fresh CSRF token (GET /collect/token).
 *   saved/duplicate/refusal: removed (one row per instanceID: a resend is harmless).
 *   invalid/conflict: kept and listed; "Open in the form" restores the fields to fix and submit
 *   (a conflict gets a new instanceID). Login page: stop and say so. Network/5xx: retry later.
 *   Nothing leaves the queue without the server's acknowledgement.
 * - Export: this user's entries decrypted, as JSON for a coordinator: the last resort.
 * - Logout: confirm() with the number waiting; then the key and cached pages are dropped; the
 *   entries stay, encrypted, for the same user's next login.
 *
 * Threat model. login.js derives the key from the password (PBKDF2-SHA-256, 200 000 iterations,
 * salt "birge:" + username) and keeps it only in sessionStorage (gone when the tab or browser
 * closes, and at logout). A second person on this browser logs in with their own password, gets
 * another key, cannot decrypt the first person's entries and only sees entries with their own
 * user id. NOT protected: anyone who knows the first person's password, or guesses a weak one
 * offline from a copy of IndexedDB (the salt is public); anyone at the browser while the first
 * person's tab is open; malware, extensions; exported files. After the browser was closed,
 * entries wait for a new login; entries queued before a password change cannot be opened with
 * the new one (send or export them first).
 */
(function () {
  'use strict';

  const KEY_STORAGE = 'birge-offline-key'; // written by login.js
  const RESTORE = 'birge-restore'; // entry id to open once its form page is loaded
  const RESTORING = 'birge-restoring'; // {id, instanceId}: the queued interview now on screen
  const DONE = { saved: true, duplicate: true, refusal: true };
  const SUBMIT_WAIT = 15000; // ms before a live submit counts as offline (it is then queued)
  const SEND_WAIT = 30000;
  const UPLOAD_RATE = 50; // bytes per ms (50 kB/s) a slow connection still manages with files
  const logout = document.querySelector('form[data-offline-logout]');
  if (!logout || !window.indexedDB || !window.crypto || !crypto.subtle) return;
  const userId = logout.dataset.userId;
  const username = logout.dataset.username;
  const panel = document.getElementById('offline-queue');
  const form = document.querySelector('form[data-offline-form]');
  const formPath = form ? new URL(form.action).pathname : null;
  const byId = (id) => document.getElementById(id);
  const bytes = (text) => new TextEncoder().encode(text);
  function stored(name) {
    try { return JSON.parse(sessionStorage.getItem(name)); } catch (e) { return null; }
  }
  let networkDown = false;
  let submitting = false;

  // -- the queue in IndexedDB ----------------------------------------------------------------
  let database = null;
  function inStore(mode, run) {
    database = database || new Promise((resolve, reject) => {
      const request = indexedDB.open('birge-queue', 1);
      request.onupgradeneeded = () => request.result.createObjectStore('entries',
        { keyPath: 'id', autoIncrement: true });
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    return database.then((db) => new Promise((resolve, reject) => {
      const transaction = db.transaction('entries', mode);
      const request = run(transaction.objectStore('entries'));
      transaction.oncomplete = () => resolve(request.result);
      transaction.onerror = transaction.onabort = () => reject(transaction.error);
    }));
  }
  const mine = () => inStore('readonly', (s) => s.getAll())
    .then((all) => all.filter((e) => e.user === userId));
  const putEntry = (entry) => inStore('readwrite', (s) => s.put(entry));
  const deleteEntry = (id) => inStore('readwrite', (s) => s.delete(id));

  // -- the user's key (from login.js) and AES-GCM --------------------------------------------
  function userKey() {
    const saved = stored(KEY_STORAGE);
    if (!saved || saved.user !== username || !saved.key) return Promise.resolve(null);
    const raw = Uint8Array.from(atob(saved.key), (c) => c.charCodeAt(0));
    return crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt'])
      .catch(() => null);
  }
  async function seal(key, payload) {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const data = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: iv,
      additionalData: bytes(userId) }, key, bytes(JSON.stringify(payload)));
    return { iv: iv, data: data };
  }
  async function unseal(key, entry) { // throws with another user's key
    const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: entry.iv,
      additionalData: bytes(entry.user) }, key, entry.data);
    return JSON.parse(new TextDecoder().decode(plain));
  }
  async function sealFile(key, file) {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const data = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: iv,
      additionalData: bytes(userId) }, key, await file.arrayBuffer());
    return { iv: iv, data: data };
  }
  // The queued interview: its fields (URL-encoded) and its files as File objects again.
  async function unsealAll(key, entry) {
    const payload = await unseal(key, entry);
    const files = [];
    for (const [index, about] of (payload.files || []).entries()) {
      const sealed = entry.files[index];
      const data = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: sealed.iv,
        additionalData: bytes(entry.user) }, key, sealed.data);
      files.push({ name: about.name, file: new File([data], about.filename,
        { type: about.type }) });
    }
    return { body: payload.body, files: files };
  }

  // -- what the volunteer sees: texts come translated in data- attributes --------------------
  function plural(source, prefix, n) {
    const category = new Intl.PluralRules(document.documentElement.lang || 'en').select(n);
    const name = (c) => prefix + c.charAt(0).toUpperCase() + c.slice(1);
    return (source.dataset[name(category)] || source.dataset[name('other')] || '')
      .replace('{n}', String(n));
  }
  function show(id, text) {
    byId(id).textContent = text;
    byId(id).hidden = !text;
  }
  function say(name, extra) {
    if (panel) show('offline-message', [panel.dataset[name], extra].join(' ').trim());
  }
  async function renderHome() { // the start page: what waits on this device
    const home = byId('home-waiting');
    if (!home) return;
    const list = await mine().catch(() => []);
    const waiting = list.filter((e) => e.state === 'waiting').length;
    const fix = list.length - waiting;
    home.textContent = [waiting ? plural(home, 'waiting', waiting) : '',
      fix ? plural(home, 'fix', fix) : ''].join(' ').trim();
    home.hidden = !list.length;
    if (list.length && byId('attention-none')) byId('attention-none').hidden = true;
  }
  async function render() {
    await renderHome();
    if (!panel) return;
    byId('offline-banner').hidden = navigator.onLine && !networkDown;
    const list = await mine().catch(() => []);
    panel.dataset.count = String(list.length);
    show('offline-count', list.length ? plural(panel, 'waiting', list.length) : '');
    byId('offline-actions').hidden = !list.length;
    const problems = byId('offline-problems');
    problems.textContent = '';
    problems.hidden = !list.some((e) => e.state !== 'waiting');
    list.filter((e) => e.state !== 'waiting').forEach((entry) => {
      const item = problems.appendChild(document.createElement('li'));
      const when = new Date(entry.queuedAt).toLocaleString(document.documentElement.lang);
      const errors = [].concat.apply([], Object.values(entry.errors || {}));
      item.textContent = [panel.dataset.problem, when].concat(errors.length ? errors
        : [entry.message], '').join(' ');
      const button = item.appendChild(document.createElement('button'));
      button.type = 'button';
      button.className = 'link-button';
      button.textContent = panel.dataset.open;
      button.addEventListener('click', () => openEntry(entry.id));
    });
  }

  // -- talking to the server: {status: ...} as fill() answers, or 'network' / 'login' ---------
  async function request(url, options, wait) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), wait);
    try {
      const response = await fetch(url, Object.assign({ credentials: 'same-origin',
        redirect: 'manual', signal: controller.signal, headers: { Accept: 'application/json' } },
      options));
      networkDown = false;
      if (response.type === 'opaqueredirect' || response.status === 401 ||
          response.status === 403) return { status: 'login' };
      const answer = await response.json().catch(() => ({}));
      answer.httpStatus = response.status;
      if (response.status >= 500) answer.status = 'network';
      answer.status = answer.status || (response.ok ? 'ok' : 'invalid');
      return answer;
    } catch (error) {
      networkDown = true;
      return { status: 'network' };
    } finally {
      clearTimeout(timer);
    }
  }
  const freshToken = () => request(logout.dataset.tokenUrl, { cache: 'no-store' }, SEND_WAIT);
  // What a post carries: URL-encoded fields, or multipart with the chosen files.
  function postBody(fields, files) {
    if (!files.length) return fields;
    const data = new FormData();
    fields.forEach((value, name) => data.append(name, value));
    files.forEach((item) => data.append(item.name, item.file, item.file.name));
    return data;
  }
  // Files take time to send on a slow line: wait longer before calling it offline.
  const patience = (wait, files) => wait + files.reduce((sum, f) => sum + f.file.size, 0) /
    UPLOAD_RATE;
  // One post, and once more with a fresh CSRF token if the one sent has expired.
  async function post(url, body, token, wait, files) {
    const fields = new URLSearchParams(body);
    files = files || [];
    for (let attempt = 0; ; attempt++) {
      if (token) fields.set('csrf_token', token);
      const answer = await request(url, { method: 'POST', body: postBody(fields, files) },
        patience(wait, files));
      if (answer.status !== 'expired' || attempt) return answer;
      const fresh = await freshToken();
      if (!fresh.csrf_token) return fresh;
      token = fresh.csrf_token;
    }
  }

  // -- sending the queue ---------------------------------------------------------------------
  let sending = null;
  function sendWaiting() {
    if (sending || !navigator.onLine) return sending;
    const run = () => sendAll().catch(() => null);
    const done = () => { sending = null; return render(); };
    sending = (navigator.locks ? navigator.locks.request('birge-send', run) : run())
      .then(done, done);
    return sending;
  }
  async function sendAll() {
    const waiting = (await mine()).filter((e) => e.state === 'waiting');
    if (!waiting.length) return;
    const key = await userKey();
    const token = key ? await freshToken() : {};
    if (!key || token.status === 'login') say(key ? 'login' : 'locked');
    let sent = 0;
    for (const entry of token.csrf_token ? waiting : []) {
      let payload;
      try { payload = await unsealAll(key, entry); } catch (e) { continue; } // another key
      const answer = await post(entry.url, payload.body, token.csrf_token, SEND_WAIT,
        payload.files);
      if (answer.status === 'login') say('login');
      if (!/^(saved|duplicate|refusal|invalid|conflict|confirm_discard)$/.test(answer.status)) return;
      if (DONE[answer.status]) {
        await deleteEntry(entry.id);
        sent += 1;
      } else {
        Object.assign(entry, { state: answer.status, message: answer.message || '',
          errors: answer.errors || {} });
        await putEntry(entry);
      }
      await render();
    }
    if (sent && !(await mine()).length) say('sent');
  }

  // -- the form: submit online, or queue -----------------------------------------------------
  const field = (name) => form.querySelector('[name="' + name + '"]');
  function renewIdentity() {
    if (field('_instance_id')) field('_instance_id').value = 'uuid:' + crypto.randomUUID();
    if (field('_started_at')) field('_started_at').value = new Date().toISOString();
  }
  function restoring(instanceId) { // the id of the queued entry now on screen, if any
    const saved = stored(RESTORING);
    return saved && saved.instanceId === instanceId ? saved.id : null;
  }
  function submitDone(blank) {
    submitting = false;
    form.dispatchEvent(new CustomEvent('birge:submit-done', { detail: { blank: blank } }));
  }
  const answerFields = () => Array.from(form.querySelectorAll('input, select, textarea'))
    .filter((input) => !/^(hidden|submit|button)$/.test(input.type));
  function clearFields() {
    form.querySelectorAll('fieldset.repeat:not([data-counted]) .repeat-entry')
      .forEach((entry) => entry.remove());
    answerFields().forEach((input) => {
      if (input.type === 'radio' || input.type === 'checkbox') input.checked = false;
      else input.value = '';
    });
  }
  // The respondent's receipt code, issued here and now: 12 letters of the alphabet the server
  // uses, from the SHA-256 of the instanceID (survey/collection/privacy.py derives the same, and
  // keeps this code when the interview arrives).
  const ALPHABET = 'ACDEFHJKMNPQRTUVWXY3479';
  async function deviceReceipt(instanceId) {
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes(instanceId)));
    let number = BigInt('0x' + Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join(''));
    const base = BigInt(ALPHABET.length);
    let code = '';
    for (let i = 0; i < 12; i++) {
      code += ALPHABET[Number(number % base)];
      number /= base;
    }
    return code.slice(0, 4) + '-' + code.slice(4, 8) + '-' + code.slice(8);
  }
  function showSaved(code) {
    const saved = byId('offline-saved');
    if (!saved) return;
    byId('offline-receipt-code').textContent = code;
    saved.hidden = false;
    saved.scrollIntoView({ block: 'start' });
    saved.focus({ preventScroll: true });
  }
  if (byId('offline-next')) {
    byId('offline-next').addEventListener('click', () => {
      byId('offline-saved').hidden = true;
      const first = form.querySelector('section.form-section:not([hidden]) h2');
      if (first) { first.scrollIntoView({ block: 'start' }); first.focus(); }
    });
  }
  async function queue(body, files, instanceId) {
    const key = await userKey();
    if (!key) { say('noKey'); submitDone(false); return; }
    const code = await deviceReceipt(instanceId);
    const fields = new URLSearchParams(body);
    fields.set('_receipt_code', code);
    body = fields.toString();
    const about = files.map((item) => ({ name: item.name, filename: item.file.name,
      type: item.file.type }));
    const sealedFiles = [];
    for (const item of files) sealedFiles.push(await sealFile(key, item.file));
    const entry = Object.assign({ user: userId, url: formPath, queuedAt: new Date().toISOString(),
      state: 'waiting', message: '', errors: {}, files: sealedFiles },
    await seal(key, { body: body, files: about }));
    const id = restoring(instanceId);
    if (id !== null) entry.id = id; // a fixed interview replaces its queued copy
    await putEntry(entry);
    sessionStorage.removeItem(RESTORING);
    clearFields();
    renewIdentity();
    submitDone(true);
    say('queued');
    await render();
    showSaved(code);
  }
  // The form's answers as the browser would post them: text fields, and the files chosen
  // (a file input left empty sends nothing).
  function formParts() {
    const fields = new URLSearchParams();
    const files = [];
    for (const [name, value] of new FormData(form)) {
      if (!(value instanceof File)) fields.append(name, value);
      else if (value.name || value.size) files.push({ name: name, file: value });
    }
    return { body: fields.toString(), files: files };
  }
  async function submitInterview() {
    const parts = formParts();
    const instanceId = field('_instance_id').value;
    const answer = navigator.onLine ? await post(form.action, parts.body, null, SUBMIT_WAIT,
      parts.files) : { status: 'network' };
    if (DONE[answer.status] && answer.location) {
      const id = restoring(instanceId);
      if (id !== null) await deleteEntry(id);
      sessionStorage.removeItem(RESTORING);
      window.location.assign(answer.location);
    } else if (answer.status === 'network' || answer.status === 'login') {
      await queue(parts.body, parts.files, instanceId);
    } else if (answer.httpStatus === 413) { // files too large to be read: keep all on screen
      if (panel) show('offline-message', answer.message || '');
      if (panel) byId('offline-message').scrollIntoView({ block: 'center' });
      submitDone(false);
    } else { // the server's own page says what to fix, with the answers kept
      HTMLFormElement.prototype.submit.call(form);
    }
  }
  if (form) {
    form.addEventListener('submit', (event) => {
      if (event.defaultPrevented) return; // form.js found a problem, or is saving already
      // An entry added or removed by the server (a repeat inside a repeat) is no interview.
      if (event.submitter && event.submitter.name === '_action') return;
      event.preventDefault();
      if (submitting) return;
      submitting = true;
      submitInterview().catch(() => submitDone(false));
    });
    window.addEventListener('pageshow', (event) => { if (event.persisted) submitting = false; });
  }

  // -- opening a queued interview in the form to fix it --------------------------------------
  function setField(name, values) {
    form.querySelectorAll('[name="' + CSS.escape(name) + '"]').forEach((input) => {
      if (input.type === 'file') {
        const chosen = new DataTransfer();
        values.filter((v) => v instanceof File).forEach((file) => chosen.items.add(file));
        input.files = chosen.files;
      } else if (input.type === 'radio' || input.type === 'checkbox') {
        input.checked = values.indexOf(input.value) >= 0;
      } else if (!/^(submit|button)$/.test(input.type)) {
        input.value = values[0] || '';
      }
    });
  }
  // Repeat entries are made again in order, so "member-3-age" may become "member-0-age", and
  // at every level of repeats inside repeats: "household-2-member-5-age" may come back as
  // "household-0-member-1-age".
  function fillForm(fields, files) {
    clearFields();
    fields = new URLSearchParams(fields);
    (files || []).forEach((item) => fields.append(item.name, ''));
    const chosen = (name) => (files || []).filter((item) => item.name === name)
      .map((item) => item.file);
    const valuesOf = (name) => (chosen(name).length ? chosen(name) : fields.getAll(name));
    const renamed = {};
    const order = {}; // a list's name as posted -> the entry indexes seen in it, in order
    const entriesOf = (list) => list.querySelectorAll(':scope > .repeat-entries > .repeat-entry');
    // The list of the repeat `name` directly in `scope` (the form, or an entry of its parent).
    function listIn(scope, name) {
      if (scope === form) {
        return form.querySelector('fieldset.repeat[data-repeat="' + CSS.escape(name) + '"]');
      }
      return Array.from(scope.querySelectorAll('fieldset.repeat[data-repeat-name="' +
        CSS.escape(name) + '"]')).find((list) => list.parentElement.closest('.repeat-entry') ===
        scope) || null;
    }
    // The field's name on this page, its entries made first; undefined while an entry cannot
    // be made yet (a counted repeat whose count is not filled in), null outside repeats.
    function place(name) {
      let scope = form;
      let rest = name;
      let posted = '';
      let here = '';
      for (;;) {
        const match = /^(.+?)-(\d+)-(.+)$/.exec(rest);
        const list = match && listIn(scope, match[1]);
        if (!list) return scope === form ? null : here + rest;
        const seen = order[posted + match[1]] = order[posted + match[1]] || [];
        if (seen.indexOf(match[2]) < 0) seen.push(match[2]);
        const position = seen.indexOf(match[2]);
        const add = list.querySelector(':scope > .add-entry');
        while (entriesOf(list).length <= position && add) add.click();
        const entry = entriesOf(list)[position];
        if (!entry) return undefined;
        posted += match[1] + '-' + match[2] + '-';
        here = (list.dataset.repeat || list.dataset.innerRepeat) + '-' + entry.dataset.index + '-';
        scope = entry;
        rest = match[3];
      }
    }
    let waiting = [];
    Array.from(new Set(fields.keys())).forEach((name) => {
      if (name === 'csrf_token') return;
      if (/^(.+?)-(\d+)-(.+)$/.test(name)) waiting.push(name);
      else setField(name, valuesOf(name));
    });
    // form.js makes the entries of counted repeats from the answers set so far: level by level.
    for (let pass = 0; pass < 20 && waiting.length; pass++) {
      form.dispatchEvent(new Event('input'));
      const before = waiting.length;
      waiting = waiting.filter((name) => {
        const placed = place(name);
        if (placed === undefined) return true;
        renamed[name] = placed === null ? name : placed;
        setField(renamed[name], valuesOf(name));
        return false;
      });
      if (waiting.length === before) break;
    }
    form.dispatchEvent(new Event('input'));
    return renamed;
  }
  async function openEntry(id) {
    const entry = (await mine()).find((e) => e.id === id);
    if (!entry) return;
    if (!form || formPath !== entry.url) {
      sessionStorage.setItem(RESTORE, String(id));
      window.location.assign(entry.url);
      return;
    }
    const key = await userKey();
    if (!key) { say('locked'); return; }
    const filled = answerFields().some((i) => (/^(radio|checkbox)$/.test(i.type) ? i.checked
      : i.value));
    if (filled && !window.confirm(panel.dataset.replace)) return;
    const queued = await unsealAll(key, entry);
    const renamed = fillForm(queued.body, queued.files);
    if (entry.state === 'conflict') renewIdentity(); // the old instanceID is taken
    sessionStorage.setItem(RESTORING, JSON.stringify({ id: entry.id,
      instanceId: field('_instance_id').value }));
    const problems = Object.keys(entry.errors || {}).map((name) => {
      const block = form.querySelector('[data-key="' + CSS.escape(renamed[name] || name) + '"]');
      const label = block && block.querySelector('label, legend').cloneNode(true);
      if (label) label.querySelectorAll('.required, .visually-hidden').forEach((e) => e.remove());
      return (label ? label.textContent.trim() + ': ' : '') + entry.errors[name].join(' ');
    });
    say('restored', (problems.length ? problems : [entry.message]).join(' '));
  }

  // -- export: the last resort ---------------------------------------------------------------
  const base64 = (file) => new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(',')[1] || '');
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
  async function exportQueue() {
    const key = await userKey();
    if (!key) { say('locked'); return; }
    const interviews = [];
    for (const entry of await mine()) {
      const item = { form_url: entry.url, queued_at: entry.queuedAt, state: entry.state,
        message: entry.message || null, errors: entry.errors || {} };
      try {
        const queued = await unsealAll(key, entry);
        item.body = queued.body;
        item.fields = Array.from(new URLSearchParams(item.body));
        item.files = [];
        for (const chosen of queued.files) {
          item.files.push({ field: chosen.name, filename: chosen.file.name,
            type: chosen.file.type, base64: await base64(chosen.file) });
        }
      } catch (e) {
        item.state = 'locked'; // queued under another password: cannot be read
      }
      interviews.push(item);
    }
    const file = { warning: panel.dataset.exportNote, site: window.location.origin,
      user: username, exported_at: new Date().toISOString(), interviews: interviews };
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([JSON.stringify(file, null, 2)],
      { type: 'application/json' }));
    link.download = 'birge-waiting-interviews-' + file.exported_at.slice(0, 10) + '.json';
    document.body.appendChild(link).click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
  }

  // -- logout: warn about unsent interviews, then forget the key and the cached pages ---------
  let leaving = false;
  logout.addEventListener('submit', (event) => {
    if (leaving) return;
    event.preventDefault();
    mine().catch(() => []).then((list) => {
      if (list.length && !window.confirm(plural(logout, 'unsent', list.length))) return null;
      leaving = true;
      [KEY_STORAGE, RESTORE, RESTORING].forEach((name) => sessionStorage.removeItem(name));
      const pages = window.caches && caches.keys().then((names) => Promise.all(names
        .filter((name) => /^birge-.*-pages$/.test(name)).map((name) => caches.delete(name))));
      return Promise.resolve(pages).catch(() => null)
        .then(() => HTMLFormElement.prototype.submit.call(logout));
    });
  });

  // -- start ---------------------------------------------------------------------------------
  if (form && document.documentElement.hasAttribute('data-offline-copy')) renewIdentity();
  const restore = form && sessionStorage.getItem(RESTORE);
  sessionStorage.removeItem(RESTORE);
  if (restore) openEntry(Number(restore)).catch(() => null);
  if (panel) {
    byId('offline-send').addEventListener('click', () => sendWaiting());
    byId('offline-export').addEventListener('click', () => exportQueue().catch(() => null));
  }
  window.addEventListener('online', () => { networkDown = false; render(); sendWaiting(); });
  window.addEventListener('offline', () => render());
  setInterval(sendWaiting, 30000);
  render().then(sendWaiting);
  if (navigator.serviceWorker && logout.dataset.serviceWorker) {
    navigator.serviceWorker.register(logout.dataset.serviceWorker, { scope: '/' })
      .then(() => navigator.serviceWorker.ready)
      .then((registration) => { // keep this form for offline use (sw.js 'remember')
        if (form) registration.active.postMessage({ type: 'remember', url: formPath });
      })
      .catch(() => null);
  }
})();
