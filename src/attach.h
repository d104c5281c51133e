/* attach: `tend attach NAME`, the user's terminal connected to a runner
 * that runs on a pty ("pty": true), over the HTTP API (issue 12, item 12).
 *
 * Output comes from the runner's SSE output stream (its "pty" chunks, raw);
 * keys go to POST .../input, the terminal's size to POST .../resize (at
 * start, on SIGWINCH, and when a new run starts on a new pty). Ctrl-]
 * detaches and leaves the runner running. */
#ifndef TEND_ATTACH_H
#define TEND_ATTACH_H

#include <jansson.h>
#include <stddef.h>

/* The detach key: Ctrl-] (as telnet's escape). */
#define ATTACH_DETACH_KEY 0x1d

/* Runs `tend attach [-c FILE] [--url URL] [--token TOKEN] NAME`; argv[0]
 * is "attach". Returns the exit code (0 after a detach). */
int attach_main(int argc, char **argv);

/* Pure: what to write to the terminal for one output chunk: a "pty"
 * chunk's bytes as they are (data, or data_b64 decoded), a "tend" marker
 * as a note on a line of its own ("\r\n[tend: NAME: text]\r\n"), nothing
 * for other streams. Returns a new buffer with *len bytes, or NULL when
 * there is nothing to write. *started is set to 1 when the chunk is the
 * marker of a new run (whose new pty wants the size again). */
char *attach_chunk_bytes(const json_t *chunk, const char *name, size_t *len,
                         int *started);

/* Pure: the offset of the detach key in buf[0..n), or -1 when absent. */
long attach_find_detach(const char *buf, size_t n);

#endif
