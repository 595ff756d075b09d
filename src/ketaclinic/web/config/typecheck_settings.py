"""Settings for type checking only (the django-stubs mypy plugin): hermetic, creates and writes nothing.

The ordinary settings use the data directory on import (the embedded database path, a generated secret key, the
static folder, created when missing). mypy imports settings to learn the installed apps and models; here the
secret comes from the environment and every folder is the system's temporary folder, which already exists, so
a mypy run needs no KETACLINIC_HOME and leaves nothing behind. No database is opened.
"""

from __future__ import annotations

import os
import tempfile

_EXISTING_FOLDER = tempfile.gettempdir()
os.environ["KETACLINIC_HOME"] = _EXISTING_FOLDER
os.environ["STATIC_ROOT"] = _EXISTING_FOLDER
os.environ["MEDIA_ROOT"] = _EXISTING_FOLDER
os.environ["SECRET_KEY"] = "type-checking-only"

from ketaclinic.web.config.settings import *  # noqa: E402, F403
