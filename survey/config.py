"""Committed defaults. Override in instance/config.py, then with SURVEY_* environment variables."""

from reports import languages as _languages

# Uploaded XLSForms and form posts: generous for a questionnaire, small enough to refuse abuse.
MAX_CONTENT_LENGTH = 5 * 1024 * 1024
MAX_FORM_MEMORY_SIZE = 2 * 1024 * 1024

LANGUAGES = list(_languages.LANGUAGES)
BABEL_DEFAULT_LOCALE = "en"
BABEL_DEFAULT_TIMEZONE = "UTC"

SESSION_COOKIE_HTTPONLY = True
# Long enough for a whole interview without a request; the server also enforces it.
IDLE_TIMEOUT_MINUTES = 180
# However active, a login session ends after this many hours (a long field day).
SESSION_ABSOLUTE_HOURS = 14
PERMANENT_SESSION_LIFETIME = SESSION_ABSOLUTE_HOURS * 3600
# Login attempts per network address and minute, counted in the database for every worker.
LOGIN_ATTEMPTS_PER_MINUTE = 20
# Two-factor login (TOTP) is required for these roles; others may turn it on.
TWO_FACTOR_REQUIRED_ROLES = ["admin"]
# argon2id cost of password hashes (argon2-cffi's defaults, RFC 9106's low-memory profile: about
# half a second per login on a busy 2-core host). Stored hashes carry their own cost and are
# upgraded at the next login when this changes.
PASSWORD_HASH_COST = {"time_cost": 3, "memory_cost": 65536, "parallelism": 4}
SESSION_COOKIE_SAMESITE = "Lax"
WTF_CSRF_TIME_LIMIT = 12 * 3600  # a volunteer may keep a form open for a whole field day

# Minimum count shown in any published aggregate (DOMAIN.md §6).
SUPPRESSION_K = 5
# Whether advocates' dashboards and papers may include interviews still pending review
# (approved ones always; rejected and held ones never).
PUBLISH_PENDING = True
# Whether advocates' dashboards and papers include synthetic demo interviews: only for a
# training installation, never where real interviews are collected.
PUBLISH_DEMO = False
# Advocates' publications (protected cubes) kept on disk beside the snapshot, one file per data
# state and settings, shared by every process (survey/dashboards/cube_store.py).
PUBLICATION_FILES = True
# Rendered papers kept in instance/reports/kept/, one per settings and data snapshot: the same
# paper asked for again is read instead of drawn and laid out (survey/reporting/kept.py); and
# the analysis of a data state kept beside the snapshot (survey/reporting/snapshot.py).
REPORT_KEPT_PAPERS = True
# Rate limits live in memory: one process group per deployment.
RATELIMIT_STORAGE_URI = "memory://"
RATELIMIT_HEADERS_ENABLED = True

# How often the dataset cache rescans for reviews and corrections (new and deleted submissions
# are noticed at once); a full rescan costs ~0.2 s per request at 100k submissions.
DATASET_FULL_CHECK_SECONDS = 10

# Datasets of whole instruments are read from the columnar snapshot in `instance/snapshot/`
# (survey/datasets/snapshot.py). Before answering from it, a process reads the database's change
# counter (one primary-key read) at most every SNAPSHOT_CHECK_SECONDS; 0 checks on every load, so
# a withdrawal leaves every process's datasets at its next request. SNAPSHOT_FOLDER moves it.
SNAPSHOT_ENABLED = True
SNAPSHOT_CHECK_SECONDS = 0

# The project name ODK Collect shows for phones configured by a device QR code.
PROJECT_NAME = "Birge"

# Phone numbers of these regions (ISO 3166 codes) are refused in free text, with or without the
# country prefix; +7 numbers are always refused.
SCREENING_PHONE_REGIONS = ["KZ", "RU"]
