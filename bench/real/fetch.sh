#!/usr/bin/env bash
# Fetches the third-party weights of the real-weights evaluation (bench/real/packages.tsv) with
# `npm pack`, keeps the tarballs in a cache outside the repository, checks each against the
# sha256 recorded in packages.tsv, extracts the model files and writes the derivatives that
# make_derived.py makes from them.
#
# Usage: bench/real/fetch.sh            cache: ${WEIGHTPRINT_REAL_CACHE:-$HOME/.cache/weightprint/real}
# A tarball already in the cache with the right sha256 is not downloaded again; one with a
# wrong sha256 is an error (remove it to fetch again). Each download is bounded in time
# (WEIGHTPRINT_REAL_TIMEOUT seconds, default 300). About 76 MB in all.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${WEIGHTPRINT_REAL_CACHE:-$HOME/.cache/weightprint/real}"
TIMEOUT="${WEIGHTPRINT_REAL_TIMEOUT:-300}"
mkdir -p "$CACHE/tarballs" "$CACHE/files"

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

while IFS=$'\t' read -r id spec sha paths; do
  case "$id" in ''|'#'*) continue ;; esac
  tgz="$CACHE/tarballs/$id.tgz"
  if [ ! -f "$tgz" ]; then
    command -v npm >/dev/null || { echo "fetch: npm is not installed (apt-get install npm)" >&2; exit 2; }
    tmp=$(mktemp -d "$CACHE/tarballs/.pack-XXXXXX")
    echo "fetch: npm pack $spec" >&2
    if ! (cd "$tmp" && timeout "$TIMEOUT" npm pack --silent "$spec" >/dev/null); then
      rm -rf "$tmp"; echo "fetch: npm pack $spec failed or timed out" >&2; exit 1
    fi
    mv "$tmp"/*.tgz "$tgz"; rm -rf "$tmp"
  fi
  got=$(sha_of "$tgz")
  if [ "$got" != "$sha" ]; then
    echo "fetch: $tgz: sha256 $got, expected $sha (packages.tsv); remove it to fetch again" >&2
    exit 1
  fi
  dest="$CACHE/files/$id"
  if [ ! -f "$dest/.extracted-$sha" ]; then
    rm -rf "$dest"; mkdir -p "$dest"
    members=()
    for p in $paths; do members+=("package/$p"); done
    tar -xzf "$tgz" -C "$dest" --strip-components=1 "${members[@]}"
    touch "$dest/.extracted-$sha"
  fi
  echo "fetch: $id ok (sha256 ${sha:0:16})" >&2
done < "$HERE/packages.tsv"

/usr/bin/python3 "$HERE/make_derived.py" "$CACHE"
echo "fetch: cache ready at $CACHE" >&2
