/* A power cut for one directory, as an LD_PRELOAD interposer.
 *
 * A write is durable only once fsync()/fdatasync() has returned for its file. This library
 * wraps both: after the real call succeeds, and before it returns to the caller, it copies the
 * whole file into POWERCUT_SHADOW (atomically, by rename). The shadow copies are therefore
 * exactly what a disk that honours fsync and nothing else would hold. After the process is
 * killed, the test "cuts the power" by replacing every file in the watched directory with its
 * shadow and deleting the files that were never synced (a crash test in the spirit of
 * SQLite's own: every write not yet fsynced is discarded).
 *
 * Environment: POWERCUT_WATCH = directory whose regular files are tracked (absolute, no
 * trailing slash); POWERCUT_SHADOW = directory for the shadow copies.
 *
 * Not modelled: directory-entry durability (a file created and synced survives even if its
 * directory was never synced) and torn sector writes. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void snapshot(int fd) {
    const char *watch = getenv("POWERCUT_WATCH");
    const char *shadow = getenv("POWERCUT_SHADOW");
    if (!watch || !shadow) return;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return;
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0) return;
    path[n] = 0;
    size_t wl = strlen(watch);
    if (strncmp(path, watch, wl) != 0 || path[wl] != '/' || strchr(path + wl + 1, '/')) return;
    const char *base = path + wl + 1;
    char tmp[PATH_MAX], dst[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s/.%s.partial", shadow, base);
    snprintf(dst, sizeof dst, "%s/%s", shadow, base);
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) abort(); /* a test that cannot record durability must not pass */
    /* Read through a descriptor of our own: the caller's may be write-only. */
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0) abort();
    char buf[1 << 16];
    off_t off = 0;
    for (;;) {
        ssize_t r = pread(in, buf, sizeof buf, off);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) abort();
        if (r == 0) break;
        for (ssize_t w = 0; w < r;) {
            ssize_t k = write(out, buf + w, r - w);
            if (k < 0 && errno == EINTR) continue;
            if (k < 0) abort();
            w += k;
        }
        off += r;
    }
    close(in);
    close(out);
    if (rename(tmp, dst) != 0) abort();
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    int rc = real(fd);
    if (rc == 0) snapshot(fd);
    return rc;
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    int rc = real(fd);
    if (rc == 0) snapshot(fd);
    return rc;
}
