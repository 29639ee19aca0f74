"""Presentation: texts and i18n, keyboards, the callback and deep-link codecs, renderers."""
