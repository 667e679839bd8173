#!/bin/sh
# The container's entry point. Both `docker run IMAGE invoke reproduce --all --profile paper` and
# `docker run IMAGE reproduce --all --profile paper` run the invoke task `reproduce` of /work/tasks.py;
# no arguments (or `invoke` alone) lists the tasks; `python ...`, `bash` and `repro ...` run as given.
set -eu
root="${REPRO_HOME:-/work}"
case "${1:-}" in
    invoke) shift ;;
    python|python3|bash|sh|repro) exec "$@" ;;
esac
[ "$#" -gt 0 ] || set -- --list
cd "$root"
exec invoke --search-root "$root" "$@"
