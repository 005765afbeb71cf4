// Fill an XForm with ODK's own form engine (@getodk/xforms-engine) and serialise the submission.
//
//   node fill.mjs FORM.xml [--attachments DIR] [--missing-blank] [--answers ANSWERS.json] [--repeats N]
//   node fill.mjs --batch JOBS.json
//
// One form: prints one JSON object. A batch (a JSON list of jobs {form, attachments, answers,
// repeats, missing: "BLANK"|"ERROR"}) prints {"results": [...]} with one object per job, in order, so that node and
// the engine start once for many forms.
//
// Without --answers the form is filled automatically: every relevant, writable question gets a
// value the form's own constraint accepts (tried against the engine's validation), select
// questions take one of their (filtered) choices, repeats get N instances at each level
// (nested repeats included). With --answers, a JSON object maps node references
// ("/data/group/question", "/data/household[2]/age") to values; repeat instances named in the
// references are added first.
//
// The result object: {form, status: "ok"|"invalid"|"load-error"|"error", submission_xml,
// attachments: [{name, type, size, base64}], values: {reference: value}, errors: [...],
// warnings: [...], seconds}.

import { readFileSync, existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JSDOM } from 'jsdom';

// The engine expects a browser-like DOM (it is tested under jsdom in its own repository).
const dom = new JSDOM('');
for (const name of [
  'DOMParser',
  'XMLSerializer',
  'Node',
  'Element',
  'Attr',
  'Document',
  'XMLDocument',
  'DocumentFragment',
  'CharacterData',
  'Text',
  'Comment',
  'ProcessingInstruction',
  'NodeFilter',
  'NodeList',
  'HTMLCollection',
  'NamedNodeMap',
  'document',
]) {
  if (!(name in globalThis) && name in dom.window) {
    globalThis[name] = dom.window[name];
  }
}
// The bundled web-tree-sitter runtime reads __dirname when it detects node, even though the
// engine hands it the WebAssembly binary inline; an ES module has no __dirname of its own.
globalThis.__dirname = dirname(fileURLToPath(import.meta.url));

const { loadForm } = await import('@getodk/xforms-engine');

const TODAY = new Date();
const isoDate = (date) => date.toISOString().slice(0, 10);
const daysAgo = (days) => new Date(TODAY.getTime() - days * 86400000);

// A 1×1 PNG: a real image for image, signature and drawing questions.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

// A real, silent WAV (8 kHz, 8-bit mono, 8 samples) for audio questions.
function silentWav() {
  const samples = 8;
  const wav = Buffer.alloc(44 + samples, 128);
  wav.write('RIFF', 0);
  wav.writeUInt32LE(36 + samples, 4);
  wav.write('WAVEfmt ', 8);
  wav.writeUInt32LE(16, 16);
  wav.writeUInt16LE(1, 20);
  wav.writeUInt16LE(1, 22);
  wav.writeUInt32LE(8000, 24);
  wav.writeUInt32LE(8000, 28);
  wav.writeUInt16LE(1, 32);
  wav.writeUInt16LE(8, 34);
  wav.write('data', 36);
  wav.writeUInt32LE(samples, 40);
  return wav;
}

// What an upload question receives, by its media type. Video and other files get a few bytes
// with their declared type: enough for the engine and a server to store, not a playable video.
function uploadFor(node, stem) {
  const type = node.nodeOptions?.media?.type ?? null;
  if (type === 'audio') return new File([silentWav()], `${stem}.wav`, { type: 'audio/wav' });
  if (type === 'video') {
    return new File([Buffer.from('not a real video')], `${stem}.mp4`, { type: 'video/mp4' });
  }
  if (type === 'image' || type === null) {
    return new File([PNG], `${stem}.png`, { type: 'image/png' });
  }
  return new File([Buffer.from('test file')], `${stem}.txt`, { type: 'text/plain' });
}

const CONTENT_TYPES = {
  csv: 'text/csv',
  xml: 'text/xml',
  geojson: 'application/geo+json',
  json: 'application/json',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  mp3: 'audio/mpeg',
  mp4: 'video/mp4',
};

function attachmentFetcher(folder, used, missing) {
  return async (url) => {
    const name = decodeURIComponent(basename(new URL(String(url)).pathname));
    const path = folder ? join(folder, name) : null;
    if (!path || !existsSync(path)) {
      missing.push(name);
      return new Response(`no attachment ${name}`, { status: 404 });
    }
    used.push(name);
    const extension = name.split('.').pop().toLowerCase();
    return new Response(readFileSync(path), {
      status: 200,
      headers: { 'content-type': CONTENT_TYPES[extension] ?? 'application/octet-stream' },
    });
  };
}

function numbersIn(expression) {
  const found = new Set();
  for (const match of (expression ?? '').matchAll(/-?\d+(?:\.\d+)?/g)) {
    const value = Number(match[0]);
    if (Number.isFinite(value)) {
      found.add(value);
      found.add(value + 1);
      found.add(value - 1);
    }
  }
  return [...found];
}

function stringsIn(expression) {
  return [...(expression ?? '').matchAll(/'([^']*)'|"([^"]*)"/g)].map((m) => m[1] ?? m[2]);
}

function candidatesFor(node) {
  const constraint = node.definition.bind?.constraint?.expression ?? '';
  const type = node.valueType;
  const numbers = numbersIn(constraint);
  switch (type) {
    case 'int':
      return [1, 2, 3, 5, 10, 18, 25, 30, 40, 0, 50, 100, ...numbers.filter(Number.isInteger)].map(
        String,
      );
    case 'decimal':
      return [1.5, 2, 10.5, 25, 0.5, 50, 100, ...numbers].map(String);
    case 'date':
      return [daysAgo(30), daysAgo(1), TODAY, daysAgo(365 * 30), daysAgo(400), daysAgo(3650)].map(
        isoDate,
      );
    case 'time':
      return ['10:30:00.000', '08:00:00.000', '14:15:00.000'];
    case 'dateTime':
      return [`${isoDate(daysAgo(1))}T10:30:00.000`, `${isoDate(TODAY)}T08:00:00.000`];
    case 'geopoint':
      return ['43.238949 76.889709 850 5', '50.411 80.2275 200 4'];
    case 'geotrace':
      return ['43.2389 76.8897 0 0;43.2395 76.8905 0 0'];
    case 'geoshape':
      return ['43.2389 76.8897 0 0;43.2395 76.8905 0 0;43.2380 76.8910 0 0;43.2389 76.8897 0 0'];
    case 'boolean':
      return ['true', 'false'];
    case 'barcode':
      return ['4006381333931', '12345'];
    default:
      return [
        'Test answer',
        ...stringsIn(constraint),
        '12345',
        'abc',
        '0771234567',
        '01234567890',
        '+77010000000',
        '1',
        'TEST',
        'test@example.org',
      ];
  }
}

const violated = (node) => node.validationState?.violation != null;

class Filler {
  constructor(answers, repeats, warnings) {
    this.answers = answers;
    this.repeats = repeats;
    this.warnings = warnings;
    this.values = {};
    this.unused = new Set(answers ? Object.keys(answers) : []);
    this.leaves = new Map();
  }

  // Answers given early can be invalidated by later ones (a constraint comparing two
  // questions, a count checked against a roster): try the questions still in violation again.
  retryViolations(root, passes = 2) {
    for (let pass = 0; pass < passes; pass += 1) {
      const violations = root.validationState.violations;
      if (violations.length === 0) return;
      for (const violation of violations) {
        const node = this.leaves.get(violation.nodeId);
        if (!node || !node.currentState.relevant || node.currentState.readonly) continue;
        if (this.autofill(node)) this.values[this.referenceOf(node)] = this.valueOf(node);
      }
    }
  }

  fill(node, depth = 0) {
    const type = node.nodeType;
    if (type === 'root' || type === 'group' || type === 'repeat-instance') {
      if (type !== 'root' && !node.currentState.relevant) return;
      // Children can change while we answer (relevance, repeat counts): re-read each time.
      for (let index = 0; index < (node.currentState.children ?? []).length; index += 1) {
        const child = node.currentState.children[index];
        this.fill(child, type === 'repeat-instance' ? depth + 1 : depth);
      }
      return;
    }
    if (type === 'repeat-range:uncontrolled' || type === 'repeat-range:controlled') {
      if (!node.currentState.relevant) return;
      if (type === 'repeat-range:uncontrolled') {
        const wanted = this.wantedInstances(node, depth);
        const have = node.currentState.children.length;
        if (wanted > have) node.addInstances(undefined, wanted - have);
      }
      for (let index = 0; index < node.currentState.children.length; index += 1) {
        this.fill(node.currentState.children[index], depth);
      }
      return;
    }
    this.answer(node);
  }

  wantedInstances(range, depth) {
    if (!this.answers) return depth === 0 ? this.repeats : Math.min(this.repeats, 2);
    const prefix = range.currentState.reference;
    let wanted = range.currentState.children.length;
    for (const key of Object.keys(this.answers)) {
      if (key.startsWith(`${prefix}[`)) {
        const position = Number(key.slice(prefix.length + 1).split(']')[0]);
        if (Number.isInteger(position)) wanted = Math.max(wanted, position);
      }
    }
    return wanted;
  }

  referenceOf(node) {
    return node.currentState.reference;
  }

  answer(node) {
    const type = node.nodeType;
    if (type === 'note' || type === 'model-value' || type === 'attribute') return;
    if (!node.currentState.relevant || node.currentState.readonly) return;
    this.leaves.set(node.nodeId, node);
    const reference = this.referenceOf(node);
    if (this.answers) {
      const keys = [reference, reference.replace(/\[1\]/g, '')];
      const key = keys.find((k) => k in this.answers);
      if (key === undefined) return;
      this.unused.delete(key);
      this.set(node, this.answers[key]);
      if (violated(node)) {
        this.warnings.push(`${reference}: ${this.describe(node)}`);
      }
      this.values[reference] = this.valueOf(node);
      return;
    }
    const done = this.autofill(node);
    if (done) this.values[reference] = this.valueOf(node);
  }

  set(node, value) {
    switch (node.nodeType) {
      case 'select':
        if (Array.isArray(value)) node.selectValues(value.map(String));
        else if (node.selectType === 'select') node.selectValues(String(value).split(' ').filter(Boolean));
        else node.selectValue(value == null ? null : String(value));
        return;
      case 'rank':
        node.setValues(Array.isArray(value) ? value.map(String) : String(value).split(' '));
        return;
      case 'trigger':
        node.setValue(value === true || value === 'OK' || value === 'true');
        return;
      case 'upload': {
        if (value == null) {
          node.setValue(null);
          return;
        }
        const name = String(value);
        const file = uploadFor(node, name.replace(/\.[^.]*$/, ''));
        node.setValue(new File([file], name, { type: file.type }));
        return;
      }
      default:
        node.setValue(value == null ? '' : String(value));
    }
  }

  valueOf(node) {
    // The value as it is written into the submission.
    return node.currentState.instanceValue;
  }

  describe(node) {
    const violation = node.validationState.violation;
    if (!violation) return 'ok';
    const message = violation.message?.asString;
    const expression = node.definition.bind?.[violation.condition]?.expression;
    return `${violation.condition} not met${message ? ` (${message})` : ''}${
      expression ? ` [${expression}]` : ''
    }`;
  }

  autofill(node) {
    const reference = this.referenceOf(node);
    switch (node.nodeType) {
      case 'select': {
        const options = node.currentState.valueOptions.map((item) => item.value);
        if (options.length === 0) {
          if (node.currentState.required) this.warnings.push(`${reference}: no choice to pick`);
          return false;
        }
        // Prefer ordinary answers over "other"/"don't know" codes; keep the first that passes.
        // "Yes" first opens the questions that depend on it (repeats, nested groups).
        const unusual = /^(other|dk|dnk|dont_know|refuse|refused|pnta|no_answer|none|-?9\d*)$/i;
        const ordered = [
          ...options.filter((v) => /^(yes|y|1|true|oui|si)$/i.test(v)),
          ...options.filter((v) => !unusual.test(v)),
          ...options,
        ];
        const tries = [...new Set(ordered)].map((option) => [option]);
        if (node.selectType === 'select') {
          // Constraints like count-selected(.) > 1 want more than one choice.
          const plain = [...new Set(ordered)].filter((v) => !unusual.test(v));
          tries.push(plain.slice(0, 2), plain.slice(0, 3));
        }
        for (const values of tries) {
          node.selectValues(values);
          if (!violated(node)) return true;
        }
        break;
      }
      case 'rank': {
        node.setValues(node.currentState.valueOptions.map((item) => item.value));
        if (!violated(node)) return true;
        break;
      }
      case 'trigger':
        node.setValue(true);
        return true;
      case 'upload': {
        // One file name per question, so that no two attachments collide.
        this.uploads = (this.uploads ?? 0) + 1;
        node.setValue(uploadFor(node, `answer-${this.uploads}`));
        return true;
      }
      case 'range': {
        const bounds = node.definition.bodyElement?.bounds;
        const start = Number(bounds?.start ?? 0);
        const end = Number(bounds?.end ?? 10);
        const step = Number(bounds?.step ?? 1) || 1;
        const values = [start, start + step, Math.floor((start + end) / 2 / step) * step, end];
        for (const value of values) {
          node.setValue(String(value));
          if (!violated(node)) return true;
        }
        break;
      }
      case 'input': {
        for (const candidate of candidatesFor(node)) {
          try {
            node.setValue(candidate);
          } catch {
            continue;
          }
          if (!violated(node)) return true;
        }
        break;
      }
      default:
        this.warnings.push(`${reference}: node type ${node.nodeType} not filled`);
        return false;
    }
    // Nothing we tried satisfies the constraint: leave the question empty unless required.
    const why = this.describe(node);
    if (!node.currentState.required) {
      this.set(node, null);
      this.warnings.push(`${reference}: left empty, no generated value passed (${why})`);
      return false;
    }
    this.warnings.push(`${reference}: no generated value passed (${why})`);
    return true;
  }
}

async function fillOne(job) {
  const started = Date.now();
  const result = {
    form: job.form,
    status: 'error',
    submission_xml: null,
    attachments: [],
    values: {},
    form_attachments_used: [],
    form_attachments_missing: [],
    errors: [],
    warnings: [],
    seconds: 0,
  };
  try {
    const xml = readFileSync(job.form, 'utf8');
    const loaded = await loadForm(xml, {
      fetchFormAttachment: attachmentFetcher(
        job.attachments ?? null,
        result.form_attachments_used,
        result.form_attachments_missing,
      ),
      // ERROR (the engine's default) refuses a form whose attachment is missing; BLANK loads
      // it with an empty secondary instance, as ODK does for a form without its media.
      missingResourceBehavior: job.missing === 'BLANK' ? 'BLANK' : 'ERROR',
    });
    if (loaded.status === 'failure') {
      result.status = 'load-error';
      result.errors.push(String(loaded.error?.message ?? loaded.error));
      return result;
    }
    if (loaded.warnings) result.warnings.push(`load warnings: ${JSON.stringify(loaded.warnings)}`);
    const instance = loaded.createInstance({
      preloadProperties: {
        deviceID: 'odk-engine-test-device',
        username: 'enumerator',
        email: 'enumerator@example.org',
        phoneNumber: '+77010000000',
      },
      geolocationProvider: { getLocation: async () => '43.238949 76.889709 850 5' },
    });
    const root = instance.root;
    const filler = new Filler(job.answers ?? null, job.repeats ?? 2, result.warnings);
    filler.fill(root);
    if (!job.answers) filler.retryViolations(root);
    result.values = filler.values;
    for (const key of filler.unused) result.errors.push(`${key}: no such question in the form`);
    const payload = await root.prepareInstancePayload();
    const [data] = payload.data;
    result.submission_xml = await data.get('xml_submission_file').text();
    for (const [name, file] of data.entries()) {
      if (name === 'xml_submission_file') continue;
      const bytes = Buffer.from(await file.arrayBuffer());
      result.attachments.push({
        name,
        type: file.type,
        size: bytes.length,
        base64: bytes.toString('base64'),
      });
    }
    if (payload.status === 'ready') {
      result.status = 'ok';
    } else {
      result.status = 'invalid';
      for (const violation of payload.violations ?? []) {
        const v = violation.violation;
        result.errors.push(
          `${violation.reference}: ${v?.condition ?? 'invalid'}${
            v?.message?.asString ? ` (${v.message.asString})` : ''
          }`,
        );
      }
    }
  } catch (error) {
    result.status = 'error';
    result.errors.push(String(error?.stack ?? error).split('\n').slice(0, 3).join(' | '));
  } finally {
    result.seconds = (Date.now() - started) / 1000;
  }
  return result;
}

function parseArguments(argv) {
  const options = { repeats: 2 };
  const positional = [];
  for (let index = 0; index < argv.length; index += 1) {
    const argument = argv[index];
    if (argument === '--batch') options.batch = argv[++index];
    else if (argument === '--attachments') options.attachments = argv[++index];
    else if (argument === '--answers') options.answers = argv[++index];
    else if (argument === '--repeats') options.repeats = Number(argv[++index]);
    else if (argument === '--missing-blank') options.missing = 'BLANK';
    else positional.push(argument);
  }
  options.form = positional[0];
  return options;
}

const options = parseArguments(process.argv.slice(2));
if (options.batch) {
  const jobs = JSON.parse(readFileSync(options.batch, 'utf8'));
  const results = [];
  for (const job of jobs) results.push(await fillOne(job));
  process.stdout.write(`${JSON.stringify({ results })}\n`);
} else if (options.form) {
  const job = {
    form: resolve(options.form),
    attachments: options.attachments ? resolve(options.attachments) : null,
    answers: options.answers ? JSON.parse(readFileSync(options.answers, 'utf8')) : null,
    repeats: options.repeats,
    missing: options.missing,
  };
  process.stdout.write(`${JSON.stringify(await fillOne(job))}\n`);
} else {
  process.stderr.write('usage: node fill.mjs FORM.xml [--attachments DIR] [--answers FILE]\n');
  process.exit(2);
}
