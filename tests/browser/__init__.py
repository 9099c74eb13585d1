"""Browser tests (Playwright + Debian's Chromium against a live server)."""
