#!/usr/bin/env bash
# Create .venv in the repository root (when missing) and install the project into it, with
# every dependency at the version pinned in constraints.txt (refresh it with scripts/lock.sh).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
python="${PYTHON:-python3}"
stamp="$venv/.installed"
# shellcheck source=scripts/_torch.sh
source "$root/scripts/_torch.sh"

if [ ! -x "$venv/bin/python" ]; then
    echo "Creating virtual environment in $venv" >&2
    "$python" -m venv "$venv"
fi

# Re-install only when the dependencies or their pins changed since the last install.
want="$(cat "$root/pyproject.toml" "$root/constraints.txt" "$root/scripts/_torch.sh" | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi

log="$venv/install.log"
echo "Installing dependencies into $venv (a few minutes the first time; log: $log)" >&2
pip=("$venv/bin/python" -m pip install --disable-pip-version-check)
{
    "${pip[@]}" --upgrade "pip<27" "setuptools>=69,<81" "wheel<1" &&
    install_cpu_torch "$venv/bin/python" &&
    "${pip[@]}" --constraint "$root/constraints.txt" -e "$root[dev]"
} >"$log" 2>&1 || {
    tail -n 40 "$log" >&2
    echo "Installation failed; the full log is in $log" >&2
    exit 1
}
echo "$want" > "$stamp"
