# Source this file (bash): puts the Pulumi CLI that scripts/build-pulumi-cli.sh builds (or
# finds on PATH) first on PATH, and sets an environment in which Pulumi works with no
# network: no update check, no plugin downloads, no Pulumi Cloud, a local passphrase.
#
#   source scripts/pulumi-env.sh            # builds on the first use (minutes), then instant
#   pulumi version
#
# State: nothing here logs in. Use a DIY (file) backend per test or per run, never the
# default Pulumi Cloud backend (it needs the network and an access token):
#   pulumi login --local                    # state in ~/.pulumi (file://~; $HOME, not $PULUMI_HOME)
#   pulumi login "file://$dir"              # state in $dir/.pulumi
#   PULUMI_BACKEND_URL="file://$dir" ...    # per command, no login stored at all
# Automation API: LocalWorkspace.create({ envVars: { PULUMI_BACKEND_URL: "file://" + dir }, ... })
# or projectSettings.backend.url. PULUMI_BACKEND_URL is defaulted below to a file backend
# under the cache so that a forgotten login never reaches for the network.
# DIY backend knobs that may help tests: PULUMI_DIY_BACKEND_DISABLE_CHECKPOINT_BACKUPS=true
# (no .pulumi/backups copies per update), PULUMI_DIY_BACKEND_GZIP=true,
# PULUMI_DIY_BACKEND_RETAIN_CHECKPOINTS=true; stacks are project-scoped (organization/
# project/stack) unless PULUMI_DIY_BACKEND_LEGACY_LAYOUT=true.
#
# Do not set PULUMI_IGNORE_AMBIENT_PLUGINS: the engine finds pulumi-resource-pulumi-nodejs
# (dynamic providers) and pulumi-resource-command on PATH, and only because of that.

_kvmtune_pulumi_scripts="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)"
if _kvmtune_pulumi_bin="$(bash "$_kvmtune_pulumi_scripts/build-pulumi-cli.sh" | tail -1)" \
   && [ -n "$_kvmtune_pulumi_bin" ] && [ -x "$_kvmtune_pulumi_bin/pulumi" ]; then
  case ":$PATH:" in
    *":$_kvmtune_pulumi_bin:"*) ;;
    *) PATH="$_kvmtune_pulumi_bin:$PATH" ;;
  esac
  export PATH

  _kvmtune_cache="${KVMTUNE_CACHE:-$HOME/.cache/kvmtune}"
  # Where the CLI keeps its plugins, credentials (login) and workspace settings.
  export PULUMI_HOME="${PULUMI_HOME:-$_kvmtune_cache/pulumi/home}"
  mkdir -p "$PULUMI_HOME"
  export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$_kvmtune_cache/pulumi/state}"
  case "$PULUMI_BACKEND_URL" in file://*) mkdir -p "${PULUMI_BACKEND_URL#file://}" ;; esac
  # Encrypts secrets in DIY stacks; the tests' state is throwaway, so a fixed default.
  export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-kvmtune-test-passphrase}"
  export PULUMI_SKIP_UPDATE_CHECK=true
  export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
  export PULUMI_DISABLE_REGISTRY_RESOLVE=true
  export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true
  export PULUMI_ENABLE_AUTOMATIC_AGENT_SIGNUP=false
  export PULUMI_DIY_BACKEND_NO_LEGACY_WARNING=true
  # The shim pulumi-resource-pulumi-nodejs resolves @pulumi/pulumi from the directory the
  # engine starts it in; let it find the repository's copy from any (temp) program dir.
  _kvmtune_nm="$(cd "$_kvmtune_pulumi_scripts/.." && pwd)/node_modules"
  case ":${NODE_PATH:-}:" in
    *":$_kvmtune_nm:"*) ;;
    *) export NODE_PATH="$_kvmtune_nm${NODE_PATH:+:$NODE_PATH}" ;;
  esac
  unset PULUMI_IGNORE_AMBIENT_PLUGINS
  unset _kvmtune_cache _kvmtune_nm
else
  echo "pulumi-env.sh: scripts/build-pulumi-cli.sh failed; PATH unchanged" >&2
fi
unset _kvmtune_pulumi_scripts _kvmtune_pulumi_bin
