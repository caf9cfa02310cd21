/* Fused CPU neuron kernels, compiled at first use by _build.py with the system C compiler.

   One kernel family covers LIF and IF (IF is LIF with beta = 1, v_leak = 0); CubaLIF and ALIF have two-variable
   kernels with the same argument layout; LI, spike packing and the event-driven synapse gathers complete the set.
   Each call runs a whole sequence: threads split the neurons, every thread walks over time for its own neurons
   (the inner loop over neurons vectorises). The LIF forward stores nothing (the backward recomputes the pre-reset
   membrane h from the input x, block by block, into a small scratch), or only h (spikes are h >= threshold again
   in the backward), or, lean, h - threshold in half precision (precise where the surrogate peaks) plus spike bits; the backward is the exact BPTT recursion of the discrete update, written out by hand
   (the derivations are in the docstrings of _lif.py, _two_state.py and _li.py beside this file). Floating-point
   contraction is off so that the forward is bit-identical to the torch reference.

   Every exported function is declared in sf_kernels.h (the compiler checks the definitions against it); the
   ctypes side declares the same signatures once, in _signatures.py, and tests/kernels/test_signatures.py checks
   that the table and the header agree. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "sf_kernels.h"
#ifdef __AVX512F__
#include <immintrin.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#define SF_THREAD_NUM() omp_get_thread_num()
#define SF_THREADS() omp_get_num_threads()
#else
#define SF_THREAD_NUM() 0
#define SF_THREADS() 1
#endif

/* surrogate ids: 0 fast sigmoid, 1 sigmoid, 2 atan, 3 triangle, 4 boxcar, 5 straight through; 6 (SF_SURR_ARRAY):
   any other surrogate, whose derivative the caller evaluated over the stored tensor (its own vectorised torch op)
   and passes as the array gs, one value per neuron and step, read at the index of the step (SURR_AT). */
#define SF_SURR_ARRAY 6
#define ABS(a) ((a) < 0 ? -(a) : (a))
#define SURR(T, s, kind, k) \
    ((kind) == 0 ? (T)1 / (((T)1 + (k) * ABS(s)) * ((T)1 + (k) * ABS(s))) : \
     (kind) == 1 ? sigm_##T((k) * (s)) * (k) * ((T)1 - sigm_##T((k) * (s))) : \
     (kind) == 2 ? (k) / (T)2 / ((T)1 + ((T)1.5707963267948966 * (k) * (s)) * ((T)1.5707963267948966 * (k) * (s))) : \
     (kind) == 3 ? ((T)1 - ABS(s) / (k) > 0 ? ((T)1 - ABS(s) / (k)) / (k) : (T)0) : \
     (kind) == 4 ? (ABS(s) < (k) / (T)2 ? (T)1 / (k) : (T)0) : (T)1)

#define SURR_AT(T, s, kind, k, gs, q) ((kind) == SF_SURR_ARRAY ? (gs)[q] : SURR(T, s, kind, k))

static inline float sigm_float(float a) { return 1.0f / (1.0f + expf(-a)); }
static inline double sigm_double(double a) { return 1.0 / (1.0 + exp(-a)); }

/* half-precision storage of h (IEEE binary16, round to nearest even). Where the compiler targets F16C it converts
   with the hardware instructions (vcvtps2ph / vcvtph2ps); elsewhere by the bit arithmetic below. Both
   round the same way; only a NaN's payload may differ. */
#if defined(__F16C__)
#include <immintrin.h>
static inline uint16_t f2h(float f) { return (uint16_t)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT); }
static inline float h2f(uint16_t u) { return _cvtsh_ss(u); }
#else
static inline uint16_t f2h(float f) {
    uint32_t x; memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    int32_t e = (int32_t)((x >> 23) & 0xff) - 127 + 15;
    uint32_t m = x & 0x7fffffu;
    if (((x >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00u | (m ? 0x200u : 0));
    if (e >= 31) return (uint16_t)(sign | 0x7c00u);
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;
        m |= 0x800000u;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t hm = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (hm & 1))) hm++;
        return (uint16_t)(sign | hm);
    }
    uint32_t hm = m >> 13, rem = m & 0x1fffu;
    uint32_t out = sign | ((uint32_t)e << 10) | hm;
    if (rem > 0x1000u || (rem == 0x1000u && (hm & 1))) out++;
    return (uint16_t)out;
}
static inline float h2f(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ffu, x;
    if (e == 0) {
        if (m == 0) { x = sign; }
        else { e = 1; while (!(m & 0x400u)) { m <<= 1; e--; } m &= 0x3ffu; x = sign | ((e + 112) << 23) | (m << 13); }
    } else if (e == 31) { x = sign | 0x7f800000u | (m << 13); }
    else { x = sign | ((e + 112) << 23) | (m << 13); }
    float f; memcpy(&f, &x, 4); return f;
}
#endif

/* rows of half-precision values (the lean store): f2h's and h2f's rounding, 8 values at a time where the compiler
   targets F16C (the scalar conversions inside a loop keep it from vectorising: the lean forward took 16 ms on
   [20, 295936] against 5 for the stores in the input dtype) */
static inline void sf_to_half(uint16_t *dst, const float *src, long n) {
    long j = 0;
#if defined(__F16C__)
    for (; j + 8 <= n; j += 8)
        _mm_storeu_si128((__m128i *)(dst + j), _mm256_cvtps_ph(_mm256_loadu_ps(src + j), _MM_FROUND_TO_NEAREST_INT));
#endif
    for (; j < n; j++) dst[j] = f2h(src[j]);
}
static inline void sf_from_half(float *dst, const uint16_t *src, long n) {
    long j = 0;
#if defined(__F16C__)
    for (; j + 8 <= n; j += 8) _mm256_storeu_ps(dst + j, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + j))));
#endif
    for (; j < n; j++) dst[j] = h2f(src[j]);
}

/* work is handed out in blocks, dynamically: on a shared machine a descheduled thread delays one block */
#define SF_BLK 256
/* The LIF, CubaLIF and ALIF kernels size their blocks per call (sf_block): long rows run better (on this project's
   Xeon a LIF forward + backward over [20, 295936] took 20-30 % less time with blocks of 1024 than of 256), but a
   block's recomputed states (T x block values) should stay near SF_SCRATCH values per thread, and every thread
   should get a block. SF_BLK_MAX also sizes the per-block state arrays on the stack. */
#define SF_BLK_MAX 4096
#define SF_SCRATCH (1L << 16)
static inline long sf_block(long nt_, long n, int threads, int scratch) {
    long b = scratch ? SF_SCRATCH / (nt_ > 0 ? nt_ : 1) : SF_BLK_MAX;
    long share = (n + (threads > 0 ? threads : 1) - 1) / (threads > 0 ? threads : 1);
    if (b > share) b = share;
    if (b > SF_BLK_MAX) b = SF_BLK_MAX;
    b = b / 16 * 16;
    return b < 16 ? 16 : b;
}
/* values of scratch per thread a recomputing backward over nt_ steps may use (one state variable) */
long sf_scratch_f32(long nt_) { return nt_ * sf_block(nt_, SF_BLK_MAX, 1, 1); }
long sf_scratch_f64(long nt_) { return nt_ * sf_block(nt_, SF_BLK_MAX, 1, 1); }

/* reset: 0 subtract, 1 zero, 2 none. store: 0 none (inference, and training whose backward recomputes h from x:
   the caller passes 0 then), 1 same dtype, 2 half.
   uni: beta and thr hold one value repeated (the caller knows: a number or a one-element tensor); the loops then
   read beta[0] and thr[0] once instead of two per-neuron arrays, which took 15-20% off a plain loop over 5.9 M
   neurons with cold memory. The arrays are still whole, so a body that ignores uni is correct: the lean store
   (2) does, because its forward ran 30% slower when the uniform case shared its body.
   The per-block bodies are always inlined into a dispatcher that passes the mode flags as literal constants, so the
   compiler emits one branch-free (vectorised) inner loop per common mode; rarer modes run the generic body. The
   arrays of one call never overlap (every output is a fresh tensor), which `ivdep` tells the compiler: without it
   GCC gives up on the run-time overlap checks of the loop with stored h (too many pointer pairs). */
#define SF_INLINE static inline __attribute__((always_inline))
#define DEFINE_FWD(T, NAME) \
SF_INLINE void NAME##_blk(const T *x, const T *v0, const T *beta, const T *thr, T *z, void *hs, T *v, \
                          long nt_, long n, T vl, T vr, const int reset, const int store, long lo, long hi) { \
    float half_row[store == 2 ? SF_BLK_MAX : 1]; /* lean: h - thr of this block's row, converted after the loop */ \
    for (long j = lo; j < hi; j++) v[j] = v0[j]; \
    for (long t = 0; t < nt_; t++) { \
        const T *xt = x + t * n; T *zt = z + t * n; T *ht = (T *)hs + (store == 1 ? t * n : 0); \
        _Pragma("GCC ivdep") for (long j = lo; j < hi; j++) { \
            T h = (vl + beta[j] * (v[j] - vl)) + xt[j]; \
            T s = (T)(h - thr[j] >= 0); /* 0 or 1 without a branch */ \
            zt[j] = s; \
            if (store == 1) ht[j] = h; \
            else if (store == 2) half_row[j - lo] = (float)(h - thr[j]); \
            v[j] = reset == 0 ? h - s * thr[j] : reset == 1 ? h - s * (h - vr) : h; \
        } \
        if (store == 2) sf_to_half((uint16_t *)hs + t * n + lo, half_row, hi - lo); \
    } \
} \
/* the same with one beta and one threshold for every neuron (uni), h stored in the input dtype or not at all */ \
SF_INLINE void NAME##_blk_uni(const T *x, const T *v0, T beta, T thr, T *z, T *hs, T *v, long nt_, long n, T vl, \
                              T vr, const int reset, const int store, long lo, long hi) { \
    for (long j = lo; j < hi; j++) v[j] = v0[j]; \
    for (long t = 0; t < nt_; t++) { \
        const T *xt = x + t * n; T *zt = z + t * n; T *ht = hs + (store == 1 ? t * n : 0); \
        _Pragma("GCC ivdep") for (long j = lo; j < hi; j++) { \
            T h = (vl + beta * (v[j] - vl)) + xt[j]; \
            T s = (T)(h - thr >= 0); \
            zt[j] = s; \
            if (store == 1) ht[j] = h; \
            v[j] = reset == 0 ? h - s * thr : reset == 1 ? h - s * (h - vr) : h; \
        } \
    } \
} \
void NAME(const T *x, const T *v0, const T *beta, const T *thr, T *z, void *hs, T *v, \
          long nt_, long n, T vl, T vr, int reset, int store, int uni, int threads) { \
    if (threads < 1) threads = 1; \
    long bs = sf_block(nt_, n, threads, 0); \
    _Pragma("omp parallel for num_threads(threads) schedule(dynamic, 1)") \
    for (long blk = 0; blk < (n + bs - 1) / bs; blk++) { \
        long lo = blk * bs, hi = lo + bs < n ? lo + bs : n; \
        switch ((uni && store != 2 ? 9 : 0) + store * 3 + reset) { /* lean (store 2): the arrays */ \
        case 0: NAME##_blk(x, v0, beta, thr, z, hs, v, nt_, n, vl, vr, 0, 0, lo, hi); break; \
        case 1: NAME##_blk(x, v0, beta, thr, z, hs, v, nt_, n, vl, vr, 1, 0, lo, hi); break; \
        case 2: NAME##_blk(x, v0, beta, thr, z, hs, v, nt_, n, vl, vr, 2, 0, lo, hi); break; \
        case 3: NAME##_blk(x, v0, beta, thr, z, hs, v, nt_, n, vl, vr, 0, 1, lo, hi); break; \
        case 4: NAME##_blk(x, v0, beta, thr, z, hs, v, nt_, n, vl, vr, 1, 1, lo, hi); break; \
        case 5: NAME##_blk(x, v0, beta, thr, z, hs, v, nt_, n, vl, vr, 2, 1, lo, hi); break; \
        case 6: NAME##_blk(x, v0, beta, thr, z, hs, v, nt_, n, vl, vr, 0, 2, lo, hi); break; \
        case 7: NAME##_blk(x, v0, beta, thr, z, hs, v, nt_, n, vl, vr, 1, 2, lo, hi); break; \
        case 8: NAME##_blk(x, v0, beta, thr, z, hs, v, nt_, n, vl, vr, 2, 2, lo, hi); break; \
        case 9: NAME##_blk_uni(x, v0, beta[0], thr[0], z, (T *)hs, v, nt_, n, vl, vr, 0, 0, lo, hi); break; \
        case 10: NAME##_blk_uni(x, v0, beta[0], thr[0], z, (T *)hs, v, nt_, n, vl, vr, 1, 0, lo, hi); break; \
        case 11: NAME##_blk_uni(x, v0, beta[0], thr[0], z, (T *)hs, v, nt_, n, vl, vr, 2, 0, lo, hi); break; \
        case 12: NAME##_blk_uni(x, v0, beta[0], thr[0], z, (T *)hs, v, nt_, n, vl, vr, 0, 1, lo, hi); break; \
        case 13: NAME##_blk_uni(x, v0, beta[0], thr[0], z, (T *)hs, v, nt_, n, vl, vr, 1, 1, lo, hi); break; \
        case 14: NAME##_blk_uni(x, v0, beta[0], thr[0], z, (T *)hs, v, nt_, n, vl, vr, 2, 1, lo, hi); break; \
        default: NAME##_blk(x, v0, beta, thr, z, hs, v, nt_, n, vl, vr, reset, store, lo, hi); \
        } \
    } \
}

/* Backward of the sequence. a = dL/dv_t carried backwards, starting from dL/dv_T.
   dh_t = dz_t * g_t + a * dv_t/dh_t ; dthr += -dz_t * g_t + a * dv_t/dthr ; dx_t = dh_t ;
   dbeta += dh_t * (v_{t-1} - vl) ; a = beta * dh_t. Spikes are recomputed from h (store 1) or kept as bits.
   Specialised (constant flags) for the training default: h stored or recomputed in the same dtype, or lean storage,
   spike gradients present, no learnable beta or threshold; every surrogate and reset. */
#define DEFINE_BWD(T, NAME) \
SF_INLINE void NAME##_redo_r(const T *x, const T *v0, const T *beta, const T *thr, T *h_out, long nt_, long n, T vl, \
                             T vr, const int reset, long lo, long hi, const int uni) { \
    T v[SF_BLK_MAX]; long w = hi - lo; const T beta0 = beta[0], thr0 = thr[0]; \
    for (long j = 0; j < w; j++) v[j] = v0[lo + j]; \
    for (long t = 0; t < nt_; t++) { \
        const T *xt = x + t * n + lo; T *ht = h_out + t * w; \
        _Pragma("GCC ivdep") for (long j = 0; j < w; j++) { /* the forward's update, operation for operation */ \
            const T bj = uni ? beta0 : beta[lo + j], tj = uni ? thr0 : thr[lo + j]; \
            T h = (vl + bj * (v[j] - vl)) + xt[j]; \
            T s = (T)(h - tj >= 0); \
            ht[j] = h; \
            v[j] = reset == 0 ? h - s * tj : reset == 1 ? h - s * (h - vr) : h; \
        } \
    } \
} \
static void NAME##_redo(const void *x, const T *v0, const T *beta, const T *thr, T *h_out, long nt_, long n, T vl, \
                        T vr, int reset, long lo, long hi, int uni) { \
    switch ((uni ? 3 : 0) + reset) { \
    case 0: NAME##_redo_r((const T *)x, v0, beta, thr, h_out, nt_, n, vl, vr, 0, lo, hi, 0); break; \
    case 1: NAME##_redo_r((const T *)x, v0, beta, thr, h_out, nt_, n, vl, vr, 1, lo, hi, 0); break; \
    case 3: NAME##_redo_r((const T *)x, v0, beta, thr, h_out, nt_, n, vl, vr, 0, lo, hi, 1); break; \
    case 4: NAME##_redo_r((const T *)x, v0, beta, thr, h_out, nt_, n, vl, vr, 1, lo, hi, 1); break; \
    case 5: NAME##_redo_r((const T *)x, v0, beta, thr, h_out, nt_, n, vl, vr, 2, lo, hi, 1); break; \
    default: NAME##_redo_r((const T *)x, v0, beta, thr, h_out, nt_, n, vl, vr, 2, lo, hi, 0); \
    } \
} \
SF_INLINE void NAME##_blk(const T *dz, const T *dvT, const void *hs, const uint8_t *zbits, const T *gs, const T *v0, \
                          const T *beta, const T *thr, T *dx, T *dv0, T *dbeta, T *dthr, long nt_, long n, T vl, \
                          T vr, const int reset, int detach, const int store, const int surr, T k, \
                          const int has_dz, const int has_dbeta, const int has_dthr, long lo, long hi, long hn, \
                          long hoff, long xn, long xoff, const int uni) { \
    const T beta0 = beta[0], thr0 = thr[0]; \
    float half_row[store == 2 ? SF_BLK_MAX : 1]; T bit_row[store == 2 ? SF_BLK_MAX : 1]; /* lean: a row, unpacked */ \
    for (long j = lo; j < hi; j++) { \
        dv0[j] = dvT ? dvT[j] : (T)0; \
        if (has_dbeta) dbeta[j] = 0; \
        if (has_dthr) dthr[j] = 0; \
    } \
    for (long t = nt_ - 1; t >= 0; t--) { \
        if (store == 2) { \
            sf_from_half(half_row, (const uint16_t *)hs + t * n + lo, hi - lo); \
            for (long j = lo; j < hi; j++) bit_row[j - lo] = (T)((zbits[(t * n + j) >> 3] >> ((t * n + j) & 7)) & 1); \
        } \
        _Pragma("GCC ivdep") for (long j = lo; j < hi; j++) { \
            long i = t * n + j; \
            T th = uni ? thr0 : thr[j]; \
            T h = store == 2 ? (T)half_row[j - lo] + th : ((const T *)hs)[t * hn + j - hoff]; \
            T s = h - th; \
            T zz = store == 2 ? bit_row[j - lo] : (s >= 0 ? (T)1 : (T)0); \
            T g = SURR_AT(T, s, surr, k, gs, i); \
            T a = dv0[j]; \
            T gz = has_dz ? dz[i] : (T)0; \
            T dvdh, dvdth; \
            if (reset == 0) { dvdh = detach ? (T)1 : (T)1 - th * g; dvdth = detach ? -zz : -zz + th * g; } \
            else if (reset == 1) { \
                dvdh = detach ? (T)1 - zz : (T)1 - zz - (h - vr) * g; dvdth = detach ? (T)0 : (h - vr) * g; } \
            else { dvdh = (T)1; dvdth = (T)0; } \
            T dh = gz * g + a * dvdh; \
            if (has_dthr) dthr[j] += -gz * g + a * dvdth; \
            dx[t * xn + j - xoff] = dh; \
            if (has_dbeta) { \
                T vp; \
                if (t == 0) vp = v0[j]; \
                else { \
                    long ip = i - n; \
                    T hp = store == 2 ? (T)h2f(((const uint16_t *)hs)[ip]) + th : ((const T *)hs)[(t - 1) * hn + j - hoff]; \
                    T zp = store == 2 ? (T)((zbits[ip >> 3] >> (ip & 7)) & 1) : (hp - th >= 0 ? (T)1 : (T)0); \
                    vp = reset == 0 ? hp - zp * th : reset == 1 ? hp - zp * (hp - vr) : hp; \
                } \
                dbeta[j] += dh * (vp - vl); \
            } \
            dv0[j] = (uni ? beta0 : beta[j]) * dh; \
        } \
    } \
} \
void NAME(const T *dz, const T *dvT, const void *hs, const uint8_t *zbits, const T *gs, const T *v0, \
          const T *beta, const T *thr, T *dx, T *dv0, T *dbeta, T *dthr, long nt_, long n, T vl, T vr, int reset, \
          int detach, int store, int surr, T k, T *scratch, int uni, int threads) { \
    if (threads < 1) threads = 1; \
    int st = store == 3 ? 1 : store; /* recomputed h is read like stored h */ \
    int fast = (st == 1 || st == 2) && dz && !dbeta && !dthr && surr >= 0 && surr <= SF_SURR_ARRAY && reset >= 0 && \
               reset <= 2; \
    long bs = sf_block(nt_, n, threads, store == 3); \
    _Pragma("omp parallel num_threads(threads)") \
    { \
    T *scr = store == 3 ? scratch + (long)SF_THREAD_NUM() * nt_ * bs : (T *)0; \
    _Pragma("omp for schedule(dynamic, 1)") \
    for (long blk = 0; blk < (n + bs - 1) / bs; blk++) { \
        long lo = blk * bs, hi = lo + bs < n ? lo + bs : n; \
        const void *h = hs; long hn = n, hoff = 0, xn = n, xoff = 0; \
        if (store == 3) { /* hs is the input x: recompute this block's h over all steps into the scratch */ \
            NAME##_redo(hs, v0, beta, thr, scr, nt_, n, vl, vr, reset, lo, hi, uni); \
            h = scr; hn = hi - lo; hoff = lo; \
        } \
        switch (fast ? (uni && st == 1 ? 42 : 0) + (st == 2 ? 21 : 0) + surr * 3 + reset : -1) { \
        SF_BWD_STORE_CASES(T, NAME, 1, 0) SF_BWD_STORE_CASES(T, NAME, 2, 0) SF_BWD_STORE_CASES(T, NAME, 1, 1) \
        default: NAME##_blk(dz, dvT, h, zbits, gs, v0, beta, thr, dx, dv0, dbeta, dthr, nt_, n, vl, vr, reset, detach, \
                            st, surr, k, dz != 0, dbeta != 0, dthr != 0, lo, hi, hn, hoff, n, 0, 0); \
        } \
    } \
    } \
}
/* STORE 1: h in the input dtype (stored or recomputed); 2: half precision plus spike bits (lean). UNI 1: uniform
   beta and threshold (read once), with STORE 1 only */
#define SF_BWD_CASE(T, NAME, SURRID, RESET, STORE, UNI) \
        case (UNI ? 42 : 0) + (STORE == 2 ? 21 : 0) + SURRID * 3 + RESET: \
            NAME##_blk(dz, dvT, h, zbits, gs, v0, beta, thr, dx, dv0, 0, 0, nt_, n, vl, vr, RESET, detach, STORE, SURRID, \
                       k, 1, 0, 0, lo, hi, hn, hoff, xn, xoff, UNI); break;
#define SF_BWD_CASES(T, NAME, SURRID, STORE, UNI) \
    SF_BWD_CASE(T, NAME, SURRID, 0, STORE, UNI) SF_BWD_CASE(T, NAME, SURRID, 1, STORE, UNI) \
    SF_BWD_CASE(T, NAME, SURRID, 2, STORE, UNI)
/* every surrogate id (0-6) with every reset, for one STORE and UNI */
#define SF_BWD_STORE_CASES(T, NAME, STORE, UNI) \
    SF_BWD_CASES(T, NAME, 0, STORE, UNI) SF_BWD_CASES(T, NAME, 1, STORE, UNI) SF_BWD_CASES(T, NAME, 2, STORE, UNI) \
    SF_BWD_CASES(T, NAME, 3, STORE, UNI) SF_BWD_CASES(T, NAME, 4, STORE, UNI) SF_BWD_CASES(T, NAME, 5, STORE, UNI) \
    SF_BWD_CASES(T, NAME, 6, STORE, UNI)

DEFINE_FWD(float, sf_lif_fwd_f32)
DEFINE_FWD(double, sf_lif_fwd_f64)
DEFINE_BWD(float, sf_lif_bwd_f32)
DEFINE_BWD(double, sf_lif_bwd_f64)

/* pack spikes (0/1 values) of n elements into bits (element k of byte b at bit k), parallel over bytes; with
   AVX-512 sixteen floats per compare, whose mask is two bytes */
void sf_pack_bits_f32(const float *z, uint8_t *bits, long n, int threads) {
    long nb = (n + 7) / 8, done = 0;
    if (threads < 1) threads = 1;
#ifdef __AVX512F__
    long pairs = n / 16;
    _Pragma("omp parallel for num_threads(threads) schedule(static)")
    for (long c = 0; c < pairs; c++) {
        __mmask16 m = _mm512_cmp_ps_mask(_mm512_loadu_ps(z + 16 * c), _mm512_setzero_ps(), _CMP_NEQ_UQ);
        bits[2 * c] = (uint8_t)(m & 0xff);
        bits[2 * c + 1] = (uint8_t)(m >> 8);
    }
    done = 2 * pairs;
#endif
    _Pragma("omp parallel for num_threads(threads) schedule(static)")
    for (long b = done; b < nb; b++) {
        uint8_t byte = 0;
        for (int k = 0; k < 8 && b * 8 + k < n; k++) byte |= (uint8_t)((z[b * 8 + k] != 0.0f) << k);
        bits[b] = byte;
    }
}
void sf_pack_bits_f64(const double *z, uint8_t *bits, long n, int threads) {
    long nb = (n + 7) / 8;
    if (threads < 1) threads = 1;
    _Pragma("omp parallel for num_threads(threads) schedule(static)")
    for (long b = 0; b < nb; b++) {
        uint8_t byte = 0;
        for (int k = 0; k < 8 && b * 8 + k < n; k++) byte |= (uint8_t)((z[b * 8 + k] != 0.0) << k);
        bits[b] = byte;
    }
}

/* Leaky integrator v_t = beta v_{t-1} + x_t: forward writes every v_t; backward a_t = dv_t + beta a_{t+1}. */
#define DEFINE_LI(T, FWD, BWD) \
void FWD(const T *x, const T *v0, const T *beta, T *vs, long nt_, long n, int threads) { \
    if (threads < 1) threads = 1; \
    _Pragma("omp parallel for num_threads(threads) schedule(dynamic, 1)") \
    for (long blk = 0; blk < (n + SF_BLK - 1) / SF_BLK; blk++) { \
        long lo = blk * SF_BLK, hi = lo + SF_BLK < n ? lo + SF_BLK : n; \
        for (long t = 0; t < nt_; t++) { \
            const T *prev = t == 0 ? v0 : vs + (t - 1) * n; \
            for (long j = lo; j < hi; j++) vs[t * n + j] = beta[j] * prev[j] + x[t * n + j]; \
        } \
    } \
} \
void BWD(const T *dvs, const T *dvT, const T *vs, const T *v0, const T *beta, T *dx, T *dv0, T *dbeta, \
         long nt_, long n, int threads) { \
    if (threads < 1) threads = 1; \
    _Pragma("omp parallel for num_threads(threads) schedule(dynamic, 1)") \
    for (long blk = 0; blk < (n + SF_BLK - 1) / SF_BLK; blk++) { \
        long lo = blk * SF_BLK, hi = lo + SF_BLK < n ? lo + SF_BLK : n; \
        for (long j = lo; j < hi; j++) { dv0[j] = dvT ? dvT[j] : (T)0; if (dbeta) dbeta[j] = 0; } \
        for (long t = nt_ - 1; t >= 0; t--) { \
            const T *prev = t == 0 ? v0 : vs + (t - 1) * n; \
            for (long j = lo; j < hi; j++) { \
                T a = dv0[j] + (dvs ? dvs[t * n + j] : (T)0); \
                dx[t * n + j] = a; \
                if (dbeta) dbeta[j] += a * prev[j]; \
                dv0[j] = beta[j] * a; \
            } \
        } \
    } \
}

DEFINE_LI(float, sf_li_fwd_f32, sf_li_bwd_f32)
DEFINE_LI(double, sf_li_fwd_f64, sf_li_bwd_f64)

/* Event-driven synapses. x[R, I] holds spikes. The index pass lists the column of every non-zero entry row by row
   (NaN counts as non-zero) and flags values other than 0 and 1: with AVX-512 sixteen floats per compare and one
   compressing store, no branch per entry. */
static inline long sf_index_row_float(const float *row, long in, int32_t *dst, int *bad) {
    long k = 0, j = 0;
#ifdef __AVX512F__
    __m512i idx = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i step = _mm512_set1_epi32(16);
    __mmask16 odd = 0;
    for (; j + 16 <= in; j += 16) {
        __m512 v = _mm512_loadu_ps(row + j);
        __mmask16 m = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_NEQ_UQ);
        odd |= _mm512_mask_cmp_ps_mask(m, v, _mm512_set1_ps(1.0f), _CMP_NEQ_UQ);
        _mm512_mask_compressstoreu_epi32(dst + k, m, idx);
        k += __builtin_popcount((unsigned)m);
        idx = _mm512_add_epi32(idx, step);
    }
    if (odd) *bad = 1;
#endif
    for (; j < in; j++) {
        float v = row[j];
        if (v != 0) { dst[k++] = (int32_t)j; if (v != 1) *bad = 1; }
    }
    return k;
}
static inline long sf_index_row_double(const double *row, long in, int32_t *dst, int *bad) {
    long k = 0;
    for (long j = 0; j < in; j++) {
        double v = row[j];
        if (v != 0) { dst[k++] = (int32_t)j; if (v != 1) *bad = 1; }
    }
    return k;
}

/* offsets[R + 1] and cols (room for R * I entries: each thread fills the part of its rows, then the parts are moved
   together); returns the number of events and sets *nonbinary. */
#define DEFINE_EVENTS(T, INDEX) \
long INDEX(const T *x, long r, long in, int64_t *offsets, int32_t *cols, int *nonbinary, int threads) { \
    if (threads < 1) threads = 1; \
    if (threads > r) threads = r > 0 ? (int)r : 1; \
    int bad = 0; \
    _Pragma("omp parallel for num_threads(threads) schedule(static, 1) reduction(|:bad)") \
    for (int c = 0; c < threads; c++) { \
        long lo = r * c / threads, hi = r * (c + 1) / threads; \
        int32_t *dst = cols + lo * in; \
        long k = 0; \
        for (long i = lo; i < hi; i++) { \
            long count = sf_index_row_##T(x + i * in, in, dst + k, &bad); \
            offsets[i + 1] = count; \
            k += count; \
        } \
    } \
    offsets[0] = 0; \
    int64_t total = 0; \
    for (int c = 0; c < threads; c++) { \
        long lo = r * c / threads, hi = r * (c + 1) / threads; \
        int64_t start = total; \
        for (long i = lo; i < hi; i++) { total += offsets[i + 1]; offsets[i + 1] = total; } \
        if (start != lo * in) memmove(cols + start, cols + lo * in, sizeof(int32_t) * (size_t)(total - start)); \
    } \
    *nonbinary = bad; \
    return total; \
}

/* out[r, :] = bias + sum of wt[c, :] over the active inputs c of row r (wt = weight transposed, [I, O]), in the
   order of the events. A row's outputs are summed four 64-byte vectors at a time (GCC vector types: four AVX-512
   registers, or what the target has) that stay in registers over the row's events, so each event costs loads only;
   elementwise the same additions in the same order as the plain loop, so the same bits. (Written as a plain loop
   over a local array, GCC vectorised the loop over events with hardware gathers instead, 2.7x slower.) */
typedef float sf_vec_float __attribute__((vector_size(64), aligned(4), may_alias));
typedef double sf_vec_double __attribute__((vector_size(64), aligned(8), may_alias));
#define SF_LANES(T) ((long)(64 / sizeof(T)))
#define SF_VLOAD(T, p) (*(const sf_vec_##T *)(p))
#define SF_VSTORE(T, p, v) (*(sf_vec_##T *)(p) = (v))
/* acc[0..3] += the 4 vectors at src + k0 */
#define SF_VADD4(T, acc, src) do { \
    const T *s_ = (src); long L_ = SF_LANES(T); \
    acc[0] += SF_VLOAD(T, s_); acc[1] += SF_VLOAD(T, s_ + L_); \
    acc[2] += SF_VLOAD(T, s_ + 2 * L_); acc[3] += SF_VLOAD(T, s_ + 3 * L_); \
} while (0)
#define DEFINE_GATHER(T, GATHER, SCATTER) \
void GATHER(const int32_t *cols, const int64_t *offsets, const T *wt, const T *bias, T *out, long r, long o, \
            int threads) { \
    if (threads < 1) threads = 1; \
    const long W = 4 * SF_LANES(T); \
    _Pragma("omp parallel for num_threads(threads) schedule(dynamic, 64)") \
    for (long i = 0; i < r; i++) { \
        T *dst = out + i * o; \
        long k0 = 0; \
        for (; k0 + W <= o; k0 += W) { \
            sf_vec_##T acc[4] = {{0}, {0}, {0}, {0}}; \
            if (bias) for (int q = 0; q < 4; q++) acc[q] = SF_VLOAD(T, bias + k0 + q * SF_LANES(T)); \
            for (int64_t e = offsets[i]; e < offsets[i + 1]; e++) SF_VADD4(T, acc, wt + (long)cols[e] * o + k0); \
            for (int q = 0; q < 4; q++) SF_VSTORE(T, dst + k0 + q * SF_LANES(T), acc[q]); \
        } \
        for (long k = k0; k < o; k++) dst[k] = bias ? bias[k] : (T)0; \
        for (int64_t e = offsets[i]; e < offsets[i + 1]; e++) { \
            const T *src = wt + (long)cols[e] * o; \
            for (long k = k0; k < o; k++) dst[k] += src[k]; \
        } \
    } \
} \
/* gwt[c, :] = sum of grad[r, :] over the events (r, c), rows in increasing order: the order of one thread walking
   the events, so the result does not depend on the thread count. The events are first regrouped by column (a
   counting sort of their rows, two passes). Then the rows are taken in blocks whose grad (block x o values) fits in
   about half a megabyte, so it stays in cache while every column adds its events from the block: threads split the
   columns, and a column's sum is kept in registers four vectors at a time (as in the gather), picked up from gwt
   where the previous block left it. Within a column the rows are increasing, so a block's events of a column follow
   those of the block before (cursor pos[c]). Without memory for the regrouping, one thread adds every event's row
   into gwt directly (the same order). On this project's Xeon, R = 3200, I = 700, O = 256 at 5 % density: 1.0 ms
   on one thread, 0.7 ms on two (the earlier row-split scatter into per-thread copies: 1.9 and 1.3 ms). */ \
void SCATTER(const int32_t *cols, const int64_t *offsets, const T *grad, T *gwt, long r, long in, long o, \
             int threads) { \
    if (threads < 1) threads = 1; \
    int64_t total = r > 0 ? offsets[r] : 0; \
    size_t nin = (size_t)(in > 0 ? in : 1); \
    int64_t *start = (int64_t *)calloc(nin + 1, sizeof(int64_t)), *pos = (int64_t *)malloc(sizeof(int64_t) * nin); \
    int32_t *rows = (int32_t *)malloc(sizeof(int32_t) * (size_t)(total > 0 ? total : 1)); \
    if (!start || !pos || !rows) { \
        free(start); free(pos); free(rows); \
        memset(gwt, 0, sizeof(T) * (size_t)in * (size_t)o); \
        for (long i = 0; i < r; i++) \
            for (int64_t e = offsets[i]; e < offsets[i + 1]; e++) \
                for (long k = 0; k < o; k++) gwt[(long)cols[e] * o + k] += grad[i * o + k]; \
        return; \
    } \
    for (int64_t e = 0; e < total; e++) start[cols[e] + 1]++; \
    for (long c = 0; c < in; c++) start[c + 1] += start[c]; \
    memcpy(pos, start, sizeof(int64_t) * (size_t)in); \
    for (long i = 0; i < r; i++) \
        for (int64_t e = offsets[i]; e < offsets[i + 1]; e++) rows[pos[cols[e]]++] = (int32_t)i; \
    memcpy(pos, start, sizeof(int64_t) * (size_t)in); \
    long W = 4 * SF_LANES(T), full = o / W * W; \
    long block = (1L << 19) / ((long)sizeof(T) * (o > 0 ? o : 1)); \
    block = block < 16 ? 16 : block; \
    long nblocks = r > 0 ? (r + block - 1) / block : 1; /* no rows: one empty block writes the zeros */ \
    _Pragma("omp parallel num_threads(threads)") \
    for (long b = 0; b < nblocks; b++) { \
        long lo = b * block, hi = lo + block < r ? lo + block : r; \
        _Pragma("omp for schedule(dynamic, 16)") \
        for (long c = 0; c < in; c++) { \
            int64_t e0 = pos[c], e1 = e0; \
            while (e1 < start[c + 1] && rows[e1] < hi) e1++; \
            T *dst = gwt + c * o; \
            for (long k0 = 0; k0 < full; k0 += W) { \
                sf_vec_##T acc[4] = {{0}, {0}, {0}, {0}}; \
                if (lo) for (int q = 0; q < 4; q++) acc[q] = SF_VLOAD(T, dst + k0 + q * SF_LANES(T)); \
                for (int64_t e = e0; e < e1; e++) SF_VADD4(T, acc, grad + (long)rows[e] * o + k0); \
                for (int q = 0; q < 4; q++) SF_VSTORE(T, dst + k0 + q * SF_LANES(T), acc[q]); \
            } \
            if (!lo) for (long k = full; k < o; k++) dst[k] = (T)0; \
            for (int64_t e = e0; e < e1; e++) \
                for (long k = full; k < o; k++) dst[k] += grad[(long)rows[e] * o + k]; \
            pos[c] = e1; \
        } \
    } \
    free(start); free(pos); free(rows); \
}

DEFINE_EVENTS(float, sf_events_index_f32)
DEFINE_EVENTS(double, sf_events_index_f64)
DEFINE_GATHER(float, sf_events_gather_f32, sf_events_scatter_f32)
DEFINE_GATHER(double, sf_events_gather_f64, sf_events_scatter_f64)

/* An event-driven linear synapse fused with LIF neurons (kernels/cpu/_event_lif.py): the input current is never
   materialised. Events (cols, offsets) of rows r = t * nb + b; wt = weight transposed, [I, O]; neuron k of sample b
   is column b * O + k of z [T, nb * O] and of the flat v0, beta, thr, v [nb * O]. Work goes in slices of one sample
   and W = 4 vectors of neurons: the slice's current is summed in registers exactly as sf_events_gather sums it (bias,
   then the events in order) and fed to sf_lif_fwd's update, so spikes and membranes have the same bits as the
   unfused pair. The backward recomputes, per slice of neurons and sample, the slice's h over all steps into a
   scratch (T x W values), runs sf_lif_bwd's recursion over it into a second scratch dL/dh, and adds that into the
   gradient of wt at the slice's events (and of the bias), the events regrouped by (sample, input) first so that an
   input's sum stays in registers: threads split the slices of neurons, samples run in order, so the result does
   not depend on the thread count and no [T, nb * O] current or gradient exists. */
#define SF_EW(T) (4 * SF_LANES(T))
#define DEFINE_ELIF(T, FWD, BWD, SCR, LIFB) \
SF_INLINE void FWD##_cur(const int32_t *cols, const int64_t *offsets, const T *wt, const T *bias, T *cur, long row, \
                         long o, long k0, long w) { \
    const long L = SF_LANES(T); \
    if (w == SF_EW(T)) { \
        sf_vec_##T acc[4] = {{0}, {0}, {0}, {0}}; \
        if (bias) for (int q = 0; q < 4; q++) acc[q] = SF_VLOAD(T, bias + k0 + q * L); \
        for (int64_t e = offsets[row]; e < offsets[row + 1]; e++) SF_VADD4(T, acc, wt + (long)cols[e] * o + k0); \
        for (int q = 0; q < 4; q++) SF_VSTORE(T, cur + q * L, acc[q]); \
        return; \
    } \
    for (long j = 0; j < w; j++) cur[j] = bias ? bias[k0 + j] : (T)0; \
    for (int64_t e = offsets[row]; e < offsets[row + 1]; e++) { \
        const T *src = wt + (long)cols[e] * o + k0; \
        for (long j = 0; j < w; j++) cur[j] += src[j]; \
    } \
} \
/* the steps of slice [m0, m0 + w) of sample b: spikes into z (z != 0) and/or h into hs ([T, w], hs != 0) */ \
SF_INLINE void FWD##_run(const int32_t *cols, const int64_t *offsets, const T *wt, const T *bias, const T *v0, \
                         const T *beta, const T *thr, T *z, T *hs, T *vout, long nt_, long nb, long o, T vl, T vr, \
                         const int reset, long b, long k0, long w) { \
    T v[SF_EW(T)], cur[SF_EW(T)]; \
    long n = nb * o, m0 = b * o + k0; \
    for (long j = 0; j < w; j++) v[j] = v0[m0 + j]; \
    for (long t = 0; t < nt_; t++) { \
        FWD##_cur(cols, offsets, wt, bias, cur, t * nb + b, o, k0, w); \
        _Pragma("GCC ivdep") for (long j = 0; j < w; j++) { /* sf_lif_fwd's update, operation for operation */ \
            T h = (vl + beta[m0 + j] * (v[j] - vl)) + cur[j]; \
            T s = (T)(h - thr[m0 + j] >= 0); \
            if (z) z[t * n + m0 + j] = s; \
            if (hs) hs[t * w + j] = h; \
            v[j] = reset == 0 ? h - s * thr[m0 + j] : reset == 1 ? h - s * (h - vr) : h; \
        } \
    } \
    if (vout) for (long j = 0; j < w; j++) vout[m0 + j] = v[j]; \
} \
void FWD(const int32_t *cols, const int64_t *offsets, const T *wt, const T *bias, const T *v0, const T *beta, \
         const T *thr, T *z, T *v, long nt_, long nb, long o, T vl, T vr, int reset, int threads) { \
    if (threads < 1) threads = 1; \
    long ns = (o + SF_EW(T) - 1) / SF_EW(T); \
    _Pragma("omp parallel for num_threads(threads) schedule(dynamic, 1)") \
    for (long task = 0; task < nb * ns; task++) { \
        long b = task / ns, k0 = task % ns * SF_EW(T), w = o - k0 < SF_EW(T) ? o - k0 : SF_EW(T); \
        switch (reset) { \
        case 0: FWD##_run(cols, offsets, wt, bias, v0, beta, thr, z, 0, v, nt_, nb, o, vl, vr, 0, b, k0, w); break; \
        case 1: FWD##_run(cols, offsets, wt, bias, v0, beta, thr, z, 0, v, nt_, nb, o, vl, vr, 1, b, k0, w); break; \
        default: FWD##_run(cols, offsets, wt, bias, v0, beta, thr, z, 0, v, nt_, nb, o, vl, vr, 2, b, k0, w); \
        } \
    } \
} \
/* values of scratch per thread the backward takes: h and dL/dh of one slice over nt_ steps */ \
long SCR(long nt_) { return 2 * nt_ * SF_EW(T); } \
/* sf_lif_bwd's recursion over one slice (pointers already at its sample), specialised like sf_lif_bwd */ \
static void BWD##_lif(const T *dz, const T *dvT, const T *h, const T *v0, const T *beta, const T *thr, T *dx, \
                      T *dv0, T *dbeta, T *dthr, long nt_, long n, T vl, T vr, int reset, int detach, int surr, T k, \
                      long lo, long hi, int uni) { \
    const uint8_t *zbits = 0; const T *gs = 0; long hn = hi - lo, hoff = lo, xn = hi - lo, xoff = lo; \
    int fast = dz && !dbeta && !dthr && surr >= 0 && surr < SF_SURR_ARRAY && reset >= 0 && reset <= 2; \
    switch (fast ? (uni ? 42 : 0) + surr * 3 + reset : -1) { \
    SF_BWD_STORE_CASES(T, LIFB, 1, 0) SF_BWD_STORE_CASES(T, LIFB, 1, 1) \
    default: LIFB##_blk(dz, dvT, h, zbits, gs, v0, beta, thr, dx, dv0, dbeta, dthr, nt_, n, vl, vr, reset, detach, 1, \
                        surr, k, dz != 0, dbeta != 0, dthr != 0, lo, hi, hn, hoff, xn, xoff, uni); \
    } \
} \
/* dL/dh of one slice [k0, k0 + w) of sample b over all steps (dh, [T, w]) added into dwt at the sample's events: \
   with the events regrouped (by, for each column c, the steps ts[bs[c] .. bs[c + 1]] of sample b at which c fired, \
   increasing) a column's sum stays in registers over its events; without (bs NULL), event by event. */ \
SF_INLINE void BWD##_scatter(const int32_t *cols, const int64_t *offsets, const int64_t *bs, const int32_t *ts, \
                             const T *dh, T *dwt, long nt_, long nb, long in, long o, long b, long k0, long w) { \
    const long L = SF_LANES(T); \
    if (bs && w == SF_EW(T)) { \
        for (long c = 0; c < in; c++) { \
            if (bs[c] == bs[c + 1]) continue; \
            T *dst = dwt + c * o + k0; \
            sf_vec_##T acc[4]; \
            for (int q = 0; q < 4; q++) acc[q] = SF_VLOAD(T, dst + q * L); \
            for (int64_t e = bs[c]; e < bs[c + 1]; e++) SF_VADD4(T, acc, dh + (long)ts[e] * w); \
            for (int q = 0; q < 4; q++) SF_VSTORE(T, dst + q * L, acc[q]); \
        } \
        return; \
    } \
    if (bs) { \
        for (long c = 0; c < in; c++) \
            for (int64_t e = bs[c]; e < bs[c + 1]; e++) \
                for (long j = 0; j < w; j++) dwt[c * o + k0 + j] += dh[(long)ts[e] * w + j]; \
        return; \
    } \
    for (long t = 0; t < nt_; t++) { \
        long row = t * nb + b; \
        for (int64_t e = offsets[row]; e < offsets[row + 1]; e++) \
            for (long j = 0; j < w; j++) dwt[(long)cols[e] * o + k0 + j] += dh[t * w + j]; \
    } \
} \
void BWD(const int32_t *cols, const int64_t *offsets, const T *wt, const T *bias, const T *v0, const T *beta, \
         const T *thr, const T *dz, const T *dvT, T *dwt, T *dbias, T *dv0, T *dbeta, T *dthr, long nt_, long nb, \
         long in, long o, T vl, T vr, int reset, int detach, int surr, T k, T *scratch, int threads) { \
    if (threads < 1) threads = 1; \
    long ns = (o + SF_EW(T) - 1) / SF_EW(T), n = nb * o, r = nt_ * nb; \
    /* the events regrouped by (sample, column), steps increasing: a counting sort, two passes */ \
    int64_t total = r > 0 ? offsets[r] : 0; \
    size_t nbk = (size_t)(nb * in > 0 ? nb * in : 1); \
    int64_t *bs = (int64_t *)calloc(nbk + 1, sizeof(int64_t)), *pos = (int64_t *)malloc(sizeof(int64_t) * nbk); \
    int32_t *ts = (int32_t *)malloc(sizeof(int32_t) * (size_t)(total > 0 ? total : 1)); \
    if (!bs || !pos || !ts) { free(bs); free(pos); free(ts); bs = 0; pos = 0; ts = 0; } \
    else { /* samples own disjoint buckets: threads split the samples in both passes */ \
        _Pragma("omp parallel for num_threads(threads) schedule(static)") \
        for (long b = 0; b < nb; b++) \
            for (long t = 0; t < nt_; t++) \
                for (int64_t e = offsets[t * nb + b]; e < offsets[t * nb + b + 1]; e++) bs[b * in + cols[e] + 1]++; \
        for (size_t q = 0; q < nbk; q++) bs[q + 1] += bs[q]; \
        memcpy(pos, bs, sizeof(int64_t) * nbk); \
        _Pragma("omp parallel for num_threads(threads) schedule(static)") \
        for (long b = 0; b < nb; b++) \
            for (long t = 0; t < nt_; t++) \
                for (int64_t e = offsets[t * nb + b]; e < offsets[t * nb + b + 1]; e++) \
                    ts[pos[b * in + cols[e]]++] = (int32_t)t; \
    } \
    _Pragma("omp parallel num_threads(threads)") \
    { \
    T *hs = scratch + (long)SF_THREAD_NUM() * SCR(nt_), *dh = hs + nt_ * SF_EW(T); \
    _Pragma("omp for schedule(dynamic, 1)") \
    for (long sl = 0; sl < ns; sl++) { \
        long k0 = sl * SF_EW(T), w = o - k0 < SF_EW(T) ? o - k0 : SF_EW(T); \
        for (long b = 0; b < nb; b++) { \
            long m = b * o; \
            FWD##_run(cols, offsets, wt, bias, v0, beta, thr, 0, hs, 0, nt_, nb, o, vl, vr, reset, b, k0, w); \
            BWD##_lif(dz ? dz + m : 0, dvT ? dvT + m : 0, hs, v0 + m, beta + m, thr + m, dh, dv0 + m, \
                      dbeta ? dbeta + m : 0, dthr ? dthr + m : 0, nt_, n, vl, vr, reset, detach, surr, k, k0, k0 + w, \
                      0); \
            if (dbias) \
                for (long t = 0; t < nt_; t++) \
                    for (long j = 0; j < w; j++) dbias[k0 + j] += dh[t * w + j]; \
            BWD##_scatter(cols, offsets, bs ? bs + b * in : 0, ts, dh, dwt, nt_, nb, in, o, b, k0, w); \
        } \
    } \
    } \
    free(bs); free(pos); free(ts); \
}

DEFINE_ELIF(float, sf_elif_fwd_f32, sf_elif_bwd_f32, sf_elif_scratch_f32, sf_lif_bwd_f32)
DEFINE_ELIF(double, sf_elif_fwd_f64, sf_elif_bwd_f64, sf_elif_scratch_f64, sf_lif_bwd_f64)

/* A stride-1 2-D convolution fused with LIF / IF (conv_lif): the convolution's output c (the neurons' input current)
   is never materialised. x is the input zero-padded by the caller, [T, nb, cin, hp, wp]; weight [co, cin, kh, kw];
   bias [co] or NULL; the neurons are the output [T, nb, co, ho, wo] (ho = hp - kh + 1, wo = wp - kw + 1), one step
   n = nb * co * ho * wo of them, and v0, beta, thr, v are flat [n]. Work goes in tasks of one output plane
   (sample b, channel o) over all steps: per step the plane's current is computed into a per-thread scratch and fed
   to sf_lif_fwd's update, operation for operation; the last step's current is also written out (clast, the
   state's i), and its gradient (dcl) joins dL/dc at that step in the backward.
   The plane is computed in padded-row coordinates i = y * wp + x for i < ni = (ho - 1) * wp + wo: tap q = (ci, ky,
   kx) reads the input at i + off[q] with off[q] = ci * hp * wp + ky * wp + kx, a contiguous run, so the loop over
   i vectorises without gathers (the columns x >= wo it also computes are discarded; whole vectors read up to one
   vector past the input block, which the caller's buffer has). Each output is bias + sum over taps in the order
   (ci, ky, kx), fused multiply-adds (one rounding each; on every target the same for an output in the forward and in
   the backward's recomputation, which is all the spikes need). So the result differs from torch's convolution by
   rounding only. For sparse binary input the caller passes the spikes as events instead of the frames: the
   current is the bias plus, per spike in the order of the events, its weights at the outputs it reaches (one add
   each, so the same bits on every target).
   The backward recomputes, per task, the plane's h over all steps into a scratch [T, ho * wo], runs sf_lif_bwd's
   recursion over it into a second one, dL/dc, optionally copies that out (dxc: for the input's gradient, which the
   caller computes) and adds into the weight's gradient, per tap, the dot product of dL/dc (copied into padded rows
   whose extra columns are zero) with the input run the tap reads, in vector accumulators kept over the task's steps
   (from events: per spike and kernel row, the row of dL/dc it reached). While recomputing step t it prefetches the
   plane's row of the spikes' gradient at t, which the recursion then finds in the cache.
   Each task writes its own partial sums (dwp [nb, co, taps], dbp [nb, co]), so the result does not depend on the
   thread count; the caller adds them over samples. */
#if defined(__AVX512F__)
#define SF_VFMA_float(a, b, c) ((sf_vec_float)_mm512_fmadd_ps((__m512)(a), (__m512)(b), (__m512)(c)))
#define SF_VFMA_double(a, b, c) ((sf_vec_double)_mm512_fmadd_pd((__m512d)(a), (__m512d)(b), (__m512d)(c)))
#else
#define SF_VFMA_float(a, b, c) ((a) * (b) + (c))
#define SF_VFMA_double(a, b, c) ((a) * (b) + (c))
#endif
#if defined(__AVX512F__)
#define SF_SPLAT_float(a) ((sf_vec_float)_mm512_set1_ps(a))
#define SF_SPLAT_double(a) ((sf_vec_double)_mm512_set1_pd(a))
#else
#define SF_SPLAT_float(a) ((sf_vec_float){0} + (a))
#define SF_SPLAT_double(a) ((sf_vec_double){0} + (a))
#endif
/* n rounded up to whole vectors */
#define SF_ROUND(T, n) (((n) + SF_LANES(T) - 1) / SF_LANES(T) * SF_LANES(T))
#define DEFINE_CONV_LIF(T, FWD, BWD, SCR, LIFB) \
/* one sample's input: the padded frames (x at step t: xp + t * xstep; tap q reads off[q] further) or, for sparse \
   binary input, its events (evo != NULL, xp unused: the spikes of row r = t * nb + b are evp[evo[r] .. evo[r + 1]], \
   positions in the padded rows of their channel evc[...]; wrev the output channel's reversed weight rows) */ \
typedef struct { \
    const T *xp; const long *off; const int64_t *evo; const int32_t *evp, *evc; const T *wrev; \
    long xstep, taps, kh, kw, wp, nr, nb, b; \
    const T *pf; /* [T, n]: the plane's row of each step is prefetched while the step's current is computed */ \
    T *clast; /* [n] or NULL: the last step's current, out */ \
} FWD##_src; \
/* the output channel's weights w [cin, kh, kw] as one vector per (channel, kernel row), reversed: lane l holds tap \
   kx = kw - 1 - l, lanes l >= kw zero (kw <= one vector) */ \
static void FWD##_wrev(const T *w, long cin, long kh, long kw, T *wr) { \
    const long L = SF_LANES(T); \
    for (long r = 0; r < cin * kh; r++) \
        for (long l = 0; l < L; l++) wr[r * L + l] = l < kw ? w[r * kw + kw - 1 - l] : (T)0; \
} \
/* c[i] = b0 + sum over taps q of w[q] * xp[off[q] + i] for the V vectors at c + i: V independent chains of \
   fused multiply-adds (eight cover the adds' latency) */ \
SF_INLINE void FWD##_chunk(const T *xp, const long *off, const T *w, long taps, T b0, T *c, long i, const int V) { \
    const long L = SF_LANES(T); \
    sf_vec_##T a[8]; \
    for (int u = 0; u < V; u++) a[u] = SF_SPLAT_##T(b0); \
    for (long q = 0; q < taps; q++) { \
        const T *s = xp + off[q] + i; \
        sf_vec_##T wq = SF_SPLAT_##T(w[q]); \
        for (int u = 0; u < V; u++) a[u] = SF_VFMA_##T(wq, SF_VLOAD(T, s + u * L), a[u]); \
    } \
    for (int u = 0; u < V; u++) SF_VSTORE(T, c + i + u * L, a[u]); \
} \
/* the events of row r into the plane c, for a K x K kernel (K a constant here): per spike, all K * K sums are \
   loaded before any is stored (the rows of one spike never overlap), so the adds do not wait on each other's stores \
   (with a loop over a run-time width the compiler reloaded after every store: 2.2x slower at 5% density) */ \
SF_INLINE void FWD##_scatter(const FWD##_src *s, long r, T *c, const int K) { \
    const long L = SF_LANES(T), wp = s->wp; \
    for (int64_t e = s->evo[r]; e < s->evo[r + 1]; e++) { \
        const T *wr = s->wrev + (long)s->evc[e] * K * L; T *base = c + s->evp[e] - (K - 1); \
        T sum[7][7]; \
        for (int ky = 0; ky < K; ky++) \
            for (int l = 0; l < K; l++) sum[ky][l] = base[l - ky * wp] + wr[ky * L + l]; \
        for (int ky = 0; ky < K; ky++) \
            for (int l = 0; l < K; l++) base[l - ky * wp] = sum[ky][l]; \
    } \
} \
/* one step's current of the plane (output channel weights w, bias b0) for i < nr = ni rounded up to whole vectors: \
   from the padded frame (the input has room for the extra vector's reads, c for its writes: those outputs are \
   discarded, as the columns x >= wo are); or from the step's events, each adding w[ch, ky, kx] at pos - ky * wp - \
   kx, in the order of the events (c has room for that before it and up to hp * wp + L) */ \
static void FWD##_current(const FWD##_src *s, long t, const T *w, T b0, T *c) { \
    const long L = SF_LANES(T), nr = s->nr; \
    if (s->evo) { /* from the events: FWD##_scatter for a square kernel up to 7 x 7, else the same adds in loops */ \
        long r = t * s->nb + s->b, kh = s->kh, kw = s->kw, wp = s->wp; \
        for (long i = 0; i < nr; i += L) SF_VSTORE(T, c + i, SF_SPLAT_##T(b0)); \
        switch (kh == kw && kw <= 7 ? kw : 0) { \
        case 1: FWD##_scatter(s, r, c, 1); return; \
        case 2: FWD##_scatter(s, r, c, 2); return; \
        case 3: FWD##_scatter(s, r, c, 3); return; \
        case 4: FWD##_scatter(s, r, c, 4); return; \
        case 5: FWD##_scatter(s, r, c, 5); return; \
        case 6: FWD##_scatter(s, r, c, 6); return; \
        case 7: FWD##_scatter(s, r, c, 7); return; \
        default: break; \
        } \
        for (int64_t e = s->evo[r]; e < s->evo[r + 1]; e++) { \
            const T *restrict wr = s->wrev + (long)s->evc[e] * kh * L; T *base = c + s->evp[e] - (kw - 1); \
            for (long ky = 0; ky < kh; ky++) { \
                T *restrict row = base - ky * wp; \
                for (long l = 0; l < kw; l++) row[l] += wr[ky * L + l]; \
            } \
        } \
        return; \
    } \
    const T *xp = s->xp + t * s->xstep; const long *off = s->off; long taps = s->taps, i = 0; \
    for (; i + 8 * L <= nr; i += 8 * L) FWD##_chunk(xp, off, w, taps, b0, c, i, 8); \
    switch ((nr - i) / L) { \
    case 7: FWD##_chunk(xp, off, w, taps, b0, c, i, 7); break; \
    case 6: FWD##_chunk(xp, off, w, taps, b0, c, i, 6); break; \
    case 5: FWD##_chunk(xp, off, w, taps, b0, c, i, 5); break; \
    case 4: FWD##_chunk(xp, off, w, taps, b0, c, i, 4); break; \
    case 3: FWD##_chunk(xp, off, w, taps, b0, c, i, 3); break; \
    case 2: FWD##_chunk(xp, off, w, taps, b0, c, i, 2); break; \
    case 1: FWD##_chunk(xp, off, w, taps, b0, c, i, 1); break; \
    default: break; \
    } \
} \
/* one step of the plane's neurons from its current c (padded rows): sf_lif_fwd's update; spikes into z (wz) and/or \
   h into hs (wh), both at the plane's first neuron, as v, beta and thr */ \
/* the same for uniform parameters and rows of one to four vectors (wo >= one vector): each row as M whole vectors, \
   the last one shifted back to end at the row's end (it overlaps the one before, whose lanes it computes again from \
   the same old values, to the same bits: all loads come before the stores). The plain loop left two scalar \
   iterations per row of 34; this took the backward (which recomputes h into a scratch) from 8.0 to 6.8 ms on the \
   conv_floor workload. The forward keeps the plain loop: its overlapping stores into the spikes, which go to \
   memory, made it 5-10% slower. */ \
SF_INLINE void FWD##_rows_v(const T *c, T beta0, T thr0, T *v, T *z, T *hs, long ho, long wo, long wp, T vl, T vr, \
                            const int reset, const int wz, const int wh, const int M) { \
    const long L = SF_LANES(T); \
    long off[4]; \
    for (int k = 0; k < M; k++) off[k] = k * L < wo - L ? k * L : wo - L; \
    const sf_vec_##T vlv = SF_SPLAT_##T(vl), bv = SF_SPLAT_##T(beta0), tv = SF_SPLAT_##T(thr0), \
                     vrv = SF_SPLAT_##T(vr); \
    for (long y = 0; y < ho; y++) { \
        const T *cy = c + y * wp; T *vy = v + y * wo; \
        sf_vec_##T h[4], sp[4]; \
        for (int k = 0; k < M; k++) { \
            h[k] = (vlv + bv * (SF_VLOAD(T, vy + off[k]) - vlv)) + SF_VLOAD(T, cy + off[k]); \
            sp[k] = __builtin_convertvector((h[k] - tv >= 0) & 1, sf_vec_##T); \
        } \
        for (int k = 0; k < M; k++) { \
            if (wz) SF_VSTORE(T, z + y * wo + off[k], sp[k]); \
            if (wh) SF_VSTORE(T, hs + y * wo + off[k], h[k]); \
            sf_vec_##T vn = h[k]; \
            if (reset == 0) vn = h[k] - sp[k] * tv; \
            else if (reset == 1) vn = h[k] - sp[k] * (h[k] - vrv); \
            SF_VSTORE(T, vy + off[k], vn); \
        } \
    } \
} \
SF_INLINE void FWD##_rows(const T *c, const T *beta, const T *thr, T *v, T *z, T *hs, long ho, long wo, long wp, \
                          T vl, T vr, const int reset, const int uni, const int wz, const int wh) { \
    const T beta0 = beta[0], thr0 = thr[0]; \
    const long L = SF_LANES(T); \
    if (uni && !wz && wo >= L && wo <= 4 * L) { \
        switch ((wo + L - 1) / L) { \
        case 1: FWD##_rows_v(c, beta0, thr0, v, z, hs, ho, wo, wp, vl, vr, reset, wz, wh, 1); return; \
        case 2: FWD##_rows_v(c, beta0, thr0, v, z, hs, ho, wo, wp, vl, vr, reset, wz, wh, 2); return; \
        case 3: FWD##_rows_v(c, beta0, thr0, v, z, hs, ho, wo, wp, vl, vr, reset, wz, wh, 3); return; \
        default: FWD##_rows_v(c, beta0, thr0, v, z, hs, ho, wo, wp, vl, vr, reset, wz, wh, 4); return; \
        } \
    } \
    for (long y = 0; y < ho; y++) { \
        const T *cy = c + y * wp; long r = y * wo; \
        _Pragma("GCC ivdep") for (long x = 0; x < wo; x++) { \
            const T bj = uni ? beta0 : beta[r + x], tj = uni ? thr0 : thr[r + x]; \
            T h = (vl + bj * (v[r + x] - vl)) + cy[x]; \
            T s = (T)(h - tj >= 0); \
            if (wz) z[r + x] = s; \
            if (wh) hs[r + x] = h; \
            v[r + x] = reset == 0 ? h - s * tj : reset == 1 ? h - s * (h - vr) : h; \
        } \
    } \
} \
/* all steps of one plane (neurons [p, p + ho * wo)): spikes into z (wz, forward) or h into hs [T, ho * wo] (the \
   backward's recomputation); v holds the running membrane, c one plane of current */ \
SF_INLINE void FWD##_task(const FWD##_src *src, const T *w, T b0, const T *v0, const T *beta, const T *thr, T *z, \
                          T *hs, T *v, T *c, long nt_, long n, long p, long ho, long wo, T vl, T vr, \
                          const int reset, const int uni, const int wz) { \
    long hw = ho * wo; \
    for (long j = 0; j < hw; j++) v[j] = v0[p + j]; \
    for (long t = 0; t < nt_; t++) { \
        if (src->pf) /* the backward's recomputation: the spikes' gradient at this step, into the cache for the \
                        recursion that follows (prefetching the forward's spike rows made it slower) */ \
            for (long j = 0; j < hw; j += SF_LANES(T)) __builtin_prefetch(src->pf + t * n + p + j, 0, 2); \
        FWD##_current(src, t, w, b0, c); \
        FWD##_rows(c, uni ? beta : beta + p, uni ? thr : thr + p, v, wz ? z + t * n + p : 0, wz ? 0 : hs + t * hw, ho, \
                   wo, src->wp, vl, vr, reset, uni, wz, !wz); \
    } \
    if (src->clast) \
        for (long y = 0; y < ho; y++) memcpy(src->clast + p + y * wo, c + y * src->wp, sizeof(T) * (size_t)wo); \
} \
static void FWD##_run(const FWD##_src *src, const T *w, T b0, const T *v0, const T *beta, const T *thr, \
                       T *z, T *hs, T *v, T *c, long nt_, long n, long p, long ho, long wo, T vl, T vr, \
                       int reset, int uni, int wz) { \
    switch ((wz ? 6 : 0) + (uni ? 3 : 0) + (reset >= 0 && reset <= 2 ? reset : 2)) { \
    case 0: FWD##_task(src, w, b0, v0, beta, thr, z, hs, v, c, nt_, n, p, ho, wo, vl, vr, 0, 0, 0); break; \
    case 1: FWD##_task(src, w, b0, v0, beta, thr, z, hs, v, c, nt_, n, p, ho, wo, vl, vr, 1, 0, 0); break; \
    case 2: FWD##_task(src, w, b0, v0, beta, thr, z, hs, v, c, nt_, n, p, ho, wo, vl, vr, 2, 0, 0); break; \
    case 3: FWD##_task(src, w, b0, v0, beta, thr, z, hs, v, c, nt_, n, p, ho, wo, vl, vr, 0, 1, 0); break; \
    case 4: FWD##_task(src, w, b0, v0, beta, thr, z, hs, v, c, nt_, n, p, ho, wo, vl, vr, 1, 1, 0); break; \
    case 5: FWD##_task(src, w, b0, v0, beta, thr, z, hs, v, c, nt_, n, p, ho, wo, vl, vr, 2, 1, 0); break; \
    case 6: FWD##_task(src, w, b0, v0, beta, thr, z, hs, v, c, nt_, n, p, ho, wo, vl, vr, 0, 0, 1); break; \
    case 7: FWD##_task(src, w, b0, v0, beta, thr, z, hs, v, c, nt_, n, p, ho, wo, vl, vr, 1, 0, 1); break; \
    case 8: FWD##_task(src, w, b0, v0, beta, thr, z, hs, v, c, nt_, n, p, ho, wo, vl, vr, 2, 0, 1); break; \
    case 9: FWD##_task(src, w, b0, v0, beta, thr, z, hs, v, c, nt_, n, p, ho, wo, vl, vr, 0, 1, 1); break; \
    case 10: FWD##_task(src, w, b0, v0, beta, thr, z, hs, v, c, nt_, n, p, ho, wo, vl, vr, 1, 1, 1); break; \
    default: FWD##_task(src, w, b0, v0, beta, thr, z, hs, v, c, nt_, n, p, ho, wo, vl, vr, 2, 1, 1); \
    } \
} \
/* values before a plane buffer that the events' taps may reach, in whole vectors */ \
static long FWD##_room(long wp, long kh, long kw) { return SF_ROUND(T, (kh - 1) * wp + kw - 1); } \
/* values of scratch per thread: h and dL/dc of one plane over nt_ steps, its running membrane, one plane buffer \
   (room before it, hp * wp + 2 vectors), a vector of ones per value of a plane, the weight gradient's vector \
   accumulators (taps and bias; or one per input channel and kernel row) and the reversed weight rows (FWD##_wrev) */ \
long SCR(long nt_, long ho, long wo, long wp, long cin, long kh, long kw) { \
    long hp = ho + kh - 1, nr = SF_ROUND(T, (ho - 1) * wp + wo), taps = cin * kh * kw; \
    long plane = 2 * nt_ * ho * wo + ho * wo + FWD##_room(wp, kh, kw) + hp * wp + 2 * SF_LANES(T) + nr + \
                 (taps + 1 + 2 * cin * kh) * SF_LANES(T), fwd = SF_CLIF_BPER(T, ho, wo, wp, cin, kh, kw), \
         bwd = SF_CLIF_BPER_BWD(T, nt_, ho, wo, wp, cin, kh, kw); \
    return plane > fwd ? (plane > bwd ? plane : bwd) : (fwd > bwd ? fwd : bwd); \
} \
void FWD(const T *xp, const int64_t *evo, const int32_t *evp, const int32_t *evc, const T *wt, const T *bias, \
         const T *v0, const T *beta, const T *thr, T *z, T *v, T *clast, T *scratch, long nt_, long nb, long cin, \
         long hp, long wp, long co, long kh, long kw, T vl, T vr, int reset, int uni, int blocked, int threads) { \
    if (threads < 1) threads = 1; \
    long ho = hp - kh + 1, wo = wp - kw + 1, taps = cin * kh * kw, hw = ho * wo, n = nb * co * hw; \
    long per = SCR(nt_, ho, wo, wp, cin, kh, kw); \
    if (blocked && SF_CONV_BLOCKED && co % SF_LANES(T) == 0) { /* sf_conv_blocked.c */ \
        FWD##_blocked(xp, evo, evp, evc, wt, bias, v0, beta, thr, z, v, clast, scratch, per, nt_, nb, cin, hp, wp, co, \
                      kh, kw, vl, vr, reset, uni, threads); \
        return; \
    } \
    long off[taps > 0 ? taps : 1]; \
    FWD##_offsets(off, cin, hp, wp, kh, kw); \
    _Pragma("omp parallel num_threads(threads)") \
    { \
    T *c = scratch + (long)SF_THREAD_NUM() * per + FWD##_room(wp, kh, kw); \
    T *wr = c + hp * wp + 2 * SF_LANES(T); \
    _Pragma("omp for schedule(dynamic, 1)") \
    for (long task = 0; task < nb * co; task++) { \
        long b = task / co, o = task % co; \
        if (evo) FWD##_wrev(wt + o * taps, cin, kh, kw, wr); \
        FWD##_src src = {xp ? xp + b * cin * hp * wp : 0, off, evo, evp, evc, wr, nb * cin * hp * wp, taps, kh, kw, \
                         wp, SF_ROUND(T, (ho - 1) * wp + wo), nb, b, 0, clast}; \
        FWD##_run(&src, wt + o * taps, bias ? bias[o] : (T)0, v0, beta, thr, z, 0, v + task * hw, c, nt_, n, \
                  task * hw, ho, wo, vl, vr, reset, uni, 1); \
    } \
    } \
} \
/* acc[q] (vectors) += d[i] * src[q][i] over i < nr, for G sources (G chains: eight cover the latency) */ \
SF_INLINE void BWD##_group(const T *const *src, const T *d, long nr, T *acc, const int G) { \
    const long L = SF_LANES(T); \
    sf_vec_##T a[8]; \
    for (int q = 0; q < G; q++) a[q] = SF_VLOAD(T, acc + q * L); \
    for (long i = 0; i < nr; i += L) { \
        sf_vec_##T dv = SF_VLOAD(T, d + i); \
        for (int q = 0; q < G; q++) a[q] = SF_VFMA_##T(dv, SF_VLOAD(T, src[q] + i), a[q]); \
    } \
    for (int q = 0; q < G; q++) SF_VSTORE(T, acc + q * L, a[q]); \
} \
/* one step's weight (and bias: a last source of ones) gradient from the dense input: ns sources in groups of at \
   most eight, as even as can be (18 taps and the bias: 7, 6, 6) */ \
static void BWD##_wgrad(const T *const *src, long ns, const T *d, long nr, T *acc) { \
    const long L = SF_LANES(T); \
    long ng = (ns + 7) / 8, q0 = 0; \
    for (long g = 0; g < ng; g++) { \
        long G = (ns - q0 + (ng - g) - 1) / (ng - g); \
        switch (G) { \
        case 8: BWD##_group(src + q0, d, nr, acc + q0 * L, 8); break; \
        case 7: BWD##_group(src + q0, d, nr, acc + q0 * L, 7); break; \
        case 6: BWD##_group(src + q0, d, nr, acc + q0 * L, 6); break; \
        case 5: BWD##_group(src + q0, d, nr, acc + q0 * L, 5); break; \
        case 4: BWD##_group(src + q0, d, nr, acc + q0 * L, 4); break; \
        case 3: BWD##_group(src + q0, d, nr, acc + q0 * L, 3); break; \
        case 2: BWD##_group(src + q0, d, nr, acc + q0 * L, 2); break; \
        default: BWD##_group(src + q0, d, nr, acc + q0 * L, 1); \
        } \
        q0 += G; \
    } \
} \
/* one step's weight gradient from the events (kw <= one vector): per event and kernel row ky, the vector of d at \
   pos - ky * wp - (kw - 1) onwards goes into the accumulator of (channel, ky), whose lane l is tap kx = kw - 1 - l \
   (lanes l >= kw collect values that are not used). The events of one channel are consecutive (sorted by row, then \
   channel): their sums stay in registers, in two sets that alternate between events so that the adds of one do not \
   wait on the other's (KH rows, a constant here; with one accumulator in memory per row the adds waited on the \
   stores: 32% of the backward) */ \
SF_INLINE void BWD##_wgrad_evk(const FWD##_src *s, long t, const T *d, T *acc, const int KH) { \
    const long L = SF_LANES(T); \
    long r = t * s->nb + s->b, kw = s->kw, wp = s->wp; \
    int64_t e = s->evo[r], end = s->evo[r + 1]; \
    while (e < end) { \
        int32_t ch = s->evc[e]; \
        T *a = acc + (long)ch * KH * L; \
        sf_vec_##T u[7], w[7]; \
        for (int ky = 0; ky < KH; ky++) { u[ky] = SF_VLOAD(T, a + ky * L); w[ky] = SF_SPLAT_##T((T)0); } \
        for (; e + 1 < end && s->evc[e + 1] == ch; e += 2) { \
            const T *d0 = d + s->evp[e] - (kw - 1), *d1 = d + s->evp[e + 1] - (kw - 1); \
            for (int ky = 0; ky < KH; ky++) { \
                u[ky] += SF_VLOAD(T, d0 - ky * wp); w[ky] += SF_VLOAD(T, d1 - ky * wp); \
            } \
        } \
        if (e < end && s->evc[e] == ch) { \
            const T *d0 = d + s->evp[e] - (kw - 1); \
            for (int ky = 0; ky < KH; ky++) u[ky] += SF_VLOAD(T, d0 - ky * wp); \
            e++; \
        } \
        for (int ky = 0; ky < KH; ky++) SF_VSTORE(T, a + ky * L, u[ky] + w[ky]); \
    } \
} \
static void BWD##_wgrad_ev(const FWD##_src *s, long t, const T *d, T *acc) { \
    const long L = SF_LANES(T); \
    switch (s->kh) { \
    case 1: BWD##_wgrad_evk(s, t, d, acc, 1); return; \
    case 2: BWD##_wgrad_evk(s, t, d, acc, 2); return; \
    case 3: BWD##_wgrad_evk(s, t, d, acc, 3); return; \
    case 4: BWD##_wgrad_evk(s, t, d, acc, 4); return; \
    case 5: BWD##_wgrad_evk(s, t, d, acc, 5); return; \
    case 6: BWD##_wgrad_evk(s, t, d, acc, 6); return; \
    case 7: BWD##_wgrad_evk(s, t, d, acc, 7); return; \
    default: break; \
    } \
    long r = t * s->nb + s->b, kh = s->kh, kw = s->kw, wp = s->wp; \
    for (int64_t e = s->evo[r]; e < s->evo[r + 1]; e++) { \
        const T *dd = d + s->evp[e] - (kw - 1); T *a = acc + (long)s->evc[e] * kh * L; \
        for (long ky = 0; ky < kh; ky++) SF_VSTORE(T, a + ky * L, SF_VLOAD(T, a + ky * L) + SF_VLOAD(T, dd - ky * wp)); \
    } \
} \
void BWD(const T *xp, const int64_t *evo, const int32_t *evp, const int32_t *evc, const T *wt, const T *bias, \
         const T *v0, const T *beta, const T *thr, const T *dz, const T *dvT, const T *dcl, T *dwp, T *dbp, T *dxc, \
         T *dv0, T *dbeta, T *dthr, T *scratch, long nt_, long nb, long cin, long hp, long wp, long co, long kh, \
         long kw, T vl, T vr, int reset, int detach, int surr, T k, int uni, int blocked, int threads) { \
    if (threads < 1) threads = 1; \
    const long L = SF_LANES(T); \
    long ho = hp - kh + 1, wo = wp - kw + 1, taps = cin * kh * kw, hw = ho * wo, n = nb * co * hw; \
    if (blocked && SF_CONV_BLOCKED && co % L == 0) { /* sf_conv_blocked.c */ \
        BWD##_blocked(xp, evo, evp, evc, wt, bias, v0, beta, thr, dz, dvT, dcl, dwp, dbp, dxc, dv0, scratch, \
                      SCR(nt_, ho, wo, wp, cin, kh, kw), nt_, nb, cin, hp, wp, co, kh, kw, vl, vr, reset, detach, \
                      surr, k, uni, dbeta, dthr, threads); \
        return; \
    } \
    long nr = SF_ROUND(T, (ho - 1) * wp + wo), xstep = nb * cin * hp * wp, room = FWD##_room(wp, kh, kw); \
    long nacc = evo ? cin * kh : taps, plane = room + hp * wp + 2 * L; /* nacc: the bias's accumulator */ \
    long off[taps > 0 ? taps : 1]; \
    FWD##_offsets(off, cin, hp, wp, kh, kw); \
    long per = SCR(nt_, ho, wo, wp, cin, kh, kw); \
    _Pragma("omp parallel num_threads(threads)") \
    { \
    T *hs = scratch + (long)SF_THREAD_NUM() * per, *dh = hs + nt_ * hw, *v = dh + nt_ * hw, *buf = v + hw; \
    T *d = buf + room, *ones = buf + plane, *acc = ones + nr, *wr = acc + (taps + 1 + cin * kh) * L; \
    const T *src[taps + 1]; \
    for (long i = 0; i < nr; i++) ones[i] = 1; \
    _Pragma("omp for schedule(dynamic, 1)") \
    for (long task = 0; task < nb * co; task++) { \
        long b = task / co, o = task % co, p = task * hw; \
        const T *xb = xp ? xp + b * cin * hp * wp : 0; \
        if (evo) FWD##_wrev(wt + o * taps, cin, kh, kw, wr); \
        FWD##_src s = {xb, off, evo, evp, evc, wr, xstep, taps, kh, kw, wp, nr, nb, b, dz, 0}; \
        FWD##_run(&s, wt + o * taps, bias ? bias[o] : (T)0, v0, beta, thr, 0, hs, v, d, nt_, n, p, ho, wo, vl, vr, \
                  reset, uni, 0); \
        LIFB##_lif(dz, dvT, hs, v0, beta, thr, dh, dv0, dbeta, dthr, nt_, n, vl, vr, reset, detach, surr, k, \
                   p, p + hw, uni); \
        memset(buf, 0, sizeof(T) * (size_t)plane); \
        memset(acc, 0, sizeof(T) * (size_t)((nacc + 1) * L)); \
        src[taps] = ones; \
        if (dcl) /* the last step's current is also an output (the state's i): its gradient joins dL/dc there */ \
            for (long j = 0; j < hw; j++) dh[(nt_ - 1) * hw + j] += dcl[p + j]; \
        for (long t = 0; t < nt_; t++) { \
            const T *dt_ = dh + t * hw; \
            if (dxc) memcpy(dxc + t * n + p, dt_, sizeof(T) * (size_t)hw); \
            for (long y = 0; y < ho; y++) memcpy(d + y * wp, dt_ + y * wo, sizeof(T) * (size_t)wo); \
            if (evo) { \
                BWD##_wgrad_ev(&s, t, d, acc); \
                sf_vec_##T bsum = SF_VLOAD(T, acc + nacc * L); \
                for (long i = 0; i < nr; i += L) bsum += SF_VLOAD(T, d + i); \
                SF_VSTORE(T, acc + nacc * L, bsum); \
                continue; \
            } \
            for (long q = 0; q < taps; q++) src[q] = xb + t * xstep + off[q]; \
            BWD##_wgrad(src, taps + 1, d, nr, acc); \
        } \
        for (long q = 0; q < taps; q++) { \
            T sum = 0; \
            if (evo) sum = acc[(q / kw) * L + kw - 1 - q % kw]; /* (ci, ky) = q / kw, kx = q % kw */ \
            else for (long l = 0; l < L; l++) sum += acc[q * L + l]; \
            dwp[task * taps + q] = sum; \
        } \
        if (dbp) { \
            T sum = 0; \
            for (long l = 0; l < L; l++) sum += acc[nacc * L + l]; \
            dbp[task] = sum; \
        } \
    } \
    } \
}

#include "sf_conv_blocked.c"
DEFINE_CONV_LIF(float, sf_clif_fwd_f32, sf_clif_bwd_f32, sf_clif_scratch_f32, sf_elif_bwd_f32)
DEFINE_CONV_LIF(double, sf_clif_fwd_f64, sf_clif_bwd_f64, sf_clif_scratch_f64, sf_elif_bwd_f64)

/* Current-based LIF (exact integration, see neurons/_cubalif.py): j = i - x, w = v - vl - x,
   h = vl + x + w beta + j c, i' = x + j alpha, z = H(h - thr), v' = reset(h). The forward keeps h and i'
   (and the input x is kept by the caller); the backward carries a_v = dL/dv and a_i = dL/di. */
#define DEFINE_CUBA(T, FWD, BWD) \
/* steps of one block of neurons [lo, hi): the running state v, i at [j - so], h and i' stored (when hs is not \
   NULL) at [t * hn + j - ho], spikes written when z is not NULL; the forward and the backward's recomputation \
   both run this, so the recomputed h is the forward's bit for bit */ \
SF_INLINE void FWD##_blk(const T *x, const T *alpha, const T *beta, const T *cc, const T *thr, T *z, T *hs, T *is, \
                         T *v, T *i, long nt_, long n, T vl, T vr, int reset, long lo, long hi, long so, long hn, \
                         long ho) { \
    for (long t = 0; t < nt_; t++) { \
        for (long j = lo; j < hi; j++) { \
            long k = t * n + j; \
            T xx = x[k], jj = i[j - so] - xx, w = v[j - so] - vl - xx; \
            T h = vl + xx + w * beta[j] + jj * cc[j]; \
            T ii = xx + jj * alpha[j]; \
            T s = (h - thr[j] >= 0) ? (T)1 : (T)0; \
            if (z) z[k] = s; \
            if (hs) { hs[t * hn + j - ho] = h; is[t * hn + j - ho] = ii; } \
            i[j - so] = ii; \
            v[j - so] = reset == 0 ? h - s * thr[j] : reset == 1 ? h - s * (h - vr) : h; \
        } \
    } \
} \
void FWD(const T *x, const T *v0, const T *i0, const T *alpha, const T *beta, const T *cc, const T *thr, T *z, \
         T *hs, T *is, T *v, T *i, long nt_, long n, T vl, T vr, int reset, int store, int threads) { \
    if (threads < 1) threads = 1; \
    long bs = sf_block(nt_, n, threads, 0); \
    _Pragma("omp parallel for num_threads(threads) schedule(dynamic, 1)") \
    for (long blk = 0; blk < (n + bs - 1) / bs; blk++) { \
        long lo = blk * bs, hi = lo + bs < n ? lo + bs : n; \
        for (long j = lo; j < hi; j++) { v[j] = v0[j]; i[j] = i0[j]; } \
        FWD##_blk(x, alpha, beta, cc, thr, z, store ? hs : (T *)0, is, v, i, nt_, n, vl, vr, reset, lo, hi, 0, n, 0); \
    } \
} \
/* hs NULL: nothing was stored; each block recomputes its h and i' over all steps into the thread's part of \
   scratch (2 sf_scratch(T) values per thread) */ \
void BWD(const T *dz, const T *dvT, const T *diT, const T *x, const T *hs, const T *is, const T *gs, const T *v0, \
         const T *i0, const T *alpha, const T *beta, const T *cc, const T *thr, T *dx, T *dv0, T *di0, T *dalpha, T *dbeta, \
         T *dcc, T *dthr, long nt_, long n, T vl, T vr, int reset, int detach, int surr, T k, T *scratch, \
         int threads) { \
    if (threads < 1) threads = 1; \
    long bs = sf_block(nt_, n, threads, !hs); \
    _Pragma("omp parallel num_threads(threads)") \
    { \
    T *scr = hs ? (T *)0 : scratch + 2 * (long)SF_THREAD_NUM() * nt_ * bs; \
    _Pragma("omp for schedule(dynamic, 1)") \
    for (long blk = 0; blk < (n + bs - 1) / bs; blk++) { \
        long lo = blk * bs, hi = lo + bs < n ? lo + bs : n; \
        const T *H = hs, *I = is; long hn = n, ho = 0; \
        if (!hs) { \
            T vloc[SF_BLK_MAX], iloc[SF_BLK_MAX]; \
            for (long j = lo; j < hi; j++) { vloc[j - lo] = v0[j]; iloc[j - lo] = i0[j]; } \
            hn = hi - lo; ho = lo; \
            FWD##_blk(x, alpha, beta, cc, thr, (T *)0, scr, scr + nt_ * hn, vloc, iloc, nt_, n, vl, vr, reset, lo, hi, \
                      lo, hn, ho); \
            H = scr; I = scr + nt_ * hn; \
        } \
        for (long j = lo; j < hi; j++) { \
            dv0[j] = dvT ? dvT[j] : (T)0; di0[j] = diT ? diT[j] : (T)0; \
            if (dalpha) dalpha[j] = 0; \
            if (dbeta) dbeta[j] = 0; \
            if (dcc) dcc[j] = 0; \
            if (dthr) dthr[j] = 0; \
        } \
        for (long t = nt_ - 1; t >= 0; t--) { \
            for (long j = lo; j < hi; j++) { \
                long q = t * n + j, r = t * hn + j - ho; \
                T th = thr[j], h = H[r], s = h - th, zz = s >= 0 ? (T)1 : (T)0; \
                T g = SURR_AT(T, s, surr, k, gs, q); \
                T av = dv0[j], ai = di0[j], gz = dz ? dz[q] : (T)0; \
                T dvdh, dvdth; \
                if (reset == 0) { dvdh = detach ? (T)1 : (T)1 - th * g; dvdth = detach ? -zz : -zz + th * g; } \
                else if (reset == 1) { \
                    dvdh = detach ? (T)1 - zz : (T)1 - zz - (h - vr) * g; \
                    dvdth = detach ? (T)0 : (h - vr) * g; \
                } else { dvdh = (T)1; dvdth = (T)0; } \
                T dh = gz * g + av * dvdh; \
                if (dthr) dthr[j] += -gz * g + av * dvdth; \
                T vp, ip; \
                if (t == 0) { vp = v0[j]; ip = i0[j]; } \
                else { \
                    T hp = H[r - hn], zp = hp - th >= 0 ? (T)1 : (T)0; \
                    vp = reset == 0 ? hp - zp * th : reset == 1 ? hp - zp * (hp - vr) : hp; \
                    ip = I[r - hn]; \
                } \
                T xx = x[q], jj = ip - xx, w = vp - vl - xx; \
                dx[q] = dh * ((T)1 - beta[j] - cc[j]) + ai * ((T)1 - alpha[j]); \
                if (dbeta) dbeta[j] += dh * w; \
                if (dcc) dcc[j] += dh * jj; \
                if (dalpha) dalpha[j] += ai * jj; \
                dv0[j] = dh * beta[j]; \
                di0[j] = dh * cc[j] + ai * alpha[j]; \
            } \
        } \
    } \
    } \
}

DEFINE_CUBA(float, sf_cuba_fwd_f32, sf_cuba_bwd_f32)
DEFINE_CUBA(double, sf_cuba_fwd_f64, sf_cuba_bwd_f64)

/* Adaptive LIF (neurons/_alif.py): at = rho a, A = thr + b at, h = vl + x + (v - vl - x) bm, s = (h - A) / thr,
   z = H(s), v' = reset(h, A), a' = at + z. The forward keeps h and a' (the caller keeps x), or nothing: the backward
   then recomputes them from x. */
#define DEFINE_ALIF(T, FWD, BWD) \
/* steps of one block [lo, hi), laid out as FWD##_blk of CubaLIF: state at [j - so], h and a' at [t * hn + j - ho] */ \
SF_INLINE void FWD##_blk(const T *x, const T *bm, const T *rho, const T *thr, const T *bb, T *z, T *hs, T *as, T *v, \
                         T *a, long nt_, long n, T vl, T vr, int reset, long lo, long hi, long so, long hn, long ho) { \
    for (long t = 0; t < nt_; t++) { \
        for (long j = lo; j < hi; j++) { \
            long q = t * n + j; \
            T at = rho[j] * a[j - so], A = thr[j] + bb[j] * at, target = vl + x[q]; \
            T h = target + (v[j - so] - target) * bm[j]; \
            T zz = ((h - A) / thr[j] >= 0) ? (T)1 : (T)0; \
            if (z) z[q] = zz; \
            v[j - so] = reset == 0 ? h - zz * A : reset == 1 ? h - zz * (h - vr) : h; \
            a[j - so] = at + zz; \
            if (hs) { hs[t * hn + j - ho] = h; as[t * hn + j - ho] = a[j - so]; } \
        } \
    } \
} \
void FWD(const T *x, const T *v0, const T *a0, const T *bm, const T *rho, const T *thr, const T *bb, T *z, T *hs, \
         T *as, T *v, T *a, long nt_, long n, T vl, T vr, int reset, int store, int threads) { \
    if (threads < 1) threads = 1; \
    long bs = sf_block(nt_, n, threads, 0); \
    _Pragma("omp parallel for num_threads(threads) schedule(dynamic, 1)") \
    for (long blk = 0; blk < (n + bs - 1) / bs; blk++) { \
        long lo = blk * bs, hi = lo + bs < n ? lo + bs : n; \
        for (long j = lo; j < hi; j++) { v[j] = v0[j]; a[j] = a0[j]; } \
        FWD##_blk(x, bm, rho, thr, bb, z, store ? hs : (T *)0, as, v, a, nt_, n, vl, vr, reset, lo, hi, 0, n, 0); \
    } \
} \
/* hs NULL: recompute h and a' per block into scratch (2 sf_scratch(T) values per thread), as CubaLIF's backward */ \
void BWD(const T *dz, const T *dvT, const T *daT, const T *x, const T *hs, const T *as, const T *gs, const T *v0, \
         const T *a0, const T *bm, const T *rho, const T *thr, const T *bb, T *dx, T *dv0, T *da0, T *dbm, T *drho, T *dthr, \
         T *dbb, long nt_, long n, T vl, T vr, int reset, int detach, int surr, T k, T *scratch, int threads) { \
    if (threads < 1) threads = 1; \
    long bs = sf_block(nt_, n, threads, !hs); \
    _Pragma("omp parallel num_threads(threads)") \
    { \
    T *scr = hs ? (T *)0 : scratch + 2 * (long)SF_THREAD_NUM() * nt_ * bs; \
    _Pragma("omp for schedule(dynamic, 1)") \
    for (long blk = 0; blk < (n + bs - 1) / bs; blk++) { \
        long lo = blk * bs, hi = lo + bs < n ? lo + bs : n; \
        const T *H = hs, *S = as; long hn = n, ho = 0; \
        if (!hs) { \
            T vloc[SF_BLK_MAX], aloc[SF_BLK_MAX]; \
            for (long j = lo; j < hi; j++) { vloc[j - lo] = v0[j]; aloc[j - lo] = a0[j]; } \
            hn = hi - lo; ho = lo; \
            FWD##_blk(x, bm, rho, thr, bb, (T *)0, scr, scr + nt_ * hn, vloc, aloc, nt_, n, vl, vr, reset, lo, hi, lo, \
                      hn, ho); \
            H = scr; S = scr + nt_ * hn; \
        } \
        for (long j = lo; j < hi; j++) { \
            dv0[j] = dvT ? dvT[j] : (T)0; da0[j] = daT ? daT[j] : (T)0; \
            if (dbm) dbm[j] = 0; \
            if (drho) drho[j] = 0; \
            if (dthr) dthr[j] = 0; \
            if (dbb) dbb[j] = 0; \
        } \
        for (long t = nt_ - 1; t >= 0; t--) { \
            for (long j = lo; j < hi; j++) { \
                long q = t * n + j, r = t * hn + j - ho; \
                T th = thr[j], h = H[r], ap = t > 0 ? S[r - hn] : a0[j], at = rho[j] * ap, A = th + bb[j] * at; \
                T s = (h - A) / th, zz = s >= 0 ? (T)1 : (T)0, g = SURR_AT(T, s, surr, k, gs, q); \
                T av = dv0[j], aa = da0[j], gz = dz ? dz[q] : (T)0; \
                T dvdz = reset == 0 ? -A : reset == 1 ? -(h - vr) : (T)0; \
                T dLdz = gz + aa + (detach ? (T)0 : av * dvdz); \
                T ds = dLdz * g; \
                T dh = ds / th + av * (reset == 1 ? (T)1 - zz : (T)1); \
                T dA = -ds / th + av * (reset == 0 ? -zz : (T)0); \
                if (dthr) dthr[j] += -ds * (h - A) / (th * th) + dA; \
                if (dbb) dbb[j] += dA * at; \
                T dat = dA * bb[j] + aa; \
                if (drho) drho[j] += dat * ap; \
                T vp; \
                if (t == 0) vp = v0[j]; \
                else { \
                    T hp = H[r - hn], app = t > 1 ? S[r - 2 * hn] : a0[j], Ap = th + bb[j] * (rho[j] * app); \
                    T zp = (hp - Ap) / th >= 0 ? (T)1 : (T)0; \
                    vp = reset == 0 ? hp - zp * Ap : reset == 1 ? hp - zp * (hp - vr) : hp; \
                } \
                dx[q] = dh * ((T)1 - bm[j]); \
                if (dbm) dbm[j] += dh * (vp - (vl + x[q])); \
                dv0[j] = dh * bm[j]; \
                da0[j] = dat * rho[j]; \
            } \
        } \
    } \
    } \
}

DEFINE_ALIF(float, sf_alif_fwd_f32, sf_alif_bwd_f32)
DEFINE_ALIF(double, sf_alif_fwd_f64, sf_alif_bwd_f64)

/* Inference: scan each row of x and add the weight rows of its spikes in one pass (no index arrays). */
#define DEFINE_DIRECT(T, NAME) \
long NAME(const T *x, const T *wt, const T *bias, T *out, long r, long in, long o, int *nonbinary, int threads) { \
    long total = 0; int bad = 0; \
    if (threads < 1) threads = 1; \
    _Pragma("omp parallel for num_threads(threads) schedule(dynamic, 64) reduction(+:total) reduction(|:bad)") \
    for (long i = 0; i < r; i++) { \
        const T *row = x + i * in; T *dst = out + i * o; \
        for (long k = 0; k < o; k++) dst[k] = bias ? bias[k] : (T)0; \
        for (long j = 0; j < in; j++) { \
            T v = row[j]; \
            if (v != 0) { \
                const T *src = wt + j * o; \
                bad |= v != 1; total++; \
                for (long k = 0; k < o; k++) dst[k] += src[k]; \
            } \
        } \
    } \
    *nonbinary = bad; \
    return total; \
}

DEFINE_DIRECT(float, sf_events_direct_f32)
DEFINE_DIRECT(double, sf_events_direct_f64)

/* Izhikevich (neurons/_izhikevich.py), time in ms: h = v + dt (v (0.04 v + 5) + ((140 + x) - u)), bv = b v,
   ut = bv + (u - bv) du (du = exp(-a dt)), z = H(h - vp) (the caller checks vp > c, so this is the sign of the
   surrogate argument s = (h - vp) / (vp - c)), v' = h - z (h - c), u' = ut + d z. x is read at t * xs + j: xs = n
   for a sequence, 0 for an input that is constant over time (a stride-0 view: no copy, no memory traffic). The
   forward keeps h and u' per step; the backward rebuilds v_t from h_{t-1}. */
#define DEFINE_IZH(T, FWD, BWD) \
void FWD(const T *x, long xs, const T *v0, const T *u0, const T *du, const T *b, const T *c, const T *d, T *z, T *hs, \
         T *us, T *v, T *u, long nt_, long n, T dt, T vp, int store, int threads) { \
    if (threads < 1) threads = 1; \
    _Pragma("omp parallel for num_threads(threads) schedule(dynamic, 1)") \
    for (long blk = 0; blk < (n + SF_BLK - 1) / SF_BLK; blk++) { \
        long lo = blk * SF_BLK, hi = lo + SF_BLK < n ? lo + SF_BLK : n; \
        T vb[SF_BLK], ub[SF_BLK]; \
        for (long j = lo; j < hi; j++) { vb[j - lo] = v0[j]; ub[j - lo] = u0[j]; } \
        for (long t = 0; t < nt_; t++) { \
            const T *xt = x + t * xs; T *zt = z + t * n; \
            _Pragma("GCC ivdep") \
            for (long j = lo; j < hi; j++) { \
                T vv = vb[j - lo], uu = ub[j - lo]; \
                T h = vv + dt * (vv * ((T)0.04 * vv + (T)5) + (((T)140 + xt[j]) - uu)); \
                T bv = b[j] * vv; \
                T ut = bv + (uu - bv) * du[j]; \
                T zz = h >= vp ? (T)1 : (T)0; \
                zt[j] = zz; \
                vb[j - lo] = h - zz * (h - c[j]); \
                ub[j - lo] = ut + zz * d[j]; \
                if (store) { hs[t * n + j] = h; us[t * n + j] = ub[j - lo]; } \
            } \
        } \
        for (long j = lo; j < hi; j++) { v[j] = vb[j - lo]; u[j] = ub[j - lo]; } \
    } \
} \
void BWD(const T *dz, const T *dvT, const T *duT, const T *hs, const T *us, const T *gs, const T *v0, const T *u0, \
         const T *du, const T *b, const T *c, const T *d, T *dx, T *dv0, T *du0, T *ddu, T *db, T *dc, T *dd, long nt_, \
         long n, T dt, T vp, int detach, int surr, T k, int threads) { \
    if (threads < 1) threads = 1; \
    _Pragma("omp parallel for num_threads(threads) schedule(dynamic, 1)") \
    for (long blk = 0; blk < (n + SF_BLK - 1) / SF_BLK; blk++) { \
        long lo = blk * SF_BLK, hi = lo + SF_BLK < n ? lo + SF_BLK : n; \
        for (long j = lo; j < hi; j++) { \
            dv0[j] = dvT ? dvT[j] : (T)0; du0[j] = duT ? duT[j] : (T)0; \
            if (ddu) ddu[j] = 0; \
            if (db) db[j] = 0; \
            if (dc) dc[j] = 0; \
            if (dd) dd[j] = 0; \
        } \
        for (long t = nt_ - 1; t >= 0; t--) { \
            for (long j = lo; j < hi; j++) { \
                long q = t * n + j; \
                T h = hs[q], cc = c[j], den = vp - cc, s = (h - vp) / den, zz = h >= vp ? (T)1 : (T)0; \
                T g = SURR_AT(T, s, surr, k, gs, q); \
                T vv, uu; \
                if (t == 0) { vv = v0[j]; uu = u0[j]; } \
                else { T hp = hs[q - n], zp = hp >= vp ? (T)1 : (T)0; vv = hp - zp * (hp - cc); uu = us[q - n]; } \
                T av = dv0[j], au = du0[j], gz = dz ? dz[q] : (T)0; \
                T dLdz = gz + (detach ? (T)0 : au * d[j] - av * (h - cc)); \
                T ds = dLdz * g; \
                T dh = ds / den + av * ((T)1 - zz); \
                if (dc) dc[j] += ds * (h - vp) / (den * den) + av * zz; \
                if (dd) dd[j] += au * zz; \
                if (db) db[j] += au * vv * ((T)1 - du[j]); \
                if (ddu) ddu[j] += au * (uu - b[j] * vv); \
                dx[q] = dh * dt; \
                du0[j] = au * du[j] - dh * dt; \
                dv0[j] = dh * ((T)1 + dt * ((T)0.08 * vv + (T)5)) + au * b[j] * ((T)1 - du[j]); \
            } \
        } \
    } \
}

DEFINE_IZH(float, sf_izh_fwd_f32, sf_izh_bwd_f32)
DEFINE_IZH(double, sf_izh_fwd_f64, sf_izh_bwd_f64)

/* AdEx (neurons/_adex.py), time in ms; cf holds 10 rows of n per-neuron coefficients: rate = dt g_L / C, cap =
   (V_peak - V_T) / Delta_T, rho = exp(-dt / tau_w), E_L, V_T, Delta_T, g_L, a, b, V_r. One exponential
   Rosenbrock-Euler step, the cap at V_peak, the exact w update, and for a neuron that fired the restart from V_r
   over the part of the step after the linearised crossing, in the reference's order of operations (its exp,
   expm1 and log1p may differ from torch's in the last bit). x is read at t * xs + j (xs = 0: constant input).
   The forward keeps the state after every step (vs, ws) for the backward (sf_adex_bwd below). */
static inline float sf_exp_float(float a) { return expf(a); }
static inline double sf_exp_double(double a) { return exp(a); }
static inline float sf_expm1_float(float a) { return expm1f(a); }
static inline double sf_expm1_double(double a) { return expm1(a); }
static inline float sf_log1p_float(float a) { return log1pf(a); }
static inline double sf_log1p_double(double a) { return log1p(a); }
#define ADEX_PHI1(T, y) (ABS(y) < (T)1e-6 ? (T)1 + (y) / (T)2 : \
    sf_expm1_##T((y) < (T)30 ? (y) : (T)30) / ((y) < (T)30 ? (y) : (T)30))
#define DEFINE_ADEX(T, FWD) \
void FWD(const T *x, long xs, const T *v0, const T *w0, const T *cf, T *z, T *vs, T *ws, T *v, T *w, long nt_, long n, \
         T vp, int store, int threads) { \
    if (threads < 1) threads = 1; \
    _Pragma("omp parallel for num_threads(threads) schedule(dynamic, 1)") \
    for (long blk = 0; blk < (n + SF_BLK - 1) / SF_BLK; blk++) { \
        long lo = blk * SF_BLK, hi = lo + SF_BLK < n ? lo + SF_BLK : n; \
        T vb[SF_BLK], wb[SF_BLK]; \
        for (long j = lo; j < hi; j++) { vb[j - lo] = v0[j]; wb[j - lo] = w0[j]; } \
        for (long t = 0; t < nt_; t++) { \
            for (long j = lo; j < hi; j++) { \
                T rate = cf[j], cap = cf[n + j], rho = cf[2 * n + j], el = cf[3 * n + j], vt = cf[4 * n + j]; \
                T dT = cf[5 * n + j], gl = cf[6 * n + j], aa = cf[7 * n + j], bb = cf[8 * n + j]; \
                T vv = vb[j - lo], ww = wb[j - lo], X = x[t * xs + j]; \
                T e = (vv - vt) / dT; \
                T growth = sf_exp_##T(e < cap ? e : cap); \
                T slope = (growth - (T)1) * rate; \
                T drive = (dT * growth - (vv - el) + (X - ww) / gl) * rate; \
                T h = vv + ADEX_PHI1(T, slope) * drive; \
                T over = h - vp; \
                h = h - (over > 0 ? over : (T)0); \
                T target = aa * (vv - el); \
                T wn = target + (ww - target) * rho; \
                T zz = (h - vp) / (vp - vt) >= 0 ? (T)1 : (T)0; \
                wn = wn + zz * bb; \
                T vn = h; \
                if (zz != 0) { \
                    T vr = cf[9 * n + j]; \
                    T gap = vp - vv, dd = drive > 0 ? drive : (T)1, ratio = slope * gap / dd; \
                    int small = ABS(slope) < (T)1e-6; \
                    T sigma = small ? gap / dd : sf_log1p_##T(ratio > (T)-0.999999 ? ratio : (T)-0.999999) / slope; \
                    T rest = (T)1 - sigma; \
                    rest = rest > 0 ? rest : (T)0; rest = rest < 1 ? rest : (T)1; \
                    T er = (vr - vt) / dT, gr = sf_exp_##T(er < cap ? er : cap), rr = rate * rest; \
                    T sr = (gr - (T)1) * rr; \
                    T dr = (dT * gr - (vr - el) + (X - wn) / gl) * rr; \
                    T vreset = vr + ADEX_PHI1(T, sr) * dr; \
                    vn = h - zz * (h - vreset); \
                } \
                z[t * n + j] = zz; \
                vb[j - lo] = vn; wb[j - lo] = wn; \
                if (store) { vs[t * n + j] = vn; ws[t * n + j] = wn; } \
            } \
        } \
        for (long j = lo; j < hi; j++) { v[j] = vb[j - lo]; w[j] = wb[j - lo]; } \
    } \
}

DEFINE_ADEX(float, sf_adex_fwd_f32)
DEFINE_ADEX(double, sf_adex_fwd_f64)

/* The AdEx backward, the exact BPTT recursion of the step above with its local derivatives written out by hand
   (derivation in _adex.py). Per step it rebuilds the step's intermediate values from the stored state before it
   (v0, w0 at t = 0, else vs, ws of step t - 1) and x, then carries a_v = dL/dv and a_w = dL/dw from the last step to
   the first. dx is written at t * n + j (one value per step and neuron, also for a constant input). dcf, when not
   NULL, receives the gradients of the ten coefficients (ADEX_COEFFICIENT_GRADS). With uo not
   NULL it only writes the surrogate's argument u = (h - V_peak) / (V_peak - V_T) of every step (a custom surrogate's
   derivative is then evaluated over it by the caller and passed back as gs). */
/* The gradients of the coefficients cf (rows as above) of one step, accumulated into dcf: for each coefficient c the
   step's tangent along c with the state held (forward mode, one-hot seeds), contracted with dL/dz and the adjoints of
   the state after the step. The chain from the coefficients to the neuron's parameters is left to autograd. */
#define ADEX_COEFFICIENT_GRADS(T) do { \
    _Pragma("GCC unroll 10") \
    for (int c = 0; c < 10; c++) { \
        T drt = c == 0, dcp = c == 1, drh = c == 2, del = c == 3, dvt = c == 4, ddT = c == 5, dgl = c == 6; \
        T daa = c == 7, dbb = c == 8, dvr = c == 9; \
        T dg = e < cap ? growth * (-dvt - e * ddT) / dT : growth * dcp; \
        T dsl = rate * dg + (growth - (T)1) * drt; \
        T din = growth * ddT + dT * dg + del - (X - ww) / (gl * gl) * dgl; \
        T ddrive = rate * din + inner * drt; \
        T dh = dp1 * dsl * drive + p1 * ddrive; \
        T dzc = gsur * (dh / den + (h - vp) / (den * den) * dvt), drc = detach ? (T)0 : dzc; \
        T dwn = ((T)1 - rho) * ((vv - el) * daa - aa * del) + (ww - target) * drh + zz * dbb + bb * drc; \
        T dvres = dvr; \
        if (rest > 0) { \
            T dgr = er < cap ? gr * (dvr - dvt - er * ddT) / dT : gr * dcp; \
            T drr = rest * drt, dsr = rr * dgr + (gr - (T)1) * drr; \
            T dinr = gr * ddT + dT * dgr - dvr + del - dwn / gl - (X - wn) / (gl * gl) * dgl; \
            dvres += dp1r * dsr * dr + p1r * (rr * dinr + innr * drr); \
        } \
        dcf[c * n + j] += gz * dzc + av * (nz * dh + zz * dvres + jump * drc) + aw * dwn; \
    } \
} while (0)
#define DEFINE_ADEX_BWD(T, BWD) \
void BWD(const T *dz, const T *dvT, const T *dwT, const T *x, long xs, const T *vs, const T *ws, const T *v0, \
         const T *w0, const T *cf, const T *gs, T *dx, T *dv0, T *dw0, T *dcf, T *uo, long nt_, long n, T vp, \
         int detach, int surr, T k, int threads) { \
    if (threads < 1) threads = 1; \
    _Pragma("omp parallel for num_threads(threads) schedule(dynamic, 1)") \
    for (long blk = 0; blk < (n + SF_BLK - 1) / SF_BLK; blk++) { \
        long lo = blk * SF_BLK, hi = lo + SF_BLK < n ? lo + SF_BLK : n; \
        T avb[SF_BLK], awb[SF_BLK]; \
        for (long j = lo; j < hi; j++) { avb[j - lo] = dvT ? dvT[j] : (T)0; awb[j - lo] = dwT ? dwT[j] : (T)0; } \
        if (dcf) for (int c = 0; c < 10; c++) for (long j = lo; j < hi; j++) dcf[c * n + j] = 0; \
        for (long t = uo ? 0 : nt_ - 1; uo ? t < nt_ : t >= 0; t += uo ? 1 : -1) { \
            const T *vp_ = t ? vs + (t - 1) * n : v0, *wp_ = t ? ws + (t - 1) * n : w0, *xt = x + t * xs; \
            for (long j = lo; j < hi; j++) { \
                long q = t * n + j; \
                T rate = cf[j], cap = cf[n + j], rho = cf[2 * n + j], el = cf[3 * n + j], vt = cf[4 * n + j]; \
                T dT = cf[5 * n + j], gl = cf[6 * n + j], den = vp - vt; \
                T vv = vp_[j], ww = wp_[j], X = xt[j]; \
                T e = (vv - vt) / dT; \
                T growth = sf_exp_##T(e < cap ? e : cap), g_v = e < cap ? growth / dT : (T)0; \
                T slope = (growth - (T)1) * rate, s_v = g_v * rate; \
                T inner = dT * growth - (vv - el) + (X - ww) / gl, drive = inner * rate; \
                T p1, dp1; /* phi1(slope) as in ADEX_PHI1 and its derivative from the same expm1 */ \
                if (ABS(slope) < (T)1e-6) { p1 = (T)1 + slope / (T)2; dp1 = (T)0.5; } \
                else { \
                    T sc = slope < (T)30 ? slope : (T)30, em = sf_expm1_##T(sc); \
                    p1 = em / sc; dp1 = slope > (T)30 ? (T)0 : (em + (T)1) / sc - em / (sc * sc); \
                } \
                T h = vv + p1 * drive, over = h - vp; \
                h = h - (over > 0 ? over : (T)0); \
                T u = (h - vp) / den; \
                if (uo) { uo[q] = u; continue; } \
                T aa = cf[7 * n + j], bb = cf[8 * n + j], vr = cf[9 * n + j]; \
                T d_v = (dT * g_v - (T)1) * rate, d_w = -rate / gl; \
                T h_v = (T)1 + dp1 * s_v * drive + p1 * d_v, h_w = p1 * d_w, h_x = -h_w; \
                T zz = u >= 0 ? (T)1 : (T)0, gsur = SURR_AT(T, u, surr, k, gs, q), g = gsur / den; \
                T zv = g * h_v, zw = g * h_w, zx = g * h_x; \
                T rv = detach ? (T)0 : zv, rw = detach ? (T)0 : zw, rx = detach ? (T)0 : zx; \
                T target = aa * (vv - el), wn = target + (ww - target) * rho + zz * bb; \
                T wv = aa * ((T)1 - rho) + bb * rv, wwn = rho + bb * rw, wx = bb * rx; \
                T gap = vp - vv, dd = drive > 0 ? drive : (T)1, ratio = slope * gap / dd; \
                T sigma = ABS(slope) < (T)1e-6 ? gap / dd : \
                    sf_log1p_##T(ratio > (T)-0.999999 ? ratio : (T)-0.999999) / slope; \
                T rest = (T)1 - sigma; \
                rest = rest > 0 ? rest : (T)0; rest = rest < 1 ? rest : (T)1; \
                T vreset = vr, vr_w = (T)0, vr_x = (T)0, er = (vr - vt) / dT, gr = (T)0, rr = (T)0, sr = (T)0; \
                T p1r = (T)1, dp1r = (T)0.5, innr = (T)0, dr = (T)0; \
                if (rest > 0) { \
                    gr = sf_exp_##T(er < cap ? er : cap); rr = rate * rest; sr = (gr - (T)1) * rr; \
                    if (ABS(sr) < (T)1e-6) p1r = (T)1 + sr / (T)2; \
                    else { \
                        T sc = sr < (T)30 ? sr : (T)30, em = sf_expm1_##T(sc); \
                        p1r = em / sc; dp1r = sr > (T)30 ? (T)0 : (em + (T)1) / sc - em / (sc * sc); \
                    } \
                    innr = dT * gr - (vr - el) + (X - wn) / gl; dr = innr * rr; \
                    vreset = vr + p1r * dr; vr_x = p1r * rr / gl; vr_w = -vr_x; \
                } \
                T nz = (T)1 - zz, jump = vreset - h; \
                T vnv = nz * h_v + zz * vr_w * wv + jump * rv; \
                T vnw = nz * h_w + zz * vr_w * wwn + jump * rw; \
                T vnx = nz * h_x + zz * (vr_w * wx + vr_x) + jump * rx; \
                T av = avb[j - lo], aw = awb[j - lo]; \
                T gz = dz ? dz[q] : (T)0; \
                if (dcf) ADEX_COEFFICIENT_GRADS(T); \
                dx[q] = gz * zx + av * vnx + aw * wx; \
                avb[j - lo] = gz * zv + av * vnv + aw * wv; \
                awb[j - lo] = gz * zw + av * vnw + aw * wwn; \
            } \
        } \
        if (!uo) for (long j = lo; j < hi; j++) { dv0[j] = avb[j - lo]; dw0[j] = awb[j - lo]; } \
    } \
}

DEFINE_ADEX_BWD(float, sf_adex_bwd_f32)
DEFINE_ADEX_BWD(double, sf_adex_bwd_f64)
