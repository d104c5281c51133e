#!/bin/sh
# Installs or removes tend's files as the Makefile's INSTALL_LIST names them:
#
#   scripts/install.sh install|uninstall ROOT SOURCE:DEST:MODE...
#
# ROOT is $(DESTDIR)$(PREFIX); each DEST is relative to it. install checks
# that every SOURCE exists before it copies anything, then overwrites what
# is there (running it twice is fine; a running binary is replaced, not
# written into). uninstall removes exactly the DESTs, then the folders that
# are tend's own once they are empty: those whose path below ROOT passes
# through a folder named tend (share/tend, share/doc/tend/docs, ...).
# Shared folders such as share/man/man1 or lib/systemd/system stay.
set -eu

me=${0##*/}
usage() {
  echo "usage: $me install|uninstall ROOT SOURCE:DEST:MODE..." >&2
  exit 2
}
[ $# -ge 2 ] || usage
action=$1
root=$2
shift 2
case $action in install | uninstall) ;; *) usage ;; esac
if [ -z "$root" ]; then
  echo "$me: PREFIX and DESTDIR are both empty: nowhere to $action" >&2
  exit 2
fi

# Checks every entry's shape (and, for install, its source) up front.
for entry in "$@"; do
  case $entry in
    *:*:*:* | :* | *::* | *:) bad=1 ;;
    *:*:*) bad= ;;
    *) bad=1 ;;
  esac
  if [ -n "$bad" ]; then
    echo "$me: bad entry '$entry' (want SOURCE:DEST:MODE)" >&2
    exit 2
  fi
  src=${entry%%:*}
  if [ "$action" = install ] && [ ! -f "$src" ]; then
    echo "$me: $src is missing (it is in the Makefile's INSTALL_LIST)" >&2
    exit 1
  fi
done

for entry in "$@"; do
  src=${entry%%:*}
  rest=${entry#*:}
  dest=$root/${rest%:*}
  mode=${rest##*:}
  if [ "$action" = install ]; then
    echo "install $src -> $dest"
    if ! install -D -m "$mode" "$src" "$dest"; then
      echo "$me: cannot write $dest: run as root (sudo make install)," \
        "or choose another PREFIX= or DESTDIR=" >&2
      exit 1
    fi
  elif [ -e "$dest" ] || [ -L "$dest" ]; then
    echo "rm $dest"
    rm -f "$dest"
  fi
done

[ "$action" = uninstall ] || exit 0
for entry in "$@"; do
  rest=${entry#*:}
  dir=${rest%:*}
  dir=${dir%/*}
  while :; do
    case /$dir/ in */tend/*) ;; *) break ;; esac
    if [ -d "$root/$dir" ] && [ -z "$(ls -A "$root/$dir")" ]; then
      echo "rmdir $root/$dir"
      rmdir "$root/$dir"
    fi
    case $dir in */*) dir=${dir%/*} ;; *) break ;; esac
  done
done
