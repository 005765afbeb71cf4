/*
 * Birge XLSForm expression evaluator for the browser (and Node, for tests).
 *
 * Evaluates the JSON AST produced by survey/instruments/expressions/ (parser.py) with exactly the same
 * semantics; the browser never parses expression text. See that module's docstring for the AST
 * and value formats.
 *
 *   BirgeExpr.evaluate(ast, ctx) -> value     BirgeExpr.evaluateBool(ast, ctx) -> boolean
 *   ctx = {lookup: name => JSON value, current: JSON value, choice: {column: text},
 *          today: 'YYYY-MM-DD' (optional; defaults to the local date),
 *          entries: (name[, [[outer repeat, number], ...]]) => [JSON value per repeat entry]
 *          (indexed-repeat; the pairs choose outer entries of nested repeats), position: number of
 *          the repeat entry (position(..)), choiceRows: list => [{name, label, ...}]
 *          (instance()), choiceLabel: (question, code) => label (jr:choice-name),
 *          now: {datetime: [ms, offset]} (optional; defaults to the device's clock),
 *          tables: {file without '.csv': [{column: text}]} (pulldata(); optional)}
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
      case 'last': return decode(ctx.lastSaved ? ctx.lastSaved(n.n) : null);
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
    if (length === undefined) { // version 4; randomUUID() exists only on HTTPS pages
      var b = new Uint8Array(16);
      crypto.getRandomValues(b);
      b[6] = (b[6] & 0x0f) | 0x40;
      b[8] = (b[8] & 0x3f) | 0x80;
      var hex = Array.from(b, function (x) { return (x < 16 ? '0' : '') + x.toString(16); });
      return [hex.slice(0, 4), hex.slice(4, 6), hex.slice(6, 8), hex.slice(8, 10), hex.slice(10)]
        .map(function (part) { return part.join(''); }).join('-');
    }
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
    if (n.f === 'pulldata') {
      return pulldata(ctx, ev(x[0], ctx), ev(x[1], ctx), ev(x[2], ctx), ev(x[3], ctx));
    }
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
      // Over nested repeats the pairs before the last choose the outer entries.
      var index = Math.trunc(toNum(ev(x[x.length - 1], ctx)));
      var outer = [];
      for (var k = 1; k + 2 < x.length; k += 2) {
        outer.push([x[k].n, Math.trunc(toNum(ev(x[k + 1], ctx)))]);
      }
      var values;
      if (ctx.entries) {
        values = (outer.length ? ctx.entries(x[0].n, outer) : ctx.entries(x[0].n)).map(decode);
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
  // pulldata('file', 'column', 'key column', key): the first matching row of a CSV attachment.
  // Own properties only: a file or column named 'constructor' or 'toString' is not Object's.
  function pulldata(ctx, table, column, key, value) {
    var tables = ctx.tables || {}, file = toStr(table).replace(/\.csv$/, '');
    var rows = own(tables, file) ? tables[file] : [];
    var wanted = toStr(value), keyColumn = toStr(key), name = toStr(column);
    for (var i = 0; i < rows.length; i++) {
      if (own(rows[i], keyColumn) && rows[i][keyColumn] === wanted) {
        return own(rows[i], name) ? rows[i][name] : '';
      }
    }
    return '';
  }

  function own(object, name) { return Object.prototype.hasOwnProperty.call(object, name); }

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


  // -- digest(): MD5, SHA-1 and SHA-2 written out, because the browser's own (SubtleCrypto) is
  // asynchronous and the form's rules are not. Checked against Python's hashlib in the tests.
  function utf8(text) { return Array.from(new TextEncoder().encode(text)); }

  function padded(bytes, blockBytes, lengthBytes, littleEndian) {
    var bits = BigInt(bytes.length) * 8n;
    var out = bytes.concat([0x80]);
    while ((out.length + lengthBytes) % blockBytes) out.push(0);
    var length = [];
    for (var i = 0; i < lengthBytes; i++) {
      length.push(Number((bits >> BigInt(8 * i)) & 0xffn));
    }
    return out.concat(littleEndian ? length : length.reverse());
  }

  function words32(bytes, littleEndian) {
    var words = [];
    for (var i = 0; i < bytes.length; i += 4) {
      var b = bytes.slice(i, i + 4);
      if (littleEndian) b.reverse();
      words.push(((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0);
    }
    return words;
  }

  function bytes32(words, littleEndian) {
    var out = [];
    words.forEach(function (w) {
      var b = [(w >>> 24) & 255, (w >>> 16) & 255, (w >>> 8) & 255, w & 255];
      out.push.apply(out, littleEndian ? b.reverse() : b);
    });
    return out;
  }

  function rotl(x, n) { return ((x << n) | (x >>> (32 - n))) >>> 0; }
  function rotr(x, n) { return ((x >>> n) | (x << (32 - n))) >>> 0; }

  var MD5_S = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
  var MD5_K = [];
  for (var k = 0; k < 64; k++) {
    MD5_K.push(Math.floor(Math.abs(Math.sin(k + 1)) * 4294967296) >>> 0);
  }

  function md5(bytes) {
    var m = words32(padded(bytes, 64, 8, true), true);
    var h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
    for (var o = 0; o < m.length; o += 16) {
      var a = h[0], b = h[1], c = h[2], d = h[3];
      for (var i = 0; i < 64; i++) {
        var f, g, round = i >> 4;
        if (round === 0) { f = (b & c) | (~b & d); g = i; }
        else if (round === 1) { f = (d & b) | (~d & c); g = (5 * i + 1) % 16; }
        else if (round === 2) { f = b ^ c ^ d; g = (3 * i + 5) % 16; }
        else { f = c ^ (b | ~d); g = (7 * i) % 16; }
        var t = d;
        d = c;
        c = b;
        b = (b + rotl((a + f + MD5_K[i] + m[o + g]) >>> 0, MD5_S[round * 4 + (i % 4)])) >>> 0;
        a = t;
      }
      h = [(h[0] + a) >>> 0, (h[1] + b) >>> 0, (h[2] + c) >>> 0, (h[3] + d) >>> 0];
    }
    return bytes32(h, true);
  }

  function sha1(bytes) {
    var m = words32(padded(bytes, 64, 8, false), false);
    var h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0];
    for (var o = 0; o < m.length; o += 16) {
      var w = m.slice(o, o + 16);
      for (var i = 16; i < 80; i++) w.push(rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1));
      var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
      for (i = 0; i < 80; i++) {
        var f, kk;
        if (i < 20) { f = (b & c) | (~b & d); kk = 0x5a827999; }
        else if (i < 40) { f = b ^ c ^ d; kk = 0x6ed9eba1; }
        else if (i < 60) { f = (b & c) | (b & d) | (c & d); kk = 0x8f1bbcdc; }
        else { f = b ^ c ^ d; kk = 0xca62c1d6; }
        var t = (rotl(a, 5) + f + e + kk + w[i]) >>> 0;
        e = d;
        d = c;
        c = rotl(b, 30);
        b = a;
        a = t;
      }
      h = [(h[0] + a) >>> 0, (h[1] + b) >>> 0, (h[2] + c) >>> 0, (h[3] + d) >>> 0,
        (h[4] + e) >>> 0];
    }
    return bytes32(h, false);
  }

  // SHA-2 constants: fractional parts of square and cube roots of primes (FIPS 180-4).
  var SHA256_K = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
  ];

  function sha256(bytes) {
    var m = words32(padded(bytes, 64, 8, false), false);
    var h = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
      0x5be0cd19];
    for (var o = 0; o < m.length; o += 16) {
      var w = m.slice(o, o + 16);
      for (var i = 16; i < 64; i++) {
        var s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
        var s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
        w.push((w[i - 16] + s0 + w[i - 7] + s1) >>> 0);
      }
      var v = h.slice();
      for (i = 0; i < 64; i++) {
        var e = v[4], a = v[0];
        var t1 = (v[7] + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & v[5]) ^ (~e & v[6])) +
          SHA256_K[i] + w[i]) >>> 0;
        var t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) +
          ((a & v[1]) ^ (a & v[2]) ^ (v[1] & v[2]))) >>> 0;
        v = [(t1 + t2) >>> 0, a, v[1], v[2], (v[3] + t1) >>> 0, e, v[5], v[6]];
      }
      h = h.map(function (x, j) { return (x + v[j]) >>> 0; });
    }
    return bytes32(h, false);
  }

  var MASK64 = (1n << 64n) - 1n;
  var SHA512_K = [
    '428a2f98d728ae22', '7137449123ef65cd', 'b5c0fbcfec4d3b2f', 'e9b5dba58189dbbc',
    '3956c25bf348b538', '59f111f1b605d019', '923f82a4af194f9b', 'ab1c5ed5da6d8118',
    'd807aa98a3030242', '12835b0145706fbe', '243185be4ee4b28c', '550c7dc3d5ffb4e2',
    '72be5d74f27b896f', '80deb1fe3b1696b1', '9bdc06a725c71235', 'c19bf174cf692694',
    'e49b69c19ef14ad2', 'efbe4786384f25e3', '0fc19dc68b8cd5b5', '240ca1cc77ac9c65',
    '2de92c6f592b0275', '4a7484aa6ea6e483', '5cb0a9dcbd41fbd4', '76f988da831153b5',
    '983e5152ee66dfab', 'a831c66d2db43210', 'b00327c898fb213f', 'bf597fc7beef0ee4',
    'c6e00bf33da88fc2', 'd5a79147930aa725', '06ca6351e003826f', '142929670a0e6e70',
    '27b70a8546d22ffc', '2e1b21385c26c926', '4d2c6dfc5ac42aed', '53380d139d95b3df',
    '650a73548baf63de', '766a0abb3c77b2a8', '81c2c92e47edaee6', '92722c851482353b',
    'a2bfe8a14cf10364', 'a81a664bbc423001', 'c24b8b70d0f89791', 'c76c51a30654be30',
    'd192e819d6ef5218', 'd69906245565a910', 'f40e35855771202a', '106aa07032bbd1b8',
    '19a4c116b8d2d0c8', '1e376c085141ab53', '2748774cdf8eeb99', '34b0bcb5e19b48a8',
    '391c0cb3c5c95a63', '4ed8aa4ae3418acb', '5b9cca4f7763e373', '682e6ff3d6b2b8a3',
    '748f82ee5defb2fc', '78a5636f43172f60', '84c87814a1f0ab72', '8cc702081a6439ec',
    '90befffa23631e28', 'a4506cebde82bde9', 'bef9a3f7b2c67915', 'c67178f2e372532b',
    'ca273eceea26619c', 'd186b8c721c0c207', 'eada7dd6cde0eb1e', 'f57d4f7fee6ed178',
    '06f067aa72176fba', '0a637dc5a2c898a6', '113f9804bef90dae', '1b710b35131c471b',
    '28db77f523047d84', '32caab7b40c72493', '3c9ebe0a15c9bebc', '431d67c49c100d4c',
    '4cc5d4becb3e42b6', '597f299cfc657e2a', '5fcb6fab3ad6faec', '6c44198c4a475817'
  ].map(function (x) { return BigInt('0x' + x); });
  var SHA512_H = {
    'SHA-512': ['6a09e667f3bcc908', 'bb67ae8584caa73b', '3c6ef372fe94f82b', 'a54ff53a5f1d36f1',
      '510e527fade682d1', '9b05688c2b3e6c1f', '1f83d9abfb41bd6b', '5be0cd19137e2179'],
    'SHA-384': ['cbbb9d5dc1059ed8', '629a292a367cd507', '9159015a3070dd17', '152fecd8f70e5939',
      '67332667ffc00b31', '8eb44a8768581511', 'db0c2e0d64f98fa7', '47b5481dbefa4fa4']
  };

  function rotr64(x, n) { return ((x >> BigInt(n)) | (x << BigInt(64 - n))) & MASK64; }

  function sha512(bytes, name) {
    var p = padded(bytes, 128, 16, false), h = SHA512_H[name].map(function (x) {
      return BigInt('0x' + x);
    });
    for (var o = 0; o < p.length; o += 128) {
      var w = [];
      for (var i = 0; i < 16; i++) {
        var x = 0n;
        for (var j = 0; j < 8; j++) x = (x << 8n) | BigInt(p[o + i * 8 + j]);
        w.push(x);
      }
      for (i = 16; i < 80; i++) {
        var s0 = rotr64(w[i - 15], 1) ^ rotr64(w[i - 15], 8) ^ (w[i - 15] >> 7n);
        var s1 = rotr64(w[i - 2], 19) ^ rotr64(w[i - 2], 61) ^ (w[i - 2] >> 6n);
        w.push((w[i - 16] + s0 + w[i - 7] + s1) & MASK64);
      }
      var v = h.slice();
      for (i = 0; i < 80; i++) {
        var e = v[4], a = v[0];
        var t1 = (v[7] + (rotr64(e, 14) ^ rotr64(e, 18) ^ rotr64(e, 41)) +
          ((e & v[5]) ^ (~e & MASK64 & v[6])) + SHA512_K[i] + w[i]) & MASK64;
        var t2 = ((rotr64(a, 28) ^ rotr64(a, 34) ^ rotr64(a, 39)) +
          ((a & v[1]) ^ (a & v[2]) ^ (v[1] & v[2]))) & MASK64;
        v = [(t1 + t2) & MASK64, a, v[1], v[2], (v[3] + t1) & MASK64, e, v[5], v[6]];
      }
      h = h.map(function (y, k) { return (y + v[k]) & MASK64; });
    }
    var out = [];
    h.slice(0, name === 'SHA-384' ? 6 : 8).forEach(function (y) {
      for (var b = 56; b >= 0; b -= 8) out.push(Number((y >> BigInt(b)) & 0xffn));
    });
    return out;
  }

  var DIGESTS = {
    'MD5': md5, 'SHA-1': sha1, 'SHA-256': sha256,
    'SHA-384': function (b) { return sha512(b, 'SHA-384'); },
    'SHA-512': function (b) { return sha512(b, 'SHA-512'); }
  };

  function digest(value, algorithm, encoding) {
    var hash = DIGESTS[toStr(algorithm)];
    var form = encoding === undefined ? 'base64' : toStr(encoding);
    if (!hash || (form !== 'base64' && form !== 'hex')) return '';
    var bytes = hash(utf8(toStr(value)));
    if (form === 'hex') {
      return bytes.map(function (b) { return (b < 16 ? '0' : '') + b.toString(16); }).join('');
    }
    return btoa(String.fromCharCode.apply(null, bytes));
  }

  function within(count, low, high) { // checklist(): -1 means no limit
    var a = toNum(low), b = toNum(high);
    return (a === -1 || count >= a) && (b === -1 || count <= b);
  }

  function checklist(low, high) {
    var rest = values(Array.prototype.slice.call(arguments, 2));
    return within(rest.filter(toBool).length, low, high);
  }

  function weightedChecklist(low, high) {
    var total = 0;
    for (var i = 2; i + 1 < arguments.length; i += 2) {
      if (toBool(arguments[i])) total += toNum(arguments[i + 1]);
    }
    return within(total, low, high);
  }

  var BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

  function base64Decode(value) {
    var text = toStr(value);
    if (!BASE64.test(text)) return '';
    var binary = atob(text), bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return new TextDecoder('utf-8').decode(bytes);
  }

  // Park-Miller ("minimal standard") generator, as JavaRosa and ODK Web Forms seed randomize().
  var PM_MODULUS = 2147483647, PM_MULTIPLIER = 16807;

  function parkMiller(seed) {
    // The seed goes through Java's double-to-long cast (NaN is 0, truncated, clamped) first.
    var whole = isNaN(seed) ? 0 : Math.sign(seed) * Math.min(Math.abs(Math.trunc(seed)), 2 ** 63);
    var state = whole % PM_MODULUS;
    if (state <= 0) state += PM_MODULUS - 1;
    return function () {
      state = state * PM_MULTIPLIER % PM_MODULUS;
      return (state - 1) / (PM_MODULUS - 1);
    };
  }

  function cryptoRandom() {
    var words = new Uint32Array(2);
    crypto.getRandomValues(words);
    return ((words[0] >>> 11) * 4294967296 + words[1]) / 9007199254740992; // 53 bits
  }

  // ODK's randomize(): the inside-out Fisher-Yates shuffle, reproducible with a seed.
  function randomize(nodes, seed) {
    var items = values([nodes]), out = [];
    var draw = arguments.length > 1 ? parkMiller(toNum(seed)) : cryptoRandom;
    for (var i = 0; i < items.length; i++) {
      var j = Math.floor(draw() * (i + 1));
      if (j === i) {
        out.push(items[i]);
      } else {
        out.push(out[j]);
        out[j] = items[i];
      }
    }
    return new NodeSet(out);
  }

  var TIME_TEXT = new RegExp('^([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\\.([0-9]+))?)?' +
    '(Z|[+-][0-9]{2}:?[0-9]{2})?$');

  // ODK's decimal-time(): the fraction of the day a time shows, read as written (in its own
  // offset, not the device's zone); NaN for anything but a time, as in ODK's engine.
  function decimalTime(v) {
    if (v instanceof NodeSet) v = v.items.length ? v.items[0] : '';
    if (typeof v !== 'string') return NaN;
    var m = TIME_TEXT.exec(v.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, ''));
    if (!m) return NaN;
    var digits = m[5] && m[5] !== 'Z' ? m[5].slice(1).replace(':', '') : '0000';
    if (+m[1] > 23 || +m[2] > 59 || +(m[3] || 0) > 59) return NaN;
    if (+digits.slice(0, 2) > 23 || +digits.slice(2) > 59) return NaN;
    var ms = ((+m[1] * 60 + +m[2]) * 60 + +(m[3] || 0)) * 1000;
    return (ms + +((m[4] || '0').slice(0, 3).padEnd(3, '0'))) / DAY_MS;
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
    'digest': digest,
    'checklist': checklist,
    'weighted-checklist': weightedChecklist,
    'base64-decode': base64Decode,
    'area': area,
    'date-time': function (v) { var t = toDateTime(v); return t && fields(t) ? t : ''; },
    'decimal-date-time': function (v) { var t = toDateTime(v); return t ? toNum(t) : NaN; },
    'randomize': randomize,
    'decimal-time': decimalTime
  };

  // -- regex(): the same JavaScript-'u'-mode subset that expressions/regex.py translates for Python.
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
    randomize: randomize,
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
