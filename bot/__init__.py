"""Assembly: settings, services and the one Context, the Application, the transport (send
budget), ingress, the CLI."""

import os

# python-telegram-bot 22 deprecates plain-number durations (RetryAfter.retry_after and others)
# in favour of timedelta; opt in now, before telegram is imported anywhere.
os.environ.setdefault("PTB_TIMEDELTA", "1")
