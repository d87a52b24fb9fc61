;; The fused bootstrap kernel's two hot loops (fused.ts), one block of rows at a time: the row pass and
;; the score-order pass. The same integer and IEEE double operations, in the same order, as the loops they
;; replace, so every state is the same bit for bit (the tests hold the kernel to the weighted kernels).
;; Why WebAssembly: TurboFan compiles its i32 and f64 arithmetic and byte loads without the type and
;; bounds checks it keeps in JavaScript. A resample at 1M rows (two log-loss columns, two rankings, the
;; cells) took a median 20–22 ms here against 33–34 ms for the JavaScript loops, the row pass alone 6.9
;; against 15.8 (16 resamples, ten alternating runs in one process, the same states bit for bit). The
;; weight and Neumaier's step are written out in each loop, not called: Node 20's V8 does not inline
;; calls between wasm functions, and written out the weights-only pass went from 5.1 to 3.5 ms.
;;
;; fused.ts copies a block's columns into the fixed areas below, then calls a pass once per resample of
;; its batch; the running sums of the row pass stay here between blocks (SUMS, CELLS, TOTALS), so a
;; batch crosses into JavaScript once per block and resample, not per row.
;; `npm run generate` assembles this file into fused-wasm.ts (scripts/fixtures/gen-fused-wasm.mjs).
(module
  ;; Byte offsets (fusedStates in fused.ts names the same ones in `area`; a block is at most 4096 rows).
  ;;   0      TABLE       4096 × u8: the Poisson(1) count of each top-12-bit cell, 255 where a threshold cuts it
  ;;   4096   THRESHOLDS  12 × u32: the inverse CDF's cut points
  ;;   4160   BLOCKCELLS  8 × i32: the block's cell counts (scratch)
  ;;   4192   RANKOUT     5 × i32: within, below, closed positives, open group's positives, its negatives
  ;;   4352   SUMS        16 slots × 8 f64: Neumaier sum and compensation of four columns of terms
  ;;   5376   CELLS       16 slots × 8 f64: weighted counts of the eight cells
  ;;   6400   TOTALS      16 × f64: total weight
  ;;   8192   HASH        4096 × i32: the rows' first-round hashes
  ;;   24576  TRUTH       4096 × u8
  ;;   28672  GROUPEND    4096 × u8
  ;;   32768  CODE        4096 × u8
  ;;   36864  ORDER       4096 × i32: row numbers in score order (a split job's bounds check)
  ;;   53248  TERMS       4 × 4096 × f64
  (memory (export "memory") 3 3)

  ;; The row pass of one resample (key $kb, batch slot $slot) over the block's $count rows: its total
  ;; weight, cell counts (when $hasCode) and the sums of its first $terms columns of terms.
  (func (export "rows") (param $kb i32) (param $count i32) (param $slot i32) (param $terms i32) (param $hasCode i32)
    (local $i i32) (local $h i32) (local $w i32) (local $total i32) (local $at i32) (local $cell i32)
    (local $x f64) (local $t f64) (local $wf f64)
    (local $s0 f64) (local $c0 f64) (local $s1 f64) (local $c1 f64)
    (local $s2 f64) (local $c2 f64) (local $s3 f64) (local $c3 f64)
    (local.set $at (i32.add (i32.const 4352) (i32.shl (local.get $slot) (i32.const 6))))
    (local.set $s0 (f64.load offset=0 (local.get $at)))
    (local.set $c0 (f64.load offset=8 (local.get $at)))
    (local.set $s1 (f64.load offset=16 (local.get $at)))
    (local.set $c1 (f64.load offset=24 (local.get $at)))
    (local.set $s2 (f64.load offset=32 (local.get $at)))
    (local.set $c2 (f64.load offset=40 (local.get $at)))
    (local.set $s3 (f64.load offset=48 (local.get $at)))
    (local.set $c3 (f64.load offset=56 (local.get $at)))
    (memory.fill (i32.const 4160) (i32.const 0) (i32.const 32))
    (block $done
      (br_if $done (i32.ge_s (local.get $i) (local.get $count)))
      (loop $row
        ;; random.ts poissonWeight's second round and inverse CDF (inline: Node 20's V8 does not inline wasm calls).
        (local.set $h (i32.add (i32.load offset=8192 (i32.shl (local.get $i) (i32.const 2))) (local.get $kb)))
        (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))
        (local.set $h (i32.mul (local.get $h) (i32.const 0x7feb352d)))
        (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 15))))
        (local.set $h (i32.mul (local.get $h) (i32.const 0x846ca68b)))
        (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))
        (local.set $w (i32.load8_u (i32.shr_u (local.get $h) (i32.const 20))))
        (if (i32.eq (local.get $w) (i32.const 255))
          (then
            (local.set $w
              (i32.add
                (i32.add
                  (i32.add
                    (i32.add (i32.ge_u (local.get $h) (i32.load offset=4096 (i32.const 0))) (i32.ge_u (local.get $h) (i32.load offset=4100 (i32.const 0))))
                    (i32.add (i32.ge_u (local.get $h) (i32.load offset=4104 (i32.const 0))) (i32.ge_u (local.get $h) (i32.load offset=4108 (i32.const 0)))))
                  (i32.add
                    (i32.add (i32.ge_u (local.get $h) (i32.load offset=4112 (i32.const 0))) (i32.ge_u (local.get $h) (i32.load offset=4116 (i32.const 0))))
                    (i32.add (i32.ge_u (local.get $h) (i32.load offset=4120 (i32.const 0))) (i32.ge_u (local.get $h) (i32.load offset=4124 (i32.const 0))))))
                (i32.add
                  (i32.add
                    (i32.add (i32.ge_u (local.get $h) (i32.load offset=4128 (i32.const 0))) (i32.ge_u (local.get $h) (i32.load offset=4132 (i32.const 0))))
                    (i32.add (i32.ge_u (local.get $h) (i32.load offset=4136 (i32.const 0))) (i32.ge_u (local.get $h) (i32.load offset=4140 (i32.const 0)))))
                  (i32.const 0))))))
        (local.set $total (i32.add (local.get $total) (local.get $w)))
        (if (local.get $hasCode)
          (then
            (local.set $cell (i32.add (i32.const 4160) (i32.shl (i32.load8_u offset=32768 (local.get $i)) (i32.const 2))))
            (i32.store (local.get $cell) (i32.add (i32.load (local.get $cell)) (local.get $w)))))
        (if (i32.gt_s (local.get $terms) (i32.const 0))
          (then
            ;; Neumaier's step (kernels/kernel.ts weightedAverage), written out in each column as the weight is.
            (local.set $wf (f64.convert_i32_s (local.get $w)))
            (local.set $x (f64.mul (local.get $wf) (f64.load offset=53248 (i32.shl (local.get $i) (i32.const 3)))))
            (local.set $t (f64.add (local.get $s0) (local.get $x)))
            (local.set $c0
              (f64.add
                (local.get $c0)
                (select
                  (f64.add (f64.sub (local.get $s0) (local.get $t)) (local.get $x))
                  (f64.add (f64.sub (local.get $x) (local.get $t)) (local.get $s0))
                  (f64.ge (f64.abs (local.get $s0)) (f64.abs (local.get $x))))))
            (local.set $s0 (local.get $t))
            (if (i32.gt_s (local.get $terms) (i32.const 1))
              (then
                (local.set $x (f64.mul (local.get $wf) (f64.load offset=86016 (i32.shl (local.get $i) (i32.const 3)))))
                (local.set $t (f64.add (local.get $s1) (local.get $x)))
                (local.set $c1
                  (f64.add
                    (local.get $c1)
                    (select
                      (f64.add (f64.sub (local.get $s1) (local.get $t)) (local.get $x))
                      (f64.add (f64.sub (local.get $x) (local.get $t)) (local.get $s1))
                      (f64.ge (f64.abs (local.get $s1)) (f64.abs (local.get $x))))))
                (local.set $s1 (local.get $t))
                (if (i32.gt_s (local.get $terms) (i32.const 2))
                  (then
                    (local.set $x (f64.mul (local.get $wf) (f64.load offset=118784 (i32.shl (local.get $i) (i32.const 3)))))
                    (local.set $t (f64.add (local.get $s2) (local.get $x)))
                    (local.set $c2
                      (f64.add
                        (local.get $c2)
                        (select
                          (f64.add (f64.sub (local.get $s2) (local.get $t)) (local.get $x))
                          (f64.add (f64.sub (local.get $x) (local.get $t)) (local.get $s2))
                          (f64.ge (f64.abs (local.get $s2)) (f64.abs (local.get $x))))))
                    (local.set $s2 (local.get $t))
                    (if (i32.gt_s (local.get $terms) (i32.const 3))
                      (then
                        (local.set $x (f64.mul (local.get $wf) (f64.load offset=151552 (i32.shl (local.get $i) (i32.const 3)))))
                        (local.set $t (f64.add (local.get $s3) (local.get $x)))
                        (local.set $c3
                          (f64.add
                            (local.get $c3)
                            (select
                              (f64.add (f64.sub (local.get $s3) (local.get $t)) (local.get $x))
                              (f64.add (f64.sub (local.get $x) (local.get $t)) (local.get $s3))
                              (f64.ge (f64.abs (local.get $s3)) (f64.abs (local.get $x))))))
                        (local.set $s3 (local.get $t))))))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $row (i32.lt_s (local.get $i) (local.get $count)))))
    (f64.store offset=0 (local.get $at) (local.get $s0))
    (f64.store offset=8 (local.get $at) (local.get $c0))
    (f64.store offset=16 (local.get $at) (local.get $s1))
    (f64.store offset=24 (local.get $at) (local.get $c1))
    (f64.store offset=32 (local.get $at) (local.get $s2))
    (f64.store offset=40 (local.get $at) (local.get $c2))
    (f64.store offset=48 (local.get $at) (local.get $s3))
    (f64.store offset=56 (local.get $at) (local.get $c3))
    (local.set $at (i32.add (i32.const 6400) (i32.shl (local.get $slot) (i32.const 3))))
    (f64.store (local.get $at) (f64.add (f64.load (local.get $at)) (f64.convert_i32_s (local.get $total))))
    (local.set $at (i32.add (i32.const 5376) (i32.shl (local.get $slot) (i32.const 6))))
    (local.set $i (i32.const 0))
    (loop $cells
      (f64.store (local.get $at)
        (f64.add (f64.load (local.get $at)) (f64.convert_i32_s (i32.load offset=4160 (i32.shl (local.get $i) (i32.const 2))))))
      (local.set $at (i32.add (local.get $at) (i32.const 8)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $cells (i32.lt_s (local.get $i) (i32.const 8)))))

  ;; The score-order pass of one resample (key $kb) over block positions [$start, $end), the open group's
  ;; sums $gp and $gn coming in. Per closed group: within += gp·(2·below + gn), below += gn, closed += gp
  ;; (int32: fused.ts states why they stay below 2³¹). Rows outside [$rowStart, $rowEnd) weigh 0 unless
  ;; $whole. Results at RANKOUT.
  (func (export "rank")
    (param $kb i32) (param $start i32) (param $end i32) (param $gp i32) (param $gn i32)
    (param $whole i32) (param $rowStart i32) (param $rowEnd i32)
    (local $j i32) (local $h i32) (local $w i32) (local $positive i32) (local $row i32)
    (local $below i32) (local $within i32) (local $closed i32)
    (local.set $j (local.get $start))
    (block $done
      (br_if $done (i32.ge_s (local.get $j) (local.get $end)))
      (loop $next
        ;; random.ts poissonWeight's second round and inverse CDF (inline: Node 20's V8 does not inline wasm calls).
        (local.set $h (i32.add (i32.load offset=8192 (i32.shl (local.get $j) (i32.const 2))) (local.get $kb)))
        (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))
        (local.set $h (i32.mul (local.get $h) (i32.const 0x7feb352d)))
        (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 15))))
        (local.set $h (i32.mul (local.get $h) (i32.const 0x846ca68b)))
        (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))
        (local.set $w (i32.load8_u (i32.shr_u (local.get $h) (i32.const 20))))
        (if (i32.eq (local.get $w) (i32.const 255))
          (then
            (local.set $w
              (i32.add
                (i32.add
                  (i32.add
                    (i32.add (i32.ge_u (local.get $h) (i32.load offset=4096 (i32.const 0))) (i32.ge_u (local.get $h) (i32.load offset=4100 (i32.const 0))))
                    (i32.add (i32.ge_u (local.get $h) (i32.load offset=4104 (i32.const 0))) (i32.ge_u (local.get $h) (i32.load offset=4108 (i32.const 0)))))
                  (i32.add
                    (i32.add (i32.ge_u (local.get $h) (i32.load offset=4112 (i32.const 0))) (i32.ge_u (local.get $h) (i32.load offset=4116 (i32.const 0))))
                    (i32.add (i32.ge_u (local.get $h) (i32.load offset=4120 (i32.const 0))) (i32.ge_u (local.get $h) (i32.load offset=4124 (i32.const 0))))))
                (i32.add
                  (i32.add
                    (i32.add (i32.ge_u (local.get $h) (i32.load offset=4128 (i32.const 0))) (i32.ge_u (local.get $h) (i32.load offset=4132 (i32.const 0))))
                    (i32.add (i32.ge_u (local.get $h) (i32.load offset=4136 (i32.const 0))) (i32.ge_u (local.get $h) (i32.load offset=4140 (i32.const 0)))))
                  (i32.const 0))))))
        (if (i32.eqz (local.get $whole))
          (then
            (local.set $row (i32.load offset=36864 (i32.shl (local.get $j) (i32.const 2))))
            (if (i32.or (i32.lt_s (local.get $row) (local.get $rowStart)) (i32.ge_s (local.get $row) (local.get $rowEnd)))
              (then (local.set $w (i32.const 0))))))
        ;; Branch-free: truth is random in score order.
        (local.set $positive (i32.and (local.get $w) (i32.sub (i32.const 0) (i32.load8_u offset=24576 (local.get $j)))))
        (local.set $gp (i32.add (local.get $gp) (local.get $positive)))
        (local.set $gn (i32.add (local.get $gn) (i32.sub (local.get $w) (local.get $positive))))
        (if (i32.load8_u offset=28672 (local.get $j))
          (then
            (local.set $within
              (i32.add (local.get $within) (i32.mul (local.get $gp) (i32.add (i32.shl (local.get $below) (i32.const 1)) (local.get $gn)))))
            (local.set $below (i32.add (local.get $below) (local.get $gn)))
            (local.set $closed (i32.add (local.get $closed) (local.get $gp)))
            (local.set $gp (i32.const 0))
            (local.set $gn (i32.const 0))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br_if $next (i32.lt_s (local.get $j) (local.get $end)))))
    (i32.store offset=4192 (i32.const 0) (local.get $within))
    (i32.store offset=4196 (i32.const 0) (local.get $below))
    (i32.store offset=4200 (i32.const 0) (local.get $closed))
    (i32.store offset=4204 (i32.const 0) (local.get $gp))
    (i32.store offset=4208 (i32.const 0) (local.get $gn)))
)
