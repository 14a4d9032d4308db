;; logbase batch scoring kernel: top-K articles per user by dot(user, article) + bias(article).
;; Hand-written WebAssembly text, compiled by scripts/build-scoring-wasm.ts (npm package wabt)
;; into kernel-wasm.ts. Two binaries come from this one file: "relaxed" as written
;; (f32x4.relaxed_madd, a fused multiply-add where the CPU has one) and "simd", where the build
;; rewrites every relaxed_madd into f32x4.mul + f32x4.add (WebAssembly SIMD 128 only).
;;
;; Memory (imported, laid out by lib/domain/scoring/kernel.ts; all offsets in bytes):
;;   0..63      scratch: the W scores of one tile row, for the scalar candidate loop
;;   users      float32 rows of 128 (512 bytes each), a multiple of R = tileUsers rows (zero rows pad)
;;   panel      articles in blocks of W = tileArticles: block b, dimension d, article W*b+i at
;;              (b*128 + d)*W*4 + i*4 bytes, already multiplied by the similarity weight
;;   bias       float32 per article of the panel; -inf for the padding articles
;;   states     one per user, `stride` = 8 + 8k bytes: threshold f32 (the score to beat:
;;              -inf until k entries are kept, then the worst kept score), count i32,
;;              then k entries (score f32, article index i32) as a min-heap whose root is
;;              the worst entry (lower score, or equal score and higher index)
;;   exOffsets  int32 per user + 1: user u's exclusions are exList[exOffsets[u] .. exOffsets[u+1])
;;   exList     int32 article indexes, sorted ascending per user
;;
;; The tile: 4 users x 12 articles, 12 f32x4 accumulators; per dimension 3 loads of the panel,
;; 4 broadcast loads of the users and 12 multiply-adds (48 multiply-adds of scalars). On arm64
;; (32 vector registers) it stays in registers; V8 on x86-64 has 15 for SIMD and spills three
;; accumulators: there 3x12, which fits, took about 10% less CPU (docs/ARCHITECTURE.md); 4x12
;; is kept for arm64, the Lambda target. The loop over the 128 dimensions is not unrolled by hand:
;; unrolled, V8 hoists every load of the body to its top and spills half the accumulators. The
;; repetitive parts (accumulator updates, epilogue) were written out by a throwaway script.
;; Articles are visited in ascending index order, so a candidate that only ties the worst kept
;; entry never displaces it: the tie-break (score desc, then index asc) holds with a strict
;; "greater than" test.
(module
  (import "env" "memory" (memory 0))

  (global $states (mut i32) (i32.const 0))
  (global $stride (mut i32) (i32.const 0))
  (global $k (mut i32) (i32.const 0))
  (global $exOffsets (mut i32) (i32.const 0))
  (global $exList (mut i32) (i32.const 0))

  ;; The tile, read by the driver (kernel.ts), which lays out users and panel for it.
  (global (export "tileUsers") i32 (i32.const 4))
  (global (export "tileArticles") i32 (i32.const 12))

  ;; 1 when heap entry $a ranks below entry $b: lower score, or the same score and a higher index.
  (func $worse (param $a i32) (param $b i32) (result i32)
    (local $sa f32) (local $sb f32)
    (local.set $sa (f32.load (local.get $a)))
    (local.set $sb (f32.load (local.get $b)))
    (i32.or
      (f32.lt (local.get $sa) (local.get $sb))
      (i32.and
        (f32.eq (local.get $sa) (local.get $sb))
        (i32.gt_s (i32.load offset=4 (local.get $a)) (i32.load offset=4 (local.get $b))))))

  (func $swap (param $a i32) (param $b i32)
    (local $t i64)
    (local.set $t (i64.load (local.get $a)))
    (i64.store (local.get $a) (i64.load (local.get $b)))
    (i64.store (local.get $b) (local.get $t)))

  ;; Moves entry $c of the heap at $e (entries of 8 bytes) up while it ranks below its parent.
  (func $siftUp (param $e i32) (param $c i32)
    (local $p i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $c)))
        (local.set $p (i32.shr_u (i32.sub (local.get $c) (i32.const 1)) (i32.const 1)))
        (br_if $done (i32.eqz (call $worse
          (i32.add (local.get $e) (i32.shl (local.get $c) (i32.const 3)))
          (i32.add (local.get $e) (i32.shl (local.get $p) (i32.const 3))))))
        (call $swap
          (i32.add (local.get $e) (i32.shl (local.get $c) (i32.const 3)))
          (i32.add (local.get $e) (i32.shl (local.get $p) (i32.const 3))))
        (local.set $c (local.get $p))
        (br $next))))

  ;; Moves the root of the heap at $e, of $count entries, down below every worse child.
  (func $siftDown (param $e i32) (param $count i32)
    (local $c i32) (local $l i32) (local $w i32)
    (block $done
      (loop $next
        (local.set $l (i32.add (i32.shl (local.get $c) (i32.const 1)) (i32.const 1)))
        (br_if $done (i32.ge_u (local.get $l) (local.get $count)))
        (local.set $w (local.get $c))
        (if (call $worse
              (i32.add (local.get $e) (i32.shl (local.get $l) (i32.const 3)))
              (i32.add (local.get $e) (i32.shl (local.get $w) (i32.const 3))))
          (then (local.set $w (local.get $l))))
        (local.set $l (i32.add (local.get $l) (i32.const 1)))
        (if (i32.lt_u (local.get $l) (local.get $count))
          (then
            (if (call $worse
                  (i32.add (local.get $e) (i32.shl (local.get $l) (i32.const 3)))
                  (i32.add (local.get $e) (i32.shl (local.get $w) (i32.const 3))))
              (then (local.set $w (local.get $l))))))
        (br_if $done (i32.eq (local.get $w) (local.get $c)))
        (call $swap
          (i32.add (local.get $e) (i32.shl (local.get $c) (i32.const 3)))
          (i32.add (local.get $e) (i32.shl (local.get $w) (i32.const 3))))
        (local.set $c (local.get $w))
        (br $next))))

  ;; Keeps (score, index) in the user's heap at $st, unless the index is in the user's sorted
  ;; exclusions [$ex, $ex + 4 * $exN). The caller checked that score beats the threshold.
  (func $offer (param $st i32) (param $score f32) (param $index i32) (param $ex i32) (param $exN i32)
    (local $lo i32) (local $hi i32) (local $mid i32) (local $v i32) (local $count i32) (local $e i32)
    ;; binary search of the exclusions
    (local.set $hi (local.get $exN))
    (block $absent
      (loop $search
        (br_if $absent (i32.ge_u (local.get $lo) (local.get $hi)))
        (local.set $mid (i32.shr_u (i32.add (local.get $lo) (local.get $hi)) (i32.const 1)))
        (local.set $v (i32.load (i32.add (local.get $ex) (i32.shl (local.get $mid) (i32.const 2)))))
        (if (i32.eq (local.get $v) (local.get $index)) (then (return)))
        (if (i32.lt_s (local.get $v) (local.get $index))
          (then (local.set $lo (i32.add (local.get $mid) (i32.const 1))))
          (else (local.set $hi (local.get $mid))))
        (br $search)))
    (local.set $e (i32.add (local.get $st) (i32.const 8)))
    (local.set $count (i32.load offset=4 (local.get $st)))
    (if (i32.lt_u (local.get $count) (global.get $k))
      (then
        ;; not full yet: append and sift up; once full the threshold becomes the root's score
        (f32.store (i32.add (local.get $e) (i32.shl (local.get $count) (i32.const 3))) (local.get $score))
        (i32.store offset=4 (i32.add (local.get $e) (i32.shl (local.get $count) (i32.const 3))) (local.get $index))
        (call $siftUp (local.get $e) (local.get $count))
        (local.set $count (i32.add (local.get $count) (i32.const 1)))
        (i32.store offset=4 (local.get $st) (local.get $count))
        (if (i32.eq (local.get $count) (global.get $k))
          (then (f32.store (local.get $st) (f32.load (local.get $e))))))
      (else
        ;; full: the candidate replaces the worst kept entry
        (f32.store (local.get $e) (local.get $score))
        (i32.store offset=4 (local.get $e) (local.get $index))
        (call $siftDown (local.get $e) (local.get $count))
        (f32.store (local.get $st) (f32.load (local.get $e))))))

  ;; The slow path of one tile row: the W scores in scratch, articles $j0 .. $j0 + W - 1, user $u.
  (func $offerTile (param $u i32) (param $st i32) (param $j0 i32)
    (local $l i32) (local $s f32) (local $exStart i32) (local $ex i32) (local $exN i32)
    (local.set $ex (i32.add (global.get $exOffsets) (i32.shl (local.get $u) (i32.const 2))))
    (local.set $exStart (i32.load (local.get $ex)))
    (local.set $exN (i32.sub (i32.load offset=4 (local.get $ex)) (local.get $exStart)))
    (local.set $ex (i32.add (global.get $exList) (i32.shl (local.get $exStart) (i32.const 2))))
    (loop $lane
      (local.set $s (f32.load (i32.shl (local.get $l) (i32.const 2))))
      (if (f32.gt (local.get $s) (f32.load (local.get $st)))
        (then (call $offer (local.get $st) (local.get $s) (i32.add (local.get $j0) (local.get $l))
                (local.get $ex) (local.get $exN))))
      (local.set $l (i32.add (local.get $l) (i32.const 1)))
      (br_if $lane (i32.lt_u (local.get $l) (i32.const 12)))))

  ;; Scores user blocks [0, $userBlocks) (R users each, rows at $users) against panel blocks
  ;; [$blockBegin, $blockEnd) and offers every candidate to the users' heaps. Called once per
  ;; chunk of the panel, so the chunk stays in the core's cache while all users pass over it.
  (func (export "score")
    (param $users i32) (param $userBlocks i32) (param $panel i32) (param $bias i32)
    (param $blockBegin i32) (param $blockEnd i32)
    (param $statesAt i32) (param $strideBytes i32) (param $kept i32) (param $exOffsetsAt i32) (param $exListAt i32)
    (local $ub i32) (local $ab i32) (local $p i32) (local $q i32) (local $qEnd i32)
    (local $u0 i32) (local $u i32) (local $st i32) (local $j0 i32)
    (local $a v128) (local $b0 v128) (local $b1 v128) (local $b2 v128)
    (local $c00 v128) (local $c01 v128) (local $c02 v128)
    (local $c10 v128) (local $c11 v128) (local $c12 v128)
    (local $c20 v128) (local $c21 v128) (local $c22 v128)
    (local $c30 v128) (local $c31 v128) (local $c32 v128)
    (global.set $states (local.get $statesAt))
    (global.set $stride (local.get $strideBytes))
    (global.set $k (local.get $kept))
    (global.set $exOffsets (local.get $exOffsetsAt))
    (global.set $exList (local.get $exListAt))
    (if (i32.or (i32.eqz (local.get $userBlocks)) (i32.ge_u (local.get $blockBegin) (local.get $blockEnd)))
      (then (return)))
    (loop $userBlock
      (local.set $u0 (i32.mul (local.get $ub) (i32.const 4)))
      (local.set $ab (local.get $blockBegin))
      (loop $articleBlock
        (local.set $c00 (v128.const i32x4 0 0 0 0))
        (local.set $c01 (v128.const i32x4 0 0 0 0))
        (local.set $c02 (v128.const i32x4 0 0 0 0))
        (local.set $c10 (v128.const i32x4 0 0 0 0))
        (local.set $c11 (v128.const i32x4 0 0 0 0))
        (local.set $c12 (v128.const i32x4 0 0 0 0))
        (local.set $c20 (v128.const i32x4 0 0 0 0))
        (local.set $c21 (v128.const i32x4 0 0 0 0))
        (local.set $c22 (v128.const i32x4 0 0 0 0))
        (local.set $c30 (v128.const i32x4 0 0 0 0))
        (local.set $c31 (v128.const i32x4 0 0 0 0))
        (local.set $c32 (v128.const i32x4 0 0 0 0))
        (local.set $p (i32.add (local.get $users) (i32.mul (local.get $ub) (i32.const 2048))))
        (local.set $q (i32.add (local.get $panel) (i32.mul (local.get $ab) (i32.const 6144))))
        (local.set $qEnd (i32.add (local.get $q) (i32.const 6144)))
        (loop $dims
          (local.set $b0 (v128.load offset=0 (local.get $q)))
          (local.set $b1 (v128.load offset=16 (local.get $q)))
          (local.set $b2 (v128.load offset=32 (local.get $q)))
          (local.set $a (v128.load32_splat offset=0 (local.get $p)))
          (local.set $c00 (f32x4.relaxed_madd (local.get $a) (local.get $b0) (local.get $c00)))
          (local.set $c01 (f32x4.relaxed_madd (local.get $a) (local.get $b1) (local.get $c01)))
          (local.set $c02 (f32x4.relaxed_madd (local.get $a) (local.get $b2) (local.get $c02)))
          (local.set $a (v128.load32_splat offset=512 (local.get $p)))
          (local.set $c10 (f32x4.relaxed_madd (local.get $a) (local.get $b0) (local.get $c10)))
          (local.set $c11 (f32x4.relaxed_madd (local.get $a) (local.get $b1) (local.get $c11)))
          (local.set $c12 (f32x4.relaxed_madd (local.get $a) (local.get $b2) (local.get $c12)))
          (local.set $a (v128.load32_splat offset=1024 (local.get $p)))
          (local.set $c20 (f32x4.relaxed_madd (local.get $a) (local.get $b0) (local.get $c20)))
          (local.set $c21 (f32x4.relaxed_madd (local.get $a) (local.get $b1) (local.get $c21)))
          (local.set $c22 (f32x4.relaxed_madd (local.get $a) (local.get $b2) (local.get $c22)))
          (local.set $a (v128.load32_splat offset=1536 (local.get $p)))
          (local.set $c30 (f32x4.relaxed_madd (local.get $a) (local.get $b0) (local.get $c30)))
          (local.set $c31 (f32x4.relaxed_madd (local.get $a) (local.get $b1) (local.get $c31)))
          (local.set $c32 (f32x4.relaxed_madd (local.get $a) (local.get $b2) (local.get $c32)))
          (local.set $p (i32.add (local.get $p) (i32.const 4)))
          (local.set $q (i32.add (local.get $q) (i32.const 48)))
          (br_if $dims (i32.lt_u (local.get $q) (local.get $qEnd))))
        ;; epilogue: add the bias, and take the slow path only for a row with a score that beats its threshold
        (local.set $j0 (i32.mul (local.get $ab) (i32.const 12)))
        (local.set $b0 (v128.load offset=0 (i32.add (local.get $bias) (i32.shl (local.get $j0) (i32.const 2)))))
        (local.set $b1 (v128.load offset=16 (i32.add (local.get $bias) (i32.shl (local.get $j0) (i32.const 2)))))
        (local.set $b2 (v128.load offset=32 (i32.add (local.get $bias) (i32.shl (local.get $j0) (i32.const 2)))))
        ;; user 4 * block + 0
        (local.set $u (i32.add (local.get $u0) (i32.const 0)))
        (local.set $st (i32.add (global.get $states) (i32.mul (local.get $u) (global.get $stride))))
        (local.set $c00 (f32x4.add (local.get $c00) (local.get $b0)))
        (local.set $c01 (f32x4.add (local.get $c01) (local.get $b1)))
        (local.set $c02 (f32x4.add (local.get $c02) (local.get $b2)))
        (local.set $a (v128.load32_splat (local.get $st)))
        (if (v128.any_true (v128.or (v128.or (f32x4.gt (local.get $c00) (local.get $a)) (f32x4.gt (local.get $c01) (local.get $a))) (f32x4.gt (local.get $c02) (local.get $a))))
          (then
            (v128.store offset=0 (i32.const 0) (local.get $c00))
            (v128.store offset=16 (i32.const 0) (local.get $c01))
            (v128.store offset=32 (i32.const 0) (local.get $c02))
            (call $offerTile (local.get $u) (local.get $st) (local.get $j0))))
        ;; user 4 * block + 1
        (local.set $u (i32.add (local.get $u0) (i32.const 1)))
        (local.set $st (i32.add (global.get $states) (i32.mul (local.get $u) (global.get $stride))))
        (local.set $c10 (f32x4.add (local.get $c10) (local.get $b0)))
        (local.set $c11 (f32x4.add (local.get $c11) (local.get $b1)))
        (local.set $c12 (f32x4.add (local.get $c12) (local.get $b2)))
        (local.set $a (v128.load32_splat (local.get $st)))
        (if (v128.any_true (v128.or (v128.or (f32x4.gt (local.get $c10) (local.get $a)) (f32x4.gt (local.get $c11) (local.get $a))) (f32x4.gt (local.get $c12) (local.get $a))))
          (then
            (v128.store offset=0 (i32.const 0) (local.get $c10))
            (v128.store offset=16 (i32.const 0) (local.get $c11))
            (v128.store offset=32 (i32.const 0) (local.get $c12))
            (call $offerTile (local.get $u) (local.get $st) (local.get $j0))))
        ;; user 4 * block + 2
        (local.set $u (i32.add (local.get $u0) (i32.const 2)))
        (local.set $st (i32.add (global.get $states) (i32.mul (local.get $u) (global.get $stride))))
        (local.set $c20 (f32x4.add (local.get $c20) (local.get $b0)))
        (local.set $c21 (f32x4.add (local.get $c21) (local.get $b1)))
        (local.set $c22 (f32x4.add (local.get $c22) (local.get $b2)))
        (local.set $a (v128.load32_splat (local.get $st)))
        (if (v128.any_true (v128.or (v128.or (f32x4.gt (local.get $c20) (local.get $a)) (f32x4.gt (local.get $c21) (local.get $a))) (f32x4.gt (local.get $c22) (local.get $a))))
          (then
            (v128.store offset=0 (i32.const 0) (local.get $c20))
            (v128.store offset=16 (i32.const 0) (local.get $c21))
            (v128.store offset=32 (i32.const 0) (local.get $c22))
            (call $offerTile (local.get $u) (local.get $st) (local.get $j0))))
        ;; user 4 * block + 3
        (local.set $u (i32.add (local.get $u0) (i32.const 3)))
        (local.set $st (i32.add (global.get $states) (i32.mul (local.get $u) (global.get $stride))))
        (local.set $c30 (f32x4.add (local.get $c30) (local.get $b0)))
        (local.set $c31 (f32x4.add (local.get $c31) (local.get $b1)))
        (local.set $c32 (f32x4.add (local.get $c32) (local.get $b2)))
        (local.set $a (v128.load32_splat (local.get $st)))
        (if (v128.any_true (v128.or (v128.or (f32x4.gt (local.get $c30) (local.get $a)) (f32x4.gt (local.get $c31) (local.get $a))) (f32x4.gt (local.get $c32) (local.get $a))))
          (then
            (v128.store offset=0 (i32.const 0) (local.get $c30))
            (v128.store offset=16 (i32.const 0) (local.get $c31))
            (v128.store offset=32 (i32.const 0) (local.get $c32))
            (call $offerTile (local.get $u) (local.get $st) (local.get $j0))))
        (local.set $ab (i32.add (local.get $ab) (i32.const 1)))
        (br_if $articleBlock (i32.lt_u (local.get $ab) (local.get $blockEnd))))
      (local.set $ub (i32.add (local.get $ub) (i32.const 1)))
      (br_if $userBlock (i32.lt_u (local.get $ub) (local.get $userBlocks)))))

  ;; Writes each of $n users' kept entries best first (score desc, then index asc) to
  ;; outIndexes / outScores (k slots per user; -1 and NaN past the kept ones). Empties the heaps.
  (func (export "finish")
    (param $statesAt i32) (param $strideBytes i32) (param $kept i32) (param $n i32)
    (param $outIndexes i32) (param $outScores i32)
    (local $u i32) (local $st i32) (local $e i32) (local $count i32) (local $pos i32) (local $oi i32) (local $os i32)
    (if (i32.eqz (local.get $n)) (then (return)))
    (loop $user
      (local.set $st (i32.add (local.get $statesAt) (i32.mul (local.get $u) (local.get $strideBytes))))
      (local.set $e (i32.add (local.get $st) (i32.const 8)))
      (local.set $count (i32.load offset=4 (local.get $st)))
      (local.set $oi (i32.add (local.get $outIndexes) (i32.shl (i32.mul (local.get $u) (local.get $kept)) (i32.const 2))))
      (local.set $os (i32.add (local.get $outScores) (i32.shl (i32.mul (local.get $u) (local.get $kept)) (i32.const 2))))
      (local.set $pos (local.get $kept))
      (block $filled
        (loop $pad
          (br_if $filled (i32.le_u (local.get $pos) (local.get $count)))
          (local.set $pos (i32.sub (local.get $pos) (i32.const 1)))
          (i32.store (i32.add (local.get $oi) (i32.shl (local.get $pos) (i32.const 2))) (i32.const -1))
          (f32.store (i32.add (local.get $os) (i32.shl (local.get $pos) (i32.const 2))) (f32.const nan))
          (br $pad)))
      (block $emptied
        (loop $pop
          (br_if $emptied (i32.eqz (local.get $count)))
          (local.set $count (i32.sub (local.get $count) (i32.const 1)))
          (i32.store (i32.add (local.get $oi) (i32.shl (local.get $count) (i32.const 2))) (i32.load offset=4 (local.get $e)))
          (f32.store (i32.add (local.get $os) (i32.shl (local.get $count) (i32.const 2))) (f32.load (local.get $e)))
          (i64.store (local.get $e) (i64.load (i32.add (local.get $e) (i32.shl (local.get $count) (i32.const 3)))))
          (call $siftDown (local.get $e) (local.get $count))
          (br $pop)))
      (i32.store offset=4 (local.get $st) (i32.const 0))
      (local.set $u (i32.add (local.get $u) (i32.const 1)))
      (br_if $user (i32.lt_u (local.get $u) (local.get $n)))))
)
