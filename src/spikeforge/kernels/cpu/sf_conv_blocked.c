/* conv_lif with the output channels in vectors (included by sf_kernels.c, before DEFINE_CONV_LIF's instances, whose
   FWD and BWD call FWD##_blocked and BWD##_blocked where the caller asks for them).

   Where the layer has a multiple of L output channels (L = 16 in float32, 8 in float64: one 64-byte vector), a task
   takes a group of L channels of one sample over a band of output rows, and keeps the current, the membrane and
   (per neuron) the decay and threshold as one vector per output position: c[y, x, 0:L]. A spike then adds each
   weight vector W[g L : g L + L, ci, ky, kx] to one vector of sums (one instruction for L outputs, where the
   per-plane kernel adds one scalar per output), and the dense current is the outer-product form of the
   convolution, a fused multiply-add of a weight vector with one input value per tap. Per output the operations
   and their order are those of the per-plane kernel (bias first, then one add per spike in the order of the
   events, or one fused multiply-add per tap in the order (ci, ky, kx)), and the LIF update is the same
   expression, so the forward gives the same bits as the per-plane one.
   The spikes go to the [T, B, C_out, H_o, W_o] output through a bit matrix: the update leaves, per position, the
   L-bit mask of the channels that fired; L positions' masks are loaded as one vector of 16-bit words, and for
   channel l the positions whose word has bit l set are one test instruction, which writes L spikes of that
   channel's row as a masked move of ones.
   The backward takes bands of rows small enough (SF_CLIF_BROWS) that a task's h, dL/dz and dL/dc over all steps
   stay in the core's cache: it recomputes h as the forward did, gathers dL/dz into the band's layout (the next
   step's rows prefetched meanwhile), runs sf_lif_bwd's recursion (LIFB##_lif) over the band as over any slice of
   neurons, and sums the weight gradient per tap in vectors over the band's outputs (from the events: per spike,
   the vectors of dL/dc it reached; from frames: dL/dc times the input value). Each (sample, band) writes its own
   partial sums, which the caller adds, so the result does not depend on the thread count.
   Needs AVX-512 (F, BW, VL, DQ); elsewhere SF_CONV_BLOCKED is 0 and the caller never asks for it. */
/* output rows per band of the blocked backward: its per-task h, dL/dz and dL/dc over all steps ([T, rows * wo, L]
   each) within about SF_BAND_BYTES, so that they stay in the core's cache; at least one row */
#define SF_BAND_BYTES (1L << 20)
#define SF_CLIF_BROWS(T, nt_, ho, wo) \
    (SF_BAND_BYTES / (3 * (nt_) * (wo) * SF_LANES(T) * (long)sizeof(T) + 1) < 1 ? 1L : \
     SF_BAND_BYTES / (3 * (nt_) * (wo) * SF_LANES(T) * (long)sizeof(T) + 1) > (ho) ? (long)(ho) : \
     SF_BAND_BYTES / (3 * (nt_) * (wo) * SF_LANES(T) * (long)sizeof(T) + 1))
/* values of scratch per thread that FWD##_blocked takes (at most: a band is at most the whole plane) */
#define SF_CLIF_BPER(T, ho, wo, wp, cin, kh, kw) \
    ((((kh) - 1) * (wp) + (kw) - 1 + ((ho) + (kh) - 1) * (wp) + 3 * (ho) * (wo) + (cin) * (kh) * (kw) + 1) * \
         SF_LANES(T) + \
     ((wo) + SF_LANES(T)) * 2 / (long)sizeof(T) + 1)

/* ... and BWD##_blocked: two band buffers, membrane, weights, bias, h, dL/dz, dL/dc over T, seven band vectors,
   the accumulators */
#define SF_CLIF_BPER_BWD(T, nt_, ho, wo, wp, cin, kh, kw) \
    ((2 * (((kh) - 1) * (wp) + (kw) - 1 + (SF_CLIF_BROWS(T, nt_, ho, wo) + (kh) - 1) * (wp)) + \
      (8 + 3 * (nt_)) * SF_CLIF_BROWS(T, nt_, ho, wo) * (wo) + 2 * ((cin) * (kh) * (kw) + 1)) * SF_LANES(T))
/* the input offset of each tap q = (ci, ky, kx) in the padded frames: off[q] = ci * hp * wp + ky * wp + kx (both
   conv kernels) */
#define DEFINE_CONV_OFFSETS(FWD) \
static void FWD##_offsets(long *off, long cin, long hp, long wp, long kh, long kw) { \
    long q = 0; \
    for (long ci = 0; ci < cin; ci++) \
        for (long ky = 0; ky < kh; ky++) \
            for (long kx = 0; kx < kw; kx++) off[q++] = ci * hp * wp + ky * wp + kx; \
}
DEFINE_CONV_OFFSETS(sf_clif_fwd_f32)
DEFINE_CONV_OFFSETS(sf_clif_fwd_f64)

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__AVX512DQ__)
#define SF_CONV_BLOCKED 1

/* the spikes of 16 channels at count <= 16 positions (bit l of masks[x]: channel l fired at x) into the channels'
   rows zr + l * stride, count values each */
static inline void sf_zchunk_float(float *zr, long stride, const uint16_t *masks, long count) {
    const __mmask16 tail = (__mmask16)((1u << count) - 1);
    const __m256i m = _mm256_maskz_loadu_epi16(tail, masks);
    const __m512 ones = _mm512_set1_ps(1.0f);
    for (int l = 0; l < 16; l++) {
        __m512 s = _mm512_maskz_mov_ps(_mm256_test_epi16_mask(m, _mm256_set1_epi16((short)(1u << l))), ones);
        if (count == 16) _mm512_storeu_ps(zr + l * stride, s);
        else _mm512_mask_storeu_ps(zr + l * stride, tail, s);
    }
}
/* the same for 8 channels of float64 */
static inline void sf_zchunk_double(double *zr, long stride, const uint16_t *masks, long count) {
    const __mmask8 tail = (__mmask8)((1u << count) - 1);
    const __m128i m = _mm_maskz_loadu_epi16(tail, masks);
    const __m512d ones = _mm512_set1_pd(1.0);
    for (int l = 0; l < 8; l++) {
        __m512d s = _mm512_maskz_mov_pd(_mm_test_epi16_mask(m, _mm_set1_epi16((short)(1u << l))), ones);
        if (count == 8) _mm512_storeu_pd(zr + l * stride, s);
        else _mm512_mask_storeu_pd(zr + l * stride, tail, s);
    }
}
/* the lanes of a vector comparison's result (all ones where true) as a bit mask */
#define SF_BITS_float(c) ((uint16_t)_mm512_movepi32_mask((__m512i)(c)))
#define SF_BITS_double(c) ((uint16_t)_mm512_movepi64_mask((__m512i)(c)))
/* dst[j, l] = src[l * stride + j] for j < count: each position's L channel values as one vector (a gather) */
static inline void SF_GATHER_float(float *dst, const float *src, long stride, long count) {
    const __m512i idx = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                           _mm512_set1_epi32((int)stride));
    for (long j = 0; j < count; j++) _mm512_storeu_ps(dst + j * 16, _mm512_i32gather_ps(idx, src + j, 4));
}
static inline void SF_GATHER_double(double *dst, const double *src, long stride, long count) {
    const __m256i idx = _mm256_mullo_epi32(_mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0), _mm256_set1_epi32((int)stride));
    for (long j = 0; j < count; j++) _mm512_storeu_pd(dst + j * 8, _mm512_i32gather_pd(idx, src + j, 8));
}
/* the reverse: dst[l * stride + j] = src[j, l] for j < count (a scatter) */
static inline void SF_SCATTER_float(float *dst, const float *src, long stride, long count) {
    const __m512i idx = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                           _mm512_set1_epi32((int)stride));
    for (long j = 0; j < count; j++) _mm512_i32scatter_ps(dst + j, idx, _mm512_loadu_ps(src + j * 16), 4);
}
static inline void SF_SCATTER_double(double *dst, const double *src, long stride, long count) {
    const __m256i idx = _mm256_mullo_epi32(_mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0), _mm256_set1_epi32((int)stride));
    for (long j = 0; j < count; j++) _mm512_i32scatter_pd(dst + j, idx, _mm512_loadu_pd(src + j * 8), 8);
}

#define DEFINE_CONV_BLOCKED(T, FWD, BWD, LIFB) \
/* the first event in [lo, hi) whose key (channel, position) is at least key (events sorted by channel, then \
   position; plane: positions per channel) */ \
static int64_t FWD##_lower(const int32_t *evp, const int32_t *evc, int64_t lo, int64_t hi, long key, long plane) { \
    while (lo < hi) { \
        int64_t mid = lo + (hi - lo) / 2; \
        if ((long)evc[mid] * plane + evp[mid] < key) lo = mid + 1; \
        else hi = mid; \
    } \
    return lo; \
} \
/* events [e0, e1) into the sums c0 (vector of position i at c0 + i * L, i = padded row relative to the band * wp + \
   column; shift: the band's first position), a K x K kernel (K a constant): all K * K sums of a spike are loaded \
   before any is stored; K = 0: any kernel, the same adds in loops */ \
SF_INLINE void FWD##_bscatter(const int32_t *evp, const int32_t *evc, int64_t e0, int64_t e1, const T *wb, T *c0, \
                              long shift, long wp, long kh, long kw, const int K) { \
    const long L = SF_LANES(T); \
    for (int64_t e = e0; e < e1; e++) { \
        T *base = c0 + (evp[e] - shift) * L; \
        if (K) { \
            const T *w = wb + (long)evc[e] * K * K * L; \
            sf_vec_##T s[K > 0 ? K * K : 1]; \
            for (int ky = 0; ky < K; ky++) \
                for (int kx = 0; kx < K; kx++) \
                    s[ky * K + kx] = SF_VLOAD(T, base - (ky * wp + kx) * L) + SF_VLOAD(T, w + (ky * K + kx) * L); \
            for (int ky = 0; ky < K; ky++) \
                for (int kx = 0; kx < K; kx++) SF_VSTORE(T, base - (ky * wp + kx) * L, s[ky * K + kx]); \
        } else { \
            const T *w = wb + (long)evc[e] * kh * kw * L; \
            for (long ky = 0; ky < kh; ky++) \
                for (long kx = 0; kx < kw; kx++) { \
                    T *p = base - (ky * wp + kx) * L; \
                    SF_VSTORE(T, p, SF_VLOAD(T, p) + SF_VLOAD(T, w + (ky * kw + kx) * L)); \
                } \
        } \
    } \
} \
static void FWD##_bevents(const int32_t *evp, const int32_t *evc, int64_t e0, int64_t e1, const T *wb, T *c0, \
                          long shift, long wp, long kh, long kw) { \
    switch (kh == kw && kw <= 7 ? kw : 0) { \
    case 1: FWD##_bscatter(evp, evc, e0, e1, wb, c0, shift, wp, kh, kw, 1); return; \
    case 2: FWD##_bscatter(evp, evc, e0, e1, wb, c0, shift, wp, kh, kw, 2); return; \
    case 3: FWD##_bscatter(evp, evc, e0, e1, wb, c0, shift, wp, kh, kw, 3); return; \
    case 4: FWD##_bscatter(evp, evc, e0, e1, wb, c0, shift, wp, kh, kw, 4); return; \
    case 5: FWD##_bscatter(evp, evc, e0, e1, wb, c0, shift, wp, kh, kw, 5); return; \
    case 6: FWD##_bscatter(evp, evc, e0, e1, wb, c0, shift, wp, kh, kw, 6); return; \
    case 7: FWD##_bscatter(evp, evc, e0, e1, wb, c0, shift, wp, kh, kw, 7); return; \
    default: FWD##_bscatter(evp, evc, e0, e1, wb, c0, shift, wp, kh, kw, 0); \
    } \
} \
/* the dense current of U consecutive positions of a row (U chains of fused multiply-adds): c[i + u] = bias + sum \
   over taps q of wb[q] * x[off[q] + i + u] */ \
SF_INLINE void FWD##_bdense(const T *x, const long *off, const T *wb, long taps, sf_vec_##T bv, T *c, long i, \
                            const int U) { \
    const long L = SF_LANES(T); \
    sf_vec_##T a[8]; \
    for (int u = 0; u < U; u++) a[u] = bv; \
    for (long q = 0; q < taps; q++) { \
        sf_vec_##T wq = SF_VLOAD(T, wb + q * L); \
        const T *s = x + off[q] + i; \
        for (int u = 0; u < U; u++) a[u] = SF_VFMA_##T(wq, SF_SPLAT_##T(s[u]), a[u]); \
    } \
    for (int u = 0; u < U; u++) SF_VSTORE(T, c + (i + u) * L, a[u]); \
} \
/* one band row's LIF update (sf_lif_fwd's expression) from its current c (wo vectors) and membrane v, with one \
   decay and threshold (uni: the vectors bv, tv) or one per neuron (the row's vectors at bb, tb): the fired channels' \
   masks into bits (forward) or h into hs (the backward's recomputation), where not NULL */ \
SF_INLINE void FWD##_brow(const T *c, T *v, uint16_t *bits, T *hs, const T *bb, const T *tb, long wo, \
                          sf_vec_##T vlv, sf_vec_##T bv, sf_vec_##T tv, sf_vec_##T vrv, const int reset, \
                          const int uni) { \
    const long L = SF_LANES(T); \
    for (long x = 0; x < wo; x++) { \
        sf_vec_##T b = uni ? bv : SF_VLOAD(T, bb + x * L), t = uni ? tv : SF_VLOAD(T, tb + x * L); \
        sf_vec_##T h = (vlv + b * (SF_VLOAD(T, v + x * L) - vlv)) + SF_VLOAD(T, c + x * L); \
        __typeof__(h - t >= 0) fire = h - t >= 0; \
        sf_vec_##T s = __builtin_convertvector(fire & 1, sf_vec_##T); \
        sf_vec_##T vn = h; \
        if (reset == 0) vn = h - s * t; \
        else if (reset == 1) vn = h - s * (h - vrv); \
        SF_VSTORE(T, v + x * L, vn); \
        if (bits) bits[x] = SF_BITS_##T(fire); \
        if (hs) SF_VSTORE(T, hs + x * L, h); \
    } \
} \
/* the band's rows at one step (FWD##_brow with reset and uni constants): rows of c are wp vectors apart, of v, \
   bb, tb and hs wo; the spikes of each row go out through bits into z (the channels' planes hw apart), where z is \
   not NULL */ \
static void FWD##_bstep(const T *c, T *v, uint16_t *bits, T *z, T *hs, const T *bb, const T *tb, long r, long wo, \
                        long wp, long hw, sf_vec_##T vlv, sf_vec_##T bv, sf_vec_##T tv, sf_vec_##T vrv, int reset, \
                        int uni) { \
    const long L = SF_LANES(T); \
    for (long yy = 0; yy < r; yy++) { \
        const T *cy = c + yy * wp * L, *by = uni ? 0 : bb + yy * wo * L, *ty = uni ? 0 : tb + yy * wo * L; \
        T *vy = v + yy * wo * L, *hy = hs ? hs + yy * wo * L : 0; \
        switch ((reset >= 0 && reset <= 2 ? reset : 2) * 2 + (uni ? 1 : 0)) { \
        case 0: FWD##_brow(cy, vy, bits, hy, by, ty, wo, vlv, bv, tv, vrv, 0, 0); break; \
        case 1: FWD##_brow(cy, vy, bits, hy, by, ty, wo, vlv, bv, tv, vrv, 0, 1); break; \
        case 2: FWD##_brow(cy, vy, bits, hy, by, ty, wo, vlv, bv, tv, vrv, 1, 0); break; \
        case 3: FWD##_brow(cy, vy, bits, hy, by, ty, wo, vlv, bv, tv, vrv, 1, 1); break; \
        case 4: FWD##_brow(cy, vy, bits, hy, by, ty, wo, vlv, bv, tv, vrv, 2, 0); break; \
        default: FWD##_brow(cy, vy, bits, hy, by, ty, wo, vlv, bv, tv, vrv, 2, 1); \
        } \
        if (z) \
            for (long x = 0; x < wo; x += L) sf_zchunk_##T(z + yy * wo + x, hw, bits + x, wo - x < L ? wo - x : L); \
    } \
} \
/* one task's geometry and sources: sample b, channels g L .. g L + L, output rows y0 .. y0 + r; c0 the band's sums \
   (vector of output (y0 + yy, x) at c0 + (yy * wp + x) * L; room above for the taps that reach outside), wb the \
   weight vectors [taps, L], bv the bias vector */ \
typedef struct { \
    const T *xp; const int64_t *evo; const int32_t *evp, *evc; const long *off; const T *wb; sf_vec_##T bv; T *c0; \
    long nb, cin, hp, wp, kh, kw, taps, wo, xstep, nband, b, y0, r; \
} FWD##_bsrc; \
/* the band's current at step t into c0 */ \
static void FWD##_bcurrent(const FWD##_bsrc *s, long t) { \
    const long L = SF_LANES(T), wp = s->wp, kh = s->kh, kw = s->kw, y0 = s->y0, r = s->r; \
    if (s->evo) { \
        for (long i = 0; i < r * wp; i++) SF_VSTORE(T, s->c0 + i * L, s->bv); \
        int64_t e0 = s->evo[t * s->nb + s->b], e1 = s->evo[t * s->nb + s->b + 1]; \
        if (s->nband == 1) { FWD##_bevents(s->evp, s->evc, e0, e1, s->wb, s->c0, 0, wp, kh, kw); return; } \
        for (long ci = 0; ci < s->cin; ci++) { /* per channel, the spikes in padded rows y0 .. y0 + r + kh - 2 */ \
            long plane = s->hp * wp; \
            int64_t lo = FWD##_lower(s->evp, s->evc, e0, e1, ci * plane + y0 * wp, plane); \
            int64_t hi = FWD##_lower(s->evp, s->evc, lo, e1, ci * plane + (y0 + r + kh - 1) * wp, plane); \
            FWD##_bevents(s->evp, s->evc, lo, hi, s->wb, s->c0, y0 * wp, wp, kh, kw); \
        } \
        return; \
    } \
    const T *xt = s->xp + t * s->xstep + s->b * s->cin * s->hp * wp + y0 * wp; \
    for (long yy = 0; yy < r; yy++) { \
        long i = yy * wp, x = 0; \
        for (; x + 8 <= s->wo; x += 8) FWD##_bdense(xt, s->off, s->wb, s->taps, s->bv, s->c0, i + x, 8); \
        for (; x + 4 <= s->wo; x += 4) FWD##_bdense(xt, s->off, s->wb, s->taps, s->bv, s->c0, i + x, 4); \
        for (; x < s->wo; x++) FWD##_bdense(xt, s->off, s->wb, s->taps, s->bv, s->c0, i + x, 1); \
    } \
} \
/* the task's weight vectors, bias vector, starting membrane and (not uni) decay and threshold per neuron (p0: \
   channel l's band starts at p0 + l * hw) */ \
static void FWD##_bload(const T *wt, const T *bias, const T *v0, const T *beta, const T *thr, int uni, long g, \
                        long taps, long p0, long hw, long nv, T *wb, T *bvp, T *vb, T *bb, T *tb) { \
    const long L = SF_LANES(T); \
    for (long q = 0; q < taps; q++) \
        for (long l = 0; l < L; l++) wb[q * L + l] = wt[(g * L + l) * taps + q]; \
    for (long l = 0; l < L; l++) bvp[l] = bias ? bias[g * L + l] : (T)0; \
    SF_GATHER_##T(vb, v0 + p0, hw, nv); \
    if (!uni) { /* the neurons' own decay and threshold, in the band's layout */ \
        SF_GATHER_##T(bb, beta + p0, hw, nv); \
        SF_GATHER_##T(tb, thr + p0, hw, nv); \
    } \
} \
static void FWD##_blocked(const T *xp, const int64_t *evo, const int32_t *evp, const int32_t *evc, const T *wt, \
                          const T *bias, const T *v0, const T *beta, const T *thr, T *z, T *v, T *clast, T *scratch, \
                          long per, long nt_, long nb, long cin, long hp, long wp, long co, long kh, long kw, T vl, \
                          T vr, int reset, int uni, int threads) { \
    const long L = SF_LANES(T); \
    long ho = hp - kh + 1, wo = wp - kw + 1, taps = cin * kh * kw, hw = ho * wo, n = nb * co * hw, ng = co / L; \
    /* bands only where samples x channel groups are too few to share out (each output is computed alike) */ \
    long want = 2 * (long)threads, nband = nb * ng >= want ? 1 : (want + nb * ng - 1) / (nb * ng); \
    if (nband > ho) nband = ho; \
    long R = (ho + nband - 1) / nband; \
    nband = (ho + R - 1) / R; \
    long room = (kh - 1) * wp + kw - 1, nc = room + (R + kh - 1) * wp; \
    long off[taps > 0 ? taps : 1]; \
    FWD##_offsets(off, cin, hp, wp, kh, kw); \
    const sf_vec_##T vlv = SF_SPLAT_##T(vl), bev = SF_SPLAT_##T(beta[0]), tv = SF_SPLAT_##T(thr[0]), \
                     vrv = SF_SPLAT_##T(vr); \
    _Pragma("omp parallel num_threads(threads)") \
    { \
    /* per thread (SF_CLIF_BPER): the band's sums, its membrane, the weight vectors, the bias vector, the decay \
       and threshold per neuron (not uni) and the fired channels' masks of a row */ \
    T *c0 = scratch + (long)SF_THREAD_NUM() * per + room * L, *vb = c0 + (nc - room) * L, *wb = vb + R * wo * L; \
    T *bvp = wb + taps * L, *bb = bvp + L, *tb = bb + R * wo * L; \
    uint16_t *bits = (uint16_t *)(tb + R * wo * L); \
    _Pragma("omp for schedule(dynamic, 1)") \
    for (long task = 0; task < nb * ng * nband; task++) { \
        long b = task / (ng * nband), g = task / nband % ng, y0 = task % nband * R; \
        long r = ho - y0 < R ? ho - y0 : R, p0 = (b * co + g * L) * hw + y0 * wo; \
        FWD##_bload(wt, bias, v0, beta, thr, uni, g, taps, p0, hw, r * wo, wb, bvp, vb, bb, tb); \
        FWD##_bsrc s = {xp, evo, evp, evc, off, wb, SF_VLOAD(T, bvp), c0, nb, cin, hp, wp, kh, kw, taps, wo, \
                        nb * cin * hp * wp, nband, b, y0, r}; \
        for (long t = 0; t < nt_; t++) { \
            FWD##_bcurrent(&s, t); \
            FWD##_bstep(c0, vb, bits, z + t * n + p0, 0, bb, tb, r, wo, wp, hw, vlv, bev, tv, vrv, reset, uni); \
        } \
        SF_SCATTER_##T(v + p0, vb, hw, r * wo); \
        if (clast) \
            for (long yy = 0; yy < r; yy++) SF_SCATTER_##T(clast + p0 + yy * wo, c0 + yy * wp * L, hw, wo); \
    } \
    } \
} \
/* the backward's weight gradient of one step from the events: per spike (channel ci, position pos), the vectors \
   of dL/dc (d0, the band's layout, zero outside it) at the outputs it reached go into the tap's accumulator; the \
   events of one channel are consecutive, their K x K accumulators stay in registers (K a constant; 0: any kernel) */ \
SF_INLINE void BWD##_bwev(const int32_t *evp, const int32_t *evc, int64_t e0, int64_t e1, const T *d0, T *acc, \
                          long shift, long wp, long kh, long kw, const int K) { \
    const long L = SF_LANES(T); \
    int64_t e = e0; \
    while (e < e1) { \
        int32_t ch = evc[e]; \
        T *a = acc + (long)ch * kh * kw * L; \
        if (K) { \
            sf_vec_##T u[K > 0 ? K * K : 1]; \
            for (int q = 0; q < K * K; q++) u[q] = SF_VLOAD(T, a + q * L); \
            for (; e < e1 && evc[e] == ch; e++) { \
                const T *base = d0 + (evp[e] - shift) * L; \
                for (int ky = 0; ky < K; ky++) \
                    for (int kx = 0; kx < K; kx++) u[ky * K + kx] += SF_VLOAD(T, base - (ky * wp + kx) * L); \
            } \
            for (int q = 0; q < K * K; q++) SF_VSTORE(T, a + q * L, u[q]); \
        } else \
            for (; e < e1 && evc[e] == ch; e++) { \
                const T *base = d0 + (evp[e] - shift) * L; \
                for (long ky = 0; ky < kh; ky++) \
                    for (long kx = 0; kx < kw; kx++) \
                        SF_VSTORE(T, a + (ky * kw + kx) * L, \
                                  SF_VLOAD(T, a + (ky * kw + kx) * L) + SF_VLOAD(T, base - (ky * wp + kx) * L)); \
            } \
    } \
} \
static void BWD##_bwevents(const int32_t *evp, const int32_t *evc, int64_t e0, int64_t e1, const T *d0, T *acc, \
                           long shift, long wp, long kh, long kw) { \
    switch (kh == kw && kw <= 5 ? kw : 0) { \
    case 1: BWD##_bwev(evp, evc, e0, e1, d0, acc, shift, wp, kh, kw, 1); return; \
    case 2: BWD##_bwev(evp, evc, e0, e1, d0, acc, shift, wp, kh, kw, 2); return; \
    case 3: BWD##_bwev(evp, evc, e0, e1, d0, acc, shift, wp, kh, kw, 3); return; \
    case 4: BWD##_bwev(evp, evc, e0, e1, d0, acc, shift, wp, kh, kw, 4); return; \
    case 5: BWD##_bwev(evp, evc, e0, e1, d0, acc, shift, wp, kh, kw, 5); return; \
    default: BWD##_bwev(evp, evc, e0, e1, d0, acc, shift, wp, kh, kw, 0); \
    } \
} \
/* the dense weight gradient of one step: acc[q] += sum over the band's outputs i of d0[i] * x[off[q] + i], for G \
   taps at a time (G chains, in registers over the band) */ \
SF_INLINE void BWD##_bwdense(const T *xin, const long *off, const T *d0, long r, long wp, long wo, T *acc, \
                             const int G) { \
    const long L = SF_LANES(T); \
    sf_vec_##T a[8]; \
    for (int q = 0; q < G; q++) a[q] = SF_VLOAD(T, acc + q * L); \
    for (long yy = 0; yy < r; yy++) \
        for (long xx = 0; xx < wo; xx++) { \
            long i = yy * wp + xx; \
            sf_vec_##T dv = SF_VLOAD(T, d0 + i * L); \
            for (int q = 0; q < G; q++) a[q] = SF_VFMA_##T(dv, SF_SPLAT_##T(xin[off[q] + i]), a[q]); \
        } \
    for (int q = 0; q < G; q++) SF_VSTORE(T, acc + q * L, a[q]); \
} \
static void BWD##_blocked(const T *xp, const int64_t *evo, const int32_t *evp, const int32_t *evc, const T *wt, \
                          const T *bias, const T *v0, const T *beta, const T *thr, const T *dz, const T *dvT, \
                          const T *dcl, T *dwp, T *dbp, T *dxc, T *dv0, T *scratch, long per, long nt_, long nb, \
                          long cin, long hp, long wp, long co, long kh, long kw, T vl, T vr, int reset, int detach, \
                          int surr, T k, int uni, T *dbeta, T *dthr, int threads) { \
    const long L = SF_LANES(T); \
    long ho = hp - kh + 1, wo = wp - kw + 1, taps = cin * kh * kw, hw = ho * wo, n = nb * co * hw, ng = co / L; \
    long R = SF_CLIF_BROWS(T, nt_, ho, wo), nband = (ho + R - 1) / R, S = R * wo * L; \
    long room = (kh - 1) * wp + kw - 1, nc = room + (R + kh - 1) * wp; \
    long off[taps > 0 ? taps : 1]; \
    FWD##_offsets(off, cin, hp, wp, kh, kw); \
    const sf_vec_##T vlv = SF_SPLAT_##T(vl), bev = SF_SPLAT_##T(beta[0]), tv = SF_SPLAT_##T(thr[0]), \
                     vrv = SF_SPLAT_##T(vr); \
    _Pragma("omp parallel num_threads(threads)") \
    { \
    /* per thread (SF_CLIF_BPER_BWD): the band's sums and its dL/dc at one step (both with the room above), the \
       membrane, the weight and bias vectors, then h, dL/dz and dL/dc over all steps, v0, dL/dv_T, dL/dv0, the \
       decay and threshold per neuron and their gradients, and the accumulators of the weight (taps) and bias \
       gradients */ \
    T *c0 = scratch + (long)SF_THREAD_NUM() * per + room * L, *d0 = c0 + nc * L, *vb = d0 + (nc - room) * L; \
    T *wb = vb + S, *bvp = wb + taps * L, *hs = bvp + L, *dzb = hs + nt_ * S, *dh = dzb + nt_ * S, *v0b = dh + nt_ * S; \
    T *dvb = v0b + S, *dv0b = dvb + S, *bb = dv0b + S, *tb = bb + S, *dbb = tb + S, *dtb = dbb + S, *acc = dtb + S; \
    _Pragma("omp for schedule(dynamic, 1)") \
    for (long task = 0; task < nb * ng * nband; task++) { \
        long b = task / (ng * nband), g = task / nband % ng, band = task % nband, y0 = band * R; \
        long r = ho - y0 < R ? ho - y0 : R, p0 = (b * co + g * L) * hw + y0 * wo, nv = r * wo, sv = nv * L; \
        FWD##_bload(wt, bias, v0, beta, thr, uni, g, taps, p0, hw, nv, wb, bvp, vb, bb, tb); \
        memcpy(v0b, vb, sizeof(T) * (size_t)sv); \
        FWD##_bsrc s = {xp, evo, evp, evc, off, wb, SF_VLOAD(T, bvp), c0, nb, cin, hp, wp, kh, kw, taps, wo, \
                        nb * cin * hp * wp, nband, b, y0, r}; \
        for (long t = 0; t < nt_; t++) { /* h over all steps, as the forward computed it */ \
            FWD##_bcurrent(&s, t); \
            FWD##_bstep(c0, vb, 0, 0, hs + t * sv, bb, tb, r, wo, wp, hw, vlv, bev, tv, vrv, reset, uni); \
        } \
        /* dL/dz and dL/dv_T in the band's layout: the L channels' values at a position gathered into one vector */ \
        if (dz) \
            for (long t = 0; t < nt_; t++) { \
                if (t + 1 < nt_) /* the next step's rows, into the cache while this step's are gathered */ \
                    for (long l = 0; l < L; l++) \
                        for (long j = 0; j < nv; j += 64 / (long)sizeof(T)) \
                            __builtin_prefetch(dz + (t + 1) * n + p0 + l * hw + j, 0, 3); \
                SF_GATHER_##T(dzb + t * sv, dz + t * n + p0, hw, nv); \
            } \
        if (dvT) SF_GATHER_##T(dvb, dvT + p0, hw, nv); \
        LIFB##_lif(dz ? dzb : 0, dvT ? dvb : 0, hs, v0b, uni ? beta : bb, uni ? thr : tb, dh, dv0b, dbeta ? dbb : 0, \
                   dthr ? dtb : 0, nt_, sv, vl, vr, reset, detach, surr, k, 0, sv, uni); \
        SF_SCATTER_##T(dv0 + p0, dv0b, hw, nv); \
        if (dbeta) SF_SCATTER_##T(dbeta + p0, dbb, hw, nv); \
        if (dthr) SF_SCATTER_##T(dthr + p0, dtb, hw, nv); \
        if (dcl) { /* the last step's current is also an output (the state's i): its gradient joins dL/dc there */ \
            SF_GATHER_##T(dvb, dcl + p0, hw, nv); \
            for (long j = 0; j < sv; j++) dh[(nt_ - 1) * sv + j] += dvb[j]; \
        } \
        if (dxc) \
            for (long t = 0; t < nt_; t++) SF_SCATTER_##T(dxc + t * n + p0, dh + t * sv, hw, nv); \
        /* the weight and bias gradients: dL/dc of each step into the band's layout d0 (zero outside the band) */ \
        memset(d0 - room * L, 0, sizeof(T) * (size_t)(nc * L)); \
        memset(acc, 0, sizeof(T) * (size_t)((taps + 1) * L)); \
        sf_vec_##T db = SF_SPLAT_##T((T)0); \
        for (long t = 0; t < nt_; t++) { \
            for (long yy = 0; yy < r; yy++) \
                for (long x = 0; x < wo; x++) { \
                    sf_vec_##T dv = SF_VLOAD(T, dh + t * sv + (yy * wo + x) * L); \
                    SF_VSTORE(T, d0 + (yy * wp + x) * L, dv); \
                    db += dv; \
                } \
            if (evo) { \
                int64_t e0 = evo[t * nb + b], e1 = evo[t * nb + b + 1]; \
                if (nband == 1) BWD##_bwevents(evp, evc, e0, e1, d0, acc, 0, wp, kh, kw); \
                else \
                    for (long ci = 0; ci < cin; ci++) { \
                        long plane = hp * wp; \
                        int64_t lo = FWD##_lower(evp, evc, e0, e1, ci * plane + y0 * wp, plane); \
                        int64_t hi = FWD##_lower(evp, evc, lo, e1, ci * plane + (y0 + r + kh - 1) * wp, plane); \
                        BWD##_bwevents(evp, evc, lo, hi, d0, acc, y0 * wp, wp, kh, kw); \
                    } \
                continue; \
            } \
            const T *xt = xp + t * nb * cin * hp * wp + b * cin * hp * wp + y0 * wp; \
            for (long q = 0; q < taps; q += 8) { \
                const long *oq = off + q; T *aq = acc + q * L; \
                switch (taps - q < 8 ? taps - q : 8) { \
                case 8: BWD##_bwdense(xt, oq, d0, r, wp, wo, aq, 8); break; \
                case 7: BWD##_bwdense(xt, oq, d0, r, wp, wo, aq, 7); break; \
                case 6: BWD##_bwdense(xt, oq, d0, r, wp, wo, aq, 6); break; \
                case 5: BWD##_bwdense(xt, oq, d0, r, wp, wo, aq, 5); break; \
                case 4: BWD##_bwdense(xt, oq, d0, r, wp, wo, aq, 4); break; \
                case 3: BWD##_bwdense(xt, oq, d0, r, wp, wo, aq, 3); break; \
                case 2: BWD##_bwdense(xt, oq, d0, r, wp, wo, aq, 2); break; \
                default: BWD##_bwdense(xt, oq, d0, r, wp, wo, aq, 1); \
                } \
            } \
        } \
        long part = b * nband + band; /* each band's partial sums: the caller adds them */ \
        for (long l = 0; l < L; l++) { \
            for (long q = 0; q < taps; q++) dwp[(part * co + g * L + l) * taps + q] = acc[q * L + l]; \
            if (dbp) dbp[part * co + g * L + l] = db[l]; \
        } \
    } \
    } \
}

#else
#define SF_CONV_BLOCKED 0
#define DEFINE_CONV_BLOCKED(T, FWD, BWD, LIFB) /* never called: sf_clif_lanes_* say 0 */ \
static void FWD##_blocked(const T *xp, const int64_t *evo, const int32_t *evp, const int32_t *evc, const T *wt, \
                          const T *bias, const T *v0, const T *beta, const T *thr, T *z, T *v, T *clast, T *scratch, \
                          long per, long nt_, long nb, long cin, long hp, long wp, long co, long kh, long kw, T vl, \
                          T vr, int reset, int uni, int threads) {} \
static void BWD##_blocked(const T *xp, const int64_t *evo, const int32_t *evp, const int32_t *evc, const T *wt, \
                          const T *bias, const T *v0, const T *beta, const T *thr, const T *dz, const T *dvT, \
                          const T *dcl, T *dwp, T *dbp, T *dxc, T *dv0, T *scratch, long per, long nt_, long nb, \
                          long cin, long hp, long wp, long co, long kh, long kw, T vl, T vr, int reset, int detach, \
                          int surr, T k, int uni, T *dbeta, T *dthr, int threads) {}
#endif
DEFINE_CONV_BLOCKED(float, sf_clif_fwd_f32, sf_clif_bwd_f32, sf_elif_bwd_f32)
DEFINE_CONV_BLOCKED(double, sf_clif_fwd_f64, sf_clif_bwd_f64, sf_elif_bwd_f64)
/* partial sums per sample of the blocked backward's weight and bias gradients (its bands) */
long sf_clif_parts_f32(long nt_, long ho, long wo) {
    long r = SF_CLIF_BROWS(float, nt_, ho, wo);
    return (ho + r - 1) / r;
}
long sf_clif_parts_f64(long nt_, long ho, long wo) {
    long r = SF_CLIF_BROWS(double, nt_, ho, wo);
    return (ho + r - 1) / r;
}
long sf_clif_lanes_f32(void) { return SF_CONV_BLOCKED ? SF_LANES(float) : 0; }
long sf_clif_lanes_f64(void) { return SF_CONV_BLOCKED ? SF_LANES(double) : 0; }
