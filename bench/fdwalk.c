/* fdwalk: the least work that finds every descriptor on a given file, as a
 * yardstick for the cost of a lock whose holder /proc/locks cannot name.
 * Lists /proc, and for every process opens /proc/PID/fd, lists it with
 * getdents64 and statx()es each entry relative to it (following the magic
 * link to the open file), comparing device and inode with FILE's; THREADS
 * threads share the processes out (default 1). With --list-only, descriptors
 * are only listed, not followed: a floor under any complete walk through /proc.
 * Prints the processes, descriptors and matches it found.
 * Build: cc -O2 -pthread -o fdwalk fdwalk.c
 * Use:   ./fdwalk [--list-only] FILE [THREADS]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

struct dirent64 { unsigned long long ino; long long off; unsigned short reclen; unsigned char type; char name[]; };

static int proc, list_only, nthreads = 1, npids;
static int pids[1 << 22];
static unsigned target_major, target_minor;
static unsigned long long target_ino;

struct part { int first; long fds, matches; };

static void *walk(void *arg) {
    struct part *p = arg;
    char buf[16384], path[32];
    for (int i = p->first; i < npids; i += nthreads) {
        snprintf(path, sizeof path, "%d/fd", pids[i]);
        int dir = openat(proc, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0) continue;
        long n;
        while ((n = syscall(SYS_getdents64, dir, buf, sizeof buf)) > 0) {
            for (long at = 0; at < n;) {
                struct dirent64 *e = (struct dirent64 *)(buf + at);
                at += e->reclen;
                if (e->name[0] == '.') continue;
                p->fds++;
                if (list_only) continue;
                struct statx st;
                if (statx(dir, e->name, AT_STATX_DONT_SYNC, STATX_INO, &st) == 0 &&
                    st.stx_ino == target_ino && st.stx_dev_major == target_major &&
                    st.stx_dev_minor == target_minor)
                    p->matches++;
            }
        }
        close(dir);
    }
    return NULL;
}

int main(int argc, char **argv) {
    int arg = 1;
    if (arg < argc && strcmp(argv[arg], "--list-only") == 0) { list_only = 1; arg++; }
    if (arg >= argc) { fprintf(stderr, "usage: fdwalk [--list-only] FILE [THREADS]\n"); return 2; }
    struct statx st;
    if (statx(AT_FDCWD, argv[arg], 0, STATX_INO, &st) != 0) { perror(argv[arg]); return 2; }
    target_major = st.stx_dev_major; target_minor = st.stx_dev_minor; target_ino = st.stx_ino;
    if (arg + 1 < argc) nthreads = atoi(argv[arg + 1]);
    if (nthreads < 1 || nthreads > 64) nthreads = 1;
    proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (proc < 0) { perror("/proc"); return 2; }
    char buf[65536];
    long n;
    while ((n = syscall(SYS_getdents64, proc, buf, sizeof buf)) > 0) {
        for (long at = 0; at < n;) {
            struct dirent64 *e = (struct dirent64 *)(buf + at);
            at += e->reclen;
            if (e->name[0] >= '1' && e->name[0] <= '9' && npids < (1 << 22)) pids[npids++] = atoi(e->name);
        }
    }
    pthread_t threads[64];
    struct part parts[64] = {0};
    for (int t = 0; t < nthreads; t++) {
        parts[t].first = t;
        if (t > 0) pthread_create(&threads[t], NULL, walk, &parts[t]);
    }
    walk(&parts[0]);
    long fds = parts[0].fds, matches = parts[0].matches;
    for (int t = 1; t < nthreads; t++) {
        pthread_join(threads[t], NULL);
        fds += parts[t].fds;
        matches += parts[t].matches;
    }
    printf("processes=%d descriptors=%ld matches=%ld\n", npids, fds, matches);
    return 0;
}
