"""The name of every file the system writes: one home, so no two modules can disagree.

Standard library only, and nothing but constants: the cron quick path (cycle/quick.py) reads
these names too. Paths are built by the callers from the configured folders.
"""

# In the output folder (ingestion) ------------------------------------------------------------
FINAL_DATA = "finaldata.csv"  # the merged, validated, de-duplicated records
REJECTED = "rejected.csv"  # every row or file set aside, with its reason
INGESTED_FILES = "ingestedfiles.txt"  # one ingested file per line: counts and SHA-256
UNLABELLED_DATA = "unlabelleddata.csv"  # the rows of unlabelled batches (none: no file)
INGEST_STATE = "finaldata.state.json"  # what the next ingestion needs to append
ROW_INDEX = "finaldata.rowindex"  # 128-bit hashes of finaldata.csv's rows, in sorted runs
SEEN_FILES = "seenfiles.json"  # the input files the last finished cycle handled
# In seenfiles.json, each config file a full cycle has loaded (and so checked), by its path
# relative to the output folder: [size, mtime_ns]. The cron quick path says "nothing new" only
# for a config recorded there, so a config edited into a wrong one fails at the next cycle, not
# when new data comes. The trailing slash keeps the key apart from the input folders' keys,
# which are normalised paths.
CONFIGS_KEY = "configs/"

# In the model folder (training, scoring, diagnostics, reporting, apicalls) --------------------
MODEL_FILE = "trainedmodel.pkl"
PROVENANCE_FILE = "trainedmodel.json"  # training provenance and the model's SHA-256
SAMPLE_FILE = "trainingsample.csv"  # the reference for data drift checks
SCORE_FILE = "latestscore.txt"  # the bare F1 of the course
SCORE_RECORD = "latestscore.json"  # every score, tied to the model's SHA-256
DIAGNOSTICS_FILE = "diagnostics.json"
CONFUSION_MATRIX = "confusionmatrix.png"
RISK_SCORES = "riskscores.csv"
REPORT = "report.pdf"
RETURNS_FILE = "apireturns.txt"
OUTPUTS_FILE = "outputs.json"  # the deployed model the reports describe
ESTIMATE_FILE = "estimate.json"  # the deployed model's estimated scores before the labels come

# In the deployment folder -------------------------------------------------------------------
VERSIONS = "versions"
CURRENT = "current"  # a link to versions/vNNNN, swapped atomically
MANIFEST = "manifest.json"
LOCK_FILE = ".fullprocess.lock"

# Beside the config ---------------------------------------------------------------------------
CONFIG_FILE = "config.json"
HISTORY_DB = "history.sqlite"
# The API's sessions and failed sign-ins (pipeline.api.authstore), and beside it the random
# secret that signs the session cookies (readable by its owner only).
AUTH_DB = "auth.sqlite"
SESSION_KEY = "session.key"
REQUIREMENTS = "requirements.txt"
TEST_FILE = "testdata.csv"

# Beside the config, named after it (config.json -> config.cycles.json): the watch over the cycle
# (pipeline.watch). They belong to the config, not to a folder it names, so that a cycle that
# cannot read its config still records its failure, and alerts, there.
CYCLES_SUFFIX = ".cycles.json"  # how every cycle ended: counts, the last run, success, failure
QUIET_SUFFIX = ".quiet"  # config.cycles.quiet: one line per quiet cycle not yet counted in
ALERTS_SUFFIX = ".alerts.json"  # alert conditions open, alerts still to deliver, the last sent
LOCK_SUFFIX = ".lock"  # ".<either of them>.lock", held while it is rewritten
