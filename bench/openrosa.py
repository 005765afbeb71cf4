"""OpenRosa ingestion benchmark: ODK Collect submissions with a device token, with HTTP Basic,
and the web form, on SQLite and PostgreSQL, in one run.

For each database it starts the production server (gunicorn, 2 workers x 4 threads) on 127.0.0.1
with a throwaway instance folder and database, creates a volunteer, issues a device token for
them (as the Devices page does), and posts --n complete interviews of the default instrument
three ways from --concurrency client threads:

- OpenRosa with the device token in the URL (POST /key/<token>/submission, multipart, the XML
  that ODK Collect writes): one indexed SHA-256 look-up per request;
- OpenRosa with HTTP Basic (POST /submission): argon2 checks the password on every request;
- the web form (POST /collect/v/<id> with a session cookie), for comparison.

    .venv/bin/python bench/openrosa.py                       # SQLite, then PostgreSQL
    .venv/bin/python bench/openrosa.py --n 300 --database postgresql://postgres@127.0.0.1:5432/x

The PostgreSQL URL only says where the server is: the benchmark creates (and drops) its own
database, bench_birge. Every answer must be 201 (OpenRosa) or the redirect to "saved" (web form),
and the database must hold exactly 3 x --n submissions at the end.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
import xml.etree.ElementTree as ET  # builds documents from our own values only
from collections.abc import Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import defusedxml.ElementTree as safe_xml  # noqa: E402
import ingestion as web  # noqa: E402 - the web-form benchmark's server, client and report

from survey import demo  # noqa: E402
from survey.instruments.services import DEFAULT_INSTRUMENT  # noqa: E402
from survey.instruments.xlsform import load_xlsform  # noqa: E402

XHTML = "http://www.w3.org/1999/xhtml"
XFORMS = "http://www.w3.org/2002/xforms"
JAVAROSA = "http://openrosa.org/javarosa"
BOUNDARY = "birge-bench-boundary"


def local(tag: str) -> str:
    return tag.rpartition("}")[2]


def text_of(value: Any) -> str | None:
    """An answer as ODK Collect writes it into the instance."""
    if value is None:
        return None
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def fill(template: ET.Element, out: ET.Element, values: Mapping[str, Any]) -> None:
    """Copy the form's primary instance, filled with values; repeats repeated."""
    repeated: set[str] = set()
    for child in template:
        name = local(child.tag)
        if child.get(f"{{{JAVAROSA}}}template") is not None:
            repeated.add(name)
            for entry in values.get(name) or []:
                fill(child, ET.SubElement(out, name), entry)
        elif name in repeated:
            continue
        elif len(child):
            fill(child, ET.SubElement(out, name), values)
        else:
            ET.SubElement(out, name).text = text_of(values.get(name))


def collect_document(xform: bytes, answers: Mapping[str, Any], instance_id: str) -> bytes:
    html = safe_xml.fromstring(xform)
    primary = html.find(f"./{{{XHTML}}}head/{{{XFORMS}}}model/{{{XFORMS}}}instance")[0]
    root = ET.Element(local(primary.tag), {k: v for k, v in primary.attrib.items() if "}" not in k})
    fill(primary, root, answers)
    root.find("meta").find("instanceID").text = instance_id
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def multipart(document: bytes) -> bytes:
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="xml_submission_file"; '
            f'filename="submission.xml"\r\nContent-Type: text/xml\r\n\r\n'
        ).encode()
        + document
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


class OpenRosaClient(web.Client):
    """A keep-alive connection that posts multipart documents, optionally with Basic auth."""

    def __init__(self, port: int, authorization: str | None = None) -> None:
        super().__init__(port)
        self.authorization = authorization

    def post(self, path: str, body: bytes) -> tuple[int, str]:
        headers = {
            "Host": f"127.0.0.1:{self.port}",
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "X-OpenRosa-Version": "1.0",
        }
        if self.authorization:
            headers["Authorization"] = self.authorization
        for attempt in (1, 2):
            if self.connection is None:
                import http.client

                self.connection = http.client.HTTPConnection(
                    "127.0.0.1", self.port, timeout=web.REQUEST_TIMEOUT
                )
            try:
                self.connection.request("POST", path, body=body, headers=headers)
                response = self.connection.getresponse()
                return response.status, response.read().decode("utf-8", "replace")
            except (ConnectionError, OSError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def post_openrosa(
    port: int, path: str, bodies: Sequence[bytes], concurrency: int, authorization: str | None
) -> web.Results:
    """Post every document from `concurrency` threads; each must be answered 201."""
    results = web.Results()
    queue = iter(bodies)
    lock = threading.Lock()

    def worker() -> None:
        client = OpenRosaClient(port, authorization)
        while True:
            with lock:
                body = next(queue, None)
            if body is None:
                break
            started = time.perf_counter()
            try:
                status, text = client.post(path, body)
            except OSError as error:
                status, text = 0, str(error)
            elapsed = time.perf_counter() - started
            with results.lock:
                results.latencies.append(elapsed)
                if status != 201:
                    results.errors.append(f"HTTP {status} {text[:200]}")
        client.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.seconds = time.perf_counter() - started
    return results


def issue_token(env: dict[str, str]) -> str:
    """A device token for the volunteer, issued through the service the Devices page uses."""
    saved = {k: os.environ.get(k) for k in ("SURVEY_INSTANCE_PATH", "SURVEY_DATABASE_URL")}
    os.environ.update({k: env[k] for k in saved})
    try:
        from survey import create_app
        from survey.extensions import db
        from survey.users import devices
        from survey.users.services import find_user

        app = create_app()
        with app.app_context():
            volunteer = find_user(web.VOLUNTEER)
            issued = devices.issue_device(volunteer, "bench phone", volunteer)
            db.session.commit()
            db.engine.dispose()
        return issued.token
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def interviews(spec: Any, n: int, seed: int) -> list[tuple[str, dict[str, Any]]]:
    rng = random.Random(seed)
    profile = demo.profile_for(spec)
    today = dt.date.today()
    out = []
    for _ in range(n):
        day = today - dt.timedelta(days=rng.randrange(1, 30))
        answers = demo.generate_answers(spec, rng, profile=profile, day=day, today=today)
        out.append((f"uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}", answers))
    return out


def run_one(database: web.Database, folder: Path, n: int, concurrency: int, seed: int) -> bool:
    env = {
        **os.environ,
        "SURVEY_INSTANCE_PATH": str(folder / "instance"),
        "SURVEY_DATABASE_URL": database.url,
        "SURVEY_ADMIN_PASSWORD": web.PASSWORD,
        "SURVEY_OPENROSA_ALLOW_HTTP": "true",  # loopback only; the field needs HTTPS
        # One client address for all threads: the per-address login limit would stop the web
        # form's single login no more than it stops a field team behind one NAT.
    }
    env.pop("SURVEY_TEST_DATABASE_URL", None)
    print(f"\nDatabase  {database.version}: {database.label}")
    web.run_survey(["init"], env)
    web.run_survey(["users", "create", web.VOLUNTEER, "--password-stdin"], env, web.PASSWORD + "\n")
    token = issue_token(env)
    spec = load_xlsform(DEFAULT_INSTRUMENT.read_bytes()).spec
    port = web.free_port()
    ok = True
    with web.gunicorn(env, port, folder / "gunicorn.log"):
        form = OpenRosaClient(port)
        form.connection = None
        status, _, listing = web.Client(port).request("GET", f"/key/{token}/formList")
        if status != 200:
            raise web.BenchError(f"/key/<token>/formList answered HTTP {status}")
        url = safe_xml.fromstring(listing).find(".//{*}downloadUrl").text
        status, _, xform = web.Client(port).request("GET", url.split(str(port), 1)[1])
        xform_bytes = xform.encode("utf-8")
        made = interviews(spec, 3 * n, seed)
        bodies = [multipart(collect_document(xform_bytes, a, i)) for i, a in made]
        sizes = sorted(len(b) for b in bodies)
        print(
            f"Payload   {len(bodies)} Collect documents, median {sizes[len(sizes) // 2]} bytes "
            f"(min {sizes[0]}, max {sizes[-1]}); {concurrency} client threads"
        )
        token_run = post_openrosa(port, f"/key/{token}/submission", bodies[:n], concurrency, None)
        web.report_phase(f"OpenRosa, device token: {n} submissions", token_run, n)
        basic = "Basic " + base64.b64encode(f"{web.VOLUNTEER}:{web.PASSWORD}".encode()).decode()
        basic_run = post_openrosa(port, "/submission", bodies[n : 2 * n], concurrency, basic)
        web.report_phase(f"OpenRosa, HTTP Basic (argon2): {n} submissions", basic_run, n)
        cookies, version_id, csrf = web.log_in(port)
        web_interviews = web.make_interviews(spec, n, seed + 1, csrf)
        deadline = time.monotonic() + web.DEADLINE_SECONDS
        form_run = web.post_all(port, cookies, version_id, web_interviews, concurrency, deadline)
        web.report_phase(f"Web form: {n} submissions", form_run, n)
        for run in (token_run, basic_run, form_run):
            ok = ok and not run.errors and len(run.latencies) == n
    stored = database.scalar("SELECT count(*) FROM submissions")
    print(f"Stored    {stored} submissions (expected {3 * n})")
    return ok and stored == 3 * n


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark on SQLite and PostgreSQL; 0 when every check passed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=300, help="submissions per channel (300)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--database",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="where the PostgreSQL server is ('' for SQLite only)",
    )
    parser.add_argument(
        "--bench-database",
        default="bench_birge_openrosa",
        help="the PostgreSQL database created and dropped (never one another run may use)",
    )
    parser.add_argument("--only", choices=["sqlite", "postgresql"], help="one database only")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    web.BENCH_DATABASE = args.bench_database
    if not 1 <= args.n <= 10_000:
        parser.error("--n must be between 1 and 10000")
    print(f"Machine   {web.machine()}")
    ok = True
    kinds = ["sqlite", *(["postgresql"] if args.database else [])]
    for kind in [k for k in kinds if args.only in {None, k}]:
        folder = Path(tempfile.mkdtemp(prefix="birge-bench-openrosa-"))
        database = None
        try:
            database = (
                web.sqlite_database(folder)
                if kind == "sqlite"
                else web.postgres_database(args.database)
            )
            ok = run_one(database, folder, args.n, args.concurrency, args.seed) and ok
        except web.BenchError as error:
            print(f"error: {error}", file=sys.stderr)
            ok = False
        finally:
            if database is not None:
                with suppress(Exception):
                    web.drop_postgres(database)
            shutil.rmtree(folder, ignore_errors=True)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nLoad      average {load} at the end (other processes on the machine count too)")
    print("Result    OK" if ok else "Result    FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
