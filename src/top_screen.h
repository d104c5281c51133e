/* top_screen: what `tend top` shows and the keys it takes: the title,
 * the tree, the output pane and the status line drawn with curses (the
 * layout and the text come from top_view), and each key's effect. */
#ifndef TEND_TOP_SCREEN_H
#define TEND_TOP_SCREEN_H

#include "src/top_api.h"

/* Draws the whole screen from t (curses must be on). */
void top_screen_draw(struct top *t);
/* Reads and handles every key waiting on the terminal. */
void top_screen_keys(struct top *t);

#endif
