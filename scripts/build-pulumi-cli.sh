#!/usr/bin/env bash
# Builds the real Pulumi engine for kvmtune's tests from its Go modules, because no
# prebuilt Pulumi CLI can be downloaded on our machines (only the Go module proxy,
# Debian's packages and the npm registry are reachable).
#
#   PATH="$(scripts/build-pulumi-cli.sh | tail -1):$PATH"
#   # or: source scripts/pulumi-env.sh   (runs this script, then sets an offline env)
#
# What ends up in ${KVMTUNE_CACHE:-$HOME/.cache/kvmtune}/pulumi/<version>/bin/:
#   pulumi                          the CLI/engine, module github.com/pulumi/pulumi/pkg/v3
#   pulumi-language-nodejs          the Node.js language host, module
#                                   github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3
#                                   (only when the proxy serves it: see below)
#   pulumi-resource-pulumi-nodejs   the dynamic-provider shim, copied from the
#                                   @pulumi/pulumi npm package in node_modules
#
# The language host module has no tags of its own; it is fetched at the pseudo-version of
# the commit that carries the CLI's tag. That commit is read from the proxy's Origin data
# for github.com/pulumi/pulumi/sdk/v3@<version>, or given as
# KVMTUNE_PULUMI_NODEJS_HOST_REF=<commit hash or pseudo-version>. Where the proxy does not
# serve the module, the script says so, keeps going and leaves the host out: the CLI still
# runs Automation API *inline* programs (LocalWorkspace with a program function: the CLI
# is started with --client and talks to the SDK's own in-process language server), but not
# `pulumi up` on a Pulumi.yaml program with `runtime: nodejs`.
# KVMTUNE_PULUMI_REQUIRE_NODEJS_HOST=1 turns that into an error.
#
# The first run downloads the Go modules and compiles (many minutes on 2 cores); later
# runs only check the cached binaries. If a `pulumi` >= 3.100 is already on PATH, nothing is
# built and its directory is printed (KVMTUNE_PULUMI_FORCE_BUILD=1 builds anyway).
#
# Progress goes to stderr; the bin directory is the last line of stdout.
# Knobs: KVMTUNE_PULUMI_VERSION (default v3.274.1), KVMTUNE_PULUMI_MIN_VERSION (of a pulumi
# already on PATH, default 3.100.0; Automation API inline refresh/destroy need >= 3.181.0),
# KVMTUNE_BUILD_JOBS (go build -p, default 2), KVMTUNE_PULUMI_RETRY_NODEJS_HOST=1 (retry a
# host fetch that failed before), GO.
# GOCACHE/GOMODCACHE stay at Go's defaults so runs share them.
set -euo pipefail

VERSION="${KVMTUNE_PULUMI_VERSION:-v3.274.1}"
case "$VERSION" in v*) ;; *) VERSION="v$VERSION" ;; esac
MIN_PATH_VERSION="${KVMTUNE_PULUMI_MIN_VERSION:-3.181.0}"  # inline refresh/destroy need >= 3.181
JOBS="${KVMTUNE_BUILD_JOBS:-2}"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_ROOT="${KVMTUNE_CACHE:-$HOME/.cache/kvmtune}/pulumi"
VERSION_DIR="$CACHE_ROOT/$VERSION"
BIN="$VERSION_DIR/bin"
SRC="$VERSION_DIR/src"
HOST_FAILED_MARK="$VERSION_DIR/nodejs-host.unavailable"

PKG_MODULE="github.com/pulumi/pulumi/pkg/v3"
SDK_MODULE="github.com/pulumi/pulumi/sdk/v3"
HOST_MODULE="github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3"
VERSION_LDFLAG="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$VERSION"
SHIM_SRC="$REPO_ROOT/node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs"

# The CLI writes a log file per run under $PULUMI_HOME/logs (~/.pulumi otherwise); keep
# this script's `pulumi version` checks in the same home that pulumi-env.sh uses.
export PULUMI_HOME="${PULUMI_HOME:-$CACHE_ROOT/home}"
export PULUMI_SKIP_UPDATE_CHECK=true

START=$SECONDS
log() { printf '[build-pulumi-cli %4ds] %s\n' "$((SECONDS - START))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# version_ge A B: true when A >= B (both like 3.274.1, no leading v).
version_ge() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -1)" = "$2" ]; }

find_go() {
  if [ -n "${GO:-}" ]; then echo "$GO"; return; fi
  if command -v go >/dev/null 2>&1; then command -v go; return; fi
  if [ -x /usr/local/go/bin/go ]; then echo /usr/local/go/bin/go; return; fi
  die "no Go toolchain found (set GO=/path/to/go)"
}

# Copies the dynamic-provider shim next to the CLI (the engine finds it on PATH).
install_shim() {
  if [ -f "$SHIM_SRC" ]; then
    if ! cmp -s "$SHIM_SRC" "$BIN/pulumi-resource-pulumi-nodejs" 2>/dev/null; then
      install -m 0755 "$SHIM_SRC" "$BIN/pulumi-resource-pulumi-nodejs"
      log "installed pulumi-resource-pulumi-nodejs from node_modules/@pulumi/pulumi"
    fi
  elif [ ! -x "$BIN/pulumi-resource-pulumi-nodejs" ]; then
    log "WARNING: $SHIM_SRC not found (run npm ci first); dynamic providers will not load"
  fi
}

host_warning() {
  log "WARNING: pulumi-language-nodejs is not available ($(head -1 "$HOST_FAILED_MARK" 2>/dev/null || echo 'not built'))."
  log "         Automation API inline programs work; 'pulumi up' on a runtime: nodejs project does not."
}

# Fast path: verify what is cached.
cached_ok() {
  [ -x "$BIN/pulumi" ] || return 1
  local got
  got="$("$BIN/pulumi" version 2>/dev/null)" || return 1
  [ "$got" = "$VERSION" ] || { log "cached pulumi reports '$got', expected $VERSION: rebuilding"; return 1; }
  return 0
}

# 1. A suitable pulumi already on PATH (and not ours)?
if [ "${KVMTUNE_PULUMI_FORCE_BUILD:-0}" != 1 ] && command -v pulumi >/dev/null 2>&1; then
  on_path="$(command -v pulumi)"
  if [ "$(cd "$(dirname "$on_path")" && pwd -P)" != "$(mkdir -p "$BIN" && cd "$BIN" && pwd -P)" ]; then
    path_version="$(pulumi version 2>/dev/null | head -1 || true)"
    if [ -n "$path_version" ] && version_ge "${path_version#v}" "$MIN_PATH_VERSION"; then
      log "pulumi $path_version already on PATH at $on_path (>= $MIN_PATH_VERSION): not building"
      command -v pulumi-language-nodejs >/dev/null 2>&1 \
        || log "WARNING: no pulumi-language-nodejs on PATH next to it"
      command -v pulumi-resource-pulumi-nodejs >/dev/null 2>&1 \
        || log "WARNING: no pulumi-resource-pulumi-nodejs on PATH (dynamic providers need it)"
      dirname "$on_path"
      exit 0
    fi
    log "pulumi on PATH at $on_path is '${path_version:-unknown}' (< $MIN_PATH_VERSION): building $VERSION"
  fi
fi

mkdir -p "$BIN" "$SRC"
exec 9>"$VERSION_DIR/.lock"
if ! flock -n 9; then
  log "another build of $VERSION is running; waiting for it"
  flock 9
fi

if cached_ok && { [ -x "$BIN/pulumi-language-nodejs" ] || { [ -f "$HOST_FAILED_MARK" ] && [ "${KVMTUNE_PULUMI_RETRY_NODEJS_HOST:-0}" != 1 ] && [ "${KVMTUNE_PULUMI_REQUIRE_NODEJS_HOST:-0}" != 1 ]; }; }; then
  install_shim
  if [ -x "$BIN/pulumi-language-nodejs" ]; then log "cached: pulumi $VERSION in $BIN"
  else log "cached: pulumi $VERSION in $BIN (no Node.js language host: inline Automation API programs only)"; fi
  echo "$BIN"
  exit 0
fi

command -v node >/dev/null 2>&1 || die "node is needed (it parses go's JSON output)"
GO_BIN="$(find_go)"
export PATH="$(dirname "$GO_BIN"):$PATH"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
export GOFLAGS="${GOFLAGS:-} -mod=mod"
log "using $("$GO_BIN" version), go build -p $JOBS under nice; GOCACHE=$("$GO_BIN" env GOCACHE) GOMODCACHE=$("$GO_BIN" env GOMODCACHE)"

gocmd() { nice -n 10 "$GO_BIN" "$@"; }

# Prints `replace` lines for every non-local replace directive of a module's go.mod.
# Local (../sdk style) replaces point into the same repository; we use the proxy's
# modules at the same version instead.
copy_replaces() { # $1 = go.mod path
  gocmd mod edit -json "$1" | node -e '
    const j = JSON.parse(require("fs").readFileSync(0, "utf8"));
    for (const r of j.Replace || []) {
      if (!r.New.Version) continue;
      const old = r.Old.Path + (r.Old.Version ? "@" + r.Old.Version : "");
      console.log(`-replace=${old}=${r.New.Path}@${r.New.Version}`);
    }'
}

# Creates (or reuses) a wrapper module in $1 that requires $2@$3.
make_wrapper() { # dir module version gomod-of-that-module
  local dir="$1" mod="$2" ver="$3" upstream_gomod="$4"
  mkdir -p "$dir"
  if [ ! -f "$dir/go.mod" ] || ! grep -q "^// for $mod@$ver\$" "$dir/go.mod"; then
    rm -f "$dir/go.mod" "$dir/go.sum"
    local gover
    gover="$(gocmd mod edit -json "$upstream_gomod" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0,"utf8")).Go || "1.22")')"
    (cd "$dir" && gocmd mod init kvmtune.local/pulumi-build >/dev/null 2>&1)
    (cd "$dir" && gocmd mod edit -go="$gover" -require="$mod@$ver" -require="$SDK_MODULE@$VERSION")
    local r
    while read -r r; do
      [ -n "$r" ] && (cd "$dir" && gocmd mod edit "$r") && log "  wrapper: ${r#-replace=}"
    done < <(copy_replaces "$upstream_gomod")
    printf '// for %s@%s\n' "$mod" "$ver" >>"$dir/go.mod"
  fi
}

# 2. The CLI.
if ! cached_ok; then
  T0=$SECONDS
  log "downloading $PKG_MODULE@$VERSION"
  pkg_json="$(gocmd mod download -json "$PKG_MODULE@$VERSION")" || die "go mod download $PKG_MODULE@$VERSION failed: $pkg_json"
  pkg_gomod="$(node -e 'const j=JSON.parse(require("fs").readFileSync(0,"utf8")); if (j.Error) { console.error(j.Error); process.exit(1) } console.log(j.GoMod)' <<<"$pkg_json")" \
    || die "module $PKG_MODULE@$VERSION is not available from the Go module proxy"
  make_wrapper "$SRC/cli" "$PKG_MODULE" "$VERSION" "$pkg_gomod"
  if [ ! -s "$SRC/cli/go.sum" ]; then
    log "resolving the CLI's dependencies (first run downloads several hundred MB of modules)"
    (cd "$SRC/cli" && gocmd get "$PKG_MODULE/cmd/pulumi@$VERSION" >&2) || { rm -f "$SRC/cli/go.sum"; die "go get $PKG_MODULE/cmd/pulumi@$VERSION failed"; }
    log "modules ready after $((SECONDS - T0))s"
  fi
  log "compiling pulumi"
  T1=$SECONDS
  (cd "$SRC/cli" && gocmd build -p "$JOBS" -trimpath -ldflags "-s -w $VERSION_LDFLAG" \
      -o "$BIN/pulumi.tmp" "$PKG_MODULE/cmd/pulumi" >&2) || die "go build $PKG_MODULE/cmd/pulumi failed"
  mv -f "$BIN/pulumi.tmp" "$BIN/pulumi"
  log "built pulumi $("$BIN/pulumi" version) in $((SECONDS - T1))s compile, $((SECONDS - T0))s total ($(du -h "$BIN/pulumi" | cut -f1))"
fi

# 3. The Node.js language host.
build_host() {
  local T0=$SECONDS ref="${KVMTUNE_PULUMI_NODEJS_HOST_REF:-}"
  if [ -z "$ref" ]; then
    log "looking up the commit of $VERSION (Origin data of $SDK_MODULE@$VERSION)"
    ref="$(gocmd mod download -json "$SDK_MODULE@$VERSION" | node -e '
      const j = JSON.parse(require("fs").readFileSync(0, "utf8"));
      console.log((j.Origin && j.Origin.Hash) || "")')" || ref=""
    if [ -z "$ref" ]; then
      # Without the commit we cannot name a pseudo-version; ask for @latest so that the
      # proxy's own answer about the module ends up in the message.
      local probe
      probe="$(gocmd mod download -json "$HOST_MODULE@latest" 2>&1 | node -e '
        try { console.log(JSON.parse(require("fs").readFileSync(0, "utf8")).Error || "served") }
        catch (e) { console.log("unparseable go output") }' | tr '\n' ' ')"
      echo "the proxy gives no commit for $SDK_MODULE@$VERSION (no Origin data), and for $HOST_MODULE@latest it answers: $probe; set KVMTUNE_PULUMI_NODEJS_HOST_REF=<commit of tag $VERSION> to try a pseudo-version" >"$HOST_FAILED_MARK"
      return 1
    fi
  fi
  log "resolving $HOST_MODULE@$ref"
  local host_json err
  host_json="$(gocmd mod download -json "$HOST_MODULE@$ref" 2>&1)" || true
  err="$(node -e 'try { const j=JSON.parse(require("fs").readFileSync(0,"utf8")); console.log(j.Error||"") } catch (e) { console.log("unparseable go output") }' <<<"$host_json")"
  if [ -n "$err" ]; then
    printf 'go mod download %s@%s: %s\n' "$HOST_MODULE" "$ref" "$(tr '\n' ' ' <<<"$err")" >"$HOST_FAILED_MARK"
    return 1
  fi
  local host_ver host_gomod
  host_ver="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(0,"utf8")).Version)' <<<"$host_json")"
  host_gomod="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(0,"utf8")).GoMod)' <<<"$host_json")"
  log "language host pseudo-version $host_ver"
  make_wrapper "$SRC/nodejs" "$HOST_MODULE" "$host_ver" "$host_gomod"
  if [ ! -s "$SRC/nodejs/go.sum" ]; then
    (cd "$SRC/nodejs" && gocmd mod edit -require="$PKG_MODULE@$VERSION" && gocmd get "$HOST_MODULE@$host_ver" >&2) \
      || { rm -f "$SRC/nodejs/go.sum"; echo "go get $HOST_MODULE@$host_ver failed" >"$HOST_FAILED_MARK"; return 1; }
  fi
  (cd "$SRC/nodejs" && gocmd build -p "$JOBS" -trimpath -ldflags "-s -w $VERSION_LDFLAG" \
      -o "$BIN/pulumi-language-nodejs.tmp" "$HOST_MODULE" >&2) \
    || { echo "go build $HOST_MODULE@$host_ver failed" >"$HOST_FAILED_MARK"; return 1; }
  mv -f "$BIN/pulumi-language-nodejs.tmp" "$BIN/pulumi-language-nodejs"
  rm -f "$HOST_FAILED_MARK"
  log "built pulumi-language-nodejs $host_ver in $((SECONDS - T0))s ($(du -h "$BIN/pulumi-language-nodejs" | cut -f1))"
}
if [ ! -x "$BIN/pulumi-language-nodejs" ]; then
  if ! build_host; then
    host_warning
    [ "${KVMTUNE_PULUMI_REQUIRE_NODEJS_HOST:-0}" = 1 ] && die "KVMTUNE_PULUMI_REQUIRE_NODEJS_HOST=1 and the language host could not be built"
  fi
fi

# 4. The dynamic-provider shim.
install_shim

cached_ok || die "$BIN/pulumi does not report $VERSION"
log "done: $(ls "$BIN" | tr '\n' ' ')"
echo "$BIN"
