"""Disclosure control for microdata (framework-free: pandas and numpy only).

- `formulas`: text cells neutralised against spreadsheet formulas;
- `recoding`: global recoding (age bands, settlement to district, top codes);
- `suppression`: k-anonymity and local suppression.
"""

from reports.anonymization.formulas import FORMULA_PREFIXES, neutralise_formula, neutralise_frame
from reports.anonymization.recoding import (
    DEFAULT_AGE_BANDS,
    age_band,
    band_code,
    generalise,
    top_code,
)
from reports.anonymization.suppression import (
    DEFAULT_K,
    KAnonymityReport,
    SuppressionResult,
    k_anonymity,
    suppress_at_risk,
)

__all__ = [
    "DEFAULT_AGE_BANDS",
    "DEFAULT_K",
    "FORMULA_PREFIXES",
    "KAnonymityReport",
    "SuppressionResult",
    "age_band",
    "band_code",
    "generalise",
    "k_anonymity",
    "neutralise_formula",
    "neutralise_frame",
    "suppress_at_risk",
    "top_code",
]
