#!/usr/bin/env bash
# Install the server into the add-on's virtualenv: usage install.sh VENV VERSION WHEELS_DIR
#
# The wheel of exactly this version in WHEELS_DIR (addon/wheels/, committed and kept
# current by script/addon-wheel) is installed with the [bundle] extra; without one,
# wyoming-kokoro[bundle]==VERSION comes from PyPI (see addon/wheels/README.md). Runs at
# image build time (addon/Dockerfile) and in tests/test_addon.py.
set -euo pipefail

venv="$1"
version="$2"
wheels="$3"

wheel=''
if [[ -d "${wheels}" ]]; then
    wheel="$(find "${wheels}" -maxdepth 1 -name "wyoming_kokoro-${version}-*.whl" | sort | tail -n 1)"
fi

if [[ -n "${wheel}" ]]; then
    echo "Installing wyoming-kokoro ${version} from ${wheel}"
    spec="wyoming-kokoro[bundle] @ file://$(realpath "${wheel}")"
else
    echo "Installing wyoming-kokoro ${version} from the package index"
    spec="wyoming-kokoro[bundle]==${version}"
fi
"${venv}/bin/pip" install "${spec}"
