# Sourced by scripts/* and .ci/run: the project's Python tools live in .venv/, installed on demand.
#
#   need moto cfn-lint    # make sure each tool's command is on PATH
#
# A tool already on PATH (your own install) is used as is; a missing one is pip-installed into
# .venv/ at the version pinned below. .venv/bin is then put first on PATH, so `python3` is the
# venv's too: `cargo lambda build` finds zig as `python3 -m ziglang`. aws-sam-cli gets a venv of
# its own, .venv/sam/, because it requires a newer cfn-lint than the one pinned here, and so
# does checkov, .venv/checkov/, because it pins boto3 (1.35.49) below what moto needs; their
# bin/ go last on PATH, so that only `sam` and `checkov` come from them.

VENV="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.venv"

# 1.51: 1.58 no longer flags an unknown Lambda Runtime (E3030). moto[server] pulls cfn-lint in
# too, so this pin constrains every install into .venv/.
_CFN_LINT='cfn-lint==1.51.0'

# tool -> the command it provides, the pip requirement that installs it, and the venv it goes in
_tool() {
  case $1 in
    moto) echo "moto_server moto[server]==5.2.5 $VENV" ;;
    cfn-lint) echo "cfn-lint $_CFN_LINT $VENV" ;;
    cargo-lambda) echo "cargo-lambda cargo-lambda==1.9.2 $VENV" ;;
    sam) echo "sam aws-sam-cli==1.170.0 $VENV/sam" ;;
    checkov) echo "checkov checkov==3.3.30 $VENV/checkov" ;;
    *) echo "scripts/lib/venv.sh: unknown tool '$1'" >&2; return 1 ;;
  esac
}

# _install VENV REQUIREMENT...
_install() {
  local venv=$1 constrain=; shift
  [ "$venv" = "$VENV" ] && constrain=1
  echo "installing $* into ${venv#"$(dirname "$VENV")/"}/ (once) ..." >&2
  if [ ! -x "$venv/bin/python3" ]; then
    python3 -m venv "$venv" || {
      echo "python3 -m venv failed (on Debian/Ubuntu: apt install python3-venv)" >&2
      return 1
    }
  fi
  "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check \
    ${constrain:+--constraint <(echo "$_CFN_LINT")} "$@" || {
    echo "could not install $*: $venv/bin/python3 -m pip install $*" >&2
    return 1
  }
}

_first_on_path() { # _first_on_path DIR: move or add DIR to the front of PATH
  local p=":$PATH:"
  p=${p//":$1:"/:}
  p=${p#:}
  export PATH="$1:${p%:}"
}

_last_on_path() { # _last_on_path DIR: add DIR to the end of PATH, unless it is on it
  case ":$PATH:" in *":$1:"*) ;; *) export PATH="$PATH:$1" ;; esac
}

need() {
  local tool spec cmd req venv dir side=() main=()
  for tool; do
    spec=$(_tool "$tool") || return 1
    read -r cmd req venv <<<"$spec"
    if [ -x "$venv/bin/$cmd" ] || command -v "$cmd" >/dev/null 2>&1; then continue; fi
    if [ "$venv" = "$VENV" ]; then main+=("$req"); else side+=("$venv $req"); fi
  done
  if [ ${#main[@]} -gt 0 ]; then _install "$VENV" "${main[@]}" || return 1; fi
  for spec in "${side[@]}"; do
    read -r venv req <<<"$spec"
    _install "$venv" "$req" || return 1
  done
  # The side venvs go last: only their own command is wanted from them, never their python3 or
  # cfn-lint (sam's is newer than the pin).
  for dir in "$VENV/sam/bin" "$VENV/checkov/bin"; do
    if [ -d "$dir" ]; then _last_on_path "$dir"; fi
  done
  if [ -d "$VENV/bin" ]; then _first_on_path "$VENV/bin"; fi
}
