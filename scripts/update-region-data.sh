#!/usr/bin/env bash
# Refreshes the vendored Kemendagri region codes from the maintained `idn-area-data` package
# (npm registry; data under ODbL). Run by hand when a new release follows a new regulation;
# neither `make run` nor the tests need npm.
set -euo pipefail
version="${1:-4.0.1}"
target="$(cd "$(dirname "$0")/.." && pwd)/shared/src/mpp_shared/reference/data"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "idn-area-data@${version}" >/dev/null && tar xzf idn-area-data-*.tgz)
for level in provinces regencies districts villages; do
  gzip -9n < "$work/package/data/${level}.csv" > "$target/${level}.csv.gz"
done
cp "$work/package/data/LICENSE.md" "$target/LICENSE-ODbL.md"
echo "idn-area-data ${version}" > "$target/SOURCE"
echo "region data updated to idn-area-data ${version}"
