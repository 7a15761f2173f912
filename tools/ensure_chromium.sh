#!/usr/bin/env bash
# Make sure a headless-capable Chrome or Chromium is installed, for the report's browser test.
#
# An installed browser wins (GitHub's hosted Ubuntu runners ship Google Chrome as `google-chrome`, where
# Ubuntu's own `chromium` package is only a snap stub that does not run); only where none is found, and
# only as root with apt-get, is Debian's `chromium` package installed. Prints the browser's path.
# Exit 0 with a path, or 1 when none is installed and none can be (the test then says so and fails).
set -euo pipefail

find_browser() {
    local name path
    if [[ -n "${CHROME_BIN:-}" && -x "${CHROME_BIN}" ]]; then
        echo "${CHROME_BIN}"
        return 0
    fi
    for name in chromium google-chrome google-chrome-stable chromium-browser chrome; do
        path="$(command -v "${name}" 2>/dev/null || true)"
        # A snap stub answers `--version` with an error instead of a version.
        if [[ -n "${path}" ]] && "${path}" --version >/dev/null 2>&1; then
            echo "${path}"
            return 0
        fi
    done
    return 1
}

if find_browser; then
    exit 0
fi
if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "no Chrome/Chromium found, and it cannot be installed here (needs root and apt-get):" \
        "install chromium or google-chrome, or set CHROME_BIN" >&2
    exit 1
fi
echo "installing Debian's chromium package (about 35 s)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
find_browser
