# Sourced by bootstrap.sh and lock.sh: install the CPU build of torch before anything else,
# so that sentence-transformers never pulls PyPI's CUDA build (gigabytes) on Linux.
#
# - A CPU wheel pip finds without an index (its find-links, e.g. a machine without internet
#   that keeps wheels on disk) is installed from there.
# - Otherwise it comes from the PyTorch CPU index, TORCH_INDEX_URL (default below), with its
#   dependencies from PyPI. TORCH_INDEX_URL= (empty) takes PyPI's default build instead.
TORCH_VERSION="2.13.0"
TORCH_INDEX_URL="${TORCH_INDEX_URL-https://download.pytorch.org/whl/cpu}"

install_cpu_torch() {
    local python="$1"
    local pip=("$python" -m pip install --disable-pip-version-check)
    if "$python" -c "import sys, torch; sys.exit(torch.__version__ != '$TORCH_VERSION+cpu')" \
        2>/dev/null; then
        return 0
    fi
    local probe
    probe="$(mktemp -d)"
    if "$python" -m pip download --disable-pip-version-check --quiet --no-deps --no-index \
        -d "$probe" "torch==$TORCH_VERSION+cpu" 2>/dev/null; then
        echo "torch $TORCH_VERSION (CPU) from a wheel on this machine"
        "${pip[@]}" --find-links "$probe" "torch==$TORCH_VERSION+cpu"
    elif [ -n "$TORCH_INDEX_URL" ]; then
        echo "torch $TORCH_VERSION (CPU) from $TORCH_INDEX_URL"
        "${pip[@]}" --index-url "$TORCH_INDEX_URL" --extra-index-url https://pypi.org/simple \
            "torch==$TORCH_VERSION+cpu"
    else
        echo "torch $TORCH_VERSION from the default index (TORCH_INDEX_URL is empty)"
        "${pip[@]}" "torch==$TORCH_VERSION"
    fi
    local status=$?
    rm -rf "$probe"
    return "$status"
}
