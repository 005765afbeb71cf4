"""Storing demo submissions: rows made in chunks (in worker processes for large runs), written fast.

`write_demo_data` stores many submissions with SQLAlchemy Core, one transaction per batch: it is
a bulk loader, so unlike the other services it commits. The same seed gives the same rows
whatever the number of workers; every 500th submission is re-checked with
`rules.evaluate_answers` (`check_answers`).
"""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import multiprocessing
import os
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from random import Random
from typing import Any

from sqlalchemy import insert, select

from survey.clock import utcnow
from survey.collection.models import ReviewStatus, Submission, SurveyRound
from survey.collection.privacy import RECEIPT_ALPHABET, RECEIPT_LENGTH
from survey.collection.services import answers_digest, refusal_reason
from survey.demo.birge import profile_for
from survey.demo.walker import DemoDataError, DemoState, generate_answers
from survey.extensions import db
from survey.instruments import rules
from survey.instruments.models import InstrumentVersion
from survey.instruments.services import spec_for
from survey.instruments.spec import InstrumentSpec
from survey.users.models import User

DEFAULT_BATCH_SIZE = 2000
CHUNK_SIZE = 500  # fixed: the data of a seed must not depend on batch size or workers
SOURCE = "demo"
# Interviews happen in daytime in Kazakhstan (UTC+5); times are stored in UTC.
_LOCAL_OFFSET = dt.timedelta(hours=5)


# -- storing ----------------------------------------------------------------------------------


def _instance_id(rng: Random) -> str:
    return f"uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}"


def _receipt_code(rng: Random, taken: set[str]) -> str:
    while True:
        raw = "".join(rng.choices(RECEIPT_ALPHABET, k=RECEIPT_LENGTH))
        code = f"{raw[:4]}-{raw[4:]}"
        if code not in taken:
            taken.add(code)
            return code


def _interview_window(survey_round: SurveyRound, today: dt.date) -> tuple[dt.date, int]:
    """First day and number of days interviews fall on: the round up to yesterday.

    Yesterday, so that no interview ends in the future and a seed always gives the same
    times; a round that starts today gets today (times then stop at the current time).
    """
    last = min(survey_round.ends_on or today, today - dt.timedelta(days=1))
    if last < survey_round.starts_on:
        last = min(survey_round.starts_on, today)
    first = min(survey_round.starts_on, last)
    return first, (last - first).days + 1


def _latest_time(today: dt.date) -> dt.datetime:
    """No demo interview ends after this: now, or the end of `today` when that is earlier."""
    end_of_day = dt.datetime.combine(today, dt.time(23, 59, 59), dt.UTC)
    now = utcnow()
    return min(now, end_of_day) if now.date() >= today else end_of_day


@dataclass(frozen=True)
class _Job:
    """What every chunk of a demo run shares (plain values: it travels to worker processes)."""

    seed: int
    version_id: int
    round_id: int
    entered_by_id: int | None
    first_day: dt.date
    days: int
    today: dt.date
    now: dt.datetime
    verify_every: int


def _chunk_rng(seed: int, index: int) -> Random:
    # One generator per chunk: chunks can be made in any process, the data stay the same.
    return Random(f"birge-demo/{seed}/{index}")  # noqa: S311 - reproducible, not secret


def _chunk_rows(spec: InstrumentSpec, job: _Job, index: int, count: int) -> list[dict[str, Any]]:
    """Rows of one chunk, without receipt codes (those must be unique across the table)."""
    profile = profile_for(spec)
    rng = _chunk_rng(job.seed, index)
    district_key = spec.intake.district_question
    rows = []
    for number in range(count):
        day = job.first_day + dt.timedelta(days=rng.randrange(job.days))
        answers = generate_answers(spec, rng, profile=profile, day=day, today=job.today)
        if job.verify_every and (index * CHUNK_SIZE + number) % job.verify_every == 0:
            check_answers(spec, answers, today=job.today)
        local_start = dt.datetime.combine(day, dt.time(9)) + dt.timedelta(
            seconds=rng.randrange(10 * 3600)
        )
        started = (local_start - _LOCAL_OFFSET).replace(tzinfo=dt.UTC)
        ended = started + dt.timedelta(seconds=round(rng.triangular(20, 60, 32) * 60))
        if ended > job.now:  # an interview "today" has not happened later than now
            started, ended = started - (ended - job.now), job.now
        district = answers.get(district_key)
        state = DemoState(spec, rng, day, job.today)
        state.answers = answers
        rows.append(
            {
                "instance_id": _instance_id(rng),
                "instrument_version_id": job.version_id,
                "round_id": job.round_id,
                "entered_by_id": job.entered_by_id,
                "answers": answers,
                "answers_sha256": answers_digest(job.version_id, answers),
                "language": profile.language(state),
                "source": SOURCE,
                "district": str(district) if district is not None else None,
                "started_at": started,
                "ended_at": ended,
                "received_at": min(job.now, ended + dt.timedelta(seconds=rng.randrange(5, 3600))),
                "review_status": ReviewStatus.PENDING.value,
                "is_demo": True,
            }
        )
    return rows


_worker_spec: InstrumentSpec | None = None


def _start_worker(spec: InstrumentSpec) -> None:
    global _worker_spec  # one spec per worker process, set once by the pool initializer
    _worker_spec = spec


def _worker_chunk(job: _Job, index: int, count: int) -> list[dict[str, Any]]:
    assert _worker_spec is not None
    return _chunk_rows(_worker_spec, job, index, count)


def _chunks(spec: InstrumentSpec, job: _Job, n: int, workers: int) -> Iterator[list[dict]]:
    """The chunks of a run in order, made here or by worker processes (same data either way)."""
    sizes = [min(CHUNK_SIZE, n - start) for start in range(0, n, CHUNK_SIZE)]
    # fork: a worker starts in milliseconds with the instrument already parsed, and spawn
    # would re-run an unguarded calling script. Workers only compute; they never touch the
    # parent's database connections.
    if workers <= 1 or len(sizes) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        for index, count in enumerate(sizes):
            yield _chunk_rows(spec, job, index, count)
        return
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker, initargs=(spec,)
    ) as pool:
        pending: collections.deque[Future[list[dict]]] = collections.deque()
        upcoming = iter(enumerate(sizes))
        for index, count in itertools.islice(upcoming, 2 * workers):
            pending.append(pool.submit(_worker_chunk, job, index, count))
        while pending:
            rows = pending.popleft().result()
            for index, count in itertools.islice(upcoming, 1):  # keeps memory bounded
                pending.append(pool.submit(_worker_chunk, job, index, count))
            yield rows


def iter_demo_rows(
    version: InstrumentVersion,
    survey_round: SurveyRound,
    n: int,
    seed: int,
    *,
    entered_by: User | None = None,
    today: dt.date | None = None,
    taken_codes: set[str] | None = None,
    verify_every: int = 500,
    workers: int = 1,
) -> Iterator[dict[str, Any]]:
    """Rows for the submissions table, the same for a seed whatever the number of workers.

    Every `verify_every`-th submission is re-checked with rules.evaluate_answers.
    """
    spec = spec_for(version)
    today = today or dt.date.today()
    first_day, days = _interview_window(survey_round, today)
    job = _Job(
        seed=seed,
        version_id=version.id,
        round_id=survey_round.id,
        entered_by_id=entered_by.id if entered_by is not None else None,
        first_day=first_day,
        days=days,
        today=today,
        now=_latest_time(today),
        verify_every=verify_every,
    )
    taken = taken_codes if taken_codes is not None else set()
    codes = Random(f"birge-demo/{seed}/receipts")  # noqa: S311 - reproducible, not secret
    for rows in _chunks(spec, job, n, workers):
        for row in rows:
            row["receipt_code"] = _receipt_code(codes, taken)
            yield row


_STORED_TYPES: dict[str, tuple[type, ...]] = {
    "select_one": (str,),
    "select_multiple": (list,),
    "integer": (int,),
    "decimal": (float,),
    "date": (str,),
    "text": (str,),
    "acknowledge": (str,),
}


def _type_problems(spec: InstrumentSpec, answers: Mapping[str, Any]) -> list[str]:
    """Keys whose value has a type the web form would never store."""
    problems: list[str] = []

    def check(key: str, name: str, value: Any) -> None:
        question = spec.questions_by_name.get(name)
        kinds = _STORED_TYPES.get(question.type) if question is not None else None
        if kinds is None:
            return
        if (
            not isinstance(value, kinds)
            or isinstance(value, bool)
            or (
                isinstance(value, list)
                and (
                    not value
                    or len(set(value)) != len(value)
                    or not all(isinstance(c, str) for c in value)
                )
            )
        ):
            problems.append(key)

    for name, value in answers.items():
        if name in spec.repeats_by_name and isinstance(value, list):
            for index, entry in enumerate(value):
                for child, child_value in entry.items():
                    check(rules.field_key(child, name, index), child, child_value)
        else:
            check(name, name, value)
    return problems


def check_answers(
    spec: InstrumentSpec, answers: Mapping[str, Any], *, today: dt.date | None = None
) -> None:
    """Raise DemoDataError unless the web form could have stored exactly these answers."""
    outcome = rules.evaluate_answers(spec, answers, today=today)
    if outcome.errors or outcome.answers != answers:
        changed = sorted(
            k
            for k in set(outcome.answers) | set(answers)
            if outcome.answers.get(k) != answers.get(k)
        )
        raise DemoDataError(
            f"Generated answers break the rules of {spec.form_id}: errors {outcome.errors}, "
            f"changed {changed}"
        )
    problems = _type_problems(spec, answers)
    if problems:
        raise DemoDataError(f"Generated answers have values of the wrong type: {problems}")
    if refusal_reason(spec, answers) is not None:
        raise DemoDataError("Generated answers would be stored as a refusal.")


def default_workers(n: int) -> int:
    """Worker processes worth starting for n submissions (starting one costs about a second)."""
    if n < 20_000:
        return 1
    return max(1, min(4, os.cpu_count() or 1))


def write_demo_data(
    version: InstrumentVersion,
    survey_round: SurveyRound,
    n: int,
    seed: int,
    *,
    entered_by: User | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    today: dt.date | None = None,
    workers: int | None = None,
) -> int:
    """Store n demo submissions (is_demo=True); returns how many were new.

    The same seed gives the same instance ids and answers, so writing it again adds nothing.
    Commits once per batch: a bulk load must not hold one huge transaction.
    """
    if n < 0 or batch_size < 1:
        raise ValueError("n must be >= 0 and batch_size >= 1")
    table = Submission.__table__
    taken = set(db.session.execute(select(Submission.receipt_code)).scalars())
    rows = iter_demo_rows(
        version,
        survey_round,
        n,
        seed,
        entered_by=entered_by,
        today=today,
        taken_codes=taken,
        workers=default_workers(n) if workers is None else workers,
    )
    written = 0
    while batch := list(itertools.islice(rows, batch_size)):
        ids = [row["instance_id"] for row in batch]
        stored = set(
            db.session.execute(
                select(Submission.instance_id).where(Submission.instance_id.in_(ids))
            ).scalars()
        )
        fresh = [row for row in batch if row["instance_id"] not in stored]
        if fresh:
            db.session.execute(insert(table), fresh)
            written += len(fresh)
        db.session.commit()
    return written
