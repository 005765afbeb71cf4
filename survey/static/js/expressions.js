/*
 * Birge XLSForm expression evaluator for the browser (and Node, for tests).
 *
 * Evaluates the JSON AST produced by survey/instruments/expressions.py with exactly the same
 * semantics; the browser never parses expression text. See that module's docstring for the AST
 * and value formats.
 *
 *   BirgeExpr.evaluate(ast, ctx) -> value     BirgeExpr.evaluateBool(ast, ctx) -> boolean
 *   ctx = {lookup: name => JSON value, current: JSON value, choice: {column: text},
 *          today: 'YYYY-MM-DD' (optional; defaults to the local date),
 *          entries: name => [JSON value per repeat entry] (indexed-repeat), position: number of
 *          the repeat entry (position(..)), choiceRows: list => [{name, label, ...}]
 *          (instance()), choiceLabel: (question, code) => label (jr:choice-name),
 *          now: {datetime: [ms, offset]} (optional; defaults to the device's clock)}
 *
 * Values inside the evaluator are strings, numbers, booleans, BDate (days since 1970-01-01) and
 * NodeSet; decode()/encode() convert from/to the shared JSON value format.
 */
(function (root) {
  'use strict';

  var MIN_DAYS = -719162; // 0001-01-01, Python's date.min
  var MAX_DAYS = 2932896; // 9999-12-31, Python's date.max
  var WS = /[ \t\r\n]+/;
  var NUMBER_TEXT = /^[ \t\r\n]*-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[ \t\r\n]*$/;
  var DATE_TEXT = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/;

  function BDate(days) { this.days = days; }
  function NodeSet(items) { this.items = items; }
  // An instant: ms since 1970-01-01T00:00Z and the UTC offset (minutes) it is shown in.
  function BDateTime(ms, offset) { this.ms = ms; this.offset = offset; }
  var DAY_MS = 86400000;
  var MIN_MS = MIN_DAYS * DAY_MS, MAX_MS = (MAX_DAYS + 1) * DAY_MS - 1;
  var DATETIME_TEXT = new RegExp('^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2})' +
    '(?::([0-9]{2})(?:\\.([0-9]+))?)?(Z|[+-][0-9]{2}:?[0-9]{2})?$');
  var MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  var WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

  // -- dates: proleptic Gregorian day counts (H. Hinnant's algorithms), no time zones involved.
  function daysFromCivil(y, m, d) {
    y -= m <= 2 ? 1 : 0;
    var era = Math.floor(y / 400);
    var yoe = y - era * 400;
    var doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
    var doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
    return era * 146097 + doe - 719468;
  }

  function isoDate(days) {
    var z = days + 719468;
    var era = Math.floor(z / 146097);
    var doe = z - era * 146097;
    var yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) -
      Math.floor(doe / 146096)) / 365);
    var doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
    var mp = Math.floor((5 * doy + 2) / 153);
    var d = doy - Math.floor((153 * mp + 2) / 5) + 1;
    var m = mp < 10 ? mp + 3 : mp - 9;
    var y = yoe + era * 400 + (m <= 2 ? 1 : 0);
    return String(y).padStart(4, '0') + '-' + String(m).padStart(2, '0') + '-' +
      String(d).padStart(2, '0');
  }

  function parseDate(text) {
    var m = DATE_TEXT.exec(text);
    if (!m) return null;
    var y = +m[1], mo = +m[2], d = +m[3];
    var leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
    var monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1];
    if (y < 1 || !monthDays || d < 1 || d > monthDays) return null;
    return new BDate(daysFromCivil(y, mo, d));
  }

  function pad(n, width) { return String(n).padStart(width, '0'); }

  // Local [days, hours, minutes, seconds, ms] of an instant; null out of range.
  function fields(t) {
    var local = Math.floor(t.ms) + t.offset * 60000;
    if (!(local >= MIN_MS && local <= MAX_MS)) return null;
    var days = Math.floor(local / DAY_MS), rest = local - days * DAY_MS;
    var seconds = Math.floor(rest / 1000);
    return [days, Math.floor(seconds / 3600), Math.floor(seconds / 60) % 60, seconds % 60,
      rest % 1000];
  }

  function isoDateTime(t) {
    var f = fields(t);
    if (!f) return '';
    var sign = t.offset < 0 ? '-' : '+', off = Math.abs(t.offset);
    return isoDate(f[0]) + 'T' + pad(f[1], 2) + ':' + pad(f[2], 2) + ':' + pad(f[3], 2) + '.' +
      pad(f[4], 3) + sign + pad(Math.floor(off / 60), 2) + ':' + pad(off % 60, 2);
  }

  function parseDateTime(text) {
    var m = DATETIME_TEXT.exec(text.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, ''));
    if (!m) return null;
    var day = parseDate(m[1] + '-' + m[2] + '-' + m[3]);
    if (!day || +m[4] > 23 || +m[5] > 59 || +(m[6] || 0) > 59) return null;
    var offset = 0, zone = m[8];
    if (zone && zone !== 'Z') {
      var digits = zone.slice(1).replace(':', '');
      if (+digits.slice(0, 2) > 23 || +digits.slice(2) > 59) return null;
      offset = (+digits.slice(0, 2) * 60 + +digits.slice(2)) * (zone[0] === '-' ? -1 : 1);
    }
    var local = day.days * DAY_MS + (+m[4] * 60 + +m[5]) * 60000 + +(m[6] || 0) * 1000 +
      +((m[7] || '0').slice(0, 3).padEnd(3, '0'));
    return new BDateTime(local - offset * 60000, offset);
  }

  // -- values
  function decode(v) {
    if (v === null || v === undefined) return '';
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
    if (Array.isArray(v)) return v.join(' ');
    if (v.nodeset) return new NodeSet(v.nodeset.map(decode));
    if (v.num !== undefined) return Number(v.num);
    if (v.datetime) return new BDateTime(Number(v.datetime[0]), Number(v.datetime[1]));
    var d = parseDate(v.date);
    if (!d) throw new Error('Invalid date value: ' + JSON.stringify(v));
    return d;
  }

  function encode(v) {
    if (typeof v === 'number' && !isFinite(v)) return { num: String(v) };
    if (v instanceof BDate) return { date: isoDate(v.days) };
    if (v instanceof BDateTime) return { datetime: [v.ms, v.offset] };
    if (v instanceof NodeSet) return { nodeset: v.items.map(encode) };
    return v;
  }

  function toStr(v) {
    if (typeof v === 'string') return v;
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    if (typeof v === 'number') return String(v);
    if (v instanceof BDate) return isoDate(v.days);
    if (v instanceof BDateTime) return isoDateTime(v);
    if (v instanceof NodeSet) return v.items.length ? toStr(v.items[0]) : '';
    return toStr(decode(v));
  }

  function toNum(v) {
    if (typeof v === 'number') return v;
    if (typeof v === 'boolean') return v ? 1 : 0;
    if (typeof v === 'string') return NUMBER_TEXT.test(v) ? Number(v) : NaN;
    if (v instanceof BDate) return v.days;
    if (v instanceof BDateTime) return v.ms / DAY_MS;
    if (v instanceof NodeSet) return v.items.length ? toNum(v.items[0]) : NaN;
    return toNum(decode(v));
  }

  function toBool(v) {
    if (typeof v === 'boolean') return v;
    if (typeof v === 'number') return !(v === 0 || isNaN(v));
    if (typeof v === 'string') return v.length > 0;
    if (v instanceof BDate || v instanceof BDateTime) return true;
    if (v instanceof NodeSet) return v.items.length > 0;
    return toBool(decode(v));
  }

  // -- operators
  function compare(op, a, b) {
    var aSet = a instanceof NodeSet, bSet = b instanceof NodeSet;
    if (!aSet && !bSet) return compareOne(op, a, b);
    // XPath: a node-set compared with a boolean uses boolean(node-set).
    if (typeof a === 'boolean' || typeof b === 'boolean') {
      return compareOne(op, toBool(a), toBool(b));
    }
    var xs = aSet ? a.items : [a], ys = bSet ? b.items : [b];
    return xs.some(function (x) { return ys.some(function (y) { return compareOne(op, x, y); }); });
  }

  function isNumeric(v) {
    return typeof v === 'number' || v instanceof BDate || v instanceof BDateTime;
  }

  function compareOne(op, a, b) {
    // Like ODK, a date compared with a 'YYYY-MM-DD' string compares as dates.
    if (a instanceof BDate && typeof b === 'string') b = parseDate(b) || b;
    else if (b instanceof BDate && typeof a === 'string') a = parseDate(a) || a;
    else if (a instanceof BDateTime && typeof b === 'string') b = parseDateTime(b) || b;
    else if (b instanceof BDateTime && typeof a === 'string') a = parseDateTime(a) || a;
    if (op === '=' || op === '!=') {
      var equal;
      if (typeof a === 'boolean' || typeof b === 'boolean') equal = toBool(a) === toBool(b);
      else if (isNumeric(a) || isNumeric(b)) equal = toNum(a) === toNum(b);
      else equal = toStr(a) === toStr(b);
      return op === '=' ? equal : !equal;
    }
    var x = toNum(a), y = toNum(b);
    if (op === '<') return x < y;
    if (op === '<=') return x <= y;
    if (op === '>') return x > y;
    return x >= y;
  }

  function arithmetic(op, x, y) {
    if (op === '+') return x + y;
    if (op === '-') return x - y;
    if (op === '*') return x * y;
    if (op === 'div') return x / y;
    if (op === 'mod') return x % y;
    throw new Error('Unknown operator ' + op);
  }

  var COMPARISONS = { '=': 1, '!=': 1, '<': 1, '<=': 1, '>': 1, '>=': 1 };

  function ev(n, ctx) {
    switch (n.t) {
      case 'num': case 'str': return n.v;
      case 'ref': return decode(ctx.lookup(n.n));
      case 'cur': return ctx.focus ? ctx.focus[0] : decode(ctx.current);
      case 'filter': {
        var base = ev(n.a, ctx);
        return filterValues(base instanceof NodeSet ? base.items : [base], n.p, ctx);
      }
      case 'inst': return instance(n, ctx);
      case 'pos': return ctx.position || 1;
      case 'child': return new NodeSet([]);
      case 'col':
        return decode(ctx.choice && Object.prototype.hasOwnProperty.call(ctx.choice, n.n) ?
          ctx.choice[n.n] : null);
      case 'neg': return -toNum(ev(n.a, ctx));
      case 'fn': return call(n, ctx);
      case 'op':
        if (n.o === 'and') return toBool(ev(n.a, ctx)) && toBool(ev(n.b, ctx));
        if (n.o === 'or') return toBool(ev(n.a, ctx)) || toBool(ev(n.b, ctx));
        var a = ev(n.a, ctx), b = ev(n.b, ctx);
        return COMPARISONS[n.o] ? compare(n.o, a, b) : arithmetic(n.o, toNum(a), toNum(b));
    }
    throw new Error('Unknown expression node ' + JSON.stringify(n.t));
  }

  function today(ctx) {
    if (ctx.today) return parseDate(ctx.today);
    var now = new Date();
    return new BDate(daysFromCivil(now.getFullYear(), now.getMonth() + 1, now.getDate()));
  }

  function withFocus(ctx, focus, choice) {
    var inner = Object.assign({}, ctx, { focus: focus });
    if (choice) inner.choice = choice;
    return inner;
  }

  function keeps(result, position) {
    // XPath: a number in a predicate selects by position, as in ${a}[2].
    return typeof result === 'number' ? result === position : toBool(result);
  }

  function filterValues(values, predicate, ctx) {
    return new NodeSet(values.filter(function (v, i) {
      return keeps(ev(predicate, withFocus(ctx, [v, i + 1, values.length])), i + 1);
    }));
  }

  function instance(n, ctx) {
    var rows = (ctx.choiceRows && ctx.choiceRows(n.l)) || [];
    n.p.forEach(function (predicate) {
      var all = rows;
      rows = all.filter(function (row, i) {
        var inner = withFocus(ctx, [decode(row.name), i + 1, all.length], row);
        return keeps(ev(predicate, inner), i + 1);
      });
    });
    var field = n.f || 'name';
    return new NodeSet(rows.map(function (row) {
      return Object.prototype.hasOwnProperty.call(row, field) && row[field] ? row[field] : '';
    }));
  }

  var ALPHANUMERIC = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

  function randomInt(n) { // uniform in [0, n), from the platform's cryptographic generator
    var limit = Math.floor(4294967296 / n) * n, word = new Uint32Array(1);
    do { crypto.getRandomValues(word); } while (word[0] >= limit);
    return word[0] % n;
  }

  function uuid(length) {
    if (length === undefined) return crypto.randomUUID();
    var n = toNum(length);
    if (!isFinite(n) || n < 1) return '';
    var out = '';
    for (var i = 0; i < Math.min(Math.trunc(n), 1000); i++) out += ALPHANUMERIC[randomInt(62)];
    return out;
  }

  function now(ctx) {
    if (ctx.now) return decode(ctx.now);
    var d = new Date();
    return new BDateTime(d.getTime(), -d.getTimezoneOffset());
  }

  function call(n, ctx) {
    var x = n.x;
    if (n.f === 'if') return ev(toBool(ev(x[0], ctx)) ? x[1] : x[2], ctx);
    if (n.f === 'coalesce') {
      var first = ev(x[0], ctx);
      return toStr(first) !== '' ? first : ev(x[1], ctx);
    }
    if (n.f === 'once') { // the answer it already has is kept: once(uuid()) stays the same
      var had = decode(ctx.current);
      return toStr(had) !== '' ? had : ev(x[0], ctx);
    }
    if (n.f === 'today') return today(ctx);
    if (n.f === 'now') return now(ctx);
    if (n.f === 'current') return decode(ctx.current);
    if (n.f === 'position') return ctx.focus ? ctx.focus[1] : 1;
    if (n.f === 'last') return ctx.focus ? ctx.focus[2] : 1;
    if (n.f === 'uuid') return uuid(x.length ? ev(x[0], ctx) : undefined);
    if (n.f === 'random') {
      var words = new Uint32Array(2);
      crypto.getRandomValues(words);
      return ((words[0] >>> 11) * 4294967296 + words[1]) / 9007199254740992; // 53 bits
    }
    if (n.f === 'jr:choice-name') {
      var code = toStr(ev(x[0], ctx)).replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');
      var label = code && ctx.choiceLabel ? ctx.choiceLabel(x[1].v, code) : null;
      return label || '';
    }
    if (n.f === 'indexed-repeat') {
      var index = Math.trunc(toNum(ev(x[2], ctx)));
      var values;
      if (ctx.entries) {
        values = ctx.entries(x[0].n).map(decode);
      } else {
        var found = decode(ctx.lookup(x[0].n));
        values = found instanceof NodeSet ? found.items : [found];
      }
      return index >= 1 && index <= values.length ? values[index - 1] : '';
    }
    var fn = FUNCTIONS[n.f];
    if (!fn) throw new Error('Unknown function ' + n.f);
    return fn.apply(null, x.map(function (a) { return ev(a, ctx); }));
  }

  // -- functions
  function splitWs(s) { return s.split(WS).filter(function (t) { return t !== ''; }); }

  function tokens(v) {
    if (!(v instanceof NodeSet)) return splitWs(toStr(v));
    return [].concat.apply([], v.items.map(function (e) { return splitWs(toStr(e)); }));
  }

  function selectedAt(v, index) {
    var t = tokens(v), k = Math.trunc(toNum(index));
    return isFinite(k) && k >= 0 && k < t.length ? t[k] : '';
  }

  function round(value, digits) {
    var x = toNum(value);
    if (digits === undefined) return isFinite(x) ? Math.floor(x + 0.5) : x;
    var d = toNum(digits);
    if (!isFinite(d)) return NaN;
    d = Math.max(-308, Math.min(308, Math.trunc(d)));
    if (!isFinite(x)) return x;
    var power = Number('1e' + Math.abs(d));
    if (d < 0) return Math.floor(x / power + 0.5) * power;
    var scaled = x * power;
    return isFinite(scaled) ? Math.floor(scaled + 0.5) / power : x;
  }

  function toDate(v) {
    if (v instanceof NodeSet) v = v.items.length ? v.items[0] : '';
    if (v instanceof BDate) return v;
    var parsed = typeof v === 'string' ? parseDate(v) : null;
    if (parsed) return parsed;
    if (typeof v === 'string' && parseDateTime(v)) v = parseDateTime(v);
    if (v instanceof BDateTime) {
      var f = fields(v);
      return f ? new BDate(f[0]) : '';
    }
    var x = toNum(v);
    if (!isFinite(x)) return '';
    var days = Math.floor(x) + 0; // + 0 turns -0 into 0, as Python's integer days
    return days >= MIN_DAYS && days <= MAX_DAYS ? new BDate(days) : '';
  }

  function substr(value, start, end) {
    var chars = Array.from(toStr(value)), n = chars.length;
    var a = toNum(start), b = end === undefined ? n : toNum(end);
    if (isNaN(a) || isNaN(b)) return '';
    a = Math.trunc(a);
    b = Math.trunc(b);
    if (a < 0) a += n;
    if (b < 0) b += n;
    a = Math.min(Math.max(a, 0), n);
    b = Math.min(Math.max(b, 0), n);
    return a < b ? chars.slice(a, b).join('') : '';
  }

  function sum(v) {
    if (!(v instanceof NodeSet)) return toNum(v);
    var total = 0;
    v.items.forEach(function (e) { total += toNum(e); });
    return total;
  }

  function lessThan(a, b) { return a < b; }
  function greaterThan(a, b) { return a > b; }

  function extreme(values, better) {
    var numbers = [];
    Array.prototype.forEach.call(values, function (v) {
      (v instanceof NodeSet ? v.items : [v]).forEach(function (e) { numbers.push(toNum(e)); });
    });
    if (!numbers.length || numbers.some(isNaN)) return NaN;
    var best = numbers[0];
    numbers.slice(1).forEach(function (n) { if (better(n, best)) best = n; });
    return best;
  }

  function concat() {
    return Array.prototype.map.call(arguments, function (v) {
      return v instanceof NodeSet ? v.items.map(toStr).join('') : toStr(v);
    }).join('');
  }

  // Math functions already give JavaScript's NaN and Infinity; the server's copy matches them.
  function mathFn(f) { return function (v) { return f(toNum(v)); }; }

  function substringBefore(a, b) {
    a = toStr(a);
    b = toStr(b);
    var i = b ? a.indexOf(b) : -1;
    return i >= 0 ? a.slice(0, i) : '';
  }

  function substringAfter(a, b) {
    a = toStr(a);
    b = toStr(b);
    var i = a.indexOf(b);
    return i >= 0 ? a.slice(i + b.length) : '';
  }

  function translate(text, source, target) {
    var map = new Map(), to = Array.from(toStr(target));
    Array.from(toStr(source)).forEach(function (ch, i) {
      if (!map.has(ch)) map.set(ch, i < to.length ? to[i] : '');
    });
    return Array.from(toStr(text)).map(function (ch) {
      return map.has(ch) ? map.get(ch) : ch;
    }).join('');
  }

  function values(args) {
    var out = [];
    Array.prototype.forEach.call(args, function (v) {
      (v instanceof NodeSet ? v.items : [v]).forEach(function (e) { out.push(e); });
    });
    return out;
  }

  function toDateTime(v) {
    if (v instanceof NodeSet) v = v.items.length ? v.items[0] : '';
    if (v instanceof BDateTime) return v;
    if (v instanceof BDate) return new BDateTime(v.days * DAY_MS, 0);
    if (typeof v === 'string') {
      var d = parseDate(v);
      if (d) return new BDateTime(d.days * DAY_MS, 0);
      var t = parseDateTime(v);
      if (t) return t;
    }
    var x = toNum(v);
    if (!isFinite(x)) return null;
    var ms = Math.floor(x * DAY_MS + 0.5) + 0;
    return ms >= MIN_MS && ms <= MAX_MS ? new BDateTime(ms, 0) : null;
  }

  function formatDate(value, pattern) {
    var t = toDateTime(value), f = t && fields(t);
    if (!f) return '';
    var ymd = isoDate(f[0]).split('-').map(Number);
    var codes = {
      Y: pad(ymd[0], 4), y: pad(ymd[0] % 100, 2), m: pad(ymd[1], 2), n: String(ymd[1]),
      b: MONTHS[ymd[1] - 1], d: pad(ymd[2], 2), e: String(ymd[2]),
      a: WEEKDAYS[(((f[0] + 3) % 7) + 7) % 7], H: pad(f[1], 2), h: String(f[1]),
      M: pad(f[2], 2), S: pad(f[3], 2), 3: pad(f[4], 3)
    };
    var text = toStr(pattern), out = '';
    for (var i = 0; i < text.length; i++) {
      if (text[i] === '%' && i + 1 < text.length &&
          Object.prototype.hasOwnProperty.call(codes, text[i + 1])) {
        out += codes[text[i + 1]];
        i++;
      } else {
        out += text[i];
      }
    }
    return out;
  }

  // As Enketo's openrosa-xpath-evaluator: a sphere of the Earth's equatorial radius, results
  // in metres (square metres) rounded to centimetres.
  var EARTH_RADIUS = 6378100;

  function geopoints(args) {
    var texts;
    if (args.length === 1 && args[0] instanceof NodeSet && args[0].items.length !== 1) {
      texts = args[0].items.map(toStr);
    } else if (args.length === 1) {
      texts = toStr(args[0]).split(';');
    } else {
      texts = Array.prototype.map.call(args, toStr);
    }
    var points = [];
    for (var i = 0; i < texts.length; i++) {
      var numbers = splitWs(texts[i]).map(toNum);
      if (numbers.length < 2 || numbers.length > 4 || numbers.some(isNaN)) return null;
      var lat = numbers[0], lon = numbers[1];
      if (!(lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180)) return null;
      points.push([lat * Math.PI / 180, lon * Math.PI / 180]);
    }
    return points;
  }

  function centimetres(x) { return Math.floor(x * 100 + 0.5) / 100; }

  function distance() {
    var points = geopoints(arguments);
    if (!points) return NaN;
    var total = 0;
    for (var i = 1; i < points.length; i++) {
      var a = points[i - 1], b = points[i];
      var cosine = Math.sin(a[0]) * Math.sin(b[0]) +
        Math.cos(a[0]) * Math.cos(b[0]) * Math.cos(a[1] - b[1]);
      total += Math.acos(Math.max(-1, Math.min(1, cosine))) * EARTH_RADIUS;
    }
    return centimetres(total);
  }

  function area(shape) {
    var points = geopoints([shape]);
    if (!points) return NaN;
    var total = 0;
    points.forEach(function (a, i) {
      var b = points[(i + 1) % points.length];
      total += (b[1] - a[1]) * (2 + Math.sin(a[0]) + Math.sin(b[0]));
    });
    return centimetres(Math.abs(total * EARTH_RADIUS * EARTH_RADIUS / 2));
  }

  var FUNCTIONS = {
    'selected': function (a, v) { return tokens(a).indexOf(splitWs(toStr(v)).join(' ')) >= 0; },
    'count-selected': function (a) { return tokens(a).length; },
    'selected-at': selectedAt,
    'regex': function (s, p) {
      var r = compileRegex(toStr(p)), text = toStr(s);
      if (!r) return false;
      // The browser's matcher backtracks: past a bounded length the answer is left to the
      // server, whose RE2 matcher is linear (a pattern like ^(a|aa)+$ cannot hang this page).
      if (text.length > (r.risky ? REGEX_RISKY_INPUT_LIMIT : REGEX_INPUT_LIMIT)) return true;
      return r.re.test(text);
    },
    'not': function (x) { return !toBool(x); },
    'concat': concat,
    'string-length': function (s) { return Array.from(toStr(s)).length; },
    'int': function (x) { return Math.trunc(toNum(x)); },
    'number': toNum,
    'round': round,
    'date': toDate,
    'true': function () { return true; },
    'false': function () { return false; },
    'string': toStr,
    'boolean': toBool,
    'contains': function (a, b) { return toStr(a).indexOf(toStr(b)) >= 0; },
    'starts-with': function (a, b) { return toStr(a).startsWith(toStr(b)); },
    'ends-with': function (a, b) { return toStr(a).endsWith(toStr(b)); },
    'substr': substr,
    'floor': function (x) { return Math.floor(toNum(x)); },
    'ceiling': function (x) { return Math.ceil(toNum(x)); },
    'abs': function (x) { return Math.abs(toNum(x)); },
    'count': function (x) { return x instanceof NodeSet ? x.items.length : 1; },
    'sum': sum,
    'min': function () { return extreme(arguments, lessThan); },
    'max': function () { return extreme(arguments, greaterThan); },
    'normalize-space': function (s) { return splitWs(toStr(s)).join(' '); },
    'pow': function (x, y) { return Math.pow(toNum(x), toNum(y)); },
    'sqrt': mathFn(Math.sqrt),
    'exp': mathFn(Math.exp),
    'exp10': function (x) { return Math.pow(10, toNum(x)); },
    'log': mathFn(Math.log),
    'log10': mathFn(Math.log10),
    'sin': mathFn(Math.sin),
    'cos': mathFn(Math.cos),
    'tan': mathFn(Math.tan),
    'asin': mathFn(Math.asin),
    'acos': mathFn(Math.acos),
    'atan': mathFn(Math.atan),
    'atan2': function (y, x) { return Math.atan2(toNum(y), toNum(x)); },
    'pi': function () { return Math.PI; },
    'substring-before': substringBefore,
    'substring-after': substringAfter,
    'translate': translate,
    'boolean-from-string': function (s) { s = toStr(s); return s === 'true' || s === '1'; },
    'join': function (sep) {
      return values(Array.prototype.slice.call(arguments, 1)).map(toStr).join(toStr(sep));
    },
    'count-non-empty': function (x) {
      return values([x]).filter(function (v) { return toStr(v) !== ''; }).length;
    },
    'format-date': formatDate,
    'format-date-time': formatDate,
    'distance': distance,
    'area': area,
    'date-time': function (v) { var t = toDateTime(v); return t && fields(t) ? t : ''; },
    'decimal-date-time': function (v) { var t = toDateTime(v); return t ? toNum(t) : NaN; }
  };

  // -- regex(): the same JavaScript-'u'-mode subset that expressions.py translates for Python.
  var SYNTAX = '^$\\.*+?()[]{}|/';
  var QUANTIFIER = /^\{([0-9]{1,4})(?:,([0-9]{0,4}))?\}/;
  var MAX_REPEAT = 1000; // RE2's limit, refused by both evaluators
  var REGEX_INPUT_LIMIT = 1000;
  var REGEX_RISKY_INPUT_LIMIT = 24; // a repeated group holding a repetition or an alternative
  var SIMPLE = { t: 9, n: 10, v: 11, f: 12, r: 13 };

  function fail(why) { throw new Error(why); }

  // Checks the escape after a backslash at p[i - 1]; returns [next index, code point or null].
  function escape(p, i, inClass) {
    var c = i < p.length ? p[i] : '';
    if ('dDwWs'.indexOf(c) >= 0 && c) return [i + 1, null];
    if (c === 'S' && !inClass) return [i + 1, null];
    if (c === 'b' && inClass) return [i + 1, 8];
    if (SIMPLE[c] !== undefined) return [i + 1, SIMPLE[c]];
    if (c === '0' && !/^[0-9]$/.test(p[i + 1] || '')) return [i + 1, 0];
    var width = c === 'x' ? 2 : c === 'u' ? 4 : 0;
    var hex = p.slice(i + 1, i + 1 + width).join('');
    if (width && hex.length === width && /^[0-9a-fA-F]+$/.test(hex)) {
      var code = parseInt(hex, 16);
      if (code >= 0xD800 && code <= 0xDFFF) fail('surrogate escape');
      return [i + 1 + width, code];
    }
    if (c && (SYNTAX.indexOf(c) >= 0 || (inClass && c === '-'))) return [i + 1, c.codePointAt(0)];
    return fail('unsupported escape');
  }

  function classAtom(p, i) {
    return p[i] === '\\' ? escape(p, i + 1, true) : [i + 1, p[i].codePointAt(0)];
  }

  function charClass(p, i) {
    if (p[i] === '^') i++;
    if (p[i] === ']') fail('empty class');
    while (i < p.length && p[i] !== ']') {
      var low = classAtom(p, i);
      i = low[0];
      if (p[i] === '-' && i + 1 < p.length && p[i + 1] !== ']') {
        var high = classAtom(p, i + 1);
        i = high[0];
        if (low[1] === null || high[1] === null) fail('class in range');
        if (low[1] > high[1]) fail('range out of order');
      }
    }
    if (i >= p.length) fail("missing ']'");
    return i + 1;
  }

  // Throws for patterns outside the subset; returns whether a repetition is applied to a group
  // that itself repeats or alternates (exponential for a backtracking matcher).
  function analyzeRegex(pattern) {
    var p = Array.from(pattern); // code points, like Python's str indexes
    var groups = [], i = 0, repeatable = false, risky = false;
    var inner = [false], lastGroupComplex = false;
    while (i < p.length) {
      var c = p[i];
      if (c === '\\' && (p[i + 1] === 'b' || p[i + 1] === 'B')) {
        i += 2;
        repeatable = false;
      } else if (c === '\\') {
        i = escape(p, i + 1, false)[0];
        repeatable = true;
      } else if (c === '[') {
        i = charClass(p, i + 1);
        repeatable = true;
      } else if ('*+?{'.indexOf(c) >= 0) {
        if (!repeatable) fail('nothing to repeat');
        var unbounded = c !== '?';
        if (c === '{') {
          var m = QUANTIFIER.exec(p.slice(i).join(''));
          if (!m) fail('bad {');
          if (m[2] && +m[2] < +m[1]) fail('range out of order');
          if (Math.max(+m[1], +(m[2] || 0)) > MAX_REPEAT) fail('repetition above 1000');
          unbounded = m[2] === undefined ? +m[1] > 1 : m[2] === '' || +m[2] > 1;
          i += m[0].length;
        } else {
          i++;
        }
        if (unbounded && lastGroupComplex) risky = true;
        inner[inner.length - 1] = true;
        if (p[i] === '?') i++;
        if (i < p.length && '*+?{'.indexOf(p[i]) >= 0) fail('repeated repetition');
        repeatable = false;
        lastGroupComplex = false;
      } else if (c === '(') {
        var kind = p[i + 1] === '?' ? p[i + 2] || '?' : '';
        if (kind && kind !== ':') fail('unsupported group (no lookaheads)');
        groups.push(false);
        inner.push(false);
        i += kind ? 3 : 1;
        repeatable = false;
        lastGroupComplex = false;
      } else if (c === ')') {
        if (!groups.length) fail("unbalanced ')'");
        repeatable = !groups.pop();
        lastGroupComplex = inner.pop();
        if (lastGroupComplex) inner[inner.length - 1] = true;
        i++;
        continue;
      } else if (c === ']' || c === '}') {
        fail('unescaped ' + c);
      } else {
        repeatable = '^$|'.indexOf(c) < 0;
        if (c === '|') inner[inner.length - 1] = true;
        i++;
      }
      lastGroupComplex = false;
    }
    if (groups.length) fail("missing ')'");
    return { risky: risky };
  }

  function regexSupported(pattern) {
    analyzeRegex(pattern);
    return true;
  }

  var regexCache = new Map();

  function compileRegex(pattern) {
    if (!regexCache.has(pattern)) {
      var compiled = null;
      try {
        var analysis = analyzeRegex(pattern);
        compiled = { re: new RegExp(pattern, 'u'), risky: analysis.risky };
      } catch (e) {
        compiled = null;
      }
      regexCache.set(pattern, compiled);
    }
    return regexCache.get(pattern);
  }

  var BirgeExpr = {
    evaluate: function (ast, ctx) { return ev(ast, ctx); },
    evaluateBool: function (ast, ctx) { return toBool(ev(ast, ctx)); },
    toString: toStr,
    toNumber: toNum,
    toBoolean: toBool,
    decode: decode,
    encode: encode,
    regexSupported: function (p) { try { return regexSupported(p); } catch (e) { return false; } },
    BDate: BDate,
    BDateTime: BDateTime,
    NodeSet: NodeSet
  };

  if (root) root.BirgeExpr = BirgeExpr;
  if (typeof module !== 'undefined') module.exports = BirgeExpr;
})(typeof window !== 'undefined' ? window : null);
