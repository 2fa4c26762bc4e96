#!/usr/bin/env bash
# CI guard: recorded workflow histories are only ever added. A history edited, renamed or deleted
# after BASE (the commit before this guard) would hide a replay break of sagas still running, so
# any such change in a commit since then, or in the working tree, fails. Only the .json files are
# histories: the folder's README (the table of versions) is kept up to date like any document.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=test/workflows/histories
BASE=d9373ea
if ! git cat-file -e "${BASE}^{commit}" 2>/dev/null; then
  echo "check-histories: commit $BASE is not in this clone; a full clone is needed to check $DIR" >&2
  exit 1
fi
changed=$(
  git log --format='  %h %s' --name-status --diff-filter=MDRT "$BASE"..HEAD -- "$DIR/*.json"
  git status --porcelain --untracked-files=no -- "$DIR/*.json" | sed 's/^/  working tree: /'
)
if [ -n "$changed" ]; then
  echo "check-histories: recorded histories were modified, renamed or removed; record new files instead (see $DIR/README.md):" >&2
  echo "$changed" >&2
  exit 1
fi
echo "check-histories: $(ls "$DIR"/*.json | wc -l) recorded histories, none changed since $BASE"
