/* Prototypes of every function the fused CPU kernel library exports (sf_kernels.c includes this file, so the
   compiler rejects a definition that differs). Python declares the same signatures once, in _signatures.py;
   tests/kernels/test_signatures.py parses this header and checks that the two agree.

   Codes shared with Python: reset 0 subtract, 1 zero, 2 none (spikeforge.kernels.RESETS); store 0 nothing
   (inference), 1 the input dtype, 2 half precision plus spike bits; surr = Surrogate.kernel_id (0 fast sigmoid,
   1 sigmoid, 2 atan, 3 triangle, 4 boxcar, 5 straight through) or 6: any other surrogate, whose derivative the
   caller evaluated over the stored tensor and passes as gs (one value per neuron and step; NULL otherwise), k the
   parameter of a built-in one. A NULL gradient pointer means
   "not needed". */
#ifndef SF_KERNELS_H
#define SF_KERNELS_H
#include <stdint.h>

void sf_lif_fwd_f32(const float *x, const float *v0, const float *beta, const float *thr, float *z, void *hs, float *v, long nt_, long n, float vl, float vr, int reset, int store, int uni, int threads);
void sf_lif_fwd_f64(const double *x, const double *v0, const double *beta, const double *thr, double *z, void *hs, double *v, long nt_, long n, double vl, double vr, int reset, int store, int uni, int threads);
void sf_lif_bwd_f32(const float *dz, const float *dvT, const void *hs, const uint8_t *zbits, const float *gs, const float *v0, const float *beta, const float *thr, float *dx, float *dv0, float *dbeta, float *dthr, long nt_, long n, float vl, float vr, int reset, int detach, int store, int surr, float k, float *scratch, int uni, int threads);
void sf_lif_bwd_f64(const double *dz, const double *dvT, const void *hs, const uint8_t *zbits, const double *gs, const double *v0, const double *beta, const double *thr, double *dx, double *dv0, double *dbeta, double *dthr, long nt_, long n, double vl, double vr, int reset, int detach, int store, int surr, double k, double *scratch, int uni, int threads);
void sf_pack_bits_f32(const float *z, uint8_t *bits, long n, int threads);
void sf_pack_bits_f64(const double *z, uint8_t *bits, long n, int threads);
void sf_li_fwd_f32(const float *x, const float *v0, const float *beta, float *vs, long nt_, long n, int threads);
void sf_li_fwd_f64(const double *x, const double *v0, const double *beta, double *vs, long nt_, long n, int threads);
void sf_li_bwd_f32(const float *dvs, const float *dvT, const float *vs, const float *v0, const float *beta, float *dx, float *dv0, float *dbeta, long nt_, long n, int threads);
void sf_li_bwd_f64(const double *dvs, const double *dvT, const double *vs, const double *v0, const double *beta, double *dx, double *dv0, double *dbeta, long nt_, long n, int threads);
long sf_events_index_f32(const float *x, long r, long in, int64_t *offsets, int32_t *cols, int *nonbinary, int threads);
long sf_events_index_f64(const double *x, long r, long in, int64_t *offsets, int32_t *cols, int *nonbinary, int threads);
void sf_events_gather_f32(const int32_t *cols, const int64_t *offsets, const float *wt, const float *bias, float *out, long r, long o, int threads);
void sf_events_gather_f64(const int32_t *cols, const int64_t *offsets, const double *wt, const double *bias, double *out, long r, long o, int threads);
void sf_events_scatter_f32(const int32_t *cols, const int64_t *offsets, const float *grad, float *gwt, long r, long in, long o, int threads);
void sf_events_scatter_f64(const int32_t *cols, const int64_t *offsets, const double *grad, double *gwt, long r, long in, long o, int threads);
long sf_events_direct_f32(const float *x, const float *wt, const float *bias, float *out, long r, long in, long o, int *nonbinary, int threads);
long sf_events_direct_f64(const double *x, const double *wt, const double *bias, double *out, long r, long in, long o, int *nonbinary, int threads);
void sf_elif_fwd_f32(const int32_t *cols, const int64_t *offsets, const float *wt, const float *bias, const float *v0, const float *beta, const float *thr, float *z, float *v, long nt_, long nb, long o, float vl, float vr, int reset, int threads);
void sf_elif_fwd_f64(const int32_t *cols, const int64_t *offsets, const double *wt, const double *bias, const double *v0, const double *beta, const double *thr, double *z, double *v, long nt_, long nb, long o, double vl, double vr, int reset, int threads);
void sf_elif_bwd_f32(const int32_t *cols, const int64_t *offsets, const float *wt, const float *bias, const float *v0, const float *beta, const float *thr, const float *dz, const float *dvT, float *dwt, float *dbias, float *dv0, float *dbeta, float *dthr, long nt_, long nb, long in, long o, float vl, float vr, int reset, int detach, int surr, float k, float *scratch, int threads);
void sf_elif_bwd_f64(const int32_t *cols, const int64_t *offsets, const double *wt, const double *bias, const double *v0, const double *beta, const double *thr, const double *dz, const double *dvT, double *dwt, double *dbias, double *dv0, double *dbeta, double *dthr, long nt_, long nb, long in, long o, double vl, double vr, int reset, int detach, int surr, double k, double *scratch, int threads);
long sf_elif_scratch_f32(long nt_);
long sf_elif_scratch_f64(long nt_);
void sf_clif_fwd_f32(const float *xp, const int64_t *evo, const int32_t *evp, const int32_t *evc, const float *wt, const float *bias, const float *v0, const float *beta, const float *thr, float *z, float *v, float *clast, float *scratch, long nt_, long nb, long cin, long hp, long wp, long co, long kh, long kw, float vl, float vr, int reset, int uni, int blocked, int threads);
void sf_clif_fwd_f64(const double *xp, const int64_t *evo, const int32_t *evp, const int32_t *evc, const double *wt, const double *bias, const double *v0, const double *beta, const double *thr, double *z, double *v, double *clast, double *scratch, long nt_, long nb, long cin, long hp, long wp, long co, long kh, long kw, double vl, double vr, int reset, int uni, int blocked, int threads);
void sf_clif_bwd_f32(const float *xp, const int64_t *evo, const int32_t *evp, const int32_t *evc, const float *wt, const float *bias, const float *v0, const float *beta, const float *thr, const float *dz, const float *dvT, const float *dcl, float *dwp, float *dbp, float *dxc, float *dv0, float *dbeta, float *dthr, float *scratch, long nt_, long nb, long cin, long hp, long wp, long co, long kh, long kw, float vl, float vr, int reset, int detach, int surr, float k, int uni, int blocked, int threads);
void sf_clif_bwd_f64(const double *xp, const int64_t *evo, const int32_t *evp, const int32_t *evc, const double *wt, const double *bias, const double *v0, const double *beta, const double *thr, const double *dz, const double *dvT, const double *dcl, double *dwp, double *dbp, double *dxc, double *dv0, double *dbeta, double *dthr, double *scratch, long nt_, long nb, long cin, long hp, long wp, long co, long kh, long kw, double vl, double vr, int reset, int detach, int surr, double k, int uni, int blocked, int threads);
long sf_clif_scratch_f32(long nt_, long ho, long wo, long wp, long cin, long kh, long kw);
long sf_clif_scratch_f64(long nt_, long ho, long wo, long wp, long cin, long kh, long kw);
long sf_clif_lanes_f32(void);
long sf_clif_parts_f32(long nt_, long ho, long wo);
long sf_clif_parts_f64(long nt_, long ho, long wo);
long sf_clif_lanes_f64(void);
void sf_cuba_fwd_f32(const float *x, const float *v0, const float *i0, const float *alpha, const float *beta, const float *cc, const float *thr, float *z, float *hs, float *is, float *v, float *i, long nt_, long n, float vl, float vr, int reset, int store, int threads);
void sf_cuba_fwd_f64(const double *x, const double *v0, const double *i0, const double *alpha, const double *beta, const double *cc, const double *thr, double *z, double *hs, double *is, double *v, double *i, long nt_, long n, double vl, double vr, int reset, int store, int threads);
void sf_cuba_bwd_f32(const float *dz, const float *dvT, const float *diT, const float *x, const float *hs, const float *is, const float *gs, const float *v0, const float *i0, const float *alpha, const float *beta, const float *cc, const float *thr, float *dx, float *dv0, float *di0, float *dalpha, float *dbeta, float *dcc, float *dthr, long nt_, long n, float vl, float vr, int reset, int detach, int surr, float k, float *scratch, int threads);
void sf_cuba_bwd_f64(const double *dz, const double *dvT, const double *diT, const double *x, const double *hs, const double *is, const double *gs, const double *v0, const double *i0, const double *alpha, const double *beta, const double *cc, const double *thr, double *dx, double *dv0, double *di0, double *dalpha, double *dbeta, double *dcc, double *dthr, long nt_, long n, double vl, double vr, int reset, int detach, int surr, double k, double *scratch, int threads);
void sf_alif_fwd_f32(const float *x, const float *v0, const float *a0, const float *bm, const float *rho, const float *thr, const float *bb, float *z, float *hs, float *as, float *v, float *a, long nt_, long n, float vl, float vr, int reset, int store, int threads);
void sf_alif_fwd_f64(const double *x, const double *v0, const double *a0, const double *bm, const double *rho, const double *thr, const double *bb, double *z, double *hs, double *as, double *v, double *a, long nt_, long n, double vl, double vr, int reset, int store, int threads);
void sf_alif_bwd_f32(const float *dz, const float *dvT, const float *daT, const float *x, const float *hs, const float *as, const float *gs, const float *v0, const float *a0, const float *bm, const float *rho, const float *thr, const float *bb, float *dx, float *dv0, float *da0, float *dbm, float *drho, float *dthr, float *dbb, long nt_, long n, float vl, float vr, int reset, int detach, int surr, float k, float *scratch, int threads);
void sf_alif_bwd_f64(const double *dz, const double *dvT, const double *daT, const double *x, const double *hs, const double *as, const double *gs, const double *v0, const double *a0, const double *bm, const double *rho, const double *thr, const double *bb, double *dx, double *dv0, double *da0, double *dbm, double *drho, double *dthr, double *dbb, long nt_, long n, double vl, double vr, int reset, int detach, int surr, double k, double *scratch, int threads);
void sf_izh_fwd_f32(const float *x, long xs, const float *v0, const float *u0, const float *du, const float *b, const float *c, const float *d, float *z, float *hs, float *us, float *v, float *u, long nt_, long n, float dt, float vp, int store, int threads);
void sf_izh_fwd_f64(const double *x, long xs, const double *v0, const double *u0, const double *du, const double *b, const double *c, const double *d, double *z, double *hs, double *us, double *v, double *u, long nt_, long n, double dt, double vp, int store, int threads);
void sf_izh_bwd_f32(const float *dz, const float *dvT, const float *duT, const float *hs, const float *us, const float *gs, const float *v0, const float *u0, const float *du, const float *b, const float *c, const float *d, float *dx, float *dv0, float *du0, float *ddu, float *db, float *dc, float *dd, long nt_, long n, float dt, float vp, int detach, int surr, float k, int threads);
void sf_izh_bwd_f64(const double *dz, const double *dvT, const double *duT, const double *hs, const double *us, const double *gs, const double *v0, const double *u0, const double *du, const double *b, const double *c, const double *d, double *dx, double *dv0, double *du0, double *ddu, double *db, double *dc, double *dd, long nt_, long n, double dt, double vp, int detach, int surr, double k, int threads);
void sf_adex_fwd_f32(const float *x, long xs, const float *v0, const float *w0, const float *cf, float *z, float *vs, float *ws, float *v, float *w, long nt_, long n, float vp, int store, int threads);
void sf_adex_fwd_f64(const double *x, long xs, const double *v0, const double *w0, const double *cf, double *z, double *vs, double *ws, double *v, double *w, long nt_, long n, double vp, int store, int threads);
void sf_adex_bwd_f32(const float *dz, const float *dvT, const float *dwT, const float *x, long xs, const float *vs, const float *ws, const float *v0, const float *w0, const float *cf, const float *gs, float *dx, float *dv0, float *dw0, float *dcf, float *uo, long nt_, long n, float vp, int detach, int surr, float k, int threads);
void sf_adex_bwd_f64(const double *dz, const double *dvT, const double *dwT, const double *x, long xs, const double *vs, const double *ws, const double *v0, const double *w0, const double *cf, const double *gs, double *dx, double *dv0, double *dw0, double *dcf, double *uo, long nt_, long n, double vp, int detach, int surr, double k, int threads);

long sf_scratch_f32(long nt_);
long sf_scratch_f64(long nt_);

#endif
