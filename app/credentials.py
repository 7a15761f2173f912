"""Missing Google credentials are a setup mistake, not a crash: one line that says how to provide them.

Every app that talks to Google Cloud (the loader, the batch job) finds its credentials the same way,
through Application Default Credentials (google-auth's ``google.auth.default``): the
``GOOGLE_APPLICATION_CREDENTIALS`` key file, else the user credentials ``gcloud auth
application-default login`` stored, else the metadata server (Cloud Run, GCE). When none is found,
google-auth raises ``DefaultCredentialsError`` with a pointer to a web page; the apps turn it into
``MISSING_CREDENTIALS`` and exit ``EXIT_NO_CREDENTIALS`` (the usage/configuration code).
"""

from __future__ import annotations

from google.auth.exceptions import DefaultCredentialsError

EXIT_NO_CREDENTIALS = 2
MISSING_CREDENTIALS = (
    "no Google credentials found: run `gcloud auth application-default login` (your own account), "
    "or set GOOGLE_APPLICATION_CREDENTIALS to a service account key file"
)


def is_missing_credentials(exc: BaseException) -> bool:
    """True for google-auth's "no credentials anywhere", whichever client library raised it."""
    return isinstance(exc, DefaultCredentialsError)
