#!/usr/bin/env bash
# Refresh constraints.txt: resolve the newest versions pyproject.toml allows in a throwaway
# virtual environment (CPU torch as in bootstrap.sh) and pin every installed distribution.
# Then run `make test` and commit constraints.txt if it passes. Usage: bash scripts/lock.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
# shellcheck source=scripts/_torch.sh
source "$root/scripts/_torch.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$python" -m venv "$work/venv"
venv_python="$work/venv/bin/python"
pip=("$venv_python" -m pip install --disable-pip-version-check)
"${pip[@]}" --upgrade "pip<27" "setuptools>=69,<81" "wheel<1"
install_cpu_torch "$venv_python"
"${pip[@]}" -e "$root[dev]"
"$venv_python" -m pip check

{
    echo "# Exact versions of every dependency, used by scripts/bootstrap.sh (and so by CI)."
    echo "# Made by scripts/lock.sh on $("$venv_python" -c 'import platform; print(platform.system(), platform.machine(), "CPython", platform.python_version())');"
    echo "# refresh it with: bash scripts/lock.sh (or make lock), then make test."
    "$venv_python" -m pip freeze --exclude-editable \
        | grep -v -i -E '^(pip|setuptools|wheel)==' \
        | sed -E -e 's/^(torch==[^+]+)\+cpu$/\1/' -e "s|^torch @ .*|torch==$TORCH_VERSION|" \
        | LC_ALL=C sort -f
} > "$root/constraints.txt"
echo "wrote $root/constraints.txt ($(grep -c '==' "$root/constraints.txt") pins)"
