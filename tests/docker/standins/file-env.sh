# shellcheck shell=bash
# file_env NAME [default]: export NAME from $NAME or from the file $NAME_FILE names (a Docker
# secret), as the official postgres and mysql entrypoints do; setting both is an error.
# Sourced by the database stand-ins' entrypoints.
file_env() {
    local name="$1" file_name="${1}_FILE" value="${2:-}"
    if [[ -n "${!name:-}" && -n "${!file_name:-}" ]]; then
        echo "error: both $name and $file_name are set" >&2
        exit 1
    fi
    if [[ -n "${!name:-}" ]]; then
        value="${!name}"
    elif [[ -n "${!file_name:-}" ]]; then
        value="$(<"${!file_name}")"
    fi
    export "$name=$value"
    unset "$file_name"
}
