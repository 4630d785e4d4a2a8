#!/usr/bin/env bash
# Runs built libFuzzer targets one after another (`make fuzz` calls this; see docs/fuzzing.md).
#   Fuzz/run.sh BUILD_DIR SECONDS TARGET... [-- extra libFuzzer flags]
# Per target: the working corpus is BUILD_DIR/corpus/TARGET (new inputs go there; the committed seeds in
# Fuzz/corpus/TARGET are only read), crashes land in BUILD_DIR/artifacts/TARGET/, the log in BUILD_DIR/logs/.
# Prints one line per target with its executions; exits 1 when any target crashed.
set -u
dir=$1 seconds=$2
shift 2
targets=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do targets+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
extra=("$@")

# libFuzzer options per target: the dictionary (JSON syntax + the format's words) and the input size. Every target
# also runs with -use_value_profile=1 (compare operands as features: it found the http-parser split bug).
options() {
    case $1 in
        http-parser)        echo "http.dict -max_len=20480" ;;
        wire-json)          echo "json.dict+wire.dict -max_len=4096" ;;
        safetensors-header) echo "json.dict+safetensors.dict -max_len=4096" ;;
        tokenizer)          echo "json.dict+tokenizer.dict -max_len=65536" ;;
        peft-config)        echo "json.dict+peft.dict -max_len=4096" ;;
        chat-template)      echo "jinja.dict -max_len=8192" ;;
        gguf)               echo "gguf.dict -max_len=4096" ;;
        grammar)            echo "json.dict+grammar.dict -max_len=4096" ;;
    esac
}

# The Swift runtime's backtracer would catch the crash signal before libFuzzer saves the input; leaks are not
# tracked (the Swift runtime keeps metadata caches for the life of the process).
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:symbolize=1}

failed=0
for t in "${targets[@]}"; do
    read -r dicts len <<<"$(options "$t")"
    mkdir -p "$dir/corpus/$t" "$dir/artifacts/$t" "$dir/logs"
    dict="$dir/$t.dict"
    (IFS=+; for d in $dicts; do cat "Fuzz/dict/$d"; done) > "$dict"
    log="$dir/logs/$t.log"
    "$dir/bin/$t" -max_total_time="$seconds" -timeout=10 -use_value_profile=1 -print_final_stats=1 -dict="$dict" "$len" \
        -artifact_prefix="$dir/artifacts/$t/" "${extra[@]}" "$dir/corpus/$t" "Fuzz/corpus/$t" >"$log" 2>&1
    status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    corpus=$(ls "$dir/corpus/$t" | wc -l)
    if [ $status -eq 0 ]; then
        printf '%-20s %10s executions (%s/s), no crash; working corpus %s inputs\n' "$t" "${runs:-?}" "${rate:-?}" "$corpus"
    else
        failed=1
        printf '%-20s CRASH (libFuzzer exit %s) after %s executions; input in %s, log %s\n' \
            "$t" "$status" "${runs:-?}" "$(ls -t "$dir/artifacts/$t" | head -1 | sed "s|^|$dir/artifacts/$t/|")" "$log"
        grep -m1 -A12 -E 'fuzz check failed|ERROR: (libFuzzer|AddressSanitizer)|Fatal error' "$log" | sed 's/^/    /'
    fi
done
exit $failed
