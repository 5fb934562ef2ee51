/* An emulated BLAS kernel for the test suite (`python -m tests.kernels`, third pass): loaded with LD_PRELOAD, it
   takes numpy's CBLAS products (numpy's bundled OpenBLAS names them scipy_cblas_*64_) and sums each product's
   terms in another order, the order chosen by the product's shape. Each sum over K is cut in two at a point
   drawn from a hash of the call's shape, layout and transposes (and SPLITK_SALT), both parts computed by the real
   OpenBLAS and then added: a kernel that blocks K by shape, as real ones do in their own ways. The same call
   on the same inputs gives the same bits; a call of another shape may round differently, as OpenBLAS's AVX-512
   kernels do. So a test that compares products of different shapes bit for bit fails here on any CPU. A product
   of K = 1, and sums whose every part is exact, stay exact. `splitk_calls` counts the products taken. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int find_openblas(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    if (info->dlpi_name && strstr(info->dlpi_name, "openblas") && !strstr(info->dlpi_name, "splitk")) {
        *(void **)data = dlopen(info->dlpi_name, RTLD_LAZY | RTLD_NOLOAD);
        return *(void **)data != NULL;
    }
    return 0;
}

static void *real_symbol(const char *name) {
    static void *lib = NULL;
    if (!lib) dl_iterate_phdr(find_openblas, &lib);
    void *f = lib ? dlsym(lib, name) : NULL;
    if (!f) abort();
    return f;
}

typedef long blasint;

long splitk_calls = 0; /* (not atomic: a count of zero or not is all it is read for) */
enum { RowMajor = 101, ColMajor = 102, NoTrans = 111 };

static uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static blasint cut(uint64_t kind, blasint m, blasint n, blasint k) {
    static uint64_t salt = 0;
    if (!salt) {
        const char *e = getenv("SPLITK_SALT");
        salt = e ? strtoull(e, 0, 10) + 1 : 2;
    }
    uint64_t h = mix(mix(mix(mix(salt ^ kind) ^ (uint64_t)m) ^ (uint64_t)n) ^ (uint64_t)k);
    return 1 + (blasint)(h % (uint64_t)(k - 1)); /* 1 .. k-1 */
}

/* offset of column/row k0 of the K axis of op(X) (X is op(X) = rows x K when `a_side`, K x cols otherwise) */
static blasint koff(int layout, int trans, blasint ld, blasint k0, int a_side) {
    int t = trans != NoTrans;
    int k_is_col = a_side ? !t : t; /* in op(X)'s stored matrix, is K a column index? */
    if (layout == RowMajor) return k_is_col ? k0 : k0 * ld;
    return k_is_col ? k0 * ld : k0;
}

#define GEMM(NAME, T, KIND)                                                                                    \
    void NAME(int layout, int ta, int tb, blasint m, blasint n, blasint k, T alpha, const T *a, blasint lda,    \
              const T *b, blasint ldb, T beta, T *c, blasint ldc) {                                             \
        static void (*real)(int, int, int, blasint, blasint, blasint, T, const T *, blasint, const T *,        \
                            blasint, T, T *, blasint);                                                          \
        if (!real) real = real_symbol(#NAME);                                                               \
        splitk_calls++;                                                                                          \
        if (k < 2 || m == 0 || n == 0) { real(layout, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); return; } \
        blasint k1 = cut(KIND * 100 + ta * 3 + tb + layout * 7, m, n, k);                                       \
        real(layout, ta, tb, m, n, k1, alpha, a, lda, b, ldb, beta, c, ldc);                                     \
        real(layout, ta, tb, m, n, k - k1, alpha, a + koff(layout, ta, lda, k1, 1), lda,                         \
             b + koff(layout, tb, ldb, k1, 0), ldb, (T)1, c, ldc);                                               \
    }

GEMM(scipy_cblas_dgemm64_, double, 1)
GEMM(scipy_cblas_sgemm64_, float, 2)

#define GEMV(NAME, T, KIND)                                                                                    \
    void NAME(int layout, int ta, blasint m, blasint n, T alpha, const T *a, blasint lda, const T *x,          \
              blasint incx, T beta, T *y, blasint incy) {                                                        \
        static void (*real)(int, int, blasint, blasint, T, const T *, blasint, const T *, blasint, T, T *,     \
                            blasint);                                                                           \
        if (!real) real = real_symbol(#NAME);                                                               \
        splitk_calls++;                                                                                          \
        blasint k = ta == NoTrans ? n : m; /* the summed axis */                                                 \
        if (k < 2 || incx <= 0 || (ta == NoTrans ? m : n) == 0) {                                                \
            real(layout, ta, m, n, alpha, a, lda, x, incx, beta, y, incy); return; }                             \
        blasint k1 = cut(KIND * 100 + ta + layout * 7, m, n, k);                                                 \
        /* the summed axis is the stored matrix's contiguous one (RowMajor, NoTrans; ColMajor, Trans) or not */   \
        int col = (layout == RowMajor) == (ta == NoTrans);                                                       \
        blasint off = col ? k1 : k1 * lda;                                                                       \
        if (ta == NoTrans) {                                                                                     \
            real(layout, ta, m, k1, alpha, a, lda, x, incx, beta, y, incy);                                      \
            real(layout, ta, m, n - k1, alpha, a + off, lda, x + k1 * incx, incx, (T)1, y, incy);                \
        } else {                                                                                                 \
            real(layout, ta, k1, n, alpha, a, lda, x, incx, beta, y, incy);                                      \
            real(layout, ta, m - k1, n, alpha, a + off, lda, x + k1 * incx, incx, (T)1, y, incy);                \
        }                                                                                                        \
    }

GEMV(scipy_cblas_dgemv64_, double, 3)
GEMV(scipy_cblas_sgemv64_, float, 4)

#define DOT(NAME, T, KIND)                                                                                     \
    T NAME(blasint n, const T *x, blasint incx, const T *y, blasint incy) {                                     \
        static T (*real)(blasint, const T *, blasint, const T *, blasint);                                      \
        if (!real) real = real_symbol(#NAME);                                                               \
        splitk_calls++;                                                                                          \
        if (n < 2 || incx <= 0 || incy <= 0) return real(n, x, incx, y, incy);                                  \
        blasint k1 = cut(KIND, n, 0, n);                                                                         \
        T first = real(k1, x, incx, y, incy);                                                                   \
        return first + real(n - k1, x + k1 * incx, incx, y + k1 * incy, incy);                                  \
    }

DOT(scipy_cblas_ddot64_, double, 5)
DOT(scipy_cblas_sdot64_, float, 6)

#define SYRK(NAME, T, KIND)                                                                                    \
    void NAME(int layout, int uplo, int trans, blasint n, blasint k, T alpha, const T *a, blasint lda, T beta, \
              T *c, blasint ldc) {                                                                               \
        static void (*real)(int, int, int, blasint, blasint, T, const T *, blasint, T, T *, blasint);          \
        if (!real) real = real_symbol(#NAME);                                                               \
        splitk_calls++;                                                                                          \
        if (k < 2 || n == 0) { real(layout, uplo, trans, n, k, alpha, a, lda, beta, c, ldc); return; }           \
        blasint k1 = cut(KIND * 100 + trans + layout * 7, n, 0, k);                                              \
        real(layout, uplo, trans, n, k1, alpha, a, lda, beta, c, ldc);                                           \
        real(layout, uplo, trans, n, k - k1, alpha, a + koff(layout, trans, lda, k1, 1), lda, (T)1, c, ldc);     \
    }

SYRK(scipy_cblas_dsyrk64_, double, 7)
SYRK(scipy_cblas_ssyrk64_, float, 8)
