# bash completion for tend. Installed as
# $(PREFIX)/share/bash-completion/completions/tend; or: source this file.
#
# Commands and options are completed from this file; runner and group names
# are asked from the running daemon (`tend status --names`, with the -c /
# --url of the line being completed). When no daemon answers, names are
# simply not offered: nothing is printed.

_tend_commands="up init check status ps start stop restart signal logs events
reload down resume top ui attach help version"
_tend_signals="HUP INT QUIT KILL USR1 USR2 TERM WINCH CONT STOP TSTP"

# Prints the names the daemon knows, for the -c/--url given on the line.
_tend_names() {
  local i args=()
  for ((i = 1; i < ${#COMP_WORDS[@]}; i++)); do
    case "${COMP_WORDS[i]}" in
    -c | --config | --url)
      [ $((i + 1)) -lt ${#COMP_WORDS[@]} ] &&
        args+=("${COMP_WORDS[i]}" "${COMP_WORDS[i + 1]}")
      ;;
    esac
  done
  timeout 2 "${COMP_WORDS[0]}" status --names "${args[@]}" 2>/dev/null
}

_tend() {
  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD - 1]}"
  local cmd="" i nargs=0 opts=""
  COMPREPLY=()

  case "$prev" in
  -c | --config)
    COMPREPLY=($(compgen -f -X '!*.json' -- "$cur") $(compgen -d -- "$cur"))
    return
    ;;
  --url | -n | --lines | --since | --grep) return ;;
  --stream)
    COMPREPLY=($(compgen -W "stdout stderr pty tend" -- "$cur"))
    return
    ;;
  esac
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "${COMP_WORDS[i]}" in
    -c | --config | --url | -n | --lines | --since | --grep | --stream) ((i++)) ;;
    -*) ;;
    *) if [ -z "$cmd" ]; then cmd="${COMP_WORDS[i]}"; else ((nargs++)); fi ;;
    esac
  done
  if [ -z "$cmd" ]; then
    if [[ "$cur" == -* ]]; then
      COMPREPLY=($(compgen -W "-c --config --url -h --help --version" -- "$cur"))
    else
      COMPREPLY=($(compgen -W "$_tend_commands" -- "$cur"))
    fi
    return
  fi
  case "$cmd" in
  up) opts="-c --config -d --detach" ;;
  init | check)
    opts="-c --config"
    if [[ "$cur" != -* ]]; then
      COMPREPLY=($(compgen -f -X '!*.json' -- "$cur") $(compgen -d -- "$cur"))
      return
    fi
    ;;
  status | ps) opts="--json --names -c --config --url" ;;
  logs) opts="-f --follow -n --lines --json --since --grep --stream -t
    --timestamps -c --config --url" ;;
  events) opts="-f --follow -n --lines --json -c --config --url" ;;
  start | stop | restart | resume | signal | reload | top | ui | attach)
    opts="-c --config --url" ;;
  help)
    [ "$nargs" -eq 0 ] &&
      COMPREPLY=($(compgen -W "$_tend_commands" -- "$cur"))
    return
    ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$opts -h --help" -- "$cur"))
    return
  fi
  case "$cmd" in
  start | stop | restart)
    if [ "$nargs" -eq 0 ]; then
      local names
      names="$(_tend_names)"
      [ -n "$names" ] && COMPREPLY=($(compgen -W "$names all" -- "$cur"))
    fi
    ;;
  resume | attach)
    [ "$nargs" -eq 0 ] && COMPREPLY=($(compgen -W "$(_tend_names)" -- "$cur"))
    ;;
  logs)
    COMPREPLY=($(compgen -W "$(_tend_names)" -- "$cur"))
    ;;
  signal)
    if [ "$nargs" -eq 0 ]; then
      COMPREPLY=($(compgen -W "$(_tend_names)" -- "$cur"))
    elif [ "$nargs" -eq 1 ]; then
      COMPREPLY=($(compgen -W "$_tend_signals" -- "${cur^^}"))
    fi
    ;;
  esac
}

complete -F _tend tend
