# Shared by the ci/ scripts that install what they need (Debian packages,
# rustup targets): source it after defining `die MESSAGE`.

as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

pkg_installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

install_apt() {
    local p missing=()
    for p in "$@"; do
        pkg_installed "$p" || [[ " ${missing[*]} " == *" $p "* ]] || missing+=("$p")
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        echo "apt: all installed: $(tr ' ' '\n' <<<"$*" | sort -u | xargs)"
        return 0
    fi
    echo "apt: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get -o DPkg::Lock::Timeout=300 update -qq
    as_root apt-get -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 install -y -qq \
        --no-install-recommends "${missing[@]}"
    for p in "${missing[@]}"; do
        pkg_installed "$p" || die "apt package $p did not install"
    done
}

# rustup targets, each added unless installed already.
install_targets() {
    local t have missing=()
    have=$(rustup target list --installed)
    for t in "$@"; do
        grep -qx "$t" <<<"$have" || missing+=("$t")
    done
    if [[ ${#missing[@]} -gt 0 ]]; then
        rustup target add "${missing[@]}" ||
            die "rustup target add ${missing[*]} failed (is its rust-std served for this toolchain?)"
    elif [[ $# -gt 0 ]]; then
        echo "rustup: targets installed: $*"
    fi
}
