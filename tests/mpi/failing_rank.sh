#!/usr/bin/env bash
# A rank that fails must bring the whole job down with its own message,
# promptly, not leave the others waiting in a collective:
#  1. rank 1 of 2 throws in iteration 3 (test-only TRIDENT_TEST_FAIL_AT);
#  2. rank 2 of 4 cannot read its data file, found before any collective:
#     one line from that rank, exit 2, no metrics file.
# Usage: failing_rank.sh <trident-train> <mpiexec>
set -uo pipefail
train=$1; mpiexec=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(--num-layers 1 --hidden-size 32 --num-attention-heads 2 --seq-length 32 --micro-batch-size 2
       --global-batch-size 8 --train-iters 50 --data-path /usr/share/games/fortunes)
status=0

start=$(date +%s)
TRIDENT_TEST_FAIL_AT=1:3 timeout 60 "$mpiexec" -n 2 --oversubscribe -x TRIDENT_TEST_FAIL_AT "$train" "${flags[@]}" --tp 2 \
  > "$work/out1" 2>&1
rc=$?; took=$(( $(date +%s) - start ))
if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ] || ! grep -q "\[rank 1\] .*injected test fault" "$work/out1" || [ "$took" -gt 30 ]; then
  echo "FAIL: mid-training failure: exit $rc after ${took}s"; cat "$work/out1"; status=1
else
  echo "ok   mid-training failure on rank 1: exit $rc after ${took}s: $(grep -m1 'injected' "$work/out1")"
fi

# Rank 2 sees a data path that does not exist (a node without the data).
cat > "$work/wrapper.sh" <<WRAP
#!/usr/bin/env bash
if [ "\${OMPI_COMM_WORLD_RANK:-0}" = 2 ]; then exec "$train" "\$@" --data-path "$work/missing"; fi
exec "$train" "\$@"
WRAP
chmod +x "$work/wrapper.sh"
start=$(date +%s)
timeout 60 "$mpiexec" -n 4 --oversubscribe "$work/wrapper.sh" "${flags[@]}" --tp 2 --metrics-file "$work/m.jsonl" \
  > "$work/out2" 2> "$work/err2"
rc=$?; took=$(( $(date +%s) - start ))
if [ "$rc" -ne 2 ] || [ "$(grep -c 'error' "$work/err2")" -ne 1 ] || ! grep -q "missing' does not exist" "$work/err2" \
   || [ -e "$work/m.jsonl" ] || [ "$took" -gt 30 ]; then
  echo "FAIL: one rank's bad data path: exit $rc after ${took}s, metrics file $( [ -e "$work/m.jsonl" ] && echo written || echo absent)"
  cat "$work/err2"; status=1
else
  echo "ok   bad data path on rank 2 of 4: exit $rc after ${took}s: $(cat "$work/err2")"
fi
# Layouts that cannot work: one line from one rank, exit 2.
bad_layout() {
  local want=$1 n=$2; shift 2
  timeout 60 "$mpiexec" -n "$n" --oversubscribe "$train" "${flags[@]}" "$@" > "$work/out3" 2> "$work/err3"
  local rc=$?
  if [ "$rc" -ne 2 ] || [ "$(grep -c 'trident-train: error' "$work/err3")" -ne 1 ] || ! grep -qF -- "$want" "$work/err3"; then
    echo "FAIL: bad layout [$n ranks: $*]: exit $rc"; cat "$work/err3"; status=1
  else
    echo "ok   bad layout [$n ranks: $*]: $(grep 'trident-train: error' "$work/err3")"
  fi
}
bad_layout "--tensor-model-parallel-size 3" 4 --tp 3
bad_layout "--num-layers 1 is fewer than the 2 pipeline stages" 2 --pp 2
bad_layout "--num-attention-heads 2 is not divisible by --tensor-model-parallel-size 4" 4 --tp 4
bad_layout "--data-parallel-size 4 does not match" 2 --dp 4
bad_layout "x data-parallel size 4" 4 --global-batch-size 4
exit $status
