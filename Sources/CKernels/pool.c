// A persistent pool of kernel worker threads: the calling thread plus `threads - 1` workers run the chunks of one
// job at a time. Workers spin (with `pause`) for a short while after each job, then sleep on a condition variable,
// so a forward pass's back-to-back calls cost a cache-line hand-off, not a wake-up.
//
// Job protocol. One 64-bit word `ticket` = generation (32 bits) | chunk count (16) | next unclaimed chunk (16).
// The dispatcher writes fn/ctx, resets `done`, then publishes a new ticket (release). Every participant claims a
// chunk with a CAS on the ticket that checks generation and bound in the same word, and only then reads fn/ctx, so
// a late worker can never run a chunk of the wrong job. The dispatcher runs chunks too and returns once `done`
// equals the chunk count.
//
// Concurrency. One job runs at a time. A dispatch that finds the pool busy (a call from another thread, or a nested
// call from inside a chunk) does not wait: it runs all of its chunks inline on its own thread, in chunk order. So no
// call can deadlock, and results never depend on which thread ran which chunk.
#include "ckernels.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LK_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define LK_PAUSE() __asm__ __volatile__("yield")
#else
#define LK_PAUSE() ((void)0)
#endif

#define LK_POOL_MAX 256

static struct {
    _Atomic uint64_t ticket;
    _Atomic long done;
    _Atomic(lk_task_fn) fn;
    _Atomic(void *) ctx;
    _Atomic int isa;        // the dispatcher's instruction-set path (cpu.c), run by the workers too
    _Atomic int busy;       // 1 while a dispatcher owns the pool
    _Atomic int sleepers;   // workers blocked (or about to block) on cv
    _Atomic int active;     // configured thread count (dispatcher included)
    _Atomic int started;    // workers created so far
    _Atomic long spinNanos; // how long an idle worker spins before sleeping
    uint32_t generation;    // dispatcher-private (under busy)
    pthread_mutex_t mu;
    pthread_cond_t cv;
} pool = {
    .active = 1,
    .spinNanos = 200000,
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .cv = PTHREAD_COND_INITIALIZER,
};

static inline uint32_t ticket_gen(uint64_t t) { return (uint32_t)(t >> 32); }

static inline long now_nanos(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000000000L + ts.tv_nsec;
}

// Claims and runs chunks of generation `gen` until none is left (or the job changed).
static void run_chunks(uint32_t gen) {
    uint64_t t = atomic_load_explicit(&pool.ticket, memory_order_acquire);
    for (;;) {
        if (ticket_gen(t) != gen) return;
        uint32_t next = (uint32_t)(t & 0xffff), chunks = (uint32_t)((t >> 16) & 0xffff);
        if (next >= chunks) return;
        if (atomic_compare_exchange_weak_explicit(&pool.ticket, &t, t + 1, memory_order_acq_rel,
                                                  memory_order_acquire)) {
            lk_task_fn fn = atomic_load_explicit(&pool.fn, memory_order_relaxed);
            void *ctx = atomic_load_explicit(&pool.ctx, memory_order_relaxed);
            int saved = lk_isa_thread();
            lk_isa_set_thread(atomic_load_explicit(&pool.isa, memory_order_relaxed));
            fn(ctx, (long)next);
            lk_isa_set_thread(saved);
            atomic_fetch_add_explicit(&pool.done, 1, memory_order_release);
            t = atomic_load_explicit(&pool.ticket, memory_order_acquire);
        }
    }
}

static void *worker_main(void *arg) {
    int index = (int)(intptr_t)arg;  // 1 ... LK_POOL_MAX - 1 (the dispatcher is 0)
    uint32_t seen = ticket_gen(atomic_load_explicit(&pool.ticket, memory_order_acquire));
    for (;;) {
        uint64_t t = atomic_load_explicit(&pool.ticket, memory_order_acquire);
        if (ticket_gen(t) == seen) {
            long limit = now_nanos() + atomic_load_explicit(&pool.spinNanos, memory_order_relaxed);
            for (int i = 1;; i++) {
                LK_PAUSE();
                t = atomic_load_explicit(&pool.ticket, memory_order_acquire);
                if (ticket_gen(t) != seen) break;
                if ((i & 255) == 0 && now_nanos() > limit) {
                    pthread_mutex_lock(&pool.mu);
                    atomic_fetch_add(&pool.sleepers, 1);
                    while (ticket_gen(t = atomic_load(&pool.ticket)) == seen) pthread_cond_wait(&pool.cv, &pool.mu);
                    atomic_fetch_sub(&pool.sleepers, 1);
                    pthread_mutex_unlock(&pool.mu);
                    break;
                }
            }
        }
        seen = ticket_gen(t);
        if (index < atomic_load_explicit(&pool.active, memory_order_relaxed)) run_chunks(seen);
    }
    return NULL;
}

void lk_pool_set_threads(int threads) {
    if (threads < 1) threads = 1;
    if (threads > LK_POOL_MAX) threads = LK_POOL_MAX;
    atomic_store(&pool.active, threads);
}

int lk_pool_threads(void) { return atomic_load(&pool.active); }

void lk_pool_set_spin_nanos(long nanos) { atomic_store(&pool.spinNanos, nanos < 0 ? 0 : nanos); }

// Starts workers up to the active count (called by the dispatcher, under busy).
static void ensure_workers(int want) {
    int have = atomic_load(&pool.started);
    for (int i = have + 1; i < want; i++) {
        pthread_t th;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 8u << 20);
        int err = pthread_create(&th, &attr, worker_main, (void *)(intptr_t)i);
        pthread_attr_destroy(&attr);
        if (err != 0) break;
        atomic_store(&pool.started, i);
    }
}

int lk_pool_run(long chunks, lk_task_fn fn, void *ctx) {
    int active = atomic_load_explicit(&pool.active, memory_order_relaxed);
    int expected = 0;
    if (chunks <= 1 || active <= 1 || chunks > 0xffff ||
        !atomic_compare_exchange_strong_explicit(&pool.busy, &expected, 1, memory_order_acquire,
                                                 memory_order_relaxed)) {
        for (long c = 0; c < chunks; c++) fn(ctx, c);
        return 0;
    }
    if (atomic_load_explicit(&pool.started, memory_order_relaxed) + 1 < active) ensure_workers(active);
    atomic_store_explicit(&pool.done, 0, memory_order_relaxed);
    atomic_store_explicit(&pool.fn, fn, memory_order_relaxed);
    atomic_store_explicit(&pool.ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&pool.isa, lk_isa(), memory_order_relaxed);
    uint32_t gen = ++pool.generation;
    atomic_store(&pool.ticket, ((uint64_t)gen << 32) | ((uint64_t)chunks << 16));  // seq_cst: pairs with sleepers
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.mu);
        pthread_cond_broadcast(&pool.cv);
        pthread_mutex_unlock(&pool.mu);
    }
    run_chunks(gen);
    for (int i = 1; atomic_load_explicit(&pool.done, memory_order_acquire) < chunks; i++) {
        LK_PAUSE();
        if ((i & 4095) == 0) sched_yield();
    }
    atomic_store_explicit(&pool.busy, 0, memory_order_release);
    return 1;
}
