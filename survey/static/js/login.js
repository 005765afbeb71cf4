/*
 * The login page: derive the volunteer's key for the offline queue from the password typed here.
 *
 * Interviews queued on this device while offline are encrypted with AES-GCM under a key derived
 * from the username and password (PBKDF2-SHA-256, 200 000 iterations, salt "birge:" + username).
 * The key is kept only in sessionStorage, which the browser empties when the tab or the browser
 * is closed, and offline.js empties on logout. survey/static/js/offline.js explains the design
 * and what this protects against (and what it does not).
 *
 * The form waits for the key (a fraction of a second), then is sent as usual. Without WebCrypto
 * (an old browser, or plain HTTP other than localhost) the login works as before, with no queue.
 */
(function () {
  'use strict';

  const STORAGE_KEY = 'birge-offline-key'; // offline.js reads it
  const ITERATIONS = 200000;
  const form = document.querySelector('form[data-offline-key]');
  if (!form || !window.crypto || !window.crypto.subtle || !window.sessionStorage) return;

  function base64(buffer) {
    return btoa(String.fromCharCode.apply(null, new Uint8Array(buffer)));
  }
  async function derive(username, password) {
    const text = new TextEncoder();
    const material = await crypto.subtle.importKey('raw', text.encode(password), 'PBKDF2', false,
      ['deriveBits']);
    const bits = await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256',
      salt: text.encode('birge:' + username), iterations: ITERATIONS }, material, 256);
    return base64(bits);
  }

  let state = 'idle'; // 'deriving' while the key is computed, 'sending' once the form may go
  form.addEventListener('submit', (event) => {
    if (state === 'sending') return;
    event.preventDefault();
    if (state === 'deriving') return; // a second press while the key is computed
    state = 'deriving';
    const username = (form.querySelector('[name=username]') || {}).value || '';
    const password = (form.querySelector('[name=password]') || {}).value || '';
    derive(username.trim(), password)
      .then((key) => {
        sessionStorage.setItem(STORAGE_KEY, JSON.stringify({ user: username.trim(), key: key }));
      })
      .catch(() => sessionStorage.removeItem(STORAGE_KEY))
      .then(() => {
        state = 'sending';
        HTMLFormElement.prototype.submit.call(form); // no submit event: goes straight out
      });
  });
})();
