/* init: `tend init`, a commented starter tend.json in the current folder. */
#ifndef TEND_INIT_H
#define TEND_INIT_H

/* Returns the starter config text (new, free it) for a tree named after
 * folder (any string: it is cleaned up into a valid node name), with
 * "$schema" set to schema_url. Pure. */
char *init_template(const char *folder, const char *schema_url);

/* Returns the file:// URL of the installed JSON Schema for the binary at
 * exe (new): PREFIX/share/tend beside PREFIX/bin, docs/ of a source tree,
 * else the Debian package's path. */
char *init_schema_url(const char *exe);

/* Writes the starter config to path; refuses (-EEXIST) to replace any file
 * that exists. Returns 0 or a negative errno, with *cause set (new). */
int init_write(const char *path, const char *text, char **cause);

#endif
