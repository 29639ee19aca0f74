"""Assembly: settings, the Application, the CLI, i18n and the callback codec."""

import os

# python-telegram-bot 22 deprecates plain-number durations (RetryAfter.retry_after and others)
# in favour of timedelta; opt in now, before telegram is imported anywhere.
os.environ.setdefault("PTB_TIMEDELTA", "1")
