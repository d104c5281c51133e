/* statedir: the state folder as a trusted directory (issue 13, item 1).
 *
 * The daemon keeps everything in one folder; whoever can write there can
 * make tend (often root) write through a symlink or signal a process it
 * names. So the folder must be owned by the daemon's user and not be
 * writable by group or others, and the files in it are opened relative to
 * its descriptor with O_NOFOLLOW. statedir_open checks the folder once at
 * start-up and registers its descriptor; statedir_open_dir then opens
 * folders below it (output/) component by component from that descriptor,
 * never through a symlink. Created folders are 0700, created files 0600,
 * whatever the umask. */
#ifndef TEND_STATEDIR_H
#define TEND_STATEDIR_H

#include <sys/stat.h>
#include <sys/types.h>

/* Why a folder with the status sb cannot hold the state of a daemon
 * running as euid: a new message naming path ("owned by uid 1001, not
 * by tend's user (uid 0)", "writable by group or others (mode 0777)"),
 * or NULL when it is fine. Pure. */
char *statedir_problem(const char *path, const struct stat *sb, uid_t euid);

/* Creates path and its missing parents with mode 0700. Returns 0 or
 * -errno. */
int statedir_mkdir_p(const char *path);

/* Creates the state folder if needed, opens it and checks it
 * (statedir_problem), then registers it for statedir_open_dir. Returns
 * 0, or -errno with *cause (new): -EPERM when the folder is not
 * trusted. Call once, before anything else touches the folder. */
int statedir_open(const char *path, char **cause);
/* The registered folder's descriptor (-1 when none). */
int statedir_fd(void);
/* Forgets the registered folder and closes its descriptor. */
void statedir_close(void);

/* Opens dir as a directory (O_DIRECTORY | O_CLOEXEC), creating it with
 * mode 0700 when missing. When dir is the registered state folder or
 * lies below it, it is reached from the registered descriptor, every
 * component below with O_NOFOLLOW (a symlink there gives -ELOOP);
 * elsewhere (unit tests, client tools) it is opened by path. Returns a
 * new descriptor or -errno. Safe on a threadpool worker: the registry is
 * only read after start-up. */
int statedir_open_dir(const char *dir);

/* Splits path into the directory's descriptor (statedir_open_dir of its
 * folder, without creating it) and its last component (borrowed from
 * path). Returns the descriptor or -errno. */
int statedir_open_parent(const char *path, const char **base);

#endif
