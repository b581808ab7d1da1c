#!/usr/bin/env bash
# Screenshots of every page for reviewers: runs the accessibility browser tests, which visit every page for every role
# at 1440 px, at 375 px and at 1440 px in the dark theme (with the armed halt, the audit event dialog and the trading
# state panel), with PORTAL_SCREENS_DIR set so each visit also saves a full-page image into docs/screens/: page-role-1440.png,
# page-all-375.png and page-all-1440-dark.png (the old images are removed first, so a page that is gone leaves none behind).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf docs/screens
export PORTAL_SCREENS_DIR=docs/screens
./test --filter "FullyQualifiedName~AccessibilityBrowserTests"
du -sh docs/screens
