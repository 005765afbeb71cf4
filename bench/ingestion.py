"""Ingestion benchmark: complete interviews posted through the real web form to gunicorn.

Starts the production server (gunicorn, 2 workers x 4 threads) on 127.0.0.1 with a throwaway
instance folder and database, logs in as a volunteer, and posts --n complete, valid
submissions of the default instrument (made by the demo generator) from --concurrency client
threads, exactly as a browser would post the form. Then it resends 200 of them, which must be
acknowledged without storing duplicates, and checks the database holds exactly --n rows.

    .venv/bin/python bench/ingestion.py                       # SQLite in a temp folder
    .venv/bin/python bench/ingestion.py --database postgresql://postgres@127.0.0.1:5432/test

With PostgreSQL the URL only says where the server is: the benchmark creates (and drops at the
end) its own database, bench_birge, and never touches the tables of the named database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import platform
import random
import re
import secrets
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from survey import demo  # noqa: E402 - after the path fix, so it runs from a checkout
from survey.collection.services import answers_digest  # noqa: E402
from survey.instruments.services import DEFAULT_INSTRUMENT  # noqa: E402
from survey.instruments.spec import InstrumentSpec  # noqa: E402
from survey.instruments.xlsform import load_xlsform  # noqa: E402

BENCH_DATABASE = "bench_birge"
VOLUNTEER = "bench_volunteer"
# A fresh password per run: the throwaway accounts must not share a known one.
PASSWORD = secrets.token_urlsafe(18)
RESEND = 200
MAX_SUBMISSIONS = 100_000
DEADLINE_SECONDS = 900  # the whole run stops sending after this, whatever --n says
REQUEST_TIMEOUT = 30
CSRF_PATTERN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class BenchError(RuntimeError):
    """The benchmark could not run or its checks failed."""


# -- the server -------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def venv_tool(name: str) -> str:
    """A console script installed next to this Python (gunicorn, survey)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise BenchError(f"{name} is not installed next to {sys.executable}")
    return str(path)


def run_survey(
    args: Sequence[str], env: dict[str, str], stdin: str | None = None, code: Path = ROOT
) -> str:
    """Run the `survey` command (of the checkout `code`) for the benchmark's instance."""
    done = subprocess.run(
        [sys.executable, "-c", "from survey.cli import main; main()", *args],
        env=code_env(env, code),
        cwd=code,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"survey {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def timed_survey(args: Sequence[str], env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    """(wall, CPU, stdout) of one `survey` command in a new process (CPU: its user + system)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    done = subprocess.run(
        [venv_tool("survey"), *args], env=env, cwd=cwd, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise BenchError(f"survey {args[0]}:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, usage.ru_utime + usage.ru_stime - cpu, done.stdout


def code_env(env: dict[str, str], code: Path) -> dict[str, str]:
    """The environment that makes `import survey` find the checkout `code` first."""
    return {**env, "PYTHONPATH": str(code)}


@contextmanager
def gunicorn(
    env: dict[str, str], port: int, log: Path, code: Path = ROOT, workers: int = 2, threads: int = 4
) -> Iterator[subprocess.Popen]:
    """The production server (the checkout `code`) on 127.0.0.1:port, stopped on exit."""
    with log.open("w") as out:
        server = subprocess.Popen(
            [
                venv_tool("gunicorn"),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--threads",
                str(threads),
                "--timeout",
                "60",
                "--chdir",
                str(code),
                "survey.wsgi:app",
            ],
            env=code_env(env, code),
            cwd=code,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_up(port, server, log)
        yield server
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)


def wait_until_up(port: int, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise BenchError(f"gunicorn exited:\n{log.read_text()[-3000:]}")
        with suppress(OSError):
            status, _, _ = Client(port).request("GET", "/login")
            if status == 200:
                return
        time.sleep(0.2)
    raise BenchError(f"gunicorn did not answer within 60 s:\n{log.read_text()[-3000:]}")


def cpu_seconds(server: subprocess.Popen) -> float:
    """User + system CPU seconds of the gunicorn master and its workers so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    pids = [server.pid]
    with suppress(OSError):
        for task in Path(f"/proc/{server.pid}/task").iterdir():
            pids += [int(c) for c in (task / "children").read_text().split()]
    total = 0.0
    for pid in pids:
        with suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


# -- HTTP -------------------------------------------------------------------------------------


class Client:
    """One keep-alive connection to the server with its own session cookie."""

    def __init__(self, port: int, cookies: dict[str, str] | None = None) -> None:
        self.port = port
        self.cookies = dict(cookies or {})
        self.connection: http.client.HTTPConnection | None = None

    def request(
        self, method: str, path: str, body: bytes | None = None
    ) -> tuple[int, dict[str, str], str]:
        """Status, headers (lower-case names) and text of one request; reconnects once."""
        headers = {"Host": f"127.0.0.1:{self.port}", "Accept-Language": "ru"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(
                    "127.0.0.1", self.port, timeout=REQUEST_TIMEOUT
                )
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                text = response.read().decode("utf-8", "replace")
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()  # the server closed a keep-alive connection: open a new one
                if attempt == 2:
                    raise
                continue
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    cookie = value.split(";", 1)[0]
                    key, _, val = cookie.partition("=")
                    self.cookies[key.strip()] = val.strip()
            if response.getheader("Connection", "").lower() == "close":
                self.close()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, text
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def csrf_token(page: str) -> str:
    match = CSRF_PATTERN.search(page)
    if match is None:
        raise BenchError("no csrf_token on the page")
    return match.group(1)


def log_in(port: int) -> tuple[dict[str, str], int, str]:
    """Log the volunteer in; return the session cookies, the form's version id and its token."""
    client = Client(port)
    status, _, page = client.request("GET", "/login")
    body = urllib.parse.urlencode(
        {"username": VOLUNTEER, "password": PASSWORD, "csrf_token": csrf_token(page)}
    ).encode()
    status, headers, _ = client.request("POST", "/login", body)
    if status != 302:
        raise BenchError(f"login failed with HTTP {status}")
    status, headers, _ = client.request("GET", f"/collect/{demo.DEFAULT_FORM_ID}")
    match = re.search(r"/collect/v/(\d+)", headers.get("location", ""))
    if status != 302 or match is None:
        raise BenchError(f"/collect/{demo.DEFAULT_FORM_ID} answered HTTP {status}")
    version_id = int(match.group(1))
    status, _, page = client.request("GET", f"/collect/v/{version_id}")
    if status != 200:
        raise BenchError(f"the form page answered HTTP {status}")
    token = csrf_token(page)  # tied to the logged-in session, valid for every post
    client.close()
    return client.cookies, version_id, token


# -- the submissions --------------------------------------------------------------------------


@dataclass
class Interview:
    """One submission to post: its instanceID, answers and the encoded form."""

    instance_id: str
    answers: dict[str, Any]
    body: bytes = b""


def form_fields(spec: InstrumentSpec, answers: dict[str, Any]) -> list[tuple[str, str]]:
    """The answers as the volunteer's form posts them (names, repeats, multiple choices)."""
    fields: list[tuple[str, str]] = []

    def add(name: str, question_name: str, value: Any) -> None:
        question = spec.questions_by_name.get(question_name)
        if question is None or question.type in {"calculate", "note"}:
            return  # the server recomputes calculations; notes have no field
        for item in value if isinstance(value, list) else [value]:
            fields.append((name, str(item)))

    for name, value in answers.items():
        if name in spec.repeats_by_name:
            for index, entry in enumerate(value):
                fields.append((f"{name}-{index}-_entry", "1"))
                for child, child_value in entry.items():
                    add(f"{name}-{index}-{child}", child, child_value)
        else:
            add(name, name, value)
    return fields


def make_interviews(spec: InstrumentSpec, n: int, seed: int, token: str) -> list[Interview]:
    """n complete interviews held in the last weeks of this year's round (made by `survey init`)."""
    rng = random.Random(seed)
    profile = demo.profile_for(spec)
    today = dt.date.today()
    first = max(dt.date(today.year, 1, 1), today - dt.timedelta(days=60))
    days = max(1, (today - first).days)
    interviews = []
    for _ in range(n):
        day = first + dt.timedelta(days=rng.randrange(days))
        answers = demo.generate_answers(spec, rng, profile=profile, day=day, today=today)
        instance_id = f"uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}"
        started = dt.datetime.combine(day, dt.time(5), dt.UTC) + dt.timedelta(
            seconds=rng.randrange(8 * 3600)
        )
        fields = [
            *form_fields(spec, answers),
            ("_instance_id", instance_id),
            ("_started_at", started.isoformat(timespec="seconds")),
            ("csrf_token", token),
        ]
        interview = Interview(instance_id, answers, urllib.parse.urlencode(fields).encode())
        interviews.append(interview)
    return interviews


@dataclass
class Results:
    """Latencies and failures of one phase."""

    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


def post_all(
    port: int,
    cookies: dict[str, str],
    version_id: int,
    interviews: Sequence[Interview],
    concurrency: int,
    deadline: float,
) -> Results:
    """Post every interview from `concurrency` threads; each must be redirected to 'saved'."""
    results = Results()
    queue = iter(interviews)
    queue_lock = threading.Lock()

    def worker() -> None:
        client = Client(port, cookies)
        while time.monotonic() < deadline:
            with queue_lock:
                interview = next(queue, None)
            if interview is None:
                break
            started = time.perf_counter()
            try:
                status, headers, text = client.request(
                    "POST", f"/collect/v/{version_id}", interview.body
                )
            except OSError as error:
                status, headers, text = 0, {}, str(error)
            elapsed = time.perf_counter() - started
            expected = f"/collect/saved/{interview.instance_id}"
            with results.lock:
                results.latencies.append(elapsed)
                if status != 302 or not headers.get("location", "").endswith(expected):
                    results.errors.append(f"{interview.instance_id}: HTTP {status} {text[:200]}")
        client.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.seconds = time.perf_counter() - started
    return results


# -- databases --------------------------------------------------------------------------------


@dataclass
class Database:
    """Where the benchmark's server stores its data, and how to look at it."""

    url: str
    label: str
    version: str
    admin_url: str | None = None  # PostgreSQL: the database used to create/drop ours

    def scalar(self, sql: str, *params: Any) -> Any:
        if self.url.startswith("sqlite:///"):
            with sqlite3.connect(self.url.removeprefix("sqlite:///")) as connection:
                return connection.execute(sql, params).fetchone()[0]
        import psycopg

        with psycopg.connect(self.url) as connection:
            row = connection.execute(sql.replace("?", "%s"), params).fetchone()
            return row[0] if row else None


def sqlite_database(folder: Path) -> Database:
    path = folder / "bench.sqlite3"
    return Database(f"sqlite:///{path}", f"SQLite at {path}", f"SQLite {sqlite3.sqlite_version}")


def postgres_database(server_url: str) -> Database:
    """A fresh bench_birge database on the server of server_url (recreated if left over)."""
    import psycopg

    parts = urllib.parse.urlsplit(server_url)
    if parts.scheme not in {"postgresql", "postgres"} or parts.hostname not in LOCAL_HOSTS:
        raise BenchError("--database must be a postgresql:// URL on 127.0.0.1 or localhost")
    admin = urllib.parse.urlunsplit(parts._replace(scheme="postgresql"))
    ours = urllib.parse.urlunsplit(parts._replace(scheme="postgresql", path=f"/{BENCH_DATABASE}"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {BENCH_DATABASE}")
        version = connection.execute("SHOW server_version").fetchone()[0]
    label = f"PostgreSQL database {BENCH_DATABASE} on {parts.hostname}:{parts.port or 5432}"
    return Database(ours, label, f"PostgreSQL {version}", admin_url=admin)


def drop_postgres(database: Database) -> None:
    import psycopg

    if database.admin_url is None:
        return
    with psycopg.connect(database.admin_url, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")


# -- report -----------------------------------------------------------------------------------


def machine() -> str:
    """Cores, memory, CPU model and Python version, for the printed report."""
    model = platform.processor() or platform.machine()
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = "?"
    with suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} cores, {memory} RAM, {model}; "
        f"Python {platform.python_version()} ({platform.python_implementation()}); "
        f"load average {load}"
    )


def percentile(values: Sequence[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def report_phase(name: str, results: Results, sent: int) -> None:
    ms = [x * 1000 for x in results.latencies]
    rate = len(results.latencies) / results.seconds if results.seconds else 0.0
    print(f"{name}:")
    print(f"  submissions      {len(results.latencies)} of {sent}")
    print(f"  total            {results.seconds:.2f} s")
    print(f"  throughput       {rate:.1f} submissions/s")
    print(
        f"  latency          p50 {percentile(ms, 50):.1f} ms, p95 {percentile(ms, 95):.1f} ms, "
        f"p99 {percentile(ms, 99):.1f} ms (max {max(ms, default=0):.1f} ms)"
    )
    print(f"  errors           {len(results.errors)}")
    for error in results.errors[:5]:
        print(f"    {error}")


# -- main -------------------------------------------------------------------------------------


@dataclass
class Run:
    """One served code and server shape: its phases and the server's CPU per post."""

    label: str
    workers: int
    ok: bool
    first: Results
    cpu_ms_per_post: float
    client_cpu_ms_per_post: float


def run_once(args: argparse.Namespace, code: Path, label: str, workers: int) -> Run:
    """A fresh instance and database, the code of `code` under gunicorn, both phases, checks."""
    folder = Path(tempfile.mkdtemp(prefix="birge-bench-"))
    database: Database | None = None
    try:
        database = postgres_database(args.database) if args.database else sqlite_database(folder)
        env = {
            **os.environ,
            "SURVEY_INSTANCE_PATH": str(folder / "instance"),
            "SURVEY_DATABASE_URL": database.url,
            "SURVEY_ADMIN_PASSWORD": PASSWORD,
        }
        env.pop("SURVEY_TEST_DATABASE_URL", None)
        print(f"\n== {label}: {code} — gunicorn {workers} workers x {args.threads} threads")
        print(f"Database  {database.version}: {database.label}")
        run_survey(["init"], env, code=code)
        run_survey(["users", "create", VOLUNTEER, "--password-stdin"], env, PASSWORD + "\n", code)
        spec = load_xlsform(DEFAULT_INSTRUMENT.read_bytes()).spec
        port = free_port()
        log = folder / "gunicorn.log"
        with gunicorn(env, port, log, code, workers, args.threads) as server:
            cookies, version_id, token = log_in(port)
            prepared = time.perf_counter()
            interviews = make_interviews(spec, args.n, args.seed, token)
            prepared = time.perf_counter() - prepared
            print(
                f"Server    127.0.0.1:{port}; {args.n} interviews generated in {prepared:.1f} s; "
                f"clients: {args.concurrency} threads, keep-alive, one logged-in volunteer"
            )
            deadline = time.monotonic() + DEADLINE_SECONDS
            server_cpu, client_cpu = cpu_seconds(server), time.process_time()
            first = post_all(port, cookies, version_id, interviews, args.concurrency, deadline)
            server_cpu = cpu_seconds(server) - server_cpu
            client_cpu = time.process_time() - client_cpu
            report_phase(f"Phase 1: {args.n} new submissions", first, args.n)
            posted = max(1, len(first.latencies))
            print(
                f"  server CPU       {server_cpu * 1000 / posted:.2f} ms per post "
                f"(gunicorn master + workers, {server_cpu:.1f} CPU-s); the client threads "
                f"used {client_cpu * 1000 / posted:.2f} ms per post of the same cores"
            )
            resend = random.Random(args.seed).sample(interviews, min(RESEND, len(interviews)))
            second = post_all(port, cookies, version_id, resend, args.concurrency, deadline)
            report_phase(f"Phase 2: {len(resend)} resent submissions", second, len(resend))
        stored = database.scalar("SELECT count(*) FROM submissions")
        same = sum(
            database.scalar(
                "SELECT answers_sha256 FROM submissions WHERE instance_id = ?", i.instance_id
            )
            == answers_digest(version_id, i.answers)
            for i in resend[:50]
        )
        print(f"Stored    {stored} submissions (expected {args.n}); {same}/50 resent checked equal")
        ok = stored == args.n and same == min(50, len(resend)) and not first.errors
        ok = ok and not second.errors and len(first.latencies) == args.n
        print("Result    OK" if ok else "Result    FAILED")
        return Run(
            label,
            workers,
            ok,
            first,
            server_cpu * 1000 / posted,
            client_cpu * 1000 / posted,
        )
    finally:
        if database is not None:
            with suppress(Exception):
                drop_postgres(database)
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 when every check passed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="submissions to post (default 2000)")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--database", help="postgresql://user@127.0.0.1:5432/db (default SQLite)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[2], help="gunicorn workers, one run each"
    )
    parser.add_argument("--threads", type=int, default=4, help="threads per worker (default 4)")
    parser.add_argument(
        "--reference",
        type=Path,
        help="another checkout (e.g. a git worktree of main) served the same way, for the ratio",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.n <= MAX_SUBMISSIONS:
        parser.error(f"--n must be between 1 and {MAX_SUBMISSIONS}")
    if not 1 <= args.concurrency <= 64:
        parser.error("--concurrency must be between 1 and 64")
    if not all(1 <= w <= 16 for w in args.workers) or not 1 <= args.threads <= 32:
        parser.error("--workers must be between 1 and 16, --threads between 1 and 32")
    if args.reference is not None and not (args.reference / "survey" / "wsgi.py").is_file():
        parser.error(f"--reference {args.reference} is not a checkout of this project")

    print(f"Machine   {machine()}")
    codes = [(ROOT, "this checkout")]
    if args.reference is not None:
        codes.append((args.reference.resolve(), "reference"))
    runs: list[Run] = []
    try:
        for workers in args.workers:
            for code, label in codes:
                runs.append(run_once(args, code, label, workers))
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"\nSummary ({args.n} posts each, {args.concurrency} client threads):")
    for run in runs:
        rate = len(run.first.latencies) / run.first.seconds if run.first.seconds else 0.0
        print(
            f"  {run.label:<14} {run.workers} workers  {rate:7.1f} submissions/s  "
            f"server {run.cpu_ms_per_post:6.2f} CPU-ms/post  "
            f"client {run.client_cpu_ms_per_post:5.2f} CPU-ms/post  {'OK' if run.ok else 'FAILED'}"
        )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"Load      average {load} at the end (other processes on the machine count too)")
    return 0 if all(run.ok for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
