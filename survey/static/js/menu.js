/*
 * The header's menu on phones: folded behind one "Menu" button (app.css hides the links under
 * 40rem once this has run). Without JavaScript the links simply stay on show.
 */
(function () {
  'use strict';

  const button = document.getElementById('menu-toggle');
  const menu = document.getElementById('main-nav');
  if (!button || !menu) return;
  button.hidden = false;
  button.closest('header').classList.add('has-menu');
  button.addEventListener('click', () => {
    const open = !menu.classList.contains('open');
    menu.classList.toggle('open', open);
    button.setAttribute('aria-expanded', String(open));
    if (open) {
      const first = menu.querySelector('a, button');
      if (first) first.focus();
    }
  });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && menu.classList.contains('open')) {
      menu.classList.remove('open');
      button.setAttribute('aria-expanded', 'false');
      button.focus();
    }
  });
})();
