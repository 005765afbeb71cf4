/*
 * Progressive enhancement of the volunteer's form (templates/collection/form.html).
 *
 * Without this file the form is one long page and the server does everything. With it:
 * - the instrument's rules run live with BirgeExpr (expressions.js) on the JSON model the page
 *   carries (survey/collection/page.py::form_model), as survey/instruments/rules.py runs them:
 *   relevance of sections, questions and repeats, calculations, choice filters, repeat counts;
 * - required answers and constraints are checked in the page, in the page's language;
 * - sections become steps with Back / Next, a progress status and bar;
 * - repeat entries, those of repeats inside repeats too, are added and removed without a round
 *   trip (so also offline), and counted repeats are sized, at any depth;
 * - the form is not submitted twice, and Enter in a text box moves on instead of submitting.
 * The server re-checks everything: it stays the authority on what is stored.
 */
(function () {
  'use strict';

  const form = document.getElementById('survey-form');
  const modelElement = document.getElementById('form-model');
  const E = window.BirgeExpr;
  if (!form || !modelElement || !E) return;
  const model = JSON.parse(modelElement.textContent);
  const Q = model.questions;
  // Words and limits come with the form model (collection/page.py): the server's catalogues and
  // the constants it enforces, never copies kept here.
  const words = model.words;
  const MAX_ENTRIES = model.limits.maxEntries;
  const INTEGER = new RegExp(model.limits.integer);
  const DECIMAL = new RegExp(model.limits.decimal);
  const LOCAL_DATE = new RegExp(model.limits.localDate);
  // The answers that end an interview (spec.IntakeRules), as the server applies them.
  const intake = model.intake;
  const names = Object.keys(Q);
  const topNames = names.filter((n) => !Q[n].repeat);
  const repeatNames = Object.keys(model.repeats || {});
  const children = {};
  repeatNames.forEach((r) => { children[r] = names.filter((n) => Q[n].repeat === r); });
  // Repeats inside repeats: each inner list lives in an entry of its parent's (rules.py).
  const parentOf = (r) => (model.repeats[r] || {}).parent || null;
  const innerOf = {};
  repeatNames.forEach((r) => { innerOf[r] = repeatNames.filter((x) => parentOf(x) === r); });
  function chain(r) {
    const out = [];
    for (let at = r; at && out.length < 100; at = parentOf(at)) out.unshift(at);
    return out;
  }
  // The entries of the last repeat of path below holder, across the entries before it.
  function entriesUnder(holder, path) {
    let level = [holder];
    path.forEach((name) => {
      const next = [];
      level.forEach((h) => (Array.isArray(h[name]) ? h[name] : []).forEach((e) => {
        next.push(e && typeof e === 'object' ? e : {});
      }));
      level = next;
    });
    return level;
  }
  const sectionEls = Array.from(form.querySelectorAll('section.form-section[data-section]'));
  const repeatEls = {};
  form.querySelectorAll('fieldset.repeat[data-repeat]').forEach((el) => {
    repeatEls[el.dataset.repeat] = el;
  });
  const topBlocks = {}; // question name -> its block, outside repeats
  form.querySelectorAll('[data-question]').forEach((el) => {
    if (!el.closest('.repeat-entry')) topBlocks[el.dataset.question] = el;
  });
  const nav = document.querySelector('nav.progress');
  const statusEl = document.getElementById('progress-status');
  const fillEl = document.getElementById('progress-fill');
  const backButton = form.querySelector('[data-nav="back"]');
  const nextButton = form.querySelector('[data-nav="next"]');
  const submitButton = form.querySelector('[data-nav="submit"]');
  const FIELDS = 'input:not([type=hidden]), select, textarea';

  // -- values as the server types them (survey/instruments/registry.py) ----------------------
  function isoDate(text) {
    const m = LOCAL_DATE.exec(text);
    const iso = m ? [m[3], m[2].padStart(2, '0'), m[1].padStart(2, '0')].join('-') : text;
    if (!/^\d{4}-\d{2}-\d{2}$/.test(iso)) return null;
    try { E.decode({ date: iso }); } catch (e) { return null; }
    return iso;
  }
  function readValue(block, q) {
    const t = q.type;
    if (t === 'select_one' || t === 'select_multiple' || t === 'acknowledge') {
      const picked = [];
      block.querySelectorAll('input:checked, option:checked').forEach((el) => {
        const code = el.value.normalize('NFC').trim();
        if (code && picked.indexOf(code) < 0) picked.push(code);
      });
      if (!picked.length) return { value: null };
      return { value: t === 'select_multiple' ? picked : picked[0] };
    }
    if (t === 'rank') { // one drop-down per position: the codes in the volunteer's order
      const selects = block.querySelectorAll('select');
      const codes = Array.from(selects).map((s) => s.value.normalize('NFC').trim())
        .filter(Boolean);
      if (!codes.length) return { value: null };
      if (codes.length !== selects.length || new Set(codes).size !== codes.length) {
        return { value: null, typeError: words.rank };
      }
      return { value: codes };
    }
    const input = block.querySelector('input, textarea');
    const text = input ? input.value.normalize('NFC').trim() : '';
    if (!text) return { value: null };
    if (t === 'integer' || t === 'decimal') {
      const compact = text.replace(/[ \u00a0]/g, '');
      if (!(t === 'integer' ? INTEGER : DECIMAL).test(compact)) {
        return { value: null, typeError: words[t] };
      }
      return { value: Number(compact.replace(',', '.')) };
    }
    if (t === 'date') {
      const iso = isoDate(text);
      return iso ? { value: iso } : { value: null, typeError: words.date };
    }
    return { value: text };
  }
  // An answer as the expression engine sees it (rules.expression_value), in BirgeExpr's JSON.
  function exprValue(q, v) {
    if (v === null || v === undefined || v === '' || (Array.isArray(v) && !v.length)) return null;
    if (q && q.type === 'date' && typeof v === 'string' && isoDate(v) === v) return { date: v };
    return v;
  }
  function storedCalculation(result) { // rules.stored_calculation
    if (result instanceof E.NodeSet) result = result.items.length ? result.items[0] : null;
    if (result === null || result === undefined) return null;
    if (typeof result === 'boolean') return result ? 'true' : 'false';
    if (typeof result === 'number') {
      if (!isFinite(result)) return null;
      return Number.isInteger(result) ? result : Math.round(result * 1e10) / 1e10;
    }
    return E.toString(result) || null;
  }
  // What expressions read besides answers (rules.py's _Evaluator.context): a repeat entry's
  // number (kept on its lookup), each entry's answers, the choice lists and their labels.
  function context(lookup, current, choice) {
    return {
      lookup: lookup, current: current, choice: choice, today: model.today, tables: model.tables,
      position: lookup.position || 1,
      lastSaved: (name) => (model.lastSaved || {})[name],
      // indexed-repeat(): outer levels from its pairs, else the entries the lookup runs in.
      entries: (name, outer) => {
        const q = Q[name];
        if (!q || !q.repeat) return [lookup(name)];
        const chosen = {};
        (outer || []).forEach((pair) => { chosen[pair[0]] = pair[1]; });
        const scope = lookup.scope || {};
        let holders = [state.ans];
        chain(q.repeat).slice(0, -1).forEach((level) => {
          if (Object.prototype.hasOwnProperty.call(chosen, level)) {
            const n = isFinite(chosen[level]) ? chosen[level] : 0;
            holders = holders.map((h) => {
              const found = entriesUnder(h, [level]);
              return n >= 1 && n <= found.length ? found[n - 1] : {};
            });
          } else if (scope[level]) {
            holders = [scope[level]];
          } else {
            holders = entriesUnder({ _: holders }, ['_', level]);
          }
        });
        const rows = [];
        holders.forEach((h) => entriesUnder(h, [q.repeat]).forEach((e) => rows.push(e)));
        return rows.map((e) => exprValue(q, e[name]));
      },
      choiceRows: (list) => (model.lists || {})[list] || [],
      choiceLabel: (question, code) => {
        const labels = (model.choiceLabels || {})[question] || {};
        return Object.prototype.hasOwnProperty.call(labels, code) ? labels[code] : null;
      },
    };
  }
  // A rule the page cannot run never hides, filters or blocks anything: the server decides.
  function truth(ast, lookup, current, choice) {
    if (!ast) return true;
    try { return E.evaluateBool(ast, context(lookup, current, choice)); } catch (e) { return true; }
  }
  // required and read_only expressions: a rule the page cannot run asks for nothing.
  function holds(ast, lookup) {
    if (!ast) return false;
    try { return E.evaluateBool(ast, context(lookup)); } catch (e) { return false; }
  }
  function evaluate(ast, lookup, current) {
    try { return E.evaluate(ast, context(lookup, current)); } catch (e) { return ''; }
  }
  // A text with answers in it ('${name}'): parts are strings and {e: tree} (piping.to_json).
  function filled(parts, lookup, current) {
    return parts.map((p) => (typeof p === 'string' ? p
      : E.toString(evaluate(p.e, lookup, current)))).join('');
  }

  // -- the rules, run to a fixed point: the import refuses cycles, so the result is the one
  // rules.py reaches in its dependency order. Pure: the page is changed afterwards, in refresh().
  const state = { ans: {}, secRel: {}, fields: [], byKey: {} };
  function entryElements(repeatEl) {
    return Array.from(repeatEl.querySelectorAll(':scope > .repeat-entries > .repeat-entry'));
  }
  function compute() {
    const cache = {};
    const ans = state.ans;
    const secRel = state.secRel;
    let result;
    let last = '';
    // A repeat's entry count, or a question's values, across the entries below holder (an
    // entry of outer, or the answers); undefined when the name is not below it.
    function below(holder, name, outer) {
      const q = Q[name];
      const isRepeat = !!model.repeats[name];
      let levels = chain(isRepeat ? name : (q ? q.repeat : null));
      if (outer) {
        const at = levels.indexOf(outer);
        if (at < 0 || (isRepeat && levels[levels.length - 1] === outer)) return undefined;
        levels = levels.slice(at + 1);
      }
      const entries = entriesUnder(holder, levels);
      if (isRepeat) return { nodeset: entries.map(() => '1') };
      return { nodeset: entries.map((e) => exprValue(q, e[name])).filter((v) => v !== null) };
    }
    function lookupTop(name) {
      const q = Q[name];
      if (model.repeats[name] || (q && q.repeat)) return below(ans, name, null);
      return exprValue(q, ans[name]);
    }
    // Names as an entry of repeat r sees them (rules.py's lookup_in).
    function lookupIn(entry, r, parent) {
      const ancestors = chain(r);
      return (name) => {
        const q = Q[name];
        const own = q ? q.repeat : null;
        if (own && own === r) return exprValue(q, entry[name]);
        const found = below(entry, name, r);
        if (found !== undefined) return found;
        if (own && ancestors.indexOf(own) < 0) return null;
        return parent(name);
      };
    }
    function question(name, block, key, lookup, target, parentRel) {
      const q = Q[name];
      const rel = parentRel && truth(q.relevant, lookup);
      if (block) result.blocks.push([block, rel]);
      // randomize=true with a seed: ODK's order of the sheet's codes (the server drew it first).
      if (block && q.seed) {
        const seed = evaluate(q.seed, lookup);
        result.orders.push([block, E.randomize(new E.NodeSet(q.codes), seed).items]);
      }
      let value = null;
      if (rel && q.type === 'calculate' && q.calculation) {
        // once() keeps the value it gave before, as in ODK: once(uuid()) does not change.
        value = storedCalculation(evaluate(q.calculation, lookup, exprValue(q, target[name])));
      } else if (rel && block && q.type !== 'note' && q.type !== 'calculate') {
        const read = cache[key] || (cache[key] = readValue(block, q));
        value = read.value;
        const readOnly = !!q.readOnly || holds(q.readOnlyIf, lookup);
        if (q.readOnly || q.readOnlyIf) result.readOnly.push([block, readOnly]);
        if (readOnly) { // shown, not typed in: the server keeps the form's own value
          if (q.calculation) { // which is its calculation (rules.py): shown in its field
            value = storedCalculation(evaluate(q.calculation, lookup, exprValue(q, value)));
            result.calculated.push([block, value]);
          }
          if (value === null) delete target[name]; else target[name] = value;
          return;
        }
        if (q.choiceFilter) {
          const allowed = {};
          (model.choices[q.list] || []).forEach((c) => {
            if (truth(q.choiceFilter, lookup, null, c)) allowed[c.name] = true;
          });
          result.filters.push([block, allowed]);
          if (Array.isArray(value)) value = value.filter((c) => allowed[c]);
          else if (value !== null && !allowed[value]) value = null;
          if (Array.isArray(value) && !value.length) value = null;
        }
        result.fields.push({ key: key, q: q, block: block, value: value,
          typeError: read.typeError, lookup: lookup });
      }
      if (value === null) delete target[name]; else target[name] = value;
    }
    // A top-level repeat, or (holder, outside, el) one inside an entry of its parent.
    function repeat(r, holder, outside, el) {
      const rm = model.repeats[r];
      const top = !holder;
      holder = holder || ans;
      outside = outside || lookupTop;
      if (top) el = repeatEls[r];
      const rel = (!top || !rm.section || secRel[rm.section] !== false) &&
        truth(rm.relevant, outside);
      if (el) result.repeats.push([el, rel]);
      if (!rel || !el) { delete holder[r]; return; }
      const entryEls = entryElements(el);
      let count = entryEls.length;
      if (rm.count) {
        const wanted = E.toNumber(evaluate(rm.count, outside));
        count = isNaN(wanted) ? 0 : Math.max(0, Math.min(Math.trunc(wanted), MAX_ENTRIES));
        if (count !== entryEls.length) result.resize.push([el, count]);
      }
      const entries = holder[r] = (holder[r] || []).slice(0, count);
      for (let i = 0; i < count; i++) {
        const entry = entries[i] = entries[i] || {};
        const lookup = lookupIn(entry, r, outside);
        lookup.position = i + 1;
        lookup.scope = Object.assign({}, outside.scope || {});
        lookup.scope[r] = entry;
        if (entryEls[i]) result.entryLookups.set(entryEls[i], lookup);
        children[r].forEach((name) => {
          const block = entryEls[i] &&
            entryEls[i].querySelector('[data-question="' + CSS.escape(name) + '"]');
          question(name, block, block && block.getAttribute('data-key'), lookup, entry, true);
        });
        innerOf[r].forEach((inner) => {
          const innerEl = entryEls[i] && entryEls[i].querySelector(
            'fieldset.repeat[data-repeat-name="' + CSS.escape(inner) + '"]');
          repeat(inner, entry, lookup, innerEl);
        });
      }
      if (!count) delete holder[r];
    }
    for (let pass = 0; pass < 50; pass++) {
      result = { blocks: [], orders: [], filters: [], fields: [], repeats: [], resize: [], readOnly: [],
        calculated: [], entryLookups: new Map(), lookupTop: lookupTop };
      sectionEls.forEach((s) => {
        const name = s.getAttribute('data-section');
        secRel[name] = truth((model.sections[name] || {}).relevant, lookupTop);
      });
      topNames.forEach((name) => {
        const block = topBlocks[name];
        const key = block ? block.getAttribute('data-key') : name;
        const section = Q[name].section;
        question(name, block, key, lookupTop, ans, !section || secRel[section] !== false);
      });
      repeatNames.filter((r) => !parentOf(r)).forEach((r) => repeat(r));
      const shape = [ans, secRel, result.blocks.map((b) => b[1]), result.repeats.map((b) => b[1])];
      const signature = JSON.stringify(shape);
      if (signature === last) break;
      last = signature;
    }
    return result;
  }
  function toggle(el, hide) {
    if (el && el.hidden !== hide) el.hidden = hide;
  }
  // A disabled choice is not posted: a hidden copy of what it shows is, so a read-only
  // question's default reaches the server (which still decides what a read-only one keeps).
  function readOnlyCopies(block, on) {
    block.querySelectorAll('input[type=hidden][data-read-only-copy]').forEach((el) => el.remove());
    if (!on) return;
    block.querySelectorAll('input:checked:disabled, select:disabled').forEach((el) => {
      const codes = el.tagName === 'SELECT' ? Array.from(el.selectedOptions, (o) => o.value)
        : [el.value];
      codes.filter(Boolean).forEach((code) => {
        const copy = document.createElement('input');
        copy.type = 'hidden';
        copy.name = el.name;
        copy.value = code;
        copy.setAttribute('data-read-only-copy', '');
        block.appendChild(copy);
      });
    });
  }
  // Shows a shuffled select's choices (radios, checkboxes, a dropdown's or each rank
  // position's options) in this order of codes; what is chosen stays chosen.
  function reorder(block, order) {
    const choices = block.querySelectorAll('[data-choice]');
    const lists = new Set(Array.from(choices, (el) => el.parentNode));
    lists.forEach((list) => {
      const els = Array.from(list.children).filter((el) => el.hasAttribute('data-choice'));
      const byCode = new Map(els.map((el) => [el.getAttribute('data-choice'), el]));
      const wanted = order.map((code) => byCode.get(String(code))).filter(Boolean);
      if (wanted.every((el, i) => el === els[i])) return; // moving a focused radio would blur it
      wanted.forEach((el) => list.appendChild(el));
    });
  }
  function refresh(again) {
    const result = compute();
    result.blocks.concat(result.repeats).forEach((b) => toggle(b[0], !b[1]));
    result.calculated.forEach(([block, value]) => showValue(block, value, true));
    result.readOnly.forEach(([block, on]) => {
      block.querySelectorAll(FIELDS).forEach((el) => {
        if (el.matches('input[type=radio], input[type=checkbox], select')) el.disabled = on;
        else el.readOnly = on;
      });
      readOnlyCopies(block, on);
    });
    result.orders.forEach(([block, order]) => reorder(block, order));
    result.filters.forEach(([block, allowed]) => {
      block.querySelectorAll('[data-choice]').forEach((el) => {
        const ok = !!allowed[el.getAttribute('data-choice')];
        toggle(el, !ok);
        if (el.tagName === 'OPTION') {
          el.disabled = !ok;
          if (!ok && el.selected) el.parentNode.value = '';
        } else if (!ok) {
          el.querySelector('input').checked = false;
        }
      });
    });
    let resized = false;
    result.resize.forEach(([el, count]) => {
      while (entryElements(el).length < count && addEntry(el)) resized = true;
      for (let e = entryElements(el); e.length > count; e = entryElements(el)) {
        removeEntry(el, e[e.length - 1]);
        resized = true;
      }
    });
    // Entries made here may hold counted repeats of their own: size them too, level by level.
    if (resized && (again || 0) < 20) { refresh((again || 0) + 1); return; }
    // A nested group's relevant is folded into its items': it shows while any of them does.
    form.querySelectorAll('fieldset.question-group[data-group]').forEach((group) => {
      const items = group.querySelectorAll('[data-question], fieldset.repeat');
      toggle(group, !Array.from(items).some((el) => !el.hidden));
    });
    fillTexts(result);
    state.fields = result.fields;
    state.byKey = {};
    result.fields.forEach((f) => { state.byKey[f.key] = f; });
    Object.keys(shown).forEach((key) => {
      if (state.byKey[key]) check(state.byKey[key], false); else clearError(key);
    });
    updateSteps();
  }

  // Answers inside labels, hints and notes (spans from piping.render), as text, never markup.
  function fillTexts(result) {
    form.querySelectorAll('span.piped[data-expr]').forEach((span) => {
      const entry = span.closest('.repeat-entry');
      if (entry && !result.entryLookups.has(entry)) return; // a template, not an entry
      const lookup = entry ? result.entryLookups.get(entry) : result.lookupTop;
      let text = '';
      try { text = E.toString(evaluate(JSON.parse(span.dataset.expr), lookup)); } catch (e) { }
      if (span.textContent !== text) span.textContent = text;
    });
  }

  // -- checks in the page --------------------------------------------------------------------
  const shown = {}; // key -> 'client' | 'server': whose message the page shows
  const initial = {}; // key -> the answer the server saw when it sent its message
  function problem(f) {
    if (f.typeError) return f.typeError;
    if (f.value === null) {
      if (!f.q.required && !holds(f.q.requiredIf, f.lookup)) return '';
      return (f.q.requiredParts && filled(f.q.requiredParts, f.lookup)) || f.q.requiredMessage;
    }
    const input = f.q.type === 'date' && f.block.querySelector('input[data-range-message]');
    if (input && (f.value < input.min || f.value > input.max)) { // the survey round's dates
      return input.dataset.rangeMessage;
    }
    const current = exprValue(f.q, f.value);
    if (f.q.constraint && !truth(f.q.constraint, f.lookup, current)) {
      return (f.q.constraintParts && filled(f.q.constraintParts, f.lookup, current)) ||
        f.q.constraintMessage;
    }
    return '';
  }
  function showError(block, message) {
    const p = block.querySelector('p.error[data-error-for]');
    if (p && p.textContent !== message) p.textContent = message;
    block.classList.toggle('has-error', !!message);
    const target = block.tagName === 'FIELDSET' ? block : block.querySelector(FIELDS);
    if (target && message) target.setAttribute('aria-invalid', 'true');
    else if (target) target.removeAttribute('aria-invalid');
  }
  function clearError(key) {
    const p = form.querySelector('p.error[data-error-for="' + CSS.escape(key) + '"]');
    const block = p && p.closest('[data-question]');
    if (block) showError(block, '');
    delete shown[key];
  }
  // Whether a relevant field has a problem; shown when asked, or when a message is up already.
  function check(f, show) {
    const message = problem(f);
    if (!message && shown[f.key] === 'server' && JSON.stringify(f.value) === initial[f.key]) {
      return true; // the server's message (e.g. an ID number in a text) stands until changed
    }
    if (message && (show || shown[f.key])) {
      showError(f.block, message);
      shown[f.key] = 'client';
    } else if (!message && shown[f.key]) {
      clearError(f.key);
    }
    return !!message;
  }
  function invalidIn(section) {
    return state.fields.filter((f) => (!section || section.contains(f.block)) && check(f, true))
      .sort((a, b) => (a.block.compareDocumentPosition(b.block) & 4 ? -1 : 1)); // 4: FOLLOWING
  }
  function focusField(f) {
    const section = f.block.closest('section.form-section');
    if (current && section && section !== current) showSection(section, false);
    const target = f.block.querySelector('input:checked') ||
      Array.from(f.block.querySelectorAll(FIELDS)).find((el) => el.getClientRects().length);
    if (!target) return;
    target.focus({ preventScroll: true });
    f.block.scrollIntoView({ block: 'center' });
  }
  // Consent refused or under age: the server stores a refusal and ignores the other errors.
  function isRefusal(bad) {
    const consent = state.ans[intake.consent_question];
    const age = state.ans[intake.age_question];
    const keys = [intake.consent_question, intake.age_question, intake.district_question];
    const refused = (consent != null && consent !== intake.consent_value) ||
      (typeof age === 'number' && age < intake.minimum_age);
    return refused && !bad.some((f) => keys.indexOf(f.key) >= 0);
  }

  // -- sections as steps ---------------------------------------------------------------------
  let current = null;
  function relevantSections() {
    return sectionEls.filter((s) => state.secRel[s.getAttribute('data-section')] !== false);
  }
  function showSection(section, focus) {
    current = section;
    updateSteps();
    const chip = nav && nav.querySelector('[aria-current="step"]'); // in view in the row of steps
    if (chip) chip.scrollIntoView({ block: 'nearest', inline: 'nearest' });
    if (!focus) return;
    (nav || section).scrollIntoView({ block: 'start' });
    const heading = section.querySelector('h2');
    if (heading) heading.focus({ preventScroll: true });
  }
  function updateSteps() {
    if (!current) return;
    const list = relevantSections();
    if (list.indexOf(current) < 0) { // its section stopped applying: go to the one before
      const before = list.filter((s) => sectionEls.indexOf(s) < sectionEls.indexOf(current));
      current = before.length ? before[before.length - 1] : list[0] || sectionEls[0];
    }
    sectionEls.forEach((s) => toggle(s, s !== current));
    const i = list.indexOf(current);
    const last = i === list.length - 1;
    toggle(backButton, i <= 0);
    toggle(nextButton, last);
    if (!submitting) toggle(submitButton, !last);
    let title = '';
    if (nav) {
      nav.querySelectorAll('[data-section-link]').forEach((li) => {
        const section = document.getElementById('section-' + li.getAttribute('data-section-link'));
        const a = li.querySelector('a');
        toggle(li, list.indexOf(section) < 0);
        if (section !== current) { a.removeAttribute('aria-current'); return; }
        a.setAttribute('aria-current', 'step');
        title = a.textContent.trim();
      });
    }
    const text = words.step.replace('{n}', i + 1).replace('{total}', list.length)
      .replace('{title}', title || current.querySelector('h2').textContent.trim());
    if (statusEl && !submitting && statusEl.textContent !== text) statusEl.textContent = text;
    if (fillEl) fillEl.style.width = Math.round(((i + 1) / list.length) * 100) + '%';
  }
  function step(delta) {
    const list = relevantSections();
    const target = list[list.indexOf(current) + delta];
    if (target) showSection(target, true);
  }

  // -- repeats: entries cloned from the page's <template>, indexes may keep gaps -------------
  // A list is a top-level repeat (data-repeat="member") or the list of a repeat inside an
  // entry of its parent (data-inner-repeat="household-0-member", data-repeat-name="member").
  const repeatOf = (listEl) => listEl.dataset.repeat || listEl.dataset.repeatName;
  const listName = (listEl) => listEl.dataset.repeat || listEl.dataset.innerRepeat;
  function findList(name) {
    return repeatEls[name] ||
      form.querySelector('fieldset.repeat[data-inner-repeat="' + CSS.escape(name) + '"]');
  }
  function addEntry(repeatEl) {
    const r = repeatOf(repeatEl);
    const template = document.getElementById('repeat-template-' + r);
    const entries = entryElements(repeatEl);
    if (!template || entries.length >= MAX_ENTRIES) return null;
    const index = entries.reduce((m, e) => Math.max(m, (parseInt(e.dataset.index, 10) + 1) || 0),
      0); // the next unused index
    const holder = document.createElement('template');
    // The template of an inner repeat names its list '__LIST__' (collection/page.py).
    holder.innerHTML = template.innerHTML.split('__LIST__').join(listName(repeatEl))
      .replace(/__INDEX__/g, String(index)).replace(/__NUMBER__/g, String(entries.length + 1));
    const entry = holder.content.querySelector('.repeat-entry');
    repeatEl.querySelector(':scope > .repeat-entries').appendChild(entry);
    fillDefaults(r, entry);
    return entry;
  }
  // A value put in a question's field by the form itself; `replace` drops what it showed.
  function showValue(block, value, replace) {
    const codes = value === null ? [] : String(value).split(' ');
    const options = block.querySelectorAll('input[type=radio], input[type=checkbox], option');
    if (options.length) {
      options.forEach((el) => {
        const on = codes.indexOf(el.value) >= 0;
        if (!on && !replace) return;
        if (el.tagName === 'OPTION') el.selected = on; else el.checked = on;
      });
      return;
    }
    const input = block.querySelector('input:not([type=hidden]):not([type=file]), textarea');
    const text = value === null ? '' : String(value);
    if (input && (replace || !input.value) && input.value !== text) input.value = text;
  }
  // Defaults given as expressions, evaluated once when the entry is created (ODK's
  // odk-new-repeat; rules.default_values does the same for a page without script), with the
  // names the new entry sees: its position, its outer entries' answers, the rest.
  function fillDefaults(r, entry) {
    const names = (children[r] || []).filter((name) => Q[name].default);
    if (!names.length) return;
    const lookup = compute().entryLookups.get(entry);
    if (!lookup) return; // the repeat does not apply (a count of 0): no entry to fill
    names.forEach((name) => {
      const value = storedCalculation(evaluate(Q[name].default, lookup));
      const block = entry.querySelector('[data-question="' + CSS.escape(name) + '"]');
      if (value !== null && block) showValue(block, value, false);
    });
  }
  // The defaults of a new interview started on this page (ODK's odk-instance-first-load): after
  // a queued one emptied the fields, or on a copy from the offline cache, whose today() and
  // uuid() are those of the day it was cached. rules.default_values does the same on the server.
  function newInterview() {
    const now = new Date(); // the device's day, as ODK's today()
    model.today = new Date(now.getTime() - now.getTimezoneOffset() * 60000).toISOString()
      .slice(0, 10);
    const lookup = () => null; // a new interview has no answers yet
    lookup.position = 1;
    topNames.forEach((name) => {
      const q = Q[name];
      if (!q.default && q.fixedDefault === undefined) return;
      const value = q.default ? storedCalculation(evaluate(q.default, lookup)) : q.fixedDefault;
      if (value !== null && topBlocks[name]) showValue(topBlocks[name], value, true);
    });
  }
  function removeEntry(repeatEl, entry) {
    entry.querySelectorAll('p.error[data-error-for]').forEach((p) => {
      delete shown[p.dataset.errorFor];
    });
    entry.remove();
    entryElements(repeatEl).forEach((e, i) => { // its own numbers, not those of inner entries
      e.querySelectorAll(':scope > legend .entry-number, :scope > .remove-entry .entry-number')
        .forEach((span) => { span.textContent = String(i + 1); });
    });
  }
  form.addEventListener('click', (event) => {
    const button = event.target.closest('button[name="_action"]');
    const match = button && /^(add|remove):([^:]+)(?::(\d+))?$/.exec(button.value);
    const repeatEl = match && findList(match[2]);
    if (!repeatEl) return;
    event.preventDefault();
    if (match[1] === 'add') {
      const entry = addEntry(repeatEl);
      refresh();
      const field = entry && Array.from(entry.querySelectorAll(FIELDS))
        .find((el) => el.getClientRects().length);
      if (field) field.focus();
    } else {
      const entry = entryElements(repeatEl).find((e) => e.dataset.index === match[3]);
      if (entry) removeEntry(repeatEl, entry);
      refresh();
      const add = repeatEl.querySelector(':scope > .add-entry');
      if (add) add.focus();
    }
  });

  // -- typing, navigating, submitting --------------------------------------------------------
  form.addEventListener('input', () => refresh());
  // A text's change comes on blur, often from pressing a button: a message shown then could
  // move that button from under the finger, so it waits until the press is over.
  let pressing = false;
  const afterPress = [];
  document.addEventListener('pointerdown', () => { pressing = true; }, true);
  ['pointerup', 'pointercancel'].forEach((type) => document.addEventListener(type, () => {
    pressing = false;
    setTimeout(() => afterPress.splice(0).forEach((run) => run()), 0);
  }, true));
  form.addEventListener('change', (event) => {
    refresh();
    const block = event.target.closest('[data-key]');
    const show = () => {
      const f = block && state.byKey[block.getAttribute('data-key')];
      if (f) check(f, true);
    };
    if (pressing) afterPress.push(show); else show();
  });
  form.addEventListener('keydown', (event) => {
    const t = event.target;
    if (event.key !== 'Enter' || event.isComposing || t.tagName !== 'INPUT' ||
        /^(submit|button|reset|image)$/.test(t.type)) return;
    event.preventDefault(); // never submit a half-filled form: move to the next field instead
    const items = Array.from(form.querySelectorAll(FIELDS + ', button'))
      .filter((el) => el.tabIndex >= 0 && !el.disabled && el.getClientRects().length);
    const next = items.slice(items.indexOf(t) + 1)
      .find((el) => !(t.type === 'radio' && el.name === t.name));
    if (next) next.focus();
  });
  let submitting = false;
  let submitTimer = null;
  const submitLabel = submitButton ? submitButton.textContent : '';
  function saving(on) { // "Saving…" on the disabled button; back to normal after 15 s
    submitting = on;
    clearTimeout(submitTimer);
    form.setAttribute('aria-busy', String(on));
    if (submitButton) submitButton.disabled = on;
    if (submitButton) submitButton.textContent = on ? words.saving : submitLabel;
    if (statusEl) statusEl.textContent = on ? words.saving : '';
    if (on) submitTimer = setTimeout(() => saving(false), 15000); // the network may have failed
    else updateSteps();
  }
  // -- a refusal discards what came after consent or age: asked first, with the list ----------
  const discardPanel = document.getElementById('discard-confirm');
  const discardFlag = document.getElementById('discard-flag');
  function refusalTrigger() {
    const consent = state.ans[intake.consent_question];
    const age = state.ans[intake.age_question];
    if (consent != null && consent !== intake.consent_value) return intake.consent_question;
    if (typeof age === 'number' && age < intake.minimum_age) return intake.age_question;
    return null;
  }
  function answerText(block) {
    const picked = Array.from(block.querySelectorAll('input:checked, option:checked'))
      .filter((el) => el.value)
      .map((el) => (el.tagName === 'OPTION' ? el.textContent : el.closest('label').textContent)
        .trim());
    if (picked.length || block.querySelector('input[type=radio], input[type=checkbox], select')) {
      return picked.join(', ');
    }
    const input = block.querySelector('input, textarea');
    return input ? input.value.trim() : '';
  }
  function lostAnswers(trigger) { // [label, text] of what follows the question that ends it
    const start = topBlocks[trigger];
    if (!start) return [];
    return Array.from(form.querySelectorAll('[data-key]'))
      .filter((block) => start.compareDocumentPosition(block) & 4) // 4: FOLLOWING
      .map((block) => {
        const title = block.querySelector('legend, label');
        const words = title ? title.cloneNode(true) : null;
        if (words) words.querySelectorAll('.required, .visually-hidden').forEach((e) => e.remove());
        return [words ? words.textContent.trim() : '', answerText(block)];
      })
      .filter((row) => row[1]);
  }
  function askDiscard(trigger, lost) {
    const list = document.getElementById('discard-list');
    list.textContent = '';
    lost.forEach(([label, text]) => {
      const li = document.createElement('li');
      const strong = document.createElement('strong');
      strong.textContent = label;
      li.append(strong, ': ' + text);
      list.append(li);
    });
    const n = lost.length;
    const category = new Intl.PluralRules(document.documentElement.lang || 'en').select(n);
    const name = (c) => 'lost' + c.charAt(0).toUpperCase() + c.slice(1);
    document.getElementById('discard-text').textContent =
      (discardPanel.dataset[name(category)] || discardPanel.dataset.lostOther).replace('{n}', n);
    discardPanel.dataset.trigger = trigger;
    discardPanel.hidden = false;
    const heading = document.getElementById('discard-title');
    heading.tabIndex = -1;
    discardPanel.scrollIntoView({ block: 'start' });
    heading.focus({ preventScroll: true });
  }
  function dismissDiscard() {
    if (discardPanel) discardPanel.hidden = true;
    if (discardFlag) discardFlag.value = '';
  }
  if (discardPanel) {
    document.getElementById('discard-no').addEventListener('click', (event) => {
      event.preventDefault();
      const trigger = discardPanel.dataset.trigger ||
        (refusalTrigger() || intake.consent_question);
      dismissDiscard();
      const f = state.byKey[trigger];
      if (f) focusField(f);
    });
    form.addEventListener('change', (event) => {
      if (!discardPanel.contains(event.target)) dismissDiscard();
    });
  }
  form.addEventListener('submit', (event) => {
    // An add or remove button the page could not act on (no template): the server does it.
    if (event.submitter && event.submitter.name === '_action') return;
    if (submitting) { event.preventDefault(); return; }
    refresh();
    const bad = invalidIn(null);
    const trigger = refusalTrigger();
    if (discardPanel && discardFlag && trigger && isRefusal(bad)) {
      if (event.submitter && event.submitter.id === 'discard-yes') {
        discardFlag.value = '1';
      } else if (discardFlag.value !== '1') {
        const lost = lostAnswers(trigger);
        if (lost.length) {
          event.preventDefault();
          askDiscard(trigger, lost);
          return;
        }
      }
    }
    if (bad.length && !isRefusal(bad)) {
      event.preventDefault();
      focusField(bad[0]);
    } else {
      saving(true);
    }
  });
  window.addEventListener('pageshow', (event) => { if (event.persisted) saving(false); });
  // offline.js posts the interview itself after this check, and queues it on the device when
  // the network is down. It says when it is done: Submit comes back; after a queued interview
  // (detail.blank: the fields were emptied for the next one) the form starts again at step 1.
  form.addEventListener('birge:submit-done', (event) => {
    saving(false);
    if (!event.detail || !event.detail.blank) return;
    Object.keys(shown).forEach(clearError);
    // The interview just queued is the last saved one now (ODK's last-saved instance): as
    // rules.last_saved_value reads it, a repeat question from its first entry.
    Object.keys(model.lastSaved || {}).forEach((name) => {
      const q = Q[name];
      const entries = q && q.repeat ? state.ans[q.repeat] : null;
      const holder = !q || !q.repeat ? state.ans : (Array.isArray(entries) && entries[0]) || {};
      model.lastSaved[name] = exprValue(q, holder[name]);
    });
    newInterview();
    refresh();
    const first = relevantSections()[0];
    if (current && first) showSection(first, true);
  });

  // -- start ---------------------------------------------------------------------------------
  form.querySelectorAll('.has-error[data-key]').forEach((block) => {
    const key = block.getAttribute('data-key');
    const q = Q[block.getAttribute('data-question')];
    shown[key] = 'server';
    initial[key] = JSON.stringify(q ? readValue(block, q).value : null);
  });
  if (document.documentElement.hasAttribute('data-offline-copy')) newInterview();
  refresh();
  if (!sectionEls.length || !backButton || !nextButton) return;
  form.querySelectorAll('section.form-section > h2').forEach((h) => { h.tabIndex = -1; });
  form.classList.add('stepped');
  if (nav) nav.classList.add('stepped');
  toggle(statusEl, false);
  if (fillEl) {
    toggle(fillEl.parentNode, false);
    fillEl.parentNode.setAttribute('aria-hidden', 'true'); // the status above says it in words
  }
  backButton.addEventListener('click', () => step(-1));
  nextButton.addEventListener('click', () => {
    const bad = invalidIn(current);
    if (bad.length) focusField(bad[0]); else step(1);
  });
  if (nav) {
    nav.addEventListener('click', (event) => {
      const li = event.target.closest('[data-section-link]');
      const section = li && document.getElementById('section-' + li.dataset.sectionLink);
      if (!section) return;
      event.preventDefault();
      showSection(section, true);
    });
  }
  // After a refused submit, open the first section the server found a problem in.
  const list = relevantSections();
  const errorBlock = Array.from(form.querySelectorAll('.has-error[data-key]'))
    .find((b) => list.indexOf(b.closest('section.form-section')) >= 0);
  const errorSection = errorBlock ? errorBlock.closest('section.form-section')
    : list.find((s) => s.hasAttribute('data-has-errors'));
  showSection(errorSection || list[0] || sectionEls[0], false);
  const errorField = errorBlock && state.byKey[errorBlock.getAttribute('data-key')];
  const reasonBox = form.querySelector('.correction-reason.has-error textarea');
  if (errorField) {
    focusField(errorField);
  } else if (reasonBox) { // a correction sent without its reason: that is what needs attention
    if (current && sectionEls.length) showSection(list[list.length - 1] || current, false);
    reasonBox.focus({ preventScroll: true });
    reasonBox.scrollIntoView({ block: 'center' });
  }
})();
