"""The one exception the analysis raises for problems a user can fix."""

from __future__ import annotations


class AnalysisError(ValueError):
    """A problem with the data, the plan or an option, told in one short English sentence.

    The message names the column, indicator or position concerned so that the app can show it
    (translated where it knows the sentence) and the user can fix the plan or the data.
    """
