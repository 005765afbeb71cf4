"""The function library of the ODK XForms specification that needs no device."""

from __future__ import annotations

import base64
import hashlib
import itertools
import math
import operator
import re
import secrets
import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime

from survey.instruments.expressions.parser import _walk
from survey.instruments.expressions.regex import _compile_regex
from survey.instruments.expressions.syntax import _EPOCH, _NAN, _XPATH_WS, Call, Node, NodeSet, Str
from survey.instruments.expressions.values import (
    _DAY_MS,
    _MAX_MS,
    _MIN_MS,
    _MONTHS,
    _WEEKDAYS,
    DateTime,
    EvalContext,
    _fields,
    _parse_date,
    _parse_datetime,
    to_boolean,
    to_number,
    to_string,
)


def _now() -> DateTime:
    moment = datetime.now().astimezone()
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    return DateTime(float(math.floor(moment.timestamp() * 1000)), minutes)


_ALPHANUMERIC = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_MAX_UUID_LENGTH = 1000


def _uuid(length: object) -> str:
    """uuid(): a random version 4 UUID; uuid(n): n random letters and digits."""
    if length is None:
        return str(uuid.uuid4())
    n = to_number(length)
    if not math.isfinite(n) or n < 1:
        return ""
    count = min(int(n), _MAX_UUID_LENGTH)
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(count))


def pulldata_files(node: Node) -> set[str]:
    """The files (without '.csv') that the pulldata() calls of an expression name literally."""
    return {
        n.args[0].value.removesuffix(".csv")
        for n, _ in _walk(node)
        if isinstance(n, Call) and n.name == "pulldata" and isinstance(n.args[0], Str)
    }


def pulldata_columns(node: Node) -> dict[str | None, set[str] | None]:
    """The columns pulldata() calls read, by file (without '.csv'): the value and key columns.

    None as a file's columns: a call names a column with an expression, so any column may be
    read. None as a file: a call names its file with an expression, so any table may be read.
    """
    found: dict[str | None, set[str] | None] = {}
    for n, _ in _walk(node):
        if not (isinstance(n, Call) and n.name == "pulldata"):
            continue
        file = n.args[0].value.removesuffix(".csv") if isinstance(n.args[0], Str) else None
        column, key = n.args[1], n.args[2]
        if file is None or not (isinstance(column, Str) and isinstance(key, Str)):
            found[file] = None
        elif (known := found.setdefault(file, set())) is not None:
            known |= {column.value, key.value}
    return found


def _pulldata(ctx: EvalContext, table: object, column: object, key: object, value: object) -> str:
    """The column of the first row whose key column equals the value, as ODK Collect reads it."""
    rows = (ctx.tables or {}).get(to_string(table).removesuffix(".csv"), ())
    wanted, key_column, column_name = to_string(value), to_string(key), to_string(column)
    for row in rows:
        if row.get(key_column) == wanted:
            return row.get(column_name, "")
    return ""


def _split_ws(text: str) -> list[str]:
    return [t for t in re.split(r"[ \t\r\n]+", text) if t]


def _tokens(value: object) -> list[str]:
    if isinstance(value, NodeSet):
        return [t for v in value for t in _split_ws(to_string(v))]
    return _split_ws(to_string(value))


def _selected_at(value: object, index: object) -> str:
    tokens, k = _tokens(value), _js_int(math.trunc, to_number(index))
    return tokens[int(k)] if math.isfinite(k) and 0 <= k < len(tokens) else ""


def _js_int(function: Callable[[float], int], x: float) -> float:
    """math.floor/ceil/trunc with JavaScript's signed zeros (Math.ceil(-0.5) is -0)."""
    return x if x == 0 or not math.isfinite(x) else math.copysign(float(function(x)), x)


def _round(value: object, digits: object = None) -> float:
    x = to_number(value)
    if digits is None:
        return _js_int(math.floor, x + 0.5) if math.isfinite(x) else x
    d = to_number(digits)
    if not math.isfinite(d):
        return _NAN
    d = max(-308, min(308, math.trunc(d)))
    if not math.isfinite(x):
        return x
    power = float(f"1e{abs(d)}")  # exact for |d| <= 22 and parsed like JS Number('1e' + d)
    if d < 0:
        return _js_int(math.floor, x / power + 0.5) * power
    scaled = x * power
    # With too many digits the scaled value overflows; the number is then returned as it is.
    return _js_int(math.floor, scaled + 0.5) / power if math.isfinite(scaled) else x


def _to_date(value: object) -> date | str:
    if isinstance(value, NodeSet):
        value = value[0] if value else ""
    if isinstance(value, date):
        return value
    if isinstance(value, str) and (parsed := _parse_date(value)):
        return parsed
    if isinstance(value, str) and (instant := _parse_datetime(value)):
        value = instant
    if isinstance(value, DateTime):
        fields = _fields(value)
        return fields[0] if fields else ""
    x = to_number(value)
    if not math.isfinite(x) or not 1 <= _EPOCH + math.floor(x) <= date.max.toordinal():
        return ""
    return date.fromordinal(_EPOCH + math.floor(x))


def _substr(value: object, start: object, end: object = None) -> str:
    text = to_string(value)
    n = len(text)
    a, b = to_number(start), float(n) if end is None else to_number(end)
    if math.isnan(a) or math.isnan(b):
        return ""
    a, b = _js_int(math.trunc, a), _js_int(math.trunc, b)
    a, b = (a + n if a < 0 else a), (b + n if b < 0 else b)
    a, b = min(max(a, 0), n), min(max(b, 0), n)
    return text[int(a) : int(b)] if a < b else ""


def _sum(value: object) -> float:
    if not isinstance(value, NodeSet):
        return to_number(value)
    total = 0.0  # a plain loop: Python 3.12's sum() compensates rounding, JavaScript does not
    for v in value:
        total += to_number(v)
    return total


def _extreme(values: tuple[object, ...], better: Callable[[float, float], bool]) -> float:
    numbers = [to_number(v) for x in values for v in (x if isinstance(x, NodeSet) else (x,))]
    if not numbers or any(math.isnan(v) for v in numbers):
        return _NAN
    best = numbers[0]
    for v in numbers[1:]:
        if better(v, best):
            best = v
    return best


def _concat(*values: object) -> str:
    # ODK joins every value of a node-set, not just the first.
    return "".join(
        "".join(map(to_string, v)) if isinstance(v, NodeSet) else to_string(v) for v in values
    )


def _js_math(function: Callable[[float], float]) -> Callable[[object], float]:
    """A math function with JavaScript's results where Python raises (NaN, or +-Infinity)."""

    def run(value: object) -> float:
        x = to_number(value)
        try:
            return function(x)
        except OverflowError:
            return math.inf
        except ValueError:
            if x == 0 and function in (math.log, math.log10):
                return -math.inf
            return _NAN

    return run


def _is_odd_integer(y: float) -> bool:
    return math.isfinite(y) and y.is_integer() and y % 2 == 1


def _pow(base: object, exponent: object) -> float:
    """Math.pow: NaN for a NaN exponent and for (+-1) ** +-Infinity, where Python gives 1."""
    x, y = to_number(base), to_number(exponent)
    if math.isnan(y):
        return _NAN
    if y == 0:
        return 1.0
    if math.isnan(x) or (abs(x) == 1 and math.isinf(y)):
        return _NAN
    try:
        return math.pow(x, y)
    except OverflowError:
        return -math.inf if x < 0 and _is_odd_integer(y) else math.inf
    except ValueError:
        if x == 0:  # 0 ** negative: Infinity, signed like the zero for odd exponents
            return math.copysign(math.inf, x) if _is_odd_integer(y) else math.inf
        return _NAN


def _substring_before(text: object, part: object) -> str:
    a, b = to_string(text), to_string(part)
    found = a.find(b) if b else -1
    return a[:found] if found >= 0 else ""


def _substring_after(text: object, part: object) -> str:
    a, b = to_string(text), to_string(part)
    found = a.find(b)
    return a[found + len(b) :] if found >= 0 else ""


def _translate(text: object, source: object, target: object) -> str:
    mapping: dict[str, str] = {}
    replacement = to_string(target)
    for i, ch in enumerate(to_string(source)):
        mapping.setdefault(ch, replacement[i] if i < len(replacement) else "")
    return "".join(mapping.get(ch, ch) for ch in to_string(text))


def _values(args: tuple[object, ...]) -> list[object]:
    return [v for x in args for v in (x if isinstance(x, NodeSet) else (x,))]


def _to_datetime(value: object) -> DateTime | None:
    if isinstance(value, NodeSet):
        value = value[0] if value else ""
    if isinstance(value, DateTime):
        return value
    if isinstance(value, date):
        return DateTime(float((value.toordinal() - _EPOCH) * _DAY_MS))
    if isinstance(value, str):
        parsed = _parse_date(value)
        if parsed is not None:
            return _to_datetime(parsed)
        if (instant := _parse_datetime(value)) is not None:
            return instant
    x = to_number(value)
    if not math.isfinite(x):
        return None
    millis = float(math.floor(x * _DAY_MS + 0.5))  # whole milliseconds, as JavaScript's Date
    return DateTime(millis) if _MIN_MS <= millis <= _MAX_MS else None


def _date_time(value: object) -> object:
    instant = _to_datetime(value)
    return instant if instant is not None and _fields(instant) else ""


def _format_date(value: object, pattern: object) -> str:
    """ODK's format-date(): %Y %y %m %n %b %d %e %a %H %h %M %S %3, English names."""
    instant = _to_datetime(value)
    fields = _fields(instant) if instant is not None else None
    if fields is None:
        return ""
    day, h, m, sec, ms = fields
    codes = {
        "Y": f"{day.year:04d}", "y": f"{day.year % 100:02d}", "m": f"{day.month:02d}",
        "n": str(day.month), "b": _MONTHS[day.month - 1], "d": f"{day.day:02d}",
        "e": str(day.day), "a": _WEEKDAYS[day.weekday()], "H": f"{h:02d}", "h": str(h),
        "M": f"{m:02d}", "S": f"{sec:02d}", "3": f"{ms:03d}",
    }  # fmt: skip
    text, out, i = to_string(pattern), [], 0
    while i < len(text):
        if text[i] == "%" and i + 1 < len(text) and text[i + 1] in codes:
            out.append(codes[text[i + 1]])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


# As Enketo's openrosa-xpath-evaluator: a sphere of the Earth's equatorial radius, results in
# metres (square metres) rounded to centimetres.
_EARTH_RADIUS = 6378100.0


def _geopoints(args: tuple[object, ...]) -> list[tuple[float, float]] | None:
    """The points of a geotrace/geoshape text, of a node-set of geopoints, or of several
    geopoint arguments, as (latitude, longitude) in radians; None if one is not a geopoint."""
    if len(args) == 1 and isinstance(args[0], NodeSet) and len(args[0]) != 1:
        texts = [to_string(v) for v in args[0]]
    elif len(args) == 1:
        texts = to_string(args[0]).split(";")
    else:
        texts = [to_string(a) for a in args]
    points = []
    for text in texts:
        numbers = [to_number(t) for t in _split_ws(text)]
        if not 2 <= len(numbers) <= 4 or any(math.isnan(n) for n in numbers):
            return None
        lat, lon = numbers[0], numbers[1]
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            return None
        points.append((lat * math.pi / 180, lon * math.pi / 180))
    return points


def _centimetres(x: float) -> float:
    return _js_int(math.floor, x * 100 + 0.5) / 100


def _distance(*args: object) -> float:
    points = _geopoints(args)
    if points is None:
        return _NAN
    total = 0.0
    for (lat1, lon1), (lat2, lon2) in itertools.pairwise(points):
        cosine = math.sin(lat1) * math.sin(lat2) + math.cos(lat1) * math.cos(lat2) * math.cos(
            lon1 - lon2
        )
        total += math.acos(max(-1.0, min(1.0, cosine))) * _EARTH_RADIUS
    return _centimetres(total)


def _area(shape: object) -> float:
    points = _geopoints((shape,))
    if points is None:
        return _NAN
    total = 0.0
    for i, (lat1, lon1) in enumerate(points):
        lat2, lon2 = points[(i + 1) % len(points)]
        total += (lon2 - lon1) * (2 + math.sin(lat1) + math.sin(lat2))
    return _centimetres(abs(total * _EARTH_RADIUS * _EARTH_RADIUS / 2))


_DIGESTS = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384",
             "SHA-512": "sha512"}  # fmt: skip


def _digest(value: object, algorithm: object, encoding: object = "base64") -> str:
    """ODK's digest(text, 'MD5'|'SHA-1'|'SHA-256'|'SHA-384'|'SHA-512', 'base64'|'hex')."""
    name, form = _DIGESTS.get(to_string(algorithm)), to_string(encoding)
    if name is None or form not in {"base64", "hex"}:
        return ""
    # A lone surrogate becomes U+FFFD, as the browser's TextEncoder makes it.
    text = to_string(value).encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    raw = hashlib.new(name, text.encode("utf-8")).digest()
    return raw.hex() if form == "hex" else base64.b64encode(raw).decode("ascii")


def _within(count: float, low: object, high: object) -> bool:
    """checklist(): between min and max inclusive, where -1 means no limit."""
    a, b = to_number(low), to_number(high)
    return (a == -1 or count >= a) and (b == -1 or count <= b)


def _checklist(low: object, high: object, *values: object) -> bool:
    return _within(float(sum(1 for v in _values(values) if to_boolean(v))), low, high)


def _weighted_checklist(low: object, high: object, *pairs: object) -> bool:
    total = 0.0
    for value, weight in zip(pairs[::2], pairs[1::2], strict=False):
        if to_boolean(value):
            total += to_number(weight)
    return _within(total, low, high)


_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


def _base64_decode(value: object) -> str:
    """The UTF-8 text a base64 value encodes; '' for anything that is not base64."""
    text = to_string(value)
    if not _BASE64.fullmatch(text):
        return ""
    return base64.b64decode(text).decode("utf-8", "replace")


# Park–Miller ("minimal standard") generator, as JavaRosa and ODK Web Forms seed randomize().
_PARK_MILLER_MODULUS = 2147483647.0
_PARK_MILLER_MULTIPLIER = 16807.0


def _park_miller(seed: float) -> Callable[[], float]:
    """JavaRosa's seeded generator: uniform numbers in [0, 1) from a numeric seed."""
    # The seed goes through Java's double-to-long cast (NaN is 0, truncated, clamped) first.
    whole = 0.0 if math.isnan(seed) else math.copysign(min(abs(seed), 2.0**63) // 1, seed)
    state = math.fmod(whole, _PARK_MILLER_MODULUS)  # Java's and JavaScript's %: sign of whole
    if state <= 0:
        state += _PARK_MILLER_MODULUS - 1

    def draw() -> float:
        nonlocal state
        state = state * _PARK_MILLER_MULTIPLIER % _PARK_MILLER_MODULUS
        return (state - 1) / (_PARK_MILLER_MODULUS - 1)

    return draw


def _randomize(nodes: object, seed: object = None) -> NodeSet:
    """ODK's randomize(): the inside-out Fisher–Yates shuffle, reproducible with a seed."""
    items = _values((nodes,))
    draw = _park_miller(to_number(seed)) if seed is not None else secrets.SystemRandom().random
    out: list[object] = []
    for i, item in enumerate(items):
        j = math.floor(draw() * (i + 1))
        if j == i:
            out.append(item)
        else:
            out.append(out[j])
            out[j] = item
    return NodeSet(out)


def shuffled_codes(codes: Sequence[str], seed: object) -> list[str]:
    """Choice codes in the order ODK Collect shows them with `randomize=true` and this seed:
    the items of randomize(), JavaRosa's seeded shuffle of the choices in the sheet's order."""
    return [str(code) for code in _randomize(NodeSet(list(codes)), seed)]


_TIME_TEXT = re.compile(
    r"([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]+))?)?(Z|[+-][0-9]{2}:?[0-9]{2})?"
)


def _decimal_time(value: object) -> float:
    """ODK's decimal-time(): the fraction of the day a time shows (noon is 0.5); NaN for
    anything but a time, a dateTime included, as in ODK's engine.

    ODK reads the time in the device's zone; here it is read as written, in its own offset:
    the zone of the device that recorded it, and the same on the server and in every browser."""
    if isinstance(value, NodeSet):
        value = value[0] if value else ""
    match = _TIME_TEXT.fullmatch(value.strip(_XPATH_WS)) if isinstance(value, str) else None
    if match is None:
        return _NAN
    h, mi, sec, frac, zone = match.groups()
    digits = zone[1:].replace(":", "") if zone and zone != "Z" else "0000"
    if int(h) > 23 or int(mi) > 59 or int(sec or 0) > 59:
        return _NAN
    if int(digits[:2]) > 23 or int(digits[2:]) > 59:
        return _NAN
    millis = ((int(h) * 60 + int(mi)) * 60 + int(sec or 0)) * 1000
    return (millis + int((frac or "0")[:3].ljust(3, "0"))) / _DAY_MS


def _regex(value: object, pattern: object) -> bool:
    try:
        compiled = _compile_regex(to_string(pattern))
    except ValueError:
        return False
    return compiled.search(to_string(value)) is not None


def regex_matches(text: str, pattern: str) -> bool:
    """Whether regex(text, pattern) holds, exactly as a constraint checks it on the server."""
    return _regex(text, pattern)


_FUNCTIONS: dict[str, Callable[..., object]] = {
    "selected": lambda a, v: to_string(v).strip(_XPATH_WS) in _tokens(a),
    "count-selected": lambda a: float(len(_tokens(a))),
    "selected-at": _selected_at,
    "regex": _regex,
    "not": lambda x: not to_boolean(x),
    "concat": _concat,
    "string-length": lambda s: float(len(to_string(s))),
    "int": lambda x: _js_int(math.trunc, to_number(x)),
    "number": to_number,
    "round": _round,
    "date": _to_date,
    "true": lambda: True,
    "false": lambda: False,
    "string": to_string,
    "boolean": to_boolean,
    "contains": lambda a, b: to_string(b) in to_string(a),
    "starts-with": lambda a, b: to_string(a).startswith(to_string(b)),
    "ends-with": lambda a, b: to_string(a).endswith(to_string(b)),
    "substr": _substr,
    "floor": lambda x: _js_int(math.floor, to_number(x)),
    "ceiling": lambda x: _js_int(math.ceil, to_number(x)),
    "abs": lambda x: abs(to_number(x)),
    "count": lambda x: float(len(x)) if isinstance(x, NodeSet) else 1.0,
    "sum": _sum,
    "min": lambda *xs: _extreme(xs, operator.lt),
    "max": lambda *xs: _extreme(xs, operator.gt),
    "normalize-space": lambda s: " ".join(_split_ws(to_string(s))),
    "pow": _pow,
    "sqrt": _js_math(math.sqrt),
    "exp": _js_math(math.exp),
    "exp10": lambda x: _pow(10.0, x),
    "log": _js_math(math.log),
    "log10": _js_math(math.log10),
    "sin": _js_math(math.sin),
    "cos": _js_math(math.cos),
    "tan": _js_math(math.tan),
    "asin": _js_math(math.asin),
    "acos": _js_math(math.acos),
    "atan": _js_math(math.atan),
    "atan2": lambda y, x: math.atan2(to_number(y), to_number(x)),
    "pi": lambda: math.pi,
    "substring-before": _substring_before,
    "substring-after": _substring_after,
    "translate": _translate,
    "boolean-from-string": lambda s: to_string(s) in {"true", "1"},
    "join": lambda sep, *xs: to_string(sep).join(map(to_string, _values(xs))),
    "count-non-empty": lambda x: float(sum(1 for v in _values((x,)) if to_string(v) != "")),
    "format-date": _format_date,
    "format-date-time": _format_date,
    "distance": _distance,
    "checklist": _checklist,
    "weighted-checklist": _weighted_checklist,
    "base64-decode": _base64_decode,
    "digest": _digest,
    "area": _area,
    "date-time": _date_time,
    "decimal-date-time": lambda x: (
        to_number(instant) if (instant := _to_datetime(x)) is not None else _NAN
    ),
    "randomize": _randomize,
    "decimal-time": _decimal_time,
}
