#!/usr/bin/env bash
# Screenshots of every page for reviewers: runs the accessibility browser tests, which visit every page for every role
# at 1440 px and every page at 375 px, with PORTAL_SCREENS_DIR set so each visit also saves a full-page image named
# page-role-width.png into docs/screens/ (the old images are removed first, so a page that is gone leaves none behind).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf docs/screens
export PORTAL_SCREENS_DIR=docs/screens
./test --filter "FullyQualifiedName~AccessibilityBrowserTests"
du -sh docs/screens
