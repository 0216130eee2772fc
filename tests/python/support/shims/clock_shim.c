/* An LD_PRELOAD shim that moves a process's wall clock, built by tests/python/shims.py.
 *
 *   AC_SHIM_CLOCK_FILE=PATH   PATH holds a signed 64-bit offset in ns (native byte order),
 *                             added to every CLOCK_REALTIME reading (clock_gettime,
 *                             gettimeofday, time). The file is mapped, so a controller that
 *                             rewrites it steps or skews the clock of a running process.
 * CLOCK_MONOTONIC is left alone, as NTP leaves it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile int64_t* offset_ns;
static int tried;

static int64_t offset(void) {
    if (!tried) {
        tried = 1;
        const char* path = getenv("AC_SHIM_CLOCK_FILE");
        if (path != NULL) {
            int fd = open(path, O_RDONLY);
            if (fd >= 0) {
                void* p = mmap(NULL, sizeof(int64_t), PROT_READ, MAP_SHARED, fd, 0);
                close(fd);
                if (p != MAP_FAILED) {
                    offset_ns = (volatile int64_t*)p;
                }
            }
        }
    }
    return offset_ns != NULL ? *offset_ns : 0;
}

static void shift(struct timespec* ts, int64_t by) {
    int64_t ns = (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec + by;
    ts->tv_sec = (time_t)(ns / 1000000000LL);
    ts->tv_nsec = (long)(ns % 1000000000LL);
}

int clock_gettime(clockid_t id, struct timespec* ts) {
    static int (*real)(clockid_t, struct timespec*);
    if (real == NULL) {
        real = (int (*)(clockid_t, struct timespec*))dlsym(RTLD_NEXT, "clock_gettime");
    }
    int rc = real(id, ts);
    if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) {
        shift(ts, offset());
    }
    return rc;
}

int gettimeofday(struct timeval* tv, void* tz) {
    struct timespec ts;
    int rc = clock_gettime(CLOCK_REALTIME, &ts);
    (void)tz;
    if (rc == 0 && tv != NULL) {
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    return rc;
}

time_t time(time_t* out) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (out != NULL) {
        *out = ts.tv_sec;
    }
    return ts.tv_sec;
}
