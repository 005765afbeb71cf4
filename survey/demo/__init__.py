"""Synthetic demo submissions: realistic answers for any instrument, stored fast.

`walker` makes answers for any instrument (`plan` holds what it walks), `birge` is the profile of
the default instrument, `writer` stores many submissions at once. Demo submissions are marked
`is_demo` and left out of exports unless asked for.
"""

from survey.demo.birge import DEFAULT_FORM_ID, BirgeProfile, profile_for
from survey.demo.walker import GENERIC, DemoDataError, DemoProfile, DemoState, generate_answers
from survey.demo.writer import check_answers, default_workers, iter_demo_rows, write_demo_data

__all__ = [
    "DEFAULT_FORM_ID",
    "GENERIC",
    "BirgeProfile",
    "DemoDataError",
    "DemoProfile",
    "DemoState",
    "check_answers",
    "default_workers",
    "generate_answers",
    "iter_demo_rows",
    "profile_for",
    "write_demo_data",
]
