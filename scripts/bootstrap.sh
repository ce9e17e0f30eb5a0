#!/usr/bin/env bash
# Create .venv in the repository root (when missing) and install the project into it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
python="${PYTHON:-python3}"
stamp="$venv/.installed"

if [ ! -x "$venv/bin/python" ]; then
    echo "Creating virtual environment in $venv" >&2
    "$python" -m venv "$venv"
fi

# Re-install only when the project's dependencies changed since the last install.
want="$(sha256sum "$root/pyproject.toml" | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi

log="$venv/install.log"
echo "Installing dependencies into $venv (a few minutes the first time; log: $log)" >&2
pip=("$venv/bin/python" -m pip install --disable-pip-version-check)
{
    "${pip[@]}" --upgrade pip setuptools wheel &&
    # The CPU build of torch first, so sentence-transformers does not pull a CUDA build.
    "${pip[@]}" "torch==2.13.0" &&
    "${pip[@]}" -e "$root[dev]"
} >"$log" 2>&1 || {
    tail -n 40 "$log" >&2
    echo "Installation failed; the full log is in $log" >&2
    exit 1
}
echo "$want" > "$stamp"
