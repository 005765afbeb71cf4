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

  // -- values
  function decode(v) {
    if (v === null || v === undefined) return '';
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
    if (Array.isArray(v)) return v.join(' ');
    if (v.nodeset) return new NodeSet(v.nodeset.map(decode));
    if (v.num !== undefined) return Number(v.num);
    var d = parseDate(v.date);
    if (!d) throw new Error('Invalid date value: ' + JSON.stringify(v));
    return d;
  }

  function encode(v) {
    if (typeof v === 'number' && !isFinite(v)) return { num: String(v) };
    if (v instanceof BDate) return { date: isoDate(v.days) };
    if (v instanceof NodeSet) return { nodeset: v.items.map(encode) };
    return v;
  }

  function toStr(v) {
    if (typeof v === 'string') return v;
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    if (typeof v === 'number') return String(v);
    if (v instanceof BDate) return isoDate(v.days);
    if (v instanceof NodeSet) return v.items.length ? toStr(v.items[0]) : '';
    return toStr(decode(v));
  }

  function toNum(v) {
    if (typeof v === 'number') return v;
    if (typeof v === 'boolean') return v ? 1 : 0;
    if (typeof v === 'string') return NUMBER_TEXT.test(v) ? Number(v) : NaN;
    if (v instanceof BDate) return v.days;
    if (v instanceof NodeSet) return v.items.length ? toNum(v.items[0]) : NaN;
    return toNum(decode(v));
  }

  function toBool(v) {
    if (typeof v === 'boolean') return v;
    if (typeof v === 'number') return !(v === 0 || isNaN(v));
    if (typeof v === 'string') return v.length > 0;
    if (v instanceof BDate) return true;
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

  function isNumeric(v) { return typeof v === 'number' || v instanceof BDate; }

  function compareOne(op, a, b) {
    // Like ODK, a date compared with a 'YYYY-MM-DD' string compares as dates.
    if (a instanceof BDate && typeof b === 'string') b = parseDate(b) || b;
    else if (b instanceof BDate && typeof a === 'string') a = parseDate(a) || a;
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
      case 'cur': return decode(ctx.current);
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

  function call(n, ctx) {
    var x = n.x;
    if (n.f === 'if') return ev(toBool(ev(x[0], ctx)) ? x[1] : x[2], ctx);
    if (n.f === 'coalesce') {
      var first = ev(x[0], ctx);
      return toStr(first) !== '' ? first : ev(x[1], ctx);
    }
    if (n.f === 'today') return today(ctx);
    if (n.f === 'pulldata') {
      return pulldata(ctx, ev(x[0], ctx), ev(x[1], ctx), ev(x[2], ctx), ev(x[3], ctx));
    }
    var fn = FUNCTIONS[n.f];
    if (!fn) throw new Error('Unknown function ' + n.f);
    return fn.apply(null, x.map(function (a) { return ev(a, ctx); }));
  }

  // -- functions
  // pulldata('file', 'column', 'key column', key): the first matching row of a CSV attachment.
  function pulldata(ctx, table, column, key, value) {
    var rows = (ctx.tables || {})[toStr(table).replace(/\.csv$/, '')] || [];
    var wanted = toStr(value), keyColumn = toStr(key), name = toStr(column);
    for (var i = 0; i < rows.length; i++) {
      if (rows[i][keyColumn] === wanted) return rows[i][name] === undefined ? '' : rows[i][name];
    }
    return '';
  }

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
    'normalize-space': function (s) { return splitWs(toStr(s)).join(' '); }
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
    NodeSet: NodeSet
  };

  if (root) root.BirgeExpr = BirgeExpr;
  if (typeof module !== 'undefined') module.exports = BirgeExpr;
})(typeof window !== 'undefined' ? window : null);
