#!/usr/bin/env bash
# Install newsqa as systemd services: the `newsqa` system user, a virtualenv under PREFIX
# (CPU torch first), /etc/newsqa, and the units. Idempotent: run it again to upgrade.
# See README.md, "Running newsqa as a service".
set -euo pipefail
# Files and directories come out the same whatever the caller's umask.
umask 022

usage() {
  cat <<'EOF'
Usage: deploy/install.sh [OPTIONS]          (as root)

  --prefix DIR    where the virtualenv goes (default /opt/newsqa)
  --root DIR      install into this filesystem root instead of / (image builds, tests);
                  units are then enabled offline and nothing is started
  --skip-pip      create an empty virtualenv and install no Python packages (tests)
  --no-start      enable the units but start nothing
  --no-build      do not run a first index build before starting the bot
  --uninstall     stop and remove the units, PREFIX and unedited config; keep the
                  user, /var/lib/newsqa and /var/cache/newsqa
  --purge         with --uninstall: also remove the data, caches, /etc/newsqa and the user

Environment: PYTHON (default python3), TORCH (default torch==2.13.0), TORCH_PIP_ARGS
(extra pip arguments for torch, e.g. --index-url of PyTorch's CPU wheel index).
EOF
}

PREFIX=/opt/newsqa
ROOT=/
ACTION=install
PURGE=0
SKIP_PIP=0
START=1
BUILD=1
PYTHON="${PYTHON:-python3}"
TORCH="${TORCH:-torch==2.13.0}"
TORCH_PIP_ARGS="${TORCH_PIP_ARGS:-}"

USER_NAME=newsqa
UNITS=(newsqa-bot.service newsqa-reindex.service newsqa-reindex.timer)
ENABLED_UNITS=(newsqa-bot.service newsqa-reindex.timer)
# Marks a PREFIX as ours, so --uninstall never removes a directory it did not create.
MARKER=.installed-by-newsqa

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPLOY="$REPO/deploy"

log() { printf 'newsqa install: %s\n' "$*"; }
die() {
  printf 'newsqa install: error: %s\n' "$*" >&2
  exit 1
}

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="${2:?--prefix needs a directory}"; shift 2 ;;
    --prefix=*) PREFIX="${1#*=}"; shift ;;
    --root) ROOT="${2:?--root needs a directory}"; shift 2 ;;
    --root=*) ROOT="${1#*=}"; shift ;;
    --skip-pip) SKIP_PIP=1; shift ;;
    --no-start) START=0; shift ;;
    --no-build) BUILD=0; shift ;;
    --uninstall) ACTION=uninstall; shift ;;
    --purge) PURGE=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done

[ "$(id -u)" -eq 0 ] || die "run as root"
[ "$PURGE" -eq 0 ] || [ "$ACTION" = uninstall ] || die "--purge goes with --uninstall"
# PREFIX lands unquoted in ExecStart= lines, and is removed by --uninstall: keep it plain.
[[ "$PREFIX" =~ ^/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$ ]] || die "--prefix must be an absolute path without spaces: $PREFIX"
case "$PREFIX" in / | /usr | /usr/* | /etc | /etc/* | /var | /bin | /sbin | /lib* | /home | /root) die "refusing --prefix $PREFIX" ;; esac
[[ "$ROOT" = /* ]] || die "--root must be an absolute path: $ROOT"
mkdir -p "$ROOT"
ROOT="$(cd "$ROOT" && pwd -P)"
# R prefixes every path we touch; empty for the real system.
R="${ROOT%/}"

LIVE=0
if [ -z "$R" ] && [ -d /run/systemd/system ]; then
  LIVE=1 # systemd is PID 1 here: daemon-reload, start and stop for real
fi

ETC="$R/etc/newsqa"
ENV_FILE="$ETC/newsqa.env"
TOKEN_FILE="$ETC/telegram-token"
UNIT_DIR="$R/etc/systemd/system"
SYSUSERS_CONF="$R/etc/sysusers.d/newsqa.conf"
STATE_DIR="$R/var/lib/newsqa"
CACHE_DIR="$R/var/cache/newsqa"
DEST="$R$PREFIX"
VENV="$DEST/venv"

systemctl_offline() {
  # Unit symlinks only; works without a running systemd and inside --root.
  systemctl --root="${R:-/}" --quiet "$@"
}

user_field() { # user_field FILE FIELD: field of the newsqa entry in a passwd-style file
  if [ -f "$1" ]; then
    awk -F: -v name="$USER_NAME" -v f="$2" '$1 == name { print $f }' "$1"
  fi
}

create_user() {
  mkdir -p "$R/etc/sysusers.d"
  install -m 0644 "$DEPLOY/newsqa.sysusers" "$SYSUSERS_CONF"
  if command -v systemd-sysusers >/dev/null; then
    # Only our file; --root keeps a throwaway root's passwd apart from the real one.
    systemd-sysusers --root="${R:-/}" newsqa.conf
  elif [ -z "$(user_field "$R/etc/passwd" 1)" ]; then
    useradd --system --user-group --home-dir /var/lib/newsqa --no-create-home \
      --shell /usr/sbin/nologin ${R:+--root "$R"} "$USER_NAME"
  fi
  USER_UID="$(user_field "$R/etc/passwd" 3)"
  USER_GID="$(user_field "$R/etc/group" 3)"
  if [ -z "$USER_UID" ] || [ -z "$USER_GID" ]; then
    die "could not create the user $USER_NAME"
  fi
}

create_venv() {
  if [ -e "$DEST" ] && [ ! -e "$DEST/$MARKER" ] && [ -n "$(ls -A "$DEST")" ]; then
    die "$DEST exists and was not made by this installer"
  fi
  install -d -m 0755 "$DEST"
  printf 'newsqa: created by deploy/install.sh; removed by --uninstall\n' >"$DEST/$MARKER"
  chmod 0644 "$DEST/$MARKER"
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating the virtualenv $VENV"
    local venv_args=()
    [ "$SKIP_PIP" -eq 0 ] || venv_args=(--without-pip)
    "$PYTHON" -m venv ${venv_args[@]+"${venv_args[@]}"} "$VENV" ||
      die "$PYTHON -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
  fi
  if [ "$SKIP_PIP" -eq 1 ]; then
    log "--skip-pip: no Python packages installed"
  else
    local torch_args=()
    read -r -a torch_args <<<"$TORCH_PIP_ARGS"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    # The CPU build of torch first, so sentence-transformers does not pull a CUDA build.
    log "installing $TORCH"
    "$VENV/bin/python" -m pip install --quiet ${torch_args[@]+"${torch_args[@]}"} "$TORCH"
    log "installing newsqa from $REPO"
    "$VENV/bin/python" -m pip install --quiet "$REPO"
  fi
  if [ -f "$REPO/README.md" ]; then
    install -D -m 0644 "$REPO/README.md" "$DEST/share/doc/newsqa/README.md"
  fi
}

install_config() {
  install -d -m 0755 "$ETC"
  # The pristine example is refreshed on every run, so an upgrade can be diffed against it.
  install -m 0644 "$DEPLOY/newsqa.env.example" "$ETC/newsqa.env.example"
  if [ -e "$ENV_FILE" ]; then
    log "kept $ENV_FILE"
  else
    install -m 0644 "$DEPLOY/newsqa.env.example" "$ENV_FILE"
  fi
  if [ ! -e "$TOKEN_FILE" ]; then
    (umask 077 && : >"$TOKEN_FILE")
  fi
  # Only root reads it; systemd passes it to the bot through LoadCredential=.
  chown 0:0 "$TOKEN_FILE"
  chmod 0600 "$TOKEN_FILE"
}

install_units() {
  mkdir -p "$UNIT_DIR"
  local unit
  for unit in "${UNITS[@]}"; do
    sed "s#/opt/newsqa#$PREFIX#g" "$DEPLOY/$unit" >"$UNIT_DIR/$unit.tmp"
    chmod 0644 "$UNIT_DIR/$unit.tmp"
    mv -f "$UNIT_DIR/$unit.tmp" "$UNIT_DIR/$unit"
  done
}

create_state_dirs() {
  # systemd creates these too (StateDirectory=, CacheDirectory=), but stories/ must exist
  # before the first build and the cache before a model is downloaded into it.
  mkdir -p "$R/var/lib" "$R/var/cache"
  install -d -m 0750 -o "$USER_UID" -g "$USER_GID" "$STATE_DIR" "$STATE_DIR/stories" "$CACHE_DIR"
}

start_services() {
  if [ "$LIVE" -eq 0 ]; then
    systemctl_offline enable "${ENABLED_UNITS[@]}"
    log "units enabled; systemd is not running here (or --root was given), nothing started"
    return
  fi
  systemctl daemon-reload
  systemctl enable --quiet "${ENABLED_UNITS[@]}"
  if [ "$START" -eq 0 ]; then
    log "--no-start: units enabled, nothing started"
    return
  fi
  systemctl start newsqa-reindex.timer
  if [ ! -s "$TOKEN_FILE" ] || [ -z "$(find "$STATE_DIR/stories" -name '*.txt' -print -quit)" ]; then
    log "put the bot token in $TOKEN_FILE and stories in $STATE_DIR/stories, then:"
    log "  systemctl start newsqa-reindex.service && systemctl restart newsqa-bot.service"
    return
  fi
  if [ "$BUILD" -eq 1 ]; then
    log "building the index (journalctl -u newsqa-reindex to follow)"
    systemctl start newsqa-reindex.service ||
      die "the index build failed: journalctl -u newsqa-reindex; the bot was not restarted"
  fi
  systemctl restart newsqa-bot.service
  log "newsqa-bot started: journalctl -u newsqa-bot -f"
}

do_install() {
  create_user
  create_venv
  install_config
  install_units
  create_state_dirs
  start_services
  log "installed into ${R:-/} (prefix $PREFIX)"
}

remove_if_unedited() { # remove_if_unedited FILE PRISTINE: keep what the operator changed
  if [ ! -e "$1" ]; then
    return
  elif cmp -s "$1" "$2"; then
    rm -f "$1"
  else
    log "kept $1 (edited; --purge removes it)"
  fi
}

do_uninstall() {
  if [ "$LIVE" -eq 1 ]; then
    systemctl disable --now --quiet "${ENABLED_UNITS[@]}" 2>/dev/null || true
    systemctl stop newsqa-reindex.service 2>/dev/null || true
  elif [ -d "$UNIT_DIR" ]; then
    systemctl_offline disable "${ENABLED_UNITS[@]}" 2>/dev/null || true
  fi
  local unit
  for unit in "${UNITS[@]}"; do
    rm -f "$UNIT_DIR/$unit"
  done
  if [ "$LIVE" -eq 1 ]; then
    systemctl daemon-reload
    systemctl reset-failed "${UNITS[@]}" 2>/dev/null || true
  fi
  if [ -e "$DEST/$MARKER" ]; then
    rm -rf "$DEST"
  elif [ -e "$DEST" ]; then
    log "left $DEST alone: not made by this installer"
  fi

  if [ "$PURGE" -eq 1 ]; then
    rm -rf "$ETC" "$STATE_DIR" "$CACHE_DIR"
    if [ -n "$(user_field "$R/etc/passwd" 1)" ]; then
      userdel ${R:+--root "$R"} "$USER_NAME"
    fi
    if [ -n "$(user_field "$R/etc/group" 1)" ]; then
      groupdel ${R:+--root "$R"} "$USER_NAME"
    fi
    rm -f "$SYSUSERS_CONF"
    log "purged: data, caches, configuration and the user $USER_NAME are gone"
  else
    remove_if_unedited "$ENV_FILE" "$DEPLOY/newsqa.env.example"
    rm -f "$ETC/newsqa.env.example"
    if [ -f "$TOKEN_FILE" ] && [ ! -s "$TOKEN_FILE" ]; then
      rm -f "$TOKEN_FILE" # the empty placeholder we made
    elif [ -e "$TOKEN_FILE" ]; then
      log "kept $TOKEN_FILE (--purge removes it)"
    fi
    rmdir "$ETC" 2>/dev/null || true
    log "kept the user $USER_NAME, $STATE_DIR and $CACHE_DIR (--purge removes them)"
  fi
  if [ -n "$R" ]; then
    # In a throwaway root, also the parent directories this script made (when empty).
    local dir
    for dir in "$UNIT_DIR" "$R/etc/systemd" "$R/etc/sysusers.d" "$(dirname "$DEST")" \
      "$R/var/lib" "$R/var/cache" "$R/var" "$R/etc"; do
      rmdir "$dir" 2>/dev/null || true
    done
  fi
  log "uninstalled from ${R:-/}"
}

if [ "$ACTION" = install ]; then
  do_install
else
  do_uninstall
fi
